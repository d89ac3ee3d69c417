"""Name → workload: the ``hpfree.workloads`` plug-in registry.

A workload plug-in is a :class:`WorkloadSpec`: its name, its config dataclass (budget, batch
size, target, data seed, model size...) with the defaults that make it *this* workload, and
its :class:`~hpfree.workloads.base.Workload` class.  Built-in workloads declare their spec with
the :func:`workload` class decorator; specs reach the registry through entry points
(``hpfree.plugins``), hpfree's own declared in its ``pyproject.toml`` and a user's package in
its own.  The config dataclass instance is what ``workload=<name>`` selects (it is stored in
Hydra's ConfigStore as that option), so a plug-in needs no YAML file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from hpfree.config import RegularizationConfig
from hpfree.errors import ConfigError
from hpfree.plugins import Registry


@dataclass(frozen=True)
class WorkloadSpec:
    """What a workload plug-in declares.

    Args:
      name: the option name (``workload=<name>``); equal to its entry point's name and to
        the config's ``name`` field.
      config_cls: its config dataclass (a :class:`~hpfree.workloads.base.WorkloadConfig`).
      workload_cls: the :class:`~hpfree.workloads.base.Workload` subclass that runs it.
      defaults: field values that differ from ``config_cls``'s own defaults (several
        workloads may share one config class, as the AlgoPerf ones do).
    """

    name: str
    config_cls: type
    workload_cls: type
    defaults: dict[str, Any] = field(default_factory=dict)

    def default_config(self, **overrides: Any) -> Any:
        """A config instance with this workload's defaults (and ``overrides``)."""
        return self.config_cls(**{"name": self.name, **self.defaults, **overrides})

    @property
    def runner(self) -> str:
        """The runner that can execute this workload (checked before anything runs)."""
        return getattr(self.workload_cls, "runner", "embedded")


REGISTRY: Registry[WorkloadSpec] = Registry("hpfree.workloads", "workload", WorkloadSpec,
                                            fallback="hpfree.workloads")


def workload(name: str, config_cls: type, **defaults: Any) -> Callable[[type], type]:
    """Class decorator declaring a built-in workload: ``@workload("mini_wmt", MiniWMTConfig)``.

    Sets ``cls.spec``; the entry point ``mini_wmt = "hpfree.workloads.wmt:MiniWMT.spec"``
    registers it.
    """

    def deco(cls: type) -> type:
        cls.spec = WorkloadSpec(name, config_cls, cls, dict(defaults))
        return cls

    return deco


def register(spec: WorkloadSpec) -> WorkloadSpec:
    """Add a workload by hand (tests, notebooks); packages use entry points instead."""
    return REGISTRY.register(spec)


def all_specs() -> dict[str, WorkloadSpec]:
    return REGISTRY.all()


def get(name: Optional[str]) -> WorkloadSpec:
    return REGISTRY.get(name)


def names() -> list[str]:
    return REGISTRY.names()


def all_config_classes() -> dict[str, type]:
    return {k: s.config_cls for k, s in REGISTRY.all().items()}


def get_config_class(name: Optional[str]) -> type:
    return REGISTRY.get(name).config_cls


def default_config(name: Optional[str], **overrides: Any) -> Any:
    """``workload=<name>``'s config with its defaults (and ``overrides``)."""
    return REGISTRY.get(name).default_config(**overrides)


def get_class(name: Optional[str]) -> type:
    return REGISTRY.get(name).workload_cls


def make(cfg, regularization: RegularizationConfig | None = None):
    """Instantiate the workload described by ``cfg`` (a workload config dataclass)."""
    spec = REGISTRY.get(getattr(cfg, "name", None))
    if not isinstance(cfg, spec.config_cls):
        raise ConfigError(f"workload {spec.name!r} takes a {spec.config_cls.__name__}, "
                          f"got {type(cfg).__name__}")
    return spec.workload_cls(cfg, regularization)
