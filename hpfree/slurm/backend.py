"""The ``slurm`` queue back-end: what ``hpfree-status``/``hpfree-resubmit`` ask of SLURM.

Reads the sweep's ``slurm_jobs.json`` (:mod:`hpfree.slurm.jobs`) and SLURM's queue and
accounting: which jobs SLURM still has running or queued, every job it was handed, and a
relaunch of failed or cancelled ones from submitit's pickles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Collection

from hpfree.slurm import jobs
from hpfree.sweeps.backends import BackendSpec

# SLURM states of a job whose processes run (the other live states wait in the queue).
RUNNING = frozenset({"RUNNING", "COMPLETING", "CONFIGURING", "SIGNALING", "STAGE_OUT",
                     "RESIZING"})


def live(sweep_dir: Path) -> dict[str, str]:
    """``{key: "running" | "queued"}`` (asks ``squeue``/``sacct`` once for all jobs)."""
    return {k: "running" if state in RUNNING else "queued"
            for k, state in jobs.live_jobs(sweep_dir).items()}


def submitted(sweep_dir: Path) -> dict[str, list[str]]:
    manifest = jobs.read_manifest(sweep_dir) or {"jobs": {}}
    return {k: [str(o) for o in e.get("overrides", [])] for k, e in manifest["jobs"].items()}


def resubmit(sweep_dir: Path, keys: Collection[str], dry_run: bool,
             log: Callable[[str], None]) -> list[dict[str, Any]]:
    return jobs.resubmit(sweep_dir, dry_run=dry_run, keys=set(keys), log=log)


BACKEND = BackendSpec("slurm", owns=jobs.is_slurm_sweep, live=live, submitted=submitted,
                      resubmit=resubmit, describe=jobs.format_table, marker=jobs.MANIFEST)
