"""SLURM, core side: the job tracker (``jobs``) and the queue back-end (``backend``).

The Hydra launcher that submits jobs (``hydra_plugins.hpfree_slurm_launcher``) writes
``SWEEP_DIR/slurm_jobs.json`` through :mod:`hpfree.slurm.jobs`; ``hpfree-status`` and
``hpfree-resubmit`` read it through the ``slurm`` back-end (:mod:`hpfree.slurm.backend`).
Plug-ins import the core, never the other way round.
"""
