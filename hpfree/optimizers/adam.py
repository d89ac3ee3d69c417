"""AdamW and NadamW: the calibrated baselines with an absolute learning-rate schedule.

References: Loshchilov & Hutter (2019) for decoupled weight decay; Dozat (2016) for Nesterov
momentum in Adam.  Weight decay is multiplied by the learning rate (optax's and PyTorch's
convention).  Defaults: the AlgoPerf self-tuning NadamW baseline (lr 1.7486e-3,
1-β1 0.06734, β2 0.99552); AdamW shares them.

``adamw`` is ``optax.adamw``; it matches ``torch.optim.AdamW`` to float64 rounding.
``nadamw`` is AlgoPerf's NAdamW (the baseline those defaults were calibrated for; JAX and
PyTorch submissions alike): the Nesterov look-ahead ``(β1·m + (1−β1)·g)/(1−β1ᵗ)``.
``optax.nadamw`` bias-corrects the two terms separately
(``β1·m/(1−β1ᵗ⁺¹) + (1−β1)·g/(1−β1ᵗ)``), which moves the trajectory by ~1e-2 relative over
200 steps; ``optimizer.variant=optax`` selects it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from hpfree.knobs import POSITIVE, UNIT, knob, one_of
from hpfree.optimizers.registry import OptimizerConfig, OptimizerSpec


@dataclass
class AdamWConfig(OptimizerConfig):
    name: str = "adamw"
    learning_rate: float = 1.7486e-3
    b1: float = knob(0.93266, UNIT)
    b2: float = knob(0.99552, UNIT)
    eps: float = knob(1e-8, POSITIVE)


@dataclass
class NadamWConfig(AdamWConfig):
    name: str = "nadamw"
    variant: str = knob("algoperf", one_of("algoperf", "optax"))


class ScaleByNadamState(NamedTuple):
    count: jax.Array
    mu: Any
    nu: Any


def scale_by_nadam(b1: float = 0.9, b2: float = 0.999,
                   eps: float = 1e-8) -> optax.GradientTransformation:
    """AlgoPerf's NAdam direction: ``m̂/(√v̂ + eps)`` with ``m̂ = (β1·m + (1−β1)·g)/(1−β1ᵗ)``."""

    def init_fn(params):
        return ScaleByNadamState(jnp.zeros([], jnp.int32), optax.tree.zeros_like(params),
                                 optax.tree.zeros_like(params))

    def update_fn(updates, state: ScaleByNadamState, params=None):
        del params
        mu = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, updates, state.mu)
        nu = jax.tree.map(lambda g, v: (1 - b2) * g * g + b2 * v, updates, state.nu)
        count = optax.safe_increment(state.count)
        bc1 = 1 - b1 ** count.astype(jnp.result_type(float))
        bc2 = 1 - b2 ** count.astype(jnp.result_type(float))
        out = jax.tree.map(
            lambda g, m, v: ((1 - b1) * g + b1 * m) / bc1.astype(m.dtype)
            / (jnp.sqrt(v / bc2.astype(v.dtype)) + eps), updates, mu, nu)
        return out, ScaleByNadamState(count, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


def nadamw(learning_rate: optax.ScalarOrSchedule, b1: float, b2: float, eps: float,
           weight_decay: float) -> optax.GradientTransformation:
    """AlgoPerf's ``nadamw``: NAdam direction, decoupled decay, times the learning rate."""
    return optax.chain(scale_by_nadam(b1, b2, eps), optax.add_decayed_weights(weight_decay),
                       optax.scale_by_learning_rate(learning_rate))


def build_adamw(cfg: AdamWConfig, lr: optax.Schedule, weight_decay: float):
    return optax.adamw(learning_rate=lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps,
                       weight_decay=weight_decay)


def build_nadamw(cfg: NadamWConfig, lr: optax.Schedule, weight_decay: float):
    if cfg.variant == "optax":
        return optax.nadamw(learning_rate=lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps,
                            weight_decay=weight_decay)
    return nadamw(lr, cfg.b1, cfg.b2, cfg.eps, weight_decay)


ADAMW = OptimizerSpec("adamw", AdamWConfig, build_adamw, relative_schedule=False,
                      reference="torch.optim.AdamW; optax.adamw", search_space="nadamw")
NADAMW = OptimizerSpec("nadamw", NadamWConfig, build_nadamw, relative_schedule=False,
                       reference="AlgoPerf NAdamW baseline (JAX and PyTorch)",
                       search_space="nadamw")
