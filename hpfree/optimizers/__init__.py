"""Optimizers: one small module per family, each defining ``OptimizerSpec`` objects that
reach the registry through the ``hpfree.optimizers`` entry points (see ``registry``)."""

from hpfree.optimizers.registry import OptimizerConfig, OptimizerSpec, all_specs, get, register

__all__ = ["OptimizerConfig", "OptimizerSpec", "all_specs", "get", "register"]
