"""A search space: named dimensions, each bound to one config knob, and the points drawn from it.

A dimension is either *continuous* (``low``/``high`` on a ``linear`` or ``log`` scale) or
*discrete* (a list of ``values``).  ``transform: one_minus`` searches ``1 - knob`` instead of
the knob itself (the paper searches 1-β1 and 1-β2 on a log scale).  Example
(``conf/search_space/nadamw.yaml``)::

    search_space:
      name: nadamw
      dimensions:
        learning_rate: {knob: optimizer.learning_rate, scale: log, low: 1.0e-4, high: 5.0e-2}
        one_minus_b1:  {knob: optimizer.b1, scale: log, low: 1.0e-3, high: 1.0, transform: one_minus}
        dropout:       {knob: regularization.dropout, values: [0.0, 0.1]}

Points come from a scrambled Halton sequence (``scipy.stats.qmc.Halton``, Bousquet et al.
2017) seeded by the sweep seed: point ``i`` depends only on (seed, i, the space), so re-running
a sweep draws the same points and growing ``num_points`` keeps the earlier ones.  With
``grid: true`` every dimension is discrete and the points are the whole Cartesian product in
a seeded shuffled order (the Appendix A grid), with the same prefix property.

``search_space=auto`` (a space named ``auto`` with no dimensions) is the optimizer's own:
:func:`resolve_auto` asks the optimizer's spec (``OptimizerSpec.search_space``), which names
a space of ``conf/search_space/`` or carries its dimensions.
"""

from __future__ import annotations

import inspect
import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from hpfree.errors import ConfigError

SCALES = ("linear", "log")
TRANSFORMS = ("identity", "one_minus")
_DIM_KEYS = ("knob", "values", "low", "high", "scale", "transform")
_SPACE_KEYS = ("name", "grid", "dimensions")
# Largest grid we enumerate (the Appendix A grid has 630 points).
MAX_GRID = 1_000_000
# Continuous values are rounded to this many significant digits: overrides and manifests stay
# readable, and the value a run used is exactly the value recorded.
SIGNIFICANT = 6


def _number(space: str, where: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"search space {space}: {where}={value!r} is not a number")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"search space {space}: {where}={value!r} is not a number") from None
    if not math.isfinite(out):
        raise ConfigError(f"search space {space}: {where}={value!r} must be finite")
    return out


def _round(x: float, digits: int = SIGNIFICANT) -> float:
    return float(f"{x:.{digits}g}")


@dataclass(frozen=True)
class Dimension:
    """One searched quantity and the knob it sets."""

    name: str
    knob: str
    values: Optional[tuple[Any, ...]] = None
    low: Optional[float] = None
    high: Optional[float] = None
    scale: str = "linear"
    transform: str = "identity"

    @property
    def discrete(self) -> bool:
        return self.values is not None

    def sample(self, u: float) -> Any:
        """The dimension's value at ``u`` in [0, 1) (the searched quantity, e.g. 1-β1)."""
        if self.values is not None:
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        assert self.low is not None and self.high is not None
        if self.scale == "log":
            lo, hi = math.log(self.low), math.log(self.high)
            x = math.exp(lo + u * (hi - lo))
        else:
            x = self.low + u * (self.high - self.low)
        return _round(min(max(x, self.low), self.high))

    def knob_value(self, x: Any) -> Any:
        """The value the knob is set to for searched value ``x``."""
        if self.transform == "one_minus":
            return _round(1.0 - float(x), 12)
        return x

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"knob": self.knob}
        if self.values is not None:
            out["values"] = list(self.values)
        else:
            out.update(low=self.low, high=self.high, scale=self.scale)
        if self.transform != "identity":
            out["transform"] = self.transform
        return out

    @classmethod
    def parse(cls, space: str, name: str, node: Any) -> "Dimension":
        """Validate one dimension's mapping; one-line :class:`ConfigError` on any problem."""
        where = f"search space {space}: dimension {name}"
        if not isinstance(node, Mapping):
            raise ConfigError(f"{where} must be a mapping with knob and values or low/high, "
                              f"got {node!r}")
        unknown = sorted(set(node) - set(_DIM_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r}; allowed: "
                              f"{', '.join(_DIM_KEYS)}")
        knob = node.get("knob")
        if not isinstance(knob, str) or not knob or knob.startswith(("hydra.", "hydra/")):
            raise ConfigError(f"{where}: knob={knob!r} must name a config value, "
                              "e.g. optimizer.b1")
        transform = node.get("transform") or "identity"
        if transform not in TRANSFORMS:
            raise ConfigError(f"{where}: transform={transform!r} is unknown; choose "
                              f"{' or '.join(TRANSFORMS)}")
        has_values = node.get("values") is not None
        has_range = node.get("low") is not None or node.get("high") is not None
        if has_values == has_range:
            raise ConfigError(f"{where}: give either values: [...] or low and high")
        if has_values:
            values = node["values"]
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise ConfigError(f"{where}: values={values!r} must be a non-empty list")
            for v in values:
                if not isinstance(v, (int, float, str, bool)) or (
                        isinstance(v, float) and not math.isfinite(v)):
                    raise ConfigError(f"{where}: value {v!r} must be a finite number, a string "
                                      "or a bool")
            if len(set(map(repr, values))) != len(values):
                raise ConfigError(f"{where}: values={list(values)} has duplicates")
            if transform == "one_minus" and any(isinstance(v, (str, bool)) for v in values):
                raise ConfigError(f"{where}: transform one_minus needs numeric values")
            if node.get("scale") is not None:
                raise ConfigError(f"{where}: scale applies to low/high ranges, not to values")
            return cls(name, knob, values=tuple(values), transform=transform)
        if node.get("low") is None or node.get("high") is None:
            raise ConfigError(f"{where}: a range needs both low and high")
        low = _number(space, f"{name}.low", node["low"])
        high = _number(space, f"{name}.high", node["high"])
        scale = node.get("scale") or "linear"
        if scale not in SCALES:
            raise ConfigError(f"{where}: scale={scale!r} is unknown; choose linear or log")
        if not low < high:
            raise ConfigError(f"{where}: low={low:g} must be < high={high:g}")
        if scale == "log" and low <= 0:
            raise ConfigError(f"{where}: log scale needs low > 0, got low={low:g}")
        return cls(name, knob, low=low, high=high, scale=scale, transform=transform)


def _halton(d: int, count: int, seed: int) -> np.ndarray:
    """The first ``count`` points of the scrambled Halton sequence in ``d`` dimensions."""
    from scipy.stats import qmc

    # scipy >= 1.15 calls the generator argument ``rng``; older releases call it ``seed``.
    key = "rng" if "rng" in inspect.signature(qmc.Halton).parameters else "seed"
    engine = qmc.Halton(d, scramble=True, **{key: np.random.default_rng(seed)})
    return engine.random(count)


@dataclass(frozen=True)
class SearchSpace:
    """Named dimensions (in order: dimension ``j`` is Halton coordinate ``j``)."""

    name: str
    dimensions: tuple[Dimension, ...]
    grid: bool = False

    @classmethod
    def from_config(cls, node: Any) -> "SearchSpace":
        """Parse and validate ``hydra.sweeper.search_space`` (a mapping)."""
        if node is None:
            raise ConfigError("no search space selected: add search_space=<name> "
                              "(e.g. nadamw, lr_free, appendix_a)")
        if not isinstance(node, Mapping):
            raise ConfigError(f"search space must be a mapping, got {node!r}")
        name = str(node.get("name") or "custom")
        unknown = sorted(set(node) - set(_SPACE_KEYS))
        if unknown:
            raise ConfigError(f"search space {name}: unknown key {unknown[0]!r}; allowed: "
                              f"{', '.join(_SPACE_KEYS)}")
        dims_node = node.get("dimensions")
        if not isinstance(dims_node, Mapping) or not dims_node:
            raise ConfigError(f"search space {name}: dimensions must be a non-empty mapping "
                              "of name → {knob, values | low, high, scale}")
        dims = tuple(Dimension.parse(name, str(k), v) for k, v in dims_node.items())
        knobs = [d.knob for d in dims]
        for knob in knobs:
            if knobs.count(knob) > 1:
                raise ConfigError(f"search space {name}: knob {knob} is set by more than one "
                                  "dimension")
        grid = bool(node.get("grid", False))
        if grid:
            for d in dims:
                if not d.discrete:
                    raise ConfigError(f"search space {name}: grid spaces need discrete "
                                      f"values; dimension {d.name} is a range")
            size = math.prod(len(d.values or ()) for d in dims)
            if size > MAX_GRID:
                raise ConfigError(f"search space {name}: the grid has {size} points "
                                  f"(at most {MAX_GRID})")
        return cls(name, dims, grid)

    @property
    def size(self) -> Optional[int]:
        """Number of grid points (None for a quasi-random space: unbounded)."""
        if not self.grid:
            return None
        return math.prod(len(d.values or ()) for d in self.dimensions)

    def points(self, indices: Iterable[int], seed: int) -> list[dict[str, Any]]:
        """Point ``i`` for each index: ``{dimension name: searched value}``."""
        indices = [int(i) for i in indices]
        if not indices:
            return []
        if min(indices) < 0:
            raise ConfigError(f"search space {self.name}: trial ids must be >= 0, "
                              f"got {min(indices)}")
        if self.grid:
            size = self.size or 0
            if max(indices) >= size:
                raise ConfigError(f"search space {self.name}: trial {max(indices)} is outside "
                                  f"the grid of {size} points (0..{size - 1})")
            grid = list(itertools.product(*[d.values or () for d in self.dimensions]))
            order = np.random.default_rng(seed).permutation(size)
            return [dict(zip(self.names, grid[order[i]])) for i in indices]
        unit = _halton(len(self.dimensions), max(indices) + 1, seed)
        return [{d.name: d.sample(float(unit[i, j])) for j, d in enumerate(self.dimensions)}
                for i in indices]

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def knobs(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """``{knob: value}`` that a point sets (transforms applied)."""
        return {d.knob: d.knob_value(point[d.name]) for d in self.dimensions}

    def to_dict(self) -> dict[str, Any]:
        # ``order`` keeps the Halton coordinate order through JSON (which sorts keys).
        return {"name": self.name, "grid": self.grid, "order": self.names,
                "dimensions": {d.name: d.to_dict() for d in self.dimensions}}


def format_value(value: Any) -> str:
    """A value as Hydra's override grammar reads it back unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    plain = text and all(c.isalnum() or c in "_-./" for c in text) and text[0].isalpha()
    if plain and text.lower() not in ("true", "false", "null", "inf", "nan"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


AUTO = "auto"


def named_space(name: str) -> Any:
    """The ``hydra.sweeper.search_space`` node of ``conf/search_space/<name>.yaml``."""
    from importlib import resources

    from omegaconf import OmegaConf

    path = resources.files("hpfree.conf") / "search_space" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no search space {name!r} in conf/search_space/")
    node = OmegaConf.select(OmegaConf.create(path.read_text()), "hydra.sweeper.search_space")
    if node is None:
        raise ConfigError(f"conf/search_space/{name}.yaml sets no hydra.sweeper.search_space")
    return OmegaConf.to_container(node, resolve=True)


def resolve_auto(node: Any, optimizer: Optional[str]) -> Any:
    """``node`` itself, unless it is ``search_space=auto``: then the optimizer's own space."""
    if not isinstance(node, Mapping) or node.get("name") != AUTO or node.get("dimensions"):
        return node
    from hpfree.optimizers import registry

    spec = registry.get(optimizer)
    ref = spec.search_space
    if isinstance(ref, str):
        if ref == AUTO:
            raise ConfigError(f"optimizer {optimizer!r} declares search_space='auto'")
        return named_space(ref)
    if not isinstance(ref, Mapping) or "dimensions" not in ref:
        raise ConfigError(f"optimizer {optimizer!r} declares search_space={ref!r}: give the "
                          "name of a space in conf/search_space/ or a mapping with dimensions")
    return {"name": f"{optimizer}_default", **dict(ref)}
