"""DoG and DoWG: SGD whose step is a distance travelled over (weighted) gradient norms.

**DoG** (Ivgi et al., 2023) is ``optax.contrib.dog`` with the ``heuristic`` initial distance
``reps_rel·(1 + ‖x0‖)``, which is what the authors' ``dog-optimizer`` package (``DoG``, v1.0.3)
computes; weight decay is L2 added to the gradient in both.  Defaults: reps_rel 1e-6,
eps 1e-8 (the package's and the paper's Table 1).  It agrees with ``DoG`` to float64 rounding.

**DoWG** (Khaled et al., 2023) is ``optax.contrib.dowg``'s arithmetic: ``r̄²`` starts at
``init_estim_sq_dist`` (1e-4, the ``eps`` argument of the authors' ``dowg`` package),
``η = r̄²/(√v + eps)``, the relative schedule multiplies the step, L2 weight decay.  The
authors' ``dowg.ScalarDoWG`` (v0.3.1) differs: it starts ``r̄²`` at ``1 − eps`` = 0.9999 and
uses that as the denominator's epsilon too, clamps each gradient coordinate to ±0.5 in the
step (``clip``), ignores the learning rate (so no schedule) and has no weight decay.
``optimizer.init_estim_sq_dist=0.9999 optimizer.eps=0.9999 optimizer.clip=0.5
schedule=none regularization=none`` reproduces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

from hpfree.knobs import POSITIVE, knob
from hpfree.optimizers.registry import OptimizerConfig, OptimizerSpec


@dataclass
class DoGConfig(OptimizerConfig):
    name: str = "dog"
    learning_rate: float = 1.0
    reps_rel: float = knob(1e-6, POSITIVE)
    eps: float = knob(1e-8, POSITIVE)


def build_dog(cfg: DoGConfig, lr: optax.Schedule, weight_decay: float):
    # optax skips a weight decay that is a Python 0; a traced one is always applied.
    return optax.contrib.dog(lr, init_step=("heuristic", cfg.reps_rel), eps=cfg.eps,
                             weight_decay=weight_decay)


class DoWGState(NamedTuple):
    init_params: Any
    weighted_sq_norm_grads: jax.Array
    estim_sq_dist: jax.Array


def scale_by_dowg(init_estim_sq_dist: float = 1e-4, eps: float = 1e-4,
                  clip: Optional[float] = None) -> optax.GradientTransformation:
    """``optax.contrib.scale_by_dowg`` plus ScalarDoWG's optional coordinate clamp.

    With ``clip`` the step direction is ``clamp(g, −clip, clip)`` while the accumulator
    ``v`` still sums the unclamped ``‖g‖²``, as ``dowg.ScalarDoWG`` does.
    """

    def init_fn(params):
        dtype = optax.tree.dtype(params, "lowest")
        return DoWGState(params, jnp.zeros([], dtype), jnp.asarray(init_estim_sq_dist, dtype))

    def update_fn(updates, state: DoWGState, params=None):
        if params is None:
            raise ValueError("dowg needs the current params: tx.update(grads, state, params)")
        sq_dist = optax.tree.norm(optax.tree.sub(state.init_params, params), squared=True)
        estim = jnp.maximum(state.estim_sq_dist, sq_dist)
        weighted = state.weighted_sq_norm_grads + estim * optax.tree.norm(updates, squared=True)
        step = estim / (jnp.sqrt(weighted) + eps)
        direction = updates if clip is None else jax.tree.map(
            lambda g: jnp.clip(g, -clip, clip), updates)
        return optax.tree.scale(step, direction), state._replace(
            weighted_sq_norm_grads=weighted, estim_sq_dist=estim)

    return optax.GradientTransformation(init_fn, update_fn)


@dataclass
class DoWGConfig(OptimizerConfig):
    name: str = "dowg"
    learning_rate: float = 1.0
    init_estim_sq_dist: float = knob(1e-4, POSITIVE)
    eps: float = knob(1e-4, POSITIVE)
    clip: Optional[float] = knob(None, POSITIVE)


def build_dowg(cfg: DoWGConfig, lr: optax.Schedule, weight_decay: float):
    return optax.chain(
        optax.add_decayed_weights(weight_decay),  # a Python 0 is skipped by optax
        scale_by_dowg(cfg.init_estim_sq_dist, cfg.eps, cfg.clip),
        optax.scale_by_learning_rate(lr),
    )


DOG = OptimizerSpec("dog", DoGConfig, build_dog, relative_schedule=True,
                    reference="dog-optimizer 1.0.3 DoG(reps_rel=1e-6); optax.contrib.dog",
                    search_space="lr_free_no_betas")
DOWG = OptimizerSpec("dowg", DoWGConfig, build_dowg, relative_schedule=True,
                     reference="optax.contrib.dowg; dowg 0.3.1 ScalarDoWG via knobs",
                     search_space="lr_free_no_betas")
