"""AdamW and NadamW: the calibrated baselines with an absolute learning-rate schedule.

References: Loshchilov & Hutter (2019) for decoupled weight decay; Dozat (2016) for Nesterov
momentum in Adam.  ``optax.adamw`` / ``optax.nadamw`` with ``weight_decay`` multiplied by the
learning rate (optax's and PyTorch's convention).  Defaults: the AlgoPerf self-tuning NadamW
baseline (lr 1.7486e-3, 1-β1 0.06734, β2 0.99552); AdamW shares them.
"""

from __future__ import annotations

from dataclasses import dataclass

import optax

from hpfree.config import ConfigError
from hpfree.optimizers.registry import OptimizerConfig, OptimizerSpec, register


@dataclass
class AdamWConfig(OptimizerConfig):
    name: str = "adamw"
    learning_rate: float = 1.7486e-3
    b1: float = 0.93266
    b2: float = 0.99552
    eps: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        for knob in ("b1", "b2"):
            value = getattr(self, knob)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"optimizer.{knob}={value} is outside [0, 1)")


@dataclass
class NadamWConfig(AdamWConfig):
    name: str = "nadamw"


def _build(nesterov: bool):
    def build(cfg: AdamWConfig, lr: optax.Schedule, weight_decay: float):
        return optax.adamw(
            learning_rate=lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps,
            weight_decay=weight_decay, nesterov=nesterov,
        )

    return build


register(OptimizerSpec("adamw", AdamWConfig, _build(False), relative_schedule=False,
                       reference="optax.adamw (PyTorch AdamW semantics)"))
register(OptimizerSpec("nadamw", NadamWConfig, _build(True), relative_schedule=False,
                       reference="optax.nadamw (AlgoPerf NadamW baseline)"))
