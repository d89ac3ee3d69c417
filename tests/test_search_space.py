"""Search spaces: validation (one-line errors), Halton points, grids, the shipped spaces."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from hpfree.errors import ConfigError
from hpfree.sweeps.space import SearchSpace, format_value, resolve_auto

REPO = Path(__file__).resolve().parents[1]


def space(**dims) -> SearchSpace:
    return SearchSpace.from_config({"name": "t", "dimensions": dims})


def table3() -> SearchSpace:
    cfg = OmegaConf.load(REPO / "conf" / "search_space" / "nadamw.yaml")
    return SearchSpace.from_config(OmegaConf.to_container(cfg.hydra.sweeper.search_space))


BAD = [
    ({"lr": {"knob": "optimizer.learning_rate", "low": 0.1, "high": 0.01}}, "low=0.1 must be < high=0.01"),
    ({"lr": {"knob": "optimizer.learning_rate", "low": 0.0, "high": 1.0, "scale": "log"}},
     "log scale needs low > 0"),
    ({"lr": {"knob": "optimizer.learning_rate", "low": -1, "high": 1.0, "scale": "log"}},
     "log scale needs low > 0, got low=-1"),
    ({"lr": {"knob": "optimizer.learning_rate", "low": 1e-4, "high": 1.0, "scale": "cubic"}},
     "scale='cubic' is unknown"),
    ({"lr": {"knob": "optimizer.learning_rate", "low": "abc", "high": 1.0}}, "lr.low='abc' is not a number"),
    ({"lr": {"knob": "optimizer.learning_rate", "low": 1e-4}}, "needs both low and high"),
    ({"lr": {"knob": "optimizer.learning_rate"}}, "either values"),
    ({"lr": {"knob": "optimizer.learning_rate", "values": [1], "low": 0, "high": 1}}, "either values"),
    ({"wd": {"knob": "regularization.weight_decay", "values": []}}, "non-empty list"),
    ({"wd": {"knob": "regularization.weight_decay", "values": [0.1, 0.1]}}, "duplicates"),
    ({"wd": {"values": [0.1]}}, "knob=None"),
    ({"wd": {"knob": "hydra.job.name", "values": [0.1]}}, "knob='hydra.job.name'"),
    ({"wd": {"knob": "regularization.weight_decay", "values": [0.1], "step": 2}}, "unknown key 'step'"),
    ({"b1": {"knob": "optimizer.b1", "low": 1e-3, "high": 1, "transform": "log1p"}},
     "transform='log1p' is unknown"),
    ({"a": {"knob": "optimizer.b1", "values": [0.9]}, "b": {"knob": "optimizer.b1", "values": [0.5]}},
     "knob optimizer.b1 is set by more than one dimension"),
]


@pytest.mark.parametrize("dims,needle", BAD, ids=[n for _, n in BAD])
def test_bad_space_is_one_line_error(dims, needle):
    with pytest.raises(ConfigError) as info:
        space(**dims)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message and message.startswith("search space t")


def test_space_level_errors():
    with pytest.raises(ConfigError, match="no search space selected"):
        SearchSpace.from_config(None)
    with pytest.raises(ConfigError, match="dimensions must be a non-empty mapping"):
        SearchSpace.from_config({"name": "e", "dimensions": {}})
    with pytest.raises(ConfigError, match="unknown key 'dims'"):
        SearchSpace.from_config({"name": "e", "dims": {}})
    with pytest.raises(ConfigError, match="grid spaces need discrete values; dimension lr"):
        SearchSpace.from_config({"name": "g", "grid": True, "dimensions": {
            "lr": {"knob": "optimizer.learning_rate", "low": 1e-4, "high": 1e-2}}})


def test_halton_points_are_reproducible_and_seeded():
    s = table3()
    a = s.points(range(50), seed=0)
    assert a == s.points(range(50), seed=0)  # a re-run draws the same points
    assert a != s.points(range(50), seed=1)
    # Point i depends only on (seed, i): asking for a few indices gives the same values.
    assert s.points([3, 17, 42], seed=0) == [a[3], a[17], a[42]]
    assert len({tuple(sorted(p.items())) for p in a}) == 50


def test_growing_num_points_keeps_the_first_points():
    s = table3()
    first = s.points(range(100), seed=7)
    grown = s.points(range(200), seed=7)
    assert grown[:100] == first
    assert grown[100:] != grown[:100]


def test_points_respect_scales_bounds_and_values():
    s = table3()
    pts = s.points(range(200), seed=0)
    lrs = [p["learning_rate"] for p in pts]
    assert all(1e-4 <= x <= 5e-2 for x in lrs)
    # Log scale: about half the points below the geometric midpoint (a linear draw would put
    # ~0.4% of them there).
    mid = math.sqrt(1e-4 * 5e-2)
    assert 0.4 < sum(x < mid for x in lrs) / len(lrs) < 0.6
    assert {p["warmup"] for p in pts} == {0.02, 0.05, 0.1}
    assert {p["dropout"] for p in pts} == {0.0, 0.1}
    assert {p["label_smoothing"] for p in pts} == {0.0, 0.2}
    for p in pts:
        knobs = s.knobs(p)
        assert knobs["optimizer.b1"] == pytest.approx(1 - p["one_minus_b1"])
        assert 0.0 <= knobs["optimizer.b1"] < 1.0 and 0.0 <= knobs["optimizer.b2"] < 1.0
        assert 1e-5 <= knobs["regularization.weight_decay"] <= 0.5


def test_table3_and_appendix_a_spaces():
    s = table3()
    dims = {d.name: d for d in s.dimensions}
    assert (dims["learning_rate"].low, dims["learning_rate"].high) == (1e-4, 5e-2)
    assert dims["learning_rate"].scale == "log"
    assert (dims["weight_decay"].low, dims["weight_decay"].high) == (1e-5, 0.5)
    assert dims["one_minus_b2"].transform == "one_minus" and dims["one_minus_b2"].low == 1e-3
    assert dims["warmup"].values == (0.02, 0.05, 0.1)
    cfg = OmegaConf.load(REPO / "conf" / "search_space" / "appendix_a.yaml")
    grid = SearchSpace.from_config(OmegaConf.to_container(cfg.hydra.sweeper.search_space))
    assert grid.grid and grid.size == 7 * 2 * 3 * 5 * 3
    every = grid.points(range(grid.size), seed=0)
    assert len({tuple(sorted(p.items())) for p in every}) == grid.size  # the whole grid
    assert grid.points(range(10), seed=0) == every[:10]  # prefix-stable
    assert grid.points(range(10), seed=1) != every[:10]  # shuffled by the seed
    with pytest.raises(ConfigError, match="outside the grid of 630 points"):
        grid.points([630], seed=0)


@pytest.mark.parametrize("path", sorted((REPO / "conf" / "search_space").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_shipped_space_is_valid(path):
    cfg = OmegaConf.load(path)
    node = OmegaConf.to_container(cfg.hydra.sweeper.search_space)
    if path.stem == "auto":  # the optimizer's own space: resolved from its spec
        node = resolve_auto(node, "dog")
        assert node["name"] == "lr_free_no_betas"
    s = SearchSpace.from_config(node)
    assert s.name == (path.stem if path.stem != "auto" else "lr_free_no_betas")
    assert len(s.points(range(5), seed=0)) == 5


def test_auto_asks_the_optimizer_spec_and_every_spec_names_a_usable_space():
    from hpfree.optimizers import registry

    for name, spec in registry.all_specs().items():
        space = SearchSpace.from_config(resolve_auto({"name": "auto"}, name))
        knobs = {d.knob.split(".", 1)[1] for d in space.dimensions
                 if d.knob.startswith("optimizer.")}
        assert knobs <= set(spec.knobs()), (name, knobs)
    explicit = {"name": "x", "dimensions": {"a": {"knob": "seed", "values": [1]}}}
    assert resolve_auto(explicit, "dog") is explicit
    with pytest.raises(ConfigError, match="unknown optimizer"):
        resolve_auto({"name": "auto"}, "nope")


@pytest.mark.parametrize("value", [0.00123, 1e-05, 0.1, 3, True, False, "warmup_cosine",
                                   "null", "1e5", "a b", "x'y"])
def test_override_values_read_back_unchanged(value):
    parsed = OverridesParser.create().parse_overrides([f"k={format_value(value)}"])[0]
    assert parsed.value() == value
    assert type(parsed.value()) is type(value)
