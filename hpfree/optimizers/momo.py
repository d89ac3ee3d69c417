"""MoMo and MoMo-Adam (Schaipp et al., 2024): momentum with a Polyak-type step size.

Both need the loss value at update time (the spec declares ``needs_loss``; the runner passes
``value=loss``).  The arithmetic is ``optax.contrib.momo`` / ``momo_adam``'s, which agree
with the authors' ``momo-opt`` package (``Momo``, ``MomoAdam``, v0.1.0) to float64 rounding
without weight decay.  With weight decay they place the decay differently; the knob
``weight_decay_mode`` picks the form (α = the scheduled learning rate, λ = weight decay,
d = the (preconditioned) momentum, τ = MoMo's step):

- ``optax`` (default): ``p ← p/(1+αλ) − τ·d`` (optax.contrib);
- ``divide``: ``p ← (p − τ·d)/(1+αλ)`` — the paper's proximal step, ``Momo`` and
  ``MomoAdam(divide=True)`` (the package default);
- ``multiply``: ``p ← p·(1−αλ) − τ·d`` — ``MomoAdam(divide=False)``.

Defaults (the package's and the paper's Table 1): lower bound 0, ``learning_rate`` 1 for MoMo
and 1e-2 for MoMo-Adam (a cap on the step, multiplied by the relative schedule), β 0.9,
MoMo-Adam's β₂ 0.999 and eps 1e-8; ``adapt_lower_bound`` (the package's ``use_fstar``) off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from hpfree.knobs import POSITIVE, UNIT, knob, one_of
from hpfree.optimizers import common
from hpfree.optimizers.registry import OptimizerConfig, OptimizerSpec

DECAY_MODES = ("optax", "divide", "multiply")


class MomoState(NamedTuple):
    exp_avg: Any
    exp_avg_sq: Any  # None for MoMo (no preconditioner)
    barf: jax.Array
    gamma: jax.Array
    lb: jax.Array
    count: jax.Array


def _decayed_step(mode: str, alpha, wd: float, tau, direction, params):
    """The update ``p_new − p`` for one of the three weight-decay placements."""
    if mode == "optax":
        return jax.tree.map(lambda d, p: -(alpha * wd) / (1 + alpha * wd) * p - tau * d,
                            direction, params)
    if mode == "divide":
        return jax.tree.map(lambda d, p: (p - tau * d) / (1 + alpha * wd) - p, direction, params)
    return jax.tree.map(lambda d, p: -alpha * wd * p - tau * d, direction, params)


def momo(learning_rate: optax.ScalarOrSchedule = 1.0, beta: float = 0.9,
         lower_bound: float = 0.0, weight_decay: float = 0.0, adapt_lower_bound: bool = False,
         weight_decay_mode: str = "optax", adam: bool = False, b2: float = 0.999,
         eps: float = 1e-8) -> optax.GradientTransformationExtraArgs:
    """MoMo (``adam=False``, SGD-type) or MoMo-Adam (``adam=True``) as an optax transformation.

    ``update(grads, state, params, value=loss)``; see the module docstring for the knobs.
    """

    def init_fn(params):
        dtype = optax.tree.dtype(params, "lowest")
        return MomoState(optax.tree.zeros_like(params),
                         optax.tree.zeros_like(params) if adam else None, jnp.zeros([], dtype),
                         jnp.zeros([], dtype), jnp.asarray(lower_bound, dtype),
                         jnp.zeros([], jnp.int32))

    def update_fn(updates, state: MomoState, params=None, *, value=None, **extra):
        del extra
        if params is None or value is None:
            raise ValueError("MoMo needs params and the loss: tx.update(grads, state, params, "
                             "value=loss)")
        count = state.count
        count_inc = optax.safe_increment(count)
        dtype = state.barf.dtype
        # MoMo without bias correction starts its averages at the first values (β → 0 at
        # step 0); MoMo-Adam starts them at 0 and corrects with 1 − β^k.
        b1 = beta if adam else jnp.where(count == 0, 0.0, beta)
        barf = b1 * state.barf + (1 - b1) * jnp.asarray(value, dtype)
        exp_avg = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.exp_avg, updates)
        gamma = b1 * state.gamma + (1 - b1) * optax.tree.vdot(updates, params)
        if adam:
            exp_avg_sq = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g,
                                      state.exp_avg_sq, updates)
            bc2 = jnp.asarray(1 - b2 ** count_inc, dtype)
            direction = jax.tree.map(lambda m, v: m / (eps + jnp.sqrt(v / bc2)), exp_avg,
                                     exp_avg_sq)
            bc1 = jnp.asarray(1 - beta ** count_inc, dtype)
        else:
            exp_avg_sq, direction, bc1 = None, exp_avg, jnp.asarray(1.0, dtype)
        norm = optax.tree.vdot(exp_avg, direction)
        iprod = optax.tree.vdot(exp_avg, params)
        alpha = common.schedule_value(learning_rate, count).astype(dtype)
        decay = 1 + alpha * weight_decay
        if adapt_lower_bound:
            cap = decay * (barf - gamma) + iprod
            this_lb = jnp.where(cap < decay * bc1 * state.lb,
                                jnp.maximum(cap / (2 * bc1 * decay), lower_bound), state.lb)
        else:
            this_lb = state.lb
        t1 = jnp.maximum(decay * (barf - bc1 * this_lb - gamma) + iprod, 0.0) / norm
        t1 = jnp.where(norm <= jnp.finfo(float).eps, 0.0, t1)
        tau = jnp.minimum(alpha / bc1, t1)
        new_updates = _decayed_step(weight_decay_mode, alpha, weight_decay, tau, direction,
                                    params)
        if adapt_lower_bound:
            new_lb = jnp.maximum(((barf + iprod - gamma) - 0.5 * tau * norm) / bc1, lower_bound)
        else:
            new_lb = state.lb
        return new_updates, MomoState(exp_avg, exp_avg_sq, barf, gamma, new_lb, count_inc)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@dataclass
class MomoConfig(OptimizerConfig):
    name: str = "momo"
    learning_rate: float = 1.0
    beta: float = knob(0.9, UNIT)
    lower_bound: float = 0.0
    adapt_lower_bound: bool = False
    weight_decay_mode: str = knob("optax", one_of(*DECAY_MODES))


@dataclass
class MomoAdamConfig(OptimizerConfig):
    name: str = "momo_adam"
    learning_rate: float = 1e-2
    b1: float = knob(0.9, UNIT)
    b2: float = knob(0.999, UNIT)
    eps: float = knob(1e-8, POSITIVE)
    lower_bound: float = 0.0
    adapt_lower_bound: bool = False
    weight_decay_mode: str = knob("optax", one_of(*DECAY_MODES))


def build_momo(cfg: MomoConfig, lr: optax.Schedule, weight_decay: float):
    return momo(lr, beta=cfg.beta, lower_bound=cfg.lower_bound, weight_decay=weight_decay,
                adapt_lower_bound=cfg.adapt_lower_bound, weight_decay_mode=cfg.weight_decay_mode)


def build_momo_adam(cfg: MomoAdamConfig, lr: optax.Schedule, weight_decay: float):
    return momo(lr, beta=cfg.b1, b2=cfg.b2, eps=cfg.eps, lower_bound=cfg.lower_bound,
                weight_decay=weight_decay, adapt_lower_bound=cfg.adapt_lower_bound,
                weight_decay_mode=cfg.weight_decay_mode, adam=True)


MOMO = OptimizerSpec("momo", MomoConfig, build_momo, relative_schedule=True, needs_loss=True,
                     reference="momo-opt 0.1.0 Momo(lr=1, lb=0); optax.contrib.momo",
                     search_space="lr_free_momo")
MOMO_ADAM = OptimizerSpec("momo_adam", MomoAdamConfig, build_momo_adam,
                          relative_schedule=True, needs_loss=True,
                          reference="momo-opt 0.1.0 MomoAdam(lr=1e-2, lb=0); "
                                    "optax.contrib.momo_adam",
                          search_space="lr_free")
