"""The on-disk data cache: hits, corrupt or partial entries, stale generators, the switch."""

from __future__ import annotations

import numpy as np
import pytest

from hpfree.workloads import datacache, registry
from hpfree.workloads.common import clear_data_caches

SMALL = dict(num_train=256, num_validation=64, num_test=64)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HPFREE_CACHE", str(tmp_path / "data"))
    datacache.set_enabled(None)
    datacache.last_event.clear()
    clear_data_caches()
    yield tmp_path / "data"
    clear_data_caches()
    datacache.set_enabled(None)


def make(seed: int = 0):
    clear_data_caches()  # the in-memory copy would hide the disk
    cfg = registry.get_config_class("mini_criteo")(data_seed=seed, **SMALL)
    return registry.make(cfg).make_data()


def entries(cache):
    return sorted(p.name for p in cache.glob("*.npz"))


def events(seed: int = 0):
    return [e for k, e in datacache.last_event.items()
            if k.startswith(f"make_click_logs({seed},")]


def assert_same(a, b):
    assert a.keys() == b.keys()
    for split in a:
        assert a[split].keys() == b[split].keys()
        for k in a[split]:
            np.testing.assert_array_equal(a[split][k], b[split][k])
            assert a[split][k].dtype == b[split][k].dtype


def test_generated_once_then_loaded(cache):
    first = make()
    assert events()[-1] == "miss" and len(entries(cache)) == 1
    again = make()
    assert events()[-1] == "hit"
    assert_same(first, again)
    make(seed=1)  # another data seed is another entry
    assert len(entries(cache)) == 2


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_corrupt_or_partial_entry_is_moved_aside_and_regenerated(cache, damage, capsys):
    good = make()
    (path,) = cache.glob("*.npz")
    raw = path.read_bytes()
    if damage == "truncate":  # a partial write (the writer is atomic, but disks fail)
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":  # one bit of the data changed: only the checksum can tell
        middle = len(raw) // 2
        path.write_bytes(raw[:middle] + bytes([raw[middle] ^ 1]) + raw[middle + 1:])
    elif damage == "garbage":
        path.write_bytes(b"not a zip file")
    else:
        path.write_bytes(b"")
    again = make()
    assert events()[-1] == "corrupt"
    assert "data cache" in capsys.readouterr().err
    assert_same(good, again)
    assert path.with_suffix(".corrupt").exists()
    make()  # the regenerated entry is sound
    assert events()[-1] == "hit"


def test_an_edited_generator_never_gets_the_old_entry(cache, monkeypatch):
    make()
    module = "hpfree.workloads.criteo"
    monkeypatch.setitem(datacache._SOURCE_HASHES, module, "edited source")
    make()
    assert events()[-1] == "miss" and len(entries(cache)) == 2


def test_switched_off_reads_and_writes_nothing(cache, monkeypatch):
    monkeypatch.setenv("HPFREE_DATA_CACHE", "0")
    make()
    assert events()[-1] == "off" and not cache.exists()
    monkeypatch.delenv("HPFREE_DATA_CACHE")
    datacache.set_enabled(False)
    make()
    assert events()[-1] == "off" and not cache.exists()
