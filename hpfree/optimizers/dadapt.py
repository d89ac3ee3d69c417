"""D-Adaptation AdamW (Defazio & Mishchenko, 2023): Adam with a lower bound on D.

The arithmetic is ``optax.contrib.dadapt_adamw``'s, plus what the authors' package
``dadaptation.DAdaptAdam`` (v3.2) has and optax lacks, as config knobs:

- ``bias_correction`` (default **true**, as optax; DAdaptAdam's default is false);
- ``decouple`` (default **true**: AdamW decay ``−wd·dlr·p``, as optax and the config's name
  say; DAdaptAdam's default is false, i.e. ``wd·p`` added to the gradient) —
  ``optimizer.bias_correction=false optimizer.decouple=false`` reproduces ``DAdaptAdam()``;
- ``growth_rate`` (DAdaptAdam's; default null = ∞);
- a step whose (relative) learning rate is exactly 0 changes nothing (DAdaptAdam returns
  early: ``if sk_l1 == 0: return``); ``optax.contrib.dadapt_adamw`` returns NaN there.

Defaults: d0 1e-6, betas (0.9, 0.999), eps 1e-8 (DAdaptAdam's and the paper's Table 1).
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


class DAdaptAdamWState(NamedTuple):
    exp_avg: Any
    exp_avg_sq: Any
    grad_sum: Any            # DAdaptAdam's ``s``
    d: jax.Array
    numerator: jax.Array     # DAdaptAdam's ``numerator_weighted``
    k: jax.Array             # steps taken (bias-correction counter; skips do not count)
    count: jax.Array         # steps seen (the schedule's index)


def dadapt_adamw(learning_rate: optax.ScalarOrSchedule = 1.0, b1: float = 0.9,
                 b2: float = 0.999, eps: float = 1e-8, d0: float = 1e-6,
                 growth_rate: float = float("inf"), weight_decay: float = 0.0,
                 decouple: bool = True, bias_correction: bool = True,
                 ) -> optax.GradientTransformationExtraArgs:
    """D-Adapt Adam(W) as an optax transformation (see the module docstring for the knobs)."""
    sb2 = b2 ** 0.5

    def init_fn(params):
        dtype = optax.tree.dtype(params, "lowest")
        zeros = lambda: optax.tree.zeros_like(params)  # noqa: E731  (distinct buffers)
        return DAdaptAdamWState(zeros(), zeros(), zeros(), jnp.asarray(d0, dtype),
                                jnp.zeros([], dtype), jnp.zeros([], jnp.int32),
                                jnp.zeros([], jnp.int32))

    def update_fn(updates, state: DAdaptAdamWState, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("dadapt_adamw needs params: tx.update(grads, state, params)")
        grads = common.maybe_decayed_grads(updates, params, weight_decay, decouple)
        d = state.d
        sched = common.schedule_value(learning_rate, state.count).astype(d.dtype)
        kp1 = (state.k + 1).astype(d.dtype)
        bc = ((1 - b2 ** kp1) ** 0.5) / (1 - b1 ** kp1) if bias_correction else 1.0
        dlr = d * sched * bc

        s_weighted = jax.tree.map(lambda s, v: s / (jnp.sqrt(v) + eps), state.grad_sum,
                                  state.exp_avg_sq)
        numerator = sb2 * state.numerator + (1 - sb2) * dlr * optax.tree.vdot(grads, s_weighted)
        exp_avg = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * dlr * g, state.exp_avg, grads)
        exp_avg_sq = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.exp_avg_sq,
                                  grads)
        grad_sum = jax.tree.map(lambda s, g: sb2 * s + (1 - sb2) * dlr * g, state.grad_sum,
                                grads)
        sk_l1 = optax.tree.sum(jax.tree.map(jnp.abs, grad_sum))

        positive = jnp.logical_and(sched > 0, sk_l1 > 0)
        d_hat = numerator / ((1 - sb2) * jnp.where(positive, sk_l1, 1.0))
        d_new = jnp.maximum(d, jnp.minimum(d_hat, d * growth_rate))

        def step(m, v, p):
            out = -m / (jnp.sqrt(v) + eps)
            return out - weight_decay * dlr * p if decouple else out

        new_updates = jax.tree.map(step, exp_avg, exp_avg_sq, params)
        new_updates = jax.tree.map(lambda u: jnp.where(positive, u, jnp.zeros_like(u)),
                                   new_updates)
        stepped = DAdaptAdamWState(exp_avg, exp_avg_sq, grad_sum, d_new, numerator,
                                   state.k + 1, state.count)
        new_state = common.select(jnp.logical_not(positive), state, stepped)
        return new_updates, new_state._replace(count=optax.safe_increment(state.count))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@dataclass
class DAdaptAdamWConfig(OptimizerConfig):
    """D-Adapt AdamW's knobs (see :func:`dadapt_adamw`); ``learning_rate`` is the relative peak."""

    name: str = "dadapt_adamw"
    learning_rate: float = 1.0
    b1: float = knob(0.9, UNIT)
    b2: float = knob(0.999, UNIT)
    eps: float = knob(1e-8, POSITIVE)
    d0: float = knob(1e-6, POSITIVE)
    # None: unlimited (the packages' float("inf")).
    growth_rate: Optional[float] = knob(None, POSITIVE_OR_INF)
    decouple: bool = True
    bias_correction: bool = True


def build(cfg: DAdaptAdamWConfig, lr: optax.Schedule, weight_decay: float):
    return dadapt_adamw(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, d0=cfg.d0,
                        growth_rate=common.optional(cfg.growth_rate, float("inf")),
                        weight_decay=weight_decay,
                        decouple=cfg.decouple, bias_correction=cfg.bias_correction)


DADAPT_ADAMW = OptimizerSpec(
    "dadapt_adamw", DAdaptAdamWConfig, build, relative_schedule=True,
    reference="dadaptation 3.2 DAdaptAdam(decouple=True, use_bias_correction=True); "
              "optax.contrib.dadapt_adamw",
    search_space="lr_free")
