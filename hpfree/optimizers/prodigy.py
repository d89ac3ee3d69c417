"""Prodigy (Mishchenko & Defazio, 2023): D-Adaptation AdamW with faster-growing estimates.

The arithmetic is ``optax.contrib.prodigy``'s (verified to agree with it to float64 rounding
on every step where the schedule is positive), with what the authors' package
``prodigyopt.Prodigy`` (v1.1.2) has and optax lacks, as config knobs:

- ``bias_correction`` (default **true**, as optax; prodigyopt's default is false —
  ``optimizer.bias_correction=false`` reproduces ``Prodigy()``);
- ``decouple`` (AdamW-style decay, default true as in both; false adds ``wd·p`` to the
  gradient), ``d_coef`` and ``growth_rate`` (prodigyopt's knobs, defaults 1 and null = ∞);
- a step whose (relative) learning rate is exactly 0 leaves everything unchanged and does not
  advance the bias-correction counter, as ``Prodigy.step`` does by returning early.
  ``optax.contrib.prodigy`` divides 0 by 0 there and returns NaN — our warmup starts at 0.

Defaults: d0 1e-6, betas (0.9, 0.999), beta3 √β2, eps 1e-8, safeguard_warmup false
(prodigyopt's and the paper's Table 1).  ``tests/test_optimizers_reference.py`` checks all of
this against prodigyopt in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

from hpfree.knobs import POSITIVE, POSITIVE_OR_INF, UNIT, knob
from hpfree.optimizers import common
from hpfree.optimizers.registry import OptimizerConfig, OptimizerSpec


class ProdigyState(NamedTuple):
    exp_avg: Any
    exp_avg_sq: Any
    grad_sum: Any          # prodigyopt's ``s``
    params0: Any
    d: jax.Array           # current estimate of the distance to the solution
    d_max: jax.Array
    numerator: jax.Array   # prodigyopt's ``d_numerator``
    k: jax.Array           # steps taken (the bias-correction counter; skips do not count)
    count: jax.Array       # steps seen (the schedule's index; every call counts)


def prodigy(learning_rate: optax.ScalarOrSchedule = 1.0, b1: float = 0.9, b2: float = 0.999,
            beta3: Optional[float] = None, eps: float = 1e-8, d0: float = 1e-6,
            d_coef: float = 1.0, growth_rate: float = float("inf"), weight_decay: float = 0.0,
            decouple: bool = True, bias_correction: bool = True,
            safeguard_warmup: bool = False) -> optax.GradientTransformationExtraArgs:
    """Prodigy as an optax transformation (see the module docstring for the knobs).

    Args:
      learning_rate: the relative schedule (peak 1) multiplying Prodigy's step size.
      b1, b2: Adam's betas; ``beta3`` defaults to ``sqrt(b2)``.
      eps: added to ``sqrt(v)`` after scaling by ``d`` (``d·eps``, as both references).
      d0: initial distance estimate; ``d_coef``, ``growth_rate``: prodigyopt's knobs.
      weight_decay, decouple: AdamW decay ``−wd·dlr·p`` (decouple) or L2 on the gradient.
      bias_correction: Adam's bias correction folded into the step size.
      safeguard_warmup: leave the learning rate out of the denominator's accumulator.

    Returns:
      A ``GradientTransformationExtraArgs`` whose updates are added to the parameters.
    """
    beta3 = b2 ** 0.5 if beta3 is None else beta3

    def init_fn(params):
        dtype = optax.tree.dtype(params, "lowest")
        zeros = lambda: optax.tree.zeros_like(params)  # noqa: E731  (distinct buffers)
        scalar = lambda v: jnp.asarray(v, dtype=dtype)  # noqa: E731
        return ProdigyState(zeros(), zeros(), zeros(), params, scalar(d0), scalar(d0), scalar(0.0),
                            jnp.zeros([], jnp.int32), jnp.zeros([], jnp.int32))

    def update_fn(updates, state: ProdigyState, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("prodigy needs the current params: tx.update(grads, state, params)")
        grads = common.maybe_decayed_grads(updates, params, weight_decay, decouple)
        d = state.d
        sched = common.schedule_value(learning_rate, state.count).astype(d.dtype)
        kp1 = (state.k + 1).astype(d.dtype)
        bc = ((1 - b2 ** kp1) ** 0.5) / (1 - b1 ** kp1) if bias_correction else 1.0
        dlr = d * sched * bc

        diff = jax.tree.map(lambda p0, p: p0 - p, state.params0, params)
        numerator = beta3 * state.numerator + (d / d0) * dlr * optax.tree.vdot(grads, diff)
        exp_avg = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * d * g, state.exp_avg, grads)
        exp_avg_sq = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * d * d * g * g,
                                  state.exp_avg_sq, grads)
        s_rate = (d / d0) * (d if safeguard_warmup else dlr)
        grad_sum = jax.tree.map(lambda s, g: beta3 * s + s_rate * g, state.grad_sum, grads)
        denom = optax.tree.sum(jax.tree.map(jnp.abs, grad_sum))

        # prodigyopt: ``if d_denom == 0: return`` — with lr == 0 its accumulators are not
        # even touched, so the whole step is a no-op (and k does not advance).
        positive = jnp.logical_and(sched > 0, denom > 0)
        safe_denom = jnp.where(positive, denom, 1.0)
        d_hat = d_coef * numerator / safe_denom
        d_new = jnp.where(d == d0, jnp.maximum(d, d_hat), d)
        d_max = jnp.maximum(state.d_max, d_hat)
        d_new = jnp.minimum(d_max, d_new * growth_rate)

        def step(m, v, p):
            out = -dlr * m / (jnp.sqrt(v) + d_new * eps)
            return out - weight_decay * dlr * p if decouple else out

        new_updates = jax.tree.map(step, exp_avg, exp_avg_sq, params)
        new_updates = jax.tree.map(lambda u: jnp.where(positive, u, jnp.zeros_like(u)),
                                   new_updates)
        stepped = ProdigyState(exp_avg, exp_avg_sq, grad_sum, state.params0, d_new, d_max,
                               numerator, state.k + 1, state.count)
        new_state = common.select(jnp.logical_not(positive), state, stepped)
        new_state = new_state._replace(count=optax.safe_increment(state.count))
        return new_updates, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@dataclass
class ProdigyConfig(OptimizerConfig):
    """Prodigy's knobs (see :func:`prodigy`); ``learning_rate`` is the relative peak, 1."""

    name: str = "prodigy"
    learning_rate: float = 1.0
    b1: float = knob(0.9, UNIT)
    b2: float = knob(0.999, UNIT)
    beta3: Optional[float] = knob(None, UNIT)
    eps: float = knob(1e-8, POSITIVE)
    d0: float = knob(1e-6, POSITIVE)
    d_coef: float = knob(1.0, POSITIVE)
    # None: unlimited (the packages' float("inf")).
    growth_rate: Optional[float] = knob(None, POSITIVE_OR_INF)
    decouple: bool = True
    bias_correction: bool = True
    safeguard_warmup: bool = False


def build(cfg: ProdigyConfig, lr: optax.Schedule, weight_decay: float):
    return prodigy(lr, b1=cfg.b1, b2=cfg.b2, beta3=cfg.beta3, eps=cfg.eps, d0=cfg.d0,
                   d_coef=cfg.d_coef, growth_rate=common.optional(cfg.growth_rate, float("inf")),
                   weight_decay=weight_decay,
                   decouple=cfg.decouple, bias_correction=cfg.bias_correction,
                   safeguard_warmup=cfg.safeguard_warmup)


PRODIGY = OptimizerSpec(
    "prodigy", ProdigyConfig, build, relative_schedule=True,
    reference="prodigyopt 1.1.2 Prodigy(use_bias_correction=True); optax.contrib.prodigy",
    search_space="lr_free")
