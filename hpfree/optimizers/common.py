"""Small pieces the optimizer modules share: the zero-step-size skip.

Knob domains are declared with the knobs (``hpfree.knobs``).

The skip exists because the authors' PyTorch packages of D-Adaptation and Prodigy return
from ``step()`` without touching anything when the learning rate is 0 (our warmup starts at
0), while optax's contrib versions divide 0 by 0 there.  :func:`select` keeps the old state
for such a step, so our versions do what the authors' code does.
"""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
import optax



def schedule_value(learning_rate: optax.ScalarOrSchedule, count: jax.Array) -> jax.Array:
    return learning_rate(count) if callable(learning_rate) else jnp.asarray(learning_rate)


def select(keep_old: jax.Array, old: Any, new: Any) -> Any:
    """``old`` where ``keep_old`` (a scalar bool) holds, else ``new``, leaf by leaf."""
    return jax.tree.map(lambda o, n: jnp.where(keep_old, o, n), old, new)


def is_static_zero(value: Any) -> bool:
    """True for a Python number equal to 0 (a traced hyperparameter is never statically 0)."""
    return isinstance(value, (int, float)) and value == 0


def maybe_decayed_grads(updates: Any, params: Any, weight_decay: Any,
                        decouple: bool) -> Any:
    """Add ``weight_decay * params`` to the gradient (L2, "coupled") unless ``decouple``.

    ``weight_decay`` may be traced (a value of the compiled step, ``hpfree.hparams``); a
    traced 0 adds ``0 * p``, which leaves finite gradients unchanged.
    """
    if decouple or is_static_zero(weight_decay):
        return updates
    return jax.tree.map(lambda g, p: g + weight_decay * p, updates, params)


def optional(value: Optional[float], default: float) -> float:
    return default if value is None else value
