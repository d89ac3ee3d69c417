"""Atomic file writes: a killed job never leaves a half-written record or checkpoint."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "w",
                 durable: bool = True) -> Path:
    """Write through ``write(fileobj)`` into a temp file beside ``path``, fsync, then rename.

    ``os.replace`` is atomic on POSIX within one filesystem, so readers see either the old
    file or the complete new one, whenever the writer is killed.  ``durable=False`` skips the
    fsync (still atomic for a killed process; only an OS crash could lose the new content) for
    files rewritten often, such as the evaluation curve.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; records are shared on clusters
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, durable: bool = True) -> Path:
    return atomic_write(path, lambda f: f.write(text), durable=durable)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    # allow_nan=False: records must stay valid JSON for every reader (inf is stored as null).
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path) as f:
        return json.load(f)
