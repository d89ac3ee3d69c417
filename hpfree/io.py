"""Atomic file writes: a killed job never leaves a half-written record or checkpoint."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

from hpfree.errors import OutputError

_UMASK = os.umask(0)
os.umask(_UMASK)
TMP_SUFFIX = ".tmp"
# ``.<name>.<8 random characters of mkstemp>.tmp``
_STALE = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "w",
                 durable: bool = True) -> Path:
    """Write through ``write(fileobj)`` into a temp file beside ``path``, fsync, then rename.

    ``os.replace`` is atomic on POSIX within one filesystem, so readers see either the old
    file or the complete new one, whenever the writer is killed.  ``durable=False`` skips the
    fsync (still atomic for a killed process; only an OS crash could lose the new content) for
    files rewritten often, such as the evaluation curve.  A write that fails (a full disk, a
    read-only location) removes its temp file and raises :class:`~hpfree.errors.OutputError`
    naming the path and the cause; the old file is untouched.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a parent that is a file, read-only, ...
        raise OutputError(exc.filename or path.parent, exc) from exc
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; records are shared on clusters
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(path, exc) from exc
        raise
    return path


def set_aside(path: str | os.PathLike, tag: str = "corrupt") -> Path:
    """Rename an unreadable file to ``<name>.<tag>-<UTC time>``: kept aside, never deleted."""
    from datetime import datetime, timezone

    path = Path(path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}.{tag}-{stamp}")
    os.replace(path, aside)
    return aside


def clean_stale_tmp(directory: str | os.PathLike) -> list[Path]:
    """Remove the temp files a killed :func:`atomic_write` left in ``directory``.

    Call it only where no other process writes (a run directory under its lock); returns what
    was removed.
    """
    removed = []
    d = Path(directory)
    if not d.is_dir():
        return removed
    for p in d.iterdir():
        if _STALE.match(p.name) and p.is_file():
            try:
                p.unlink()
                removed.append(p)
            except FileNotFoundError:
                pass
    return removed


def atomic_write_text(path: str | os.PathLike, text: str, durable: bool = True) -> Path:
    return atomic_write(path, lambda f: f.write(text), durable=durable)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    # allow_nan=False: records must stay valid JSON for every reader (inf is stored as null).
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path) as f:
        return json.load(f)
