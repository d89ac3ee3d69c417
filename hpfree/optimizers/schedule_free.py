"""Schedule-Free AdamW (Defazio et al., 2024): interpolation + averaging instead of a schedule.

Built as ``optax.contrib.schedule_free`` around ``scale_by_rms`` (bias-corrected, eps outside
the root) + ``add_decayed_weights`` + ``scale_by_learning_rate``, i.e. the body of
``optax.contrib.schedule_free_adamw``, with one fix: ``schedule_free`` reads the learning
rate at its own 1-based counter while the inner ``scale_by_learning_rate`` reads it at the
0-based one, so a warmup is one step off from the authors' ``AdamWScheduleFree``.  Here both
read step ``t`` of the same schedule, which reproduces ``schedulefree.AdamWScheduleFree``
(v1.4.1) to float64 rounding, including its own ``warmup_steps`` (``(k+1)/warmup_steps``).

Defaults are the package's: lr 0.0025 (an *absolute* learning rate: the schedule's peak),
betas (0.9, 0.999), eps 1e-8, weight_lr_power 2, warmup_steps 0.  Decay is the package's:
``wd·y`` added to the normalised gradient.  Evaluation uses the averaged point ``x``
(``optax.contrib.schedule_free_eval_params``), declared through the spec's ``eval_params``.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import optax

from hpfree.knobs import NON_NEGATIVE, OPEN_UNIT, POSITIVE, UNIT, at_least, knob
from hpfree.optimizers.registry import OptimizerConfig, OptimizerSpec


def internal_warmup(lr: optax.Schedule, warmup_steps: int) -> optax.Schedule:
    """``lr(t)·min(1, (t+1)/warmup_steps)``: AdamWScheduleFree's built-in warmup."""
    if warmup_steps <= 0:
        return lr
    return lambda t: lr(t) * jnp.minimum(1.0, (jnp.asarray(t, dtype=float) + 1) / warmup_steps)


def schedule_free_adamw(learning_rate: optax.Schedule, b1: float = 0.9, b2: float = 0.999,
                        eps: float = 1e-8, weight_decay: float = 0.0,
                        weight_lr_power: float = 2.0,
                        warmup_steps: int = 0) -> optax.GradientTransformationExtraArgs:
    """AdamWScheduleFree as an optax transformation; evaluate at :func:`eval_params`."""
    lr = internal_warmup(learning_rate, warmup_steps)
    base = optax.chain(
        optax.scale_by_rms(decay=b2, eps=eps, eps_in_sqrt=False, bias_correction=True),
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_learning_rate(lr),
    )
    # schedule_free calls its schedule with step_count = t + 1.
    return optax.contrib.schedule_free(base, learning_rate=lambda c: lr(c - 1), b1=b1,
                                       weight_lr_power=weight_lr_power)


def eval_params(opt_state, params):
    """The averaged point ``x`` at which Schedule-Free is meant to be evaluated."""
    return optax.contrib.schedule_free_eval_params(opt_state, params)


@dataclass
class ScheduleFreeAdamWConfig(OptimizerConfig):
    name: str = "schedule_free_adamw"
    learning_rate: float = 0.0025
    b1: float = knob(0.9, OPEN_UNIT)
    b2: float = knob(0.999, UNIT)
    eps: float = knob(1e-8, POSITIVE)
    weight_lr_power: float = knob(2.0, NON_NEGATIVE)
    warmup_steps: int = knob(0, at_least(0))


def build(cfg: ScheduleFreeAdamWConfig, lr: optax.Schedule, weight_decay: float):
    return schedule_free_adamw(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=weight_decay,
                               weight_lr_power=cfg.weight_lr_power,
                               warmup_steps=cfg.warmup_steps)


SCHEDULE_FREE_ADAMW = OptimizerSpec(
    "schedule_free_adamw", ScheduleFreeAdamWConfig, build, relative_schedule=False,
    eval_params=eval_params, reference="schedulefree 1.4.1 AdamWScheduleFree(lr=0.0025)",
    # An absolute learning rate: searched like the AdamW/NadamW baselines.
    search_space="nadamw")
