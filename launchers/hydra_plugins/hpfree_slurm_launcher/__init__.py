"""hpfree's SLURM launcher: hydra-submitit-launcher plus requeue on preemption.

``hydra/launcher=hpfree_slurm`` (or the preset ``launcher=slurm``) runs every job of a
multirun or search as a SLURM array task through submitit, like hydra-submitit-launcher's
``submitit_slurm``, and adds:

- requeue on preemption and time limits: a run stopped by submitit's preemption signal
  (SIGUSR2) checkpoints, is requeued under the same job id and resumes from its checkpoint;
- fire and forget (``hydra.launcher.wait=false``): return once the jobs are queued;
- ``slurm_jobs.json`` in the sweep directory (job index → SLURM job id, overrides, run
  directory, the submitit pickle), which ``hpfree-status`` and ``hpfree-resubmit`` read
  through :mod:`hpfree.slurm.jobs` (the core's ``slurm`` queue back-end).
"""
