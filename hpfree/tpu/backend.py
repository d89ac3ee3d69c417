"""The ``tpu`` queue back-end: what ``hpfree-status``/``hpfree-resubmit`` read of a sweep that
``launcher=tpu`` ran on pod slices.

The TPU launcher runs its jobs while the sweep command waits (one run per slice at a time),
so it holds no queue of its own: a job whose run is in progress holds its run directory's
lock (the directory is on a file system every slice sees), and relaunching is re-running the
sweep command.  What it does keep is ``SWEEP_DIR/tpu_launcher.jsonl``, one line per attempt
(slice, outcome, exit codes, run directory, overrides): every job it was handed, which lists
the jobs of a plain multirun that never started.
"""

from __future__ import annotations

import json
from pathlib import Path

from hpfree.sweeps.backends import BackendSpec

JOURNAL = "tpu_launcher.jsonl"


def owns(sweep_dir: Path) -> bool:
    return (Path(sweep_dir) / JOURNAL).exists()


def submitted(sweep_dir: Path) -> dict[str, list[str]]:
    """``{key: overrides}`` of every job an attempt was made for (journal lines that cannot be
    read — a line cut by a kill — are skipped)."""
    out: dict[str, list[str]] = {}
    path = Path(sweep_dir) / JOURNAL
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
            run_dir = Path(entry["run_dir"])
            key = str(run_dir.relative_to(Path(sweep_dir).resolve()) if run_dir.is_absolute()
                      else run_dir)
        except (ValueError, KeyError, TypeError):
            continue
        out[key] = [str(o) for o in entry.get("overrides", [])]
    return out


BACKEND = BackendSpec("tpu", owns=owns, live=lambda d: {}, submitted=submitted, marker=JOURNAL)
