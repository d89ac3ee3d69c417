"""Mechanic (Cutkosky, Defazio & Mehta, 2023): a learned global scale on a base optimizer.

``mechanic_adamw`` / ``mechanic_nadamw`` wrap ``optax.adamw`` / AlgoPerf's NAdamW (learning
rate = the relative schedule, peak 1; weight decay = ``regularization.weight_decay``, applied
by the base optimizer as in ``mechanize(torch.optim.AdamW)``).  Defaults from the authors'
``mechanic-pytorch`` (v0.0.1) and the paper's Table 1: s_init 1e-8, s_decay (λ) 0.01,
six betas 1 − 10⁻ⁱ, eps 1e-8; base betas (0.9, 0.999) as in Adam.

The tuner has two published variants, picked by ``variant``:

- ``optax`` (default): ``optax.contrib.mechanize``'s arithmetic — max-product ``m`` starts
  at 0 and tracks ``|h| + eps``, the reward adds ``h`` clipped to ``[−m, m]``, the decay
  term uses the parameters before the base step;
- ``mechanic_pytorch``: the authors' package — ``m`` starts at 1e-6 and tracks ``|h|``, no
  clipping, the decay term and its norm use the parameters *after* the base step.
  ``optimizer.variant=mechanic_pytorch`` matches ``mechanize(torch.optim.AdamW)`` to float64
  rounding (``mechanic_nadamw``: wrapped around AlgoPerf's PyTorch NAdamW).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from hpfree.knobs import NON_NEGATIVE, POSITIVE, UNIT, at_least, knob, one_of
from hpfree.optimizers import adam
from hpfree.optimizers.registry import OptimizerConfig, OptimizerSpec

VARIANTS = ("optax", "mechanic_pytorch")


class MechanicState(NamedTuple):
    base_optimizer_state: Any
    count: jax.Array
    r: jax.Array
    m: jax.Array
    v: jax.Array
    s: jax.Array
    x0: Any


def mechanize(base_optimizer: optax.GradientTransformation, weight_decay: float = 1e-2,
              eps: float = 1e-8, s_init: float = 1e-8, num_betas: int = 6,
              variant: str = "optax") -> optax.GradientTransformationExtraArgs:
    """Mechanic's tuner around ``base_optimizer`` (see the module docstring for ``variant``).

    ``weight_decay`` is Mechanic's own λ (``s_decay``), not the base optimizer's decay.
    """
    torch_variant = variant == "mechanic_pytorch"
    base_optimizer = optax.with_extra_args_support(base_optimizer)

    def init_fn(params):
        dtype = optax.tree.dtype(params, "lowest")
        zeros = lambda: jnp.zeros([num_betas], dtype)  # noqa: E731  (distinct buffers)
        m0 = jnp.full([num_betas], 1e-6, dtype) if torch_variant else zeros()
        s0 = zeros() if torch_variant else jnp.full([num_betas], s_init, dtype)
        return MechanicState(base_optimizer.init(params), jnp.zeros([], jnp.int32), zeros(), m0,
                             zeros(), s0, params)

    def update_fn(updates, state: MechanicState, params=None, **extra):
        if params is None:
            raise ValueError("mechanize needs the current params: tx.update(grads, state, params)")
        base_updates, base_state = base_optimizer.update(updates, state.base_optimizer_state,
                                                         params, **extra)
        x0 = state.x0
        s_sum = jnp.sum(state.s)
        grad_norm = optax.tree.norm(updates)
        decay_at = optax.apply_updates(params, base_updates) if torch_variant else params
        decay_scale = weight_decay * s_sum * grad_norm / (optax.tree.norm(decay_at) + eps)
        decayed = jax.tree.map(lambda g, p: g + decay_scale * p, updates, decay_at)
        # delta_prev = (x0 − x)/(Σs + eps): the previous offset in units of the scale.
        delta_prev = jax.tree.map(lambda x, r: (r - x) / (s_sum + eps), params, x0)
        delta = jax.tree.map(lambda dp, u: dp - u, delta_prev, base_updates)
        h = optax.tree.vdot(decayed, delta_prev)
        betas = jnp.array([1.0 - 0.1 ** i for i in range(1, num_betas + 1)], state.s.dtype)
        if torch_variant:
            m = jnp.maximum(betas * state.m, jnp.abs(h))
            reward_h = h
        else:
            m = jnp.maximum(betas * state.m, jnp.abs(h) + eps)
            reward_h = jax.lax.clamp(-state.m, jnp.ones_like(state.m) * h, state.m)
        v = betas ** 2 * state.v + h ** 2
        r = betas * state.r + reward_h * state.s
        wealth = (s_init / num_betas) * m + jnp.maximum(0.0, r)
        # optax keeps the unclamped reward in its state; mechanic-pytorch the clamped one.
        r = jnp.maximum(0.0, r) if torch_variant else r
        s = wealth / (jnp.sqrt(v) + eps)
        scale = jnp.maximum(jnp.sum(s), 0.0)
        new_params = jax.tree.map(lambda r0, d: r0 - scale * d, x0, delta)
        new_updates = jax.tree.map(lambda n, p: n - p, new_params, params)
        return new_updates, MechanicState(base_state, optax.safe_increment(state.count), r, m,
                                          v, s, x0)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@dataclass
class MechanicAdamWConfig(OptimizerConfig):
    name: str = "mechanic_adamw"
    learning_rate: float = 1.0
    b1: float = knob(0.9, UNIT)
    b2: float = knob(0.999, UNIT)
    eps: float = knob(1e-8, POSITIVE)
    s_init: float = knob(1e-8, POSITIVE)
    s_decay: float = knob(0.01, NON_NEGATIVE)
    num_betas: int = knob(6, at_least(1))
    mechanic_eps: float = knob(1e-8, POSITIVE)
    variant: str = knob("optax", one_of(*VARIANTS))


@dataclass
class MechanicNadamWConfig(MechanicAdamWConfig):
    name: str = "mechanic_nadamw"


def _build(nesterov: bool):
    def build(cfg: MechanicAdamWConfig, lr: optax.Schedule, weight_decay: float):
        if nesterov:
            base = adam.nadamw(lr, cfg.b1, cfg.b2, cfg.eps, weight_decay)
        else:
            base = optax.adamw(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=weight_decay)
        return mechanize(base, weight_decay=cfg.s_decay, eps=cfg.mechanic_eps,
                         s_init=cfg.s_init, num_betas=cfg.num_betas, variant=cfg.variant)

    return build


MECHANIC_ADAMW = OptimizerSpec(
    "mechanic_adamw", MechanicAdamWConfig, _build(False), relative_schedule=True,
    reference="optax.contrib.mechanize(optax.adamw); mechanic-pytorch 0.0.1 "
              "mechanize(AdamW) via variant=mechanic_pytorch",
    search_space="lr_free")
MECHANIC_NADAMW = OptimizerSpec(
    "mechanic_nadamw", MechanicNadamWConfig, _build(True), relative_schedule=True,
    reference="optax.contrib.mechanize(AlgoPerf nadamw); mechanic-pytorch 0.0.1 "
              "mechanize(AlgoPerf NAdamW) via variant=mechanic_pytorch",
    search_space="lr_free")
