"""Searches over candidates: points, sweep bookkeeping, status and resubmission.

``space``     a search space (continuous log/linear or discrete dimensions, each bound to a
              config knob) → points from a scrambled Halton sequence, or a grid.
``plan``      points × seeds × the suite's workloads → the jobs of a sweep (overrides,
              derived seeds, content-named run directories).
``manifest``  ``manifest.json`` in every sweep directory: what each job is and how to
              relaunch it.
``locking``   a per-run ``flock`` so no two processes ever run (or record) the same job.
``status``    job states derived from each run's ``record.json`` and lock.
``resubmit``  relaunch only missing / failed / preempted jobs with the stored command.

The Hydra side is ``hydra_plugins.hpfree_quasirandom_sweeper`` (under ``launchers/``).
"""
