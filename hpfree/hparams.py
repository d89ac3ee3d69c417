"""Hyperparameters as values: a run's config = its static *structure* + float *values*.

A search varies numbers (learning rate, betas, epsilon, weight decay, dropout, label
smoothing, warmup, horizon); everything else — the optimizer and its switches, the schedule's
shape, the workload — shapes the program.  The embedded runner compiles its train step for a
structure and passes the values in as arrays (``optax.inject_hyperparams``'s idea, applied to
the whole config), so one executable serves every point of a search on a workload, the
persistent compilation cache hits across processes, and ``jax.vmap`` over the values trains
several points at once (``runner.trial_batch``).

What is a value:

- every float field of the optimizer config (``None`` of an optional float, e.g.
  ``growth_rate: null`` = unlimited, is structure: it selects other code);
- ``regularization.weight_decay``, ``dropout`` and ``label_smoothing``;
- the schedule's horizon and warmup, as step counts: ``round(horizon.fraction × max_steps)``
  and ``round(schedule.warmup × horizon)`` are computed on the host exactly as before (Python
  rounding of float64 products) and enter the program as numbers.

Integers (``num_betas``, ``warmup_steps``), booleans and strings are structure.  How many
steps a point trains (:func:`num_steps`) is known on the host; the runner's loop runs to it
and its scanned step is a no-op past it, so it is a value of the program too.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

from hpfree import schedules
from hpfree.config import TrainConfig, to_plain

Values = dict[str, dict[str, Any]]


def float_fields(obj: Any) -> list[str]:
    """Names of the dataclass fields of ``obj`` that hold a float (bools are not floats)."""
    return [f.name for f in dataclasses.fields(obj)
            if isinstance(getattr(obj, f.name), float)]


def values(cfg: TrainConfig, max_steps: int) -> Values:
    """The numbers of ``cfg`` that enter the compiled step (Python floats)."""
    horizon = schedules.horizon_steps(cfg.horizon, max_steps)
    warmup = schedules.warmup_steps(cfg.schedule, horizon)
    return {
        "optimizer": {k: float(getattr(cfg.optimizer, k)) for k in float_fields(cfg.optimizer)},
        "regularization": {k: float(getattr(cfg.regularization, k))
                           for k in ("weight_decay", "dropout", "label_smoothing")},
        "schedule": {"horizon": float(horizon), "warmup": float(warmup)},
    }


def num_steps(cfg: TrainConfig, max_steps: int) -> int:
    """How many steps ``cfg`` trains for (the horizon when the schedule stops there)."""
    horizon = schedules.horizon_steps(cfg.horizon, max_steps)
    return schedules.train_steps(cfg.schedule, horizon, max_steps)


def structure(cfg: TrainConfig) -> str:
    """A key equal for two configs exactly when one compiled train step serves both.

    The workload config (model shape, batch size, evaluation cadence = the scanned chunk's
    length, budget), the optimizer's name and non-float fields (``None``-ness of optional
    floats included), the schedule's shape and whether float64 is enabled.
    """
    import jax

    opt = to_plain(cfg.optimizer)
    for k in float_fields(cfg.optimizer):
        opt[k] = "<value>"
    key = {
        "workload": to_plain(cfg.workload),
        "optimizer": opt,
        "schedule": cfg.schedule.name,
        "x64": bool(jax.config.jax_enable_x64),
    }
    return json.dumps(key, sort_keys=True, default=str)


def with_values(cfg: TrainConfig, vals: Values) -> TrainConfig:
    """A shallow copy of ``cfg`` whose value fields hold ``vals``' leaves (possibly traced).

    The copies skip the config classes' range checks (``__post_init__`` is not called): the
    values were checked when ``cfg`` was built, and tracers cannot be compared in Python.
    """
    out = copy.copy(cfg)
    out.optimizer = copy.copy(cfg.optimizer)
    for k, v in vals["optimizer"].items():
        setattr(out.optimizer, k, v)
    out.regularization = copy.copy(cfg.regularization)
    for k, v in vals["regularization"].items():
        setattr(out.regularization, k, v)
    return out


def as_arrays(vals: Values) -> Any:
    """``vals`` as weakly typed JAX scalars: arguments of the compiled step.

    Weak types make an array value behave like the Python float it replaces (``b1 * m`` stays
    in ``m``'s dtype), so a traced point computes in the same precision as a constant one.
    """
    import jax
    import jax.numpy as jnp

    return jax.tree.map(lambda v: jnp.asarray(float(v)), vals)


def stack(items: list[Any]) -> Any:
    """Stack K pytrees of equal structure along a new leading axis (a trial batch)."""
    import jax
    import jax.numpy as jnp

    return jax.tree.map(lambda *xs: jnp.stack(xs), *items)
