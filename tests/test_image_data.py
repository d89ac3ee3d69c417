"""The cluttered digits behind mini_resnet / mini_vit: deterministic, sized as configured,
and no source digit shared between training, validation and test."""

from __future__ import annotations

import numpy as np
import pytest

from hpfree.workloads import imagenet
from hpfree.workloads.common import clear_data_caches


def test_source_partition_is_disjoint_and_covers_the_digits():
    parts = imagenet.source_partition(0)
    sizes = {k: len(v) for k, v in parts.items()}
    assert sizes == imagenet.SOURCES and sum(sizes.values()) == 1797
    assert len(np.unique(np.concatenate(list(parts.values())))) == 1797
    other = imagenet.source_partition(1)
    assert not np.array_equal(parts["validation"], other["validation"])


def test_bilinear_matches_scipy_with_zeros_outside():
    from scipy import ndimage

    rng = np.random.default_rng(0)
    images = rng.uniform(size=(3, 8, 8))
    rows, cols = rng.uniform(-3, 11, (2, 3, 5, 5))
    index = np.broadcast_to(np.arange(3.0)[:, None, None], rows.shape)
    want = ndimage.map_coordinates(images, np.stack([index, rows, cols]), order=1,
                                   mode="grid-constant", cval=0.0)
    np.testing.assert_allclose(imagenet.bilinear(images, rows, cols), want, atol=1e-12)


def test_rendered_splits_shapes_determinism_and_held_out_sources(monkeypatch):
    monkeypatch.setenv("HPFREE_DATA_CACHE", "0")
    clear_data_caches()
    args = (0, 20, 2, 50, 30, 0.2)  # seed, size, train copies, validation, test, noise
    data = imagenet.make_cluttered_digits(*args)
    clear_data_caches()
    again = imagenet.make_cluttered_digits(*args)
    sizes = {"train": 2 * imagenet.SOURCES["train"], "validation": 50, "test": 30}
    for split, n in sizes.items():
        x, y = data[split]["x"], data[split]["y"]
        assert x.shape == (n, 20, 20, 1) and x.dtype == np.float32 and np.isfinite(x).all()
        assert y.shape == (n,) and y.dtype == np.int32 and set(np.unique(y)) <= set(range(10))
        np.testing.assert_array_equal(x, again[split]["x"])
        np.testing.assert_array_equal(y, again[split]["y"])
    # Validation labels are those of the held-out validation sources, cycled.
    from sklearn.datasets import load_digits

    labels = load_digits().target
    held_out = imagenet.source_partition(0)["validation"]
    np.testing.assert_array_equal(np.sort(data["validation"]["y"]),
                                  np.sort(labels[held_out[np.arange(50) % 400]]))
    clear_data_caches()


def test_clutter_comes_from_the_same_split_only():
    """A rendering sees only the sources it is given: blank sources and a blank pool give a
    picture with no digit in it (background and noise only), whatever the rest of the data."""
    rng = np.random.default_rng(0)
    blank = np.zeros((4, 8, 8))
    full = imagenet.render(blank, blank, rng, 24, 0.05)
    rng = np.random.default_rng(0)
    with_digits = imagenet.render(blank, np.ones((4, 8, 8)), rng, 24, 0.05)
    assert np.abs(full).max() < 0.6           # background ≤ 0.3 plus noise ≤ 0.05 · |N(0,1)|
    assert not np.allclose(full, with_digits)  # the pool is what the clutter is drawn from


@pytest.mark.parametrize("name", ["mini_resnet", "mini_vit"])
def test_validation_is_large_enough_to_resolve_the_metric(name):
    from hpfree.workloads import registry

    cfg = registry.get_config_class(name)()
    assert cfg.num_validation >= 2000
