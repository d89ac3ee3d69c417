"""An on-disk cache of generated data sets: each workload's data is generated once per machine.

Generating a mini workload's data takes seconds to tens of seconds; a search trains hundreds
of runs on the same data.  ``hpfree.workloads.common.cached_data`` looks here before calling
a generator and stores what it generated:

- **where**: ``$HPFREE_CACHE`` if set, else ``~/.cache/hpfree/data``; one ``.npz`` per data
  set, named ``<generator>-<key>.npz``;
- **key**: a hash of the generator's qualified name, its arguments (the workload's data
  fields and data seed), and the *source* of the generator's module and of
  ``hpfree.workloads.common`` (plus numpy's version and this file's format), so an edited
  generator never gets stale data;
- **integrity**: written atomically (temp file + rename), with a SHA-256 of every array
  inside; on load the hashes are checked, and an entry that is unreadable, truncated or
  does not match is moved aside (``*.corrupt``, the previous one replaced) and regenerated;
- **switch**: ``HPFREE_DATA_CACHE=0`` in the environment, ``runner.data_cache=false`` on the
  command line, or :func:`set_enabled` turn it off (nothing is read or written).
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

FORMAT = 1
_META = "__meta__"
_enabled: Optional[bool] = None  # None: follow the environment
_SOURCE_HASHES: dict[str, str] = {}
# (generator, args) -> what happened the last time: "hit", "miss", "corrupt" (for tests/bench)
last_event: dict[str, str] = {}


def set_enabled(on: Optional[bool]) -> None:
    """Turn the cache on or off for this process (``None``: follow ``$HPFREE_DATA_CACHE``)."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    if _enabled is not None:
        return _enabled
    return os.environ.get("HPFREE_DATA_CACHE", "1").lower() not in ("0", "false", "off", "no")


def cache_dir() -> Path:
    env = os.environ.get("HPFREE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "hpfree" / "data"


def _source_hash(module_name: str) -> str:
    if module_name not in _SOURCE_HASHES:
        module = sys.modules.get(module_name)
        try:
            text = inspect.getsource(module) if module is not None else module_name
        except (OSError, TypeError):
            text = module_name
        _SOURCE_HASHES[module_name] = hashlib.sha256(text.encode()).hexdigest()
    return _SOURCE_HASHES[module_name]


def key(fn: Callable[..., Any], args: tuple, kwargs: dict) -> str:
    """The content key of ``fn(*args, **kwargs)`` (see the module docstring)."""
    blob = json.dumps({
        "generator": f"{fn.__module__}.{fn.__qualname__}",
        "args": list(args), "kwargs": kwargs,
        "source": [_source_hash(fn.__module__), _source_hash("hpfree.workloads.common")],
        "numpy": np.__version__.rsplit(".", 1)[0], "format": FORMAT,
    }, sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def path_for(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Path:
    return cache_dir() / f"{fn.__name__}-{key(fn, args, kwargs)}.npz"


def _digest(a: np.ndarray) -> str:
    h = hashlib.sha256(str((a.dtype.str, a.shape)).encode())
    h.update(np.ascontiguousarray(a).view(np.uint8).reshape(-1).data)
    return h.hexdigest()


def save(path: Path, splits: dict[str, dict[str, np.ndarray]]) -> None:
    from hpfree.io import atomic_write

    arrays = {f"{split}/{name}": np.asarray(a) for split, named in splits.items()
              for name, a in named.items()}
    meta = {"format": FORMAT, "arrays": {k: _digest(a) for k, a in arrays.items()}}
    arrays[_META] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)

    def write(f):
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        f.write(buf.getvalue())

    atomic_write(path, write, mode="wb", durable=False)


class CorruptEntry(ValueError):
    """A cache entry that cannot be read back exactly as it was written."""


def load(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """The splits stored at ``path``; :class:`CorruptEntry` if anything does not check out."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z[_META].tobytes().decode())
            expected = meta["arrays"]
            out: dict[str, dict[str, np.ndarray]] = {}
            for name, digest in expected.items():
                a = z[name]
                if _digest(a) != digest:
                    raise CorruptEntry(f"{path.name}: {name} does not match its checksum")
                split, _, array = name.partition("/")
                out.setdefault(split, {})[array] = a
            if set(z.files) != set(expected) | {_META}:
                raise CorruptEntry(f"{path.name}: unexpected arrays")
    except CorruptEntry:
        raise
    except Exception as exc:  # BadZipFile, KeyError, ValueError, EOFError, OSError...
        raise CorruptEntry(f"{path.name}: {type(exc).__name__}: {exc}") from None
    return out


def load_or_make(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """``fn(*args, **kwargs)``, from the cache when it holds a sound copy."""
    label = f"{fn.__name__}{args}"
    if not enabled():
        last_event[label] = "off"
        return fn(*args, **kwargs)
    path = path_for(fn, args, kwargs)
    if path.exists():
        try:
            splits = load(path)
            last_event[label] = "hit"
            return splits
        except CorruptEntry as exc:
            aside = path.with_suffix(".corrupt")
            try:
                os.replace(path, aside)
            except OSError:
                pass
            print(f"[hpfree] data cache: {exc}; moved to {aside.name}, regenerating",
                  file=sys.stderr, flush=True)
            last_event[label] = "corrupt"
    else:
        last_event[label] = "miss"
    splits = fn(*args, **kwargs)
    try:
        save(path, splits)
    except OSError as exc:  # a read-only or full cache directory never stops a run
        print(f"[hpfree] data cache: cannot write {path}: {exc}", file=sys.stderr, flush=True)
    return splits
