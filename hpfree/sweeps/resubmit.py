"""Relaunch the jobs of a sweep whose record is missing, failed or preempted — never one
that is completed, diverged, or still queued or running on SLURM.

Each job remembers the ``hpfree-train -m`` command that added it (``manifest.commands``:
Hydra overrides including the launcher, task overrides, working directory).  Resubmitting
re-runs those commands; the sweeper regenerates the same jobs (points and seeds derive from
the sweep seed) and launches only the ones that are not ``completed``/``diverged`` and not
running — so final records are never touched.  Jobs run under their run directory's lock,
so a resubmission racing the sweep (or another resubmission) never runs a job twice.
Extra overrides are appended to every command, replacing stored ones with the same key
(``launcher=local`` finishes a SLURM sweep on this machine, see :func:`merged`).

A plain multirun (no search, see :mod:`hpfree.sweeps.multirun`) is relaunched the same way
from the command in its ``multirun.yaml``: Hydra's basic sweeper launches every job again,
and each completed one returns at once (``hpfree.train.run`` skips a final record; a running
one is skipped under its lock).  A plain multirun on a queue that can relaunch its own jobs (SLURM), without extra overrides,
instead has the queue back-end submit again just its unfinished jobs (SLURM: each from the
pickle submitit wrote for it, :mod:`hpfree.slurm.jobs`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable, Sequence

from hpfree import outcome
from hpfree.errors import ConfigError
from hpfree.sweeps import manifest as manifest_mod
from hpfree.sweeps import backends, multirun, status
from hpfree.sweeps.plan import override_key


# Overrides that choose the launcher, and those that configure it.
_LAUNCHER_KEYS = ("launcher", "hydra/launcher")


def merged(argv: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    """``argv`` then ``extra``, without the stored overrides that ``extra`` replaces.

    An extra ``launcher=...`` or ``hydra/launcher=...`` also drops the stored launcher and
    its ``hydra.launcher.*`` settings (``launcher=local`` finishes a SLURM sweep here).
    """
    keys = {override_key(e) for e in extra}
    new_launcher = bool(keys & set(_LAUNCHER_KEYS))

    def kept(arg: str) -> bool:
        key = override_key(arg)
        if new_launcher and (key in _LAUNCHER_KEYS or key.startswith("hydra.launcher.")):
            return False
        return key not in keys

    return [*(a for a in argv if kept(a)), *extra]


def command_line(argv: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "-m", "hpfree.cli.train", "-m", *merged(argv, extra)]


def resubmit(sweep_dir: str | Path, extra: Sequence[str] = (), dry_run: bool = False,
             log: Callable[[str], None] = print) -> int:
    """Relaunch what needs it; returns the worst exit code of the relaunching commands (at
    least 1 when a job is failed or corrupt afterwards)."""
    sweep_dir = Path(sweep_dir)
    manifest = multirun.load_any(sweep_dir)
    plain = multirun.is_plain(manifest)
    states = status.job_states(sweep_dir, manifest.jobs)
    todo = [j for j in manifest.jobs if states[j.key] in status.RESUBMITTABLE]
    log(f"[hpfree-resubmit] {sweep_dir}: {status.counts_line(states)}")
    for line in status.corrupt_files(sweep_dir, states):
        log(f"[hpfree-resubmit] corrupt: {line}; re-running it (the bad file is kept aside)")
    if not todo:
        log("[hpfree-resubmit] nothing to relaunch")
        return 0
    if plain and not extra:
        taken, shown = backends.resubmit_natively(
            sweep_dir, {j.key for j in todo}, dry_run=dry_run,
            log=lambda m: log(f"[hpfree-resubmit] {m}"))
        for text in shown:
            log(text)
        if taken:
            todo = [j for j in todo if j.key not in taken]
            if todo:  # never submitted (the multirun stopped while submitting): its command's turn
                log(f"[hpfree-resubmit] {len(todo)} jobs were never submitted to the queue")
    commands = sorted({j.command for j in todo})
    worst = 0
    for index in commands:
        entry = manifest.commands[index]
        if not entry.get("argv"):
            raise ConfigError(f"{sweep_dir} stores no command to relaunch "
                              f"{', '.join(j.key for j in todo[:3])} with (no "
                              f"{multirun.MULTIRUN}): re-run its hpfree-train -m command")
        jobs = [j.key for j in todo if j.command == index]
        cmd = command_line(entry["argv"], extra)
        cwd = Path(entry.get("cwd") or ".")
        if not cwd.is_dir():
            cwd = Path.cwd()
        shown = " ".join(["hpfree-train", "-m", *merged(entry["argv"], extra)])
        log(f"[hpfree-resubmit] relaunching {len(jobs)} jobs ({', '.join(jobs[:6])}"
            f"{', ...' if len(jobs) > 6 else ''}) in {cwd}:\n  {shown}")
        if plain:
            log("[hpfree-resubmit] (a plain multirun: its finished and running jobs are "
                "skipped as they start)")
        if dry_run:
            continue
        rc = subprocess.call(cmd, cwd=cwd)
        worst = max(worst, rc)
    if not dry_run:
        if plain:
            after = status.job_states(sweep_dir, multirun.load(sweep_dir).jobs)
        else:
            after = status.job_states(sweep_dir, manifest.jobs)
            manifest_mod.update_states(sweep_dir, after)
        log(f"[hpfree-resubmit] now: {status.counts_line(after)}")
        if any(state in outcome.FAILURES for state in after.values()):
            worst = max(worst, outcome.FAILED)
    return worst
