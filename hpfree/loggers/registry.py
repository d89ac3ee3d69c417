"""Name → experiment tracker: the ``hpfree.loggers`` plug-in registry.

A logger plug-in is a :class:`LoggerSpec`: its config dataclass (``logger=<name>`` selects
it, ``logger.<knob>=...`` sets its fields), the Python packages it needs (checked before
any work starts, so a missing tracker is one line, not a traceback mid-run) and ``open``,
which starts tracking one run and returns a :class:`Tracker`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Protocol

from omegaconf import MISSING

from hpfree.errors import ConfigError
from hpfree.plugins import Registry


@dataclass
class LoggerConfig:
    """Fields every logger has (``none`` has only these)."""

    name: str = MISSING


class Tracker(Protocol):
    """One run's connection to a tracker."""

    def log(self, row: dict[str, Any]) -> None:
        """One evaluation (a curve row: ``step``, ``train_loss``, ``validation/...``)."""

    def finish(self, record: Any) -> None:
        """The run's final record (status, time-to-target, best metric); then close."""


# (logger config, train config, run directory, record) -> tracker
OpenFn = Callable[[Any, Any, Path, Any], Tracker]


@dataclass(frozen=True)
class LoggerSpec:
    """What a logger plug-in declares.

    Args:
      name: the option name (``logger=<name>``); equal to its entry point's name.
      config_cls: its config dataclass (a :class:`LoggerConfig`).
      open: ``(logger config, train config, run dir, record) -> Tracker``.
      requires: importable module names it needs; ``install`` says how to get them.
    """

    name: str
    config_cls: type
    open: OpenFn
    requires: tuple[str, ...] = ()
    install: str = ""

    def check_available(self) -> None:
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(f"logger={self.name} needs the {missing[0]} package, which is not "
                              f"installed: {self.install or 'pip install ' + missing[0]}")


class NullTracker:
    """``logger=none``: nothing beyond the run directory."""

    def log(self, row: dict[str, Any]) -> None:
        pass

    def finish(self, record: Any) -> None:
        pass


NONE = LoggerSpec("none", LoggerConfig, lambda cfg, tcfg, run_dir, record: NullTracker())

REGISTRY: Registry[LoggerSpec] = Registry("hpfree.loggers", "logger", LoggerSpec,
                                          fallback="hpfree.loggers")


def get(name: Optional[str]) -> LoggerSpec:
    return REGISTRY.get(name)


def all_specs() -> dict[str, LoggerSpec]:
    return REGISTRY.all()


def open_tracker(tcfg: Any, run_dir: Path, record: Any) -> Tracker:
    """The tracker of ``tcfg.logger`` for one run."""
    logger_cfg = getattr(tcfg, "logger", None)
    if logger_cfg is None:
        return NullTracker()
    return get(logger_cfg.name).open(logger_cfg, tcfg, Path(run_dir), record)


def scalars(row: dict[str, Any]) -> dict[str, float]:
    """The numeric cells of a curve row (step excluded), as floats."""
    out = {}
    for k, v in row.items():
        if k == "step" or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        out[k] = float(v)
    return out
