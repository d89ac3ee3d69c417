"""Writing a generated data set once, atomically, and knowing when it is complete.

A data set is written into a temporary sibling directory and renamed into place, with a
``GENERATED.json`` marker (generator name, version, parameters) written last: a killed
generator leaves no half data set behind, and a second run reuses the first one's files
when the marker's parameters match.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

MARKER = "GENERATED.json"


def default_root() -> Path:
    """Where generated AlgoPerf data lives: ``$HPFREE_ALGOPERF_DATA`` or
    ``~/.cache/hpfree/algoperf_generated``."""
    return Path(os.environ.get("HPFREE_ALGOPERF_DATA")
                or Path.home() / ".cache" / "hpfree" / "algoperf_generated").expanduser()


def is_complete(path: Path, meta: dict[str, Any]) -> bool:
    marker = Path(path) / MARKER
    if not marker.exists():
        return False
    try:
        return json.loads(marker.read_text()) == meta
    except (OSError, ValueError):
        return False


def ensure(path: str | Path, meta: dict[str, Any], write: Callable[[Path], None]) -> Path:
    """``path`` holding the data set ``write(tmp_dir)`` produces for ``meta``.

    Writes only when ``path`` has no complete data set for ``meta``; concurrent writers each
    write their own temporary directory and the first rename wins.
    """
    path = Path(path)
    if is_complete(path, meta):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        write(tmp)
        (tmp / MARKER).write_text(json.dumps(meta, indent=1, sort_keys=True))
        if path.exists() and not is_complete(path, meta):
            shutil.rmtree(path)  # stale (other parameters) or half-written by an old version
        try:
            os.rename(tmp, path)
        except OSError:
            if not is_complete(path, meta):  # not a concurrent writer that won the race
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path
