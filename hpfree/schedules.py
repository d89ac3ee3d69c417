"""Horizon fraction → steps, and the schedule shape as an optax schedule.

The shape is a multiplier in [0, 1].  The runner multiplies it by the optimizer's
``learning_rate``: for AdamW/NadamW that is an absolute learning rate, for learning-rate-free
optimizers it is a *relative* schedule with peak 1 (the paper's Section 2.3).

``warmup_cosine`` warms up linearly from 0 at step 0 (as AlgoPerf's baselines do with
``optax.linear_schedule(0, peak, warmup)``) and decays with a cosine to 0 at the horizon; it
stays 0 afterwards.  Optimizers that divide by the step size (optax's prodigy, dadapt_adamw)
must cope with the 0 at step 0 themselves — see ``hpfree.optimizers``.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from hpfree.config import HorizonConfig, ScheduleConfig


def horizon_steps(horizon: HorizonConfig, max_steps: int) -> int:
    """Steps until the schedule reaches 0: ``round(fraction × max_steps)``, at least 1."""
    return max(1, int(round(horizon.fraction * max_steps)))


def warmup_steps(schedule: ScheduleConfig, horizon: int) -> int:
    return int(round(schedule.warmup * horizon))


def train_steps(schedule: ScheduleConfig, horizon: int, max_steps: int) -> int:
    """How many steps the run takes: the horizon when the schedule ends there, else max_steps."""
    if schedule.name == "warmup_cosine" and schedule.stop_at_horizon:
        return min(horizon, max_steps)
    return max_steps


def shape(schedule: ScheduleConfig, horizon, warmup=None) -> optax.Schedule:
    """The multiplier as a function of the step (jit-friendly).

    ``horizon`` and ``warmup`` are step counts: Python numbers, or traced scalars when the
    schedule is a value of a compiled step (``hpfree.hparams``); ``warmup`` defaults to
    ``warmup_steps(schedule, horizon)``.  The pieces are optax's formulas
    (``linear_schedule``, ``cosine_decay_schedule``, ``join_schedules``) written with array
    operations only, so no Python branch depends on the numbers.
    """
    if warmup is None:
        warmup = warmup_steps(schedule, horizon)
    concrete = all(isinstance(v, (int, float)) for v in (horizon, warmup))
    if schedule.name == "none":
        return optax.constant_schedule(1.0)
    if schedule.name == "warmup_cosine" and concrete and warmup >= horizon:
        raise ValueError("warmup must be shorter than the horizon")

    def linear(step):  # optax.linear_schedule(0, 1, warmup) before the boundary
        frac = 1 - jnp.clip(step, 0, warmup) / warmup
        return (0.0 - 1.0) * frac + 1.0

    if schedule.name == "constant":
        return lambda step: jnp.where(step < warmup, linear(step), 1.0)

    def cosine(count):  # optax.cosine_decay_schedule(1, horizon − warmup) after it
        decay_steps = horizon - warmup
        count = jnp.minimum(count, decay_steps)
        return 0.5 * (1 + jnp.cos(jnp.pi * count / decay_steps))

    def fn(step):
        # With warmup 0 the linear piece is never selected: a plain cosine over the horizon.
        value = jnp.where(step < warmup, linear(step), cosine(step - warmup))
        return jnp.where(step >= horizon, 0.0, value)

    return fn


def scaled(peak: float, multiplier: optax.Schedule) -> optax.Schedule:
    """``peak × multiplier(step)``: the schedule handed to the optimizer."""

    def fn(step):
        # A float step keeps optax's linear pieces in the default float precision (with an
        # int32 step they compute in float32 even under jax_enable_x64).
        # Always an array: constant schedules return Python floats.
        return jnp.asarray(peak * multiplier(jnp.asarray(step, dtype=float)))

    return fn
