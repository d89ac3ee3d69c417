"""Every knob's domain, declared with the knob, and the one check that enforces them all.

A config dataclass declares a knob's domain where it declares the knob::

    @dataclass
    class AdamWConfig(OptimizerConfig):
        eps: float = knob(1e-8, POSITIVE)
        b1: float = knob(0.93266, UNIT)

:func:`check` refuses a value outside its domain with one line (``optimizer.eps=-1.0 must be
> 0``); every config group calls it (the base classes' ``__post_init__``) and
:func:`~hpfree.validation.validate` runs :func:`check_tree` over the whole run config, so an
optimizer, workload, schedule, regularization or runner knob is checked the same way before
any work starts.  :func:`check_space` checks a search space's ranges and values against the
domains of the knobs they set.

A field without a declared domain inherits one from the same field of a base class (a
subclass that only changes a default keeps the domain), else from the class's
``KNOB_DEFAULTS`` (``{int: at_least(1)}``: every model size of a workload), else by type: a
float must be finite.  Booleans and ``None`` (for ``Optional`` knobs) always pass.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from hpfree.errors import ConfigError

DOMAIN = "hpfree.domain"


@dataclass(frozen=True)
class Domain:
    """A set of allowed values: an interval (ends open or closed), integers only, or choices.

    ``allow_inf``: ``inf`` is accepted (e.g. an unlimited growth rate); otherwise a value must
    be finite.  ``hint`` is appended to the error (``use e.g. 0.33, 0.5, 0.66 or 1.0``).
    """

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    allow_inf: bool = False
    choices: tuple[Any, ...] = ()
    hint: str = ""

    def text(self) -> str:
        """The domain in words: ``(0, 1]``, ``> 0``, ``>= 1``, ``one of min, max``, ``finite``."""
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        lo, hi = math.isfinite(self.low), math.isfinite(self.high)
        if lo and hi:
            return (f"{'(' if self.low_open else '['}{_num(self.low)}, {_num(self.high)}"
                    f"{')' if self.high_open else ']'}")
        if lo:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        if hi:
            return f"{'<' if self.high_open else '<='} {_num(self.high)}"
        return "an integer" if self.integer else "finite"

    def problem(self, value: Any, closed: bool = False) -> Optional[str]:
        """Why ``value`` is outside the domain (None if it is inside).

        ``closed``: accept a value equal to an open end (the far end of a search range,
        which sampling never reaches exactly).
        """
        hint = f"; {self.hint}" if self.hint else ""
        if self.choices:
            return None if value in self.choices else f"is unknown; choose {self.text()}{hint}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if self.integer and not float(value).is_integer():
            return f"must be an integer {self.text()}{hint}"
        if math.isnan(value) or (math.isinf(value) and not self.allow_inf):
            what = self.text()
            return f"must be finite{'' if what == 'finite' else ' and ' + what}{hint}"
        low_ok = value > self.low if self.low_open and not closed else value >= self.low
        high_ok = value < self.high if self.high_open and not closed else value <= self.high
        if low_ok and high_ok:
            return None
        bounded = math.isfinite(self.low) and math.isfinite(self.high)
        return (f"is outside {self.text()}" if bounded else f"must be {self.text()}") + hint


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def interval(low: float, high: float, *, low_open: bool = False, high_open: bool = False,
             hint: str = "") -> Domain:
    return Domain(low, high, low_open=low_open, high_open=high_open, hint=hint)


def at_least(n: int) -> Domain:
    """Integers ``>= n``."""
    return Domain(low=n, integer=True)


def one_of(*choices: Any) -> Domain:
    return Domain(choices=tuple(choices))


FINITE = Domain()
POSITIVE = Domain(low=0.0, low_open=True)            # step sizes, eps, scales
NON_NEGATIVE = Domain(low=0.0)                        # decays, noise levels
UNIT = Domain(0.0, 1.0, high_open=True)               # betas, dropout, label smoothing: [0, 1)
OPEN_UNIT = Domain(0.0, 1.0, low_open=True, high_open=True)  # (0, 1)
FRACTION = Domain(0.0, 1.0, low_open=True)            # (0, 1]
POSITIVE_OR_INF = Domain(low=0.0, low_open=True, allow_inf=True)


def knob(default: Any, domain: Domain, **kwargs: Any) -> Any:
    """A dataclass field with a default and a domain (``dataclasses.field`` metadata)."""
    return dataclasses.field(default=default, metadata={DOMAIN: domain}, **kwargs)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        try:
            _HINTS[cls] = typing.get_type_hints(cls)
        except Exception:  # an annotation that cannot be resolved: fall back to none
            _HINTS[cls] = {}
    return _HINTS[cls]


def _base_type(tp: Any) -> Any:
    """``Optional[float]`` → ``float``."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is typing.Union and len(args) == 1:
        return args[0]
    return tp


def domain_of(cls: type, name: str) -> Optional[Domain]:
    """The domain of field ``name`` of dataclass ``cls`` (see the module docstring)."""
    for klass in cls.__mro__:
        f = getattr(klass, "__dataclass_fields__", {}).get(name)
        if f is not None and DOMAIN in f.metadata:
            return f.metadata[DOMAIN]
    tp = _base_type(_hints(cls).get(name))
    for klass in cls.__mro__:
        defaults: Mapping[Any, Domain] = vars(klass).get("KNOB_DEFAULTS") or {}
        if tp in defaults:
            return defaults[tp]
    return FINITE if tp is float else None


def check(obj: Any, prefix: str) -> None:
    """Refuse (one-line :class:`ConfigError`) any field of ``obj`` outside its domain."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None or isinstance(value, bool) or dataclasses.is_dataclass(value):
            continue
        if not isinstance(value, (int, float, str)):
            continue
        domain = domain_of(type(obj), f.name)
        if domain is None or (isinstance(value, str) and not domain.choices):
            continue
        problem = domain.problem(value)
        if problem:
            where = f"{prefix}.{f.name}" if prefix else f.name
            shown = repr(value) if isinstance(value, str) else value
            raise ConfigError(f"{where}={shown} {problem}")


def check_tree(cfg: Any) -> None:
    """:func:`check` on a run config and on every config group in it (``optimizer``, ...)."""
    check(cfg, "")
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check(value, f.name)


def domain_at(cfg: Any, path: str) -> Optional[Domain]:
    """The domain of knob ``path`` (``optimizer.b1``) in a composed structured config."""
    from omegaconf import DictConfig, OmegaConf

    parent, _, leaf = path.rpartition(".")
    node = OmegaConf.select(cfg, parent, default=None) if parent else cfg
    if not isinstance(node, DictConfig):
        return None
    cls = OmegaConf.get_type(node)
    if cls is None or not dataclasses.is_dataclass(cls):
        return None
    if leaf not in {f.name for f in dataclasses.fields(cls)}:
        return None
    return domain_of(cls, leaf)


def check_space(space: Any, cfg: Any) -> None:
    """Every value a search space can give a knob must lie in that knob's domain.

    Discrete values are checked one by one; a range by its ends, the far end (which sampling
    approaches but does not reach) against the domain's closure.  One-line
    :class:`ConfigError` naming the space, the dimension and the knob.
    """
    for d in space.dimensions:
        domain = domain_at(cfg, d.knob)
        if domain is None:
            continue
        if d.discrete:
            ends = [(v, False) for v in d.values]
            desc = "values " + ", ".join(str(v) for v in d.values)
        else:
            ends = [(d.low, False), (d.high, True)]
            desc = f"range {d.low:g}..{d.high:g}"
        for searched, far in ends:
            if isinstance(searched, str) and not domain.choices:
                continue
            value = d.knob_value(searched)
            problem = domain.problem(value, closed=far)
            if problem:
                raise ConfigError(f"search space {space.name}: dimension {d.name} ({desc}): "
                                  f"{d.knob}={value} {problem}")
