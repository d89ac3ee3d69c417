"""Helpers shared by the built-in workloads' data generators: caching, splits, seeding.

Generated data sets are cached per (generator, arguments) in memory, with their arrays
made read-only, so that a sweep running many configurations in one process generates each
data set once and no caller can corrupt the copy the next run sees; and on disk
(``hpfree.workloads.datacache``), so that other processes load it instead of generating it.
"""

from __future__ import annotations

import functools
import zlib
from typing import Any, Callable

import numpy as np

from hpfree.workloads.base import Arrays, Splits

_CACHES: list[Any] = []


def cached_data(fn: Callable[..., Splits]) -> Callable[..., Splits]:
    """Memoize a deterministic data generator (hashable arguments) and freeze its arrays."""

    @functools.lru_cache(maxsize=4)
    def cached(*args, **kwargs):
        from hpfree.workloads import datacache

        splits = datacache.load_or_make(fn, args, kwargs)
        for arrays in splits.values():
            for a in arrays.values():
                a.flags.writeable = False
        return splits

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return cached(*args, **kwargs)

    wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    _CACHES.append(cached)
    return wrapper


def clear_data_caches() -> None:
    """Forget every cached data set (tests use it to regenerate from scratch)."""
    for cached in _CACHES:
        cached.cache_clear()


def split(arrays: Arrays, sizes: tuple[int, int, int]) -> Splits:
    """Consecutive train / validation / test slices of already shuffled arrays."""
    n_train, n_valid, n_test = sizes
    bounds = {"train": (0, n_train), "validation": (n_train, n_train + n_valid),
              "test": (n_train + n_valid, n_train + n_valid + n_test)}
    total = next(iter(arrays.values())).shape[0]
    if total < n_train + n_valid + n_test:
        raise ValueError(f"{total} examples cannot fill splits of {sizes}")
    return {k: {name: np.ascontiguousarray(a[lo:hi]) for name, a in arrays.items()}
            for k, (lo, hi) in bounds.items()}


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """An independent numpy generator per (data seed, purpose), stable across versions."""
    return np.random.default_rng([int(seed), zlib.crc32(purpose.encode())])
