"""Relaunch the jobs of a sweep whose record is missing, failed or preempted.

Each job remembers the ``hpfree-train -m`` command that added it (``manifest.commands``:
Hydra overrides including the launcher, task overrides, working directory).  Resubmitting
re-runs those commands; the sweeper regenerates the same jobs (points and seeds derive from
the sweep seed) and launches only the ones that are not ``completed``/``diverged`` and not
running — so final records are never touched.  Jobs run under their run directory's lock,
so a resubmission racing the sweep (or another resubmission) never runs a job twice.
Extra overrides (e.g. ``hydra/launcher=basic`` to finish a cluster sweep locally) are
appended to every command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable, Sequence

from hpfree.sweeps import manifest as manifest_mod
from hpfree.sweeps import status


def command_line(argv: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "-m", "hpfree.cli.train", "-m", *argv, *extra]


def resubmit(sweep_dir: str | Path, extra: Sequence[str] = (), dry_run: bool = False,
             log: Callable[[str], None] = print) -> int:
    """Relaunch what needs it; returns the worst exit code of the relaunching commands."""
    sweep_dir = Path(sweep_dir)
    manifest = manifest_mod.load(sweep_dir)
    states = status.job_states(sweep_dir, manifest.jobs)
    todo = [j for j in manifest.jobs if states[j.key] in status.RESUBMITTABLE]
    log(f"[hpfree-resubmit] {sweep_dir}: {status.counts_line(states)}")
    if not todo:
        log("[hpfree-resubmit] nothing to relaunch")
        return 0
    commands = sorted({j.command for j in todo})
    worst = 0
    for index in commands:
        entry = manifest.commands[index]
        jobs = [j.key for j in todo if j.command == index]
        cmd = command_line(entry["argv"], extra)
        cwd = Path(entry.get("cwd") or ".")
        if not cwd.is_dir():
            cwd = Path.cwd()
        shown = " ".join(["hpfree-train", "-m", *entry["argv"], *extra])
        log(f"[hpfree-resubmit] relaunching {len(jobs)} jobs ({', '.join(jobs[:6])}"
            f"{', ...' if len(jobs) > 6 else ''}) in {cwd}:\n  {shown}")
        if dry_run:
            continue
        rc = subprocess.call(cmd, cwd=cwd)
        worst = max(worst, rc)
    if not dry_run:
        after = status.job_states(sweep_dir, manifest.jobs)
        manifest_mod.update_states(sweep_dir, after)
        log(f"[hpfree-resubmit] now: {status.counts_line(after)}")
    return worst
