"""Optimizers: one small module per family, each registering an ``OptimizerSpec``."""

from hpfree.optimizers.registry import OptimizerConfig, OptimizerSpec, all_specs, get, register

__all__ = ["OptimizerConfig", "OptimizerSpec", "all_specs", "get", "register"]
