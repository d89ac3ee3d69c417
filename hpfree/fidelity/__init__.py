"""How well a suite of small workloads tells the study's story (``hpfree-fidelity``).

The study's Table 4 (best validation metric of each naive learning-rate-free method on the
eight AlgoPerf workloads) is kept as package data (:mod:`hpfree.fidelity.study`); the same
naive protocol is run on a suite through ``hpfree-reproduce``'s naive stage
(:mod:`hpfree.fidelity.protocol`), the two are compared — rank correlation, collapses, target
hits, seed noise of the calibrated baseline (:mod:`hpfree.fidelity.compare`) — and written as
a Markdown report with CSV tables and a plot (:mod:`hpfree.fidelity.report`).
"""
