"""What a run directory may hold after a crash, a full disk or a hand edit, and how a run
that starts there gets past it (docs/faults.md).

:func:`prepare` is the first thing a run does under its run directory's lock:

- temp files a killed write left behind (``.checkpoint.npz.<random>.tmp``) are removed;
- a ``record.json`` that cannot be read as a record, or a final record whose ``curve.csv``
  cannot be read, is renamed aside (``record.json.corrupt-<time>``, never deleted) with a
  one-line warning, and the run goes on as if it had none: it resumes from its checkpoint
  (a final run's checkpoint holds its curve, so a completed run is restored as it was) or
  starts from step 0.

An unreadable checkpoint is handled where it is read (:func:`hpfree.checkpoint.load`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from hpfree import records
from hpfree.errors import CorruptFile
from hpfree.io import clean_stale_tmp, set_aside


def prepare(run_dir: str | Path, log: Callable[[str], None]) -> Optional[records.RunRecord]:
    """Clean ``run_dir`` for a run starting or resuming in it; returns its usable record."""
    run_dir = Path(run_dir)
    for tmp in clean_stale_tmp(run_dir):
        log(f"[hpfree] removed {tmp.name}, left by an interrupted write")
    try:
        return records.inspect(run_dir)
    except CorruptFile as exc:
        moved = [set_aside(p) for p in (run_dir / records.RECORD, run_dir / records.CURVE)
                 if p.exists()]
        log(f"[hpfree] warning: {exc}; moved aside to {', '.join(m.name for m in moved)}; "
            "running again")
        return None
