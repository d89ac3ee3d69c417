"""Name → optimizer spec: the ``hpfree.optimizers`` plug-in registry.

Each optimizer module defines :class:`OptimizerSpec` objects — its config dataclass, a
``build`` function returning an optax transformation, and the *capabilities* the runners ask
about (``needs_loss``: MoMo wants the loss value at update time; ``eval_params``:
Schedule-Free evaluates at a different point than it trains at; ``relative_schedule``: the
schedule multiplies the optimizer's own step size rather than setting an absolute learning
rate) — and the search space it is tuned over by default (``search_space``).  Specs reach
the registry through entry points (``hpfree.plugins``): hpfree's own are declared in its
``pyproject.toml``, a user's package declares its own the same way.  Runners never branch on
the optimizer's name, and nobody keeps lists of names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Union

import optax
from omegaconf import MISSING

from hpfree.knobs import POSITIVE, knob
from hpfree.knobs import check as check_knobs
from hpfree.plugins import Registry


@dataclass
class OptimizerConfig:
    """Fields every optimizer has.

    ``learning_rate`` is the *peak* of the schedule: an absolute learning rate for
    AdamW/NadamW, a multiplier of the optimizer's own estimate (1.0) for learning-rate-free
    methods.
    """

    name: str = MISSING
    learning_rate: float = knob(1.0, POSITIVE)

    def __post_init__(self) -> None:
        # Every knob's domain (declared with ``hpfree.knobs.knob``; floats must be finite).
        check_knobs(self, "optimizer")


# (optimizer config, lr schedule step -> peak * shape, weight decay) -> transformation
BuildFn = Callable[[Any, optax.Schedule, float], optax.GradientTransformationExtraArgs]
EvalParamsFn = Callable[[Any, Any], Any]
# A search space: the name of one in ``conf/search_space/`` or a mapping with ``dimensions``.
SearchSpaceRef = Union[str, Mapping[str, Any]]


@dataclass(frozen=True)
class OptimizerSpec:
    """What an optimizer plug-in declares.

    Args:
      name: the option name (``optimizer=<name>``); equal to its entry point's name.
      config_cls: its config dataclass (subclass of :class:`OptimizerConfig`); its defaults
        are the optimizer's defaults and its fields the knobs ``optimizer.<knob>=...``.
      build: ``(config, lr schedule, weight decay) -> optax transformation``.
      relative_schedule: the schedule multiplies the optimizer's own step size (peak 1).
      needs_loss: ``update`` gets ``value=loss`` (MoMo).
      eval_params: ``(opt_state, params) -> params to evaluate`` (Schedule-Free).
      reference: the authors' package (or paper) it matches, for documentation.
      search_space: what ``search_space=auto`` (and ``hpfree-reproduce``) searches for it.
    """

    name: str
    config_cls: type
    build: BuildFn
    relative_schedule: bool
    needs_loss: bool = False
    eval_params: Optional[EvalParamsFn] = None
    reference: str = ""
    search_space: SearchSpaceRef = "lr_free"

    def knobs(self) -> list[str]:
        """The config fields a user can set (``optimizer.<knob>``), ``name`` excluded."""
        import dataclasses

        return [f.name for f in dataclasses.fields(self.config_cls) if f.name != "name"]


REGISTRY: Registry[OptimizerSpec] = Registry("hpfree.optimizers", "optimizer", OptimizerSpec,
                                             fallback="hpfree.optimizers")


def register(spec: OptimizerSpec) -> OptimizerSpec:
    """Add an optimizer by hand (tests, notebooks); packages use entry points instead."""
    return REGISTRY.register(spec)


def all_specs() -> dict[str, OptimizerSpec]:
    return REGISTRY.all()


def get(name: Optional[str]) -> OptimizerSpec:
    """The spec for ``name``; one-line :class:`ConfigError` listing the known names otherwise."""
    return REGISTRY.get(name)
