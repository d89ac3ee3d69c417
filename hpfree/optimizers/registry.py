"""Name → optimizer spec.  The only place that knows which optimizers exist.

Each optimizer module declares an :class:`OptimizerSpec`: its config dataclass, a ``build``
function returning an optax transformation, and the *capabilities* the runners ask about
(``needs_loss``: MoMo wants the loss value at update time; ``eval_params``: Schedule-Free
evaluates at a different point than it trains at; ``relative_schedule``: the schedule
multiplies the optimizer's own step size rather than setting an absolute learning rate).
Runners never branch on the optimizer's name.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Optional

import optax
from omegaconf import MISSING

from hpfree.config import ConfigError


@dataclass
class OptimizerConfig:
    """Fields every optimizer has.

    ``learning_rate`` is the *peak* of the schedule: an absolute learning rate for
    AdamW/NadamW, a multiplier of the optimizer's own estimate (1.0) for learning-rate-free
    methods.
    """

    name: str = MISSING
    learning_rate: float = 1.0

    def __post_init__(self) -> None:
        if not self.learning_rate > 0:
            raise ConfigError(f"optimizer.learning_rate={self.learning_rate} must be > 0")


# (optimizer config, lr schedule step -> peak * shape, weight decay) -> transformation
BuildFn = Callable[[Any, optax.Schedule, float], optax.GradientTransformationExtraArgs]
EvalParamsFn = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    config_cls: type
    build: BuildFn
    relative_schedule: bool
    needs_loss: bool = False
    eval_params: Optional[EvalParamsFn] = None
    reference: str = ""


_SPECS: dict[str, OptimizerSpec] = {}
_LOADED = False


def register(spec: OptimizerSpec) -> OptimizerSpec:
    """Add an optimizer; called at import time by each module in ``hpfree.optimizers``."""
    _SPECS[spec.name] = spec
    return spec


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    import hpfree.optimizers as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in ("registry",):
            importlib.import_module(f"hpfree.optimizers.{info.name}")
    _LOADED = True


def all_specs() -> dict[str, OptimizerSpec]:
    _load_all()
    return dict(sorted(_SPECS.items()))


def get(name: Optional[str]) -> OptimizerSpec:
    """The spec for ``name``; one-line :class:`ConfigError` listing the known names otherwise."""
    specs = all_specs()
    if name not in specs:
        raise ConfigError(
            f"unknown optimizer {name!r}; choose one of: {', '.join(specs)}"
        )
    return specs[name]
