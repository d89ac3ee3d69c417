"""Experiment trackers: every evaluation of a run also goes where researchers already look.

``logger=none`` (the default) writes only hpfree's own ``curve.csv`` and ``record.json``;
``logger=tensorboard`` adds TensorBoard event files (tensorboardX), ``logger=wandb`` a
Weights & Biases run (``logger.mode=offline`` by default: no network, ``wandb sync`` later).
Neither tracker is a dependency of hpfree: validation says which package to install.
``registry`` is the ``hpfree.loggers`` plug-in registry, like optimizers and workloads.
"""
