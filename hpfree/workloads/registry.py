"""Name → workload class and config schema (one entry per file in ``hpfree.workloads``)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Optional

from hpfree.config import ConfigError, RegularizationConfig

_CLASSES: dict[str, tuple[type, type]] = {}
_LOADED = False
_SKIP = {"base", "registry", "metrics", "common"}


def register(name: str, config_cls: type):
    """Class decorator: ``@register("digits_mlp", DigitsMLPConfig)``."""

    def deco(cls):
        _CLASSES[name] = (cls, config_cls)
        return cls

    return deco


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    import hpfree.workloads as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in _SKIP and not info.name.startswith("_"):
            importlib.import_module(f"hpfree.workloads.{info.name}")
    _LOADED = True


def all_config_classes() -> dict[str, type]:
    _load_all()
    return {k: v[1] for k, v in sorted(_CLASSES.items())}


def names() -> list[str]:
    _load_all()
    return sorted(_CLASSES)


def get_config_class(name: Optional[str]) -> type:
    _load_all()
    if name not in _CLASSES:
        raise ConfigError(f"unknown workload {name!r}; choose one of: {', '.join(sorted(_CLASSES))}")
    return _CLASSES[name][1]


def get_class(name: Optional[str]) -> type:
    get_config_class(name)
    return _CLASSES[name][0]


def make(cfg, regularization: RegularizationConfig | None = None):
    """Instantiate the workload described by ``cfg`` (a workload config dataclass)."""
    _load_all()
    get_config_class(cfg.name)
    return _CLASSES[cfg.name][0](cfg, regularization)
