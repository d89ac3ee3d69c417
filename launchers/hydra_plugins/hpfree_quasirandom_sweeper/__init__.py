"""``hydra/sweeper=quasirandom``: quasi-random (scrambled Halton) or grid search over trials.

One trial = one point of the search space run on every workload of the suite, for each seed
index; jobs go to whichever Hydra launcher is configured.  See ``sweeper.py`` and
``hpfree.sweeps``.
"""
