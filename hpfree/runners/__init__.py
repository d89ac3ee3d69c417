"""Runners: what executes one run (or a batch of runs) of a validated config.

``registry`` is the ``hpfree.runners`` plug-in registry; ``embedded`` (jit + ``lax.scan`` on
the built-in workloads) and ``algoperf`` (AlgoPerf's own submission runner) are the built-ins.
"""
