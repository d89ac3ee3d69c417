"""The SLURM side of a sweep: which job runs which run, what SLURM says, what to resubmit.

The launcher writes ``SWEEP_DIR/slurm_jobs.json``::

    {"folder": ".../.submitit/%j", "max_num_timeout": 3, "parameters": {sbatch options},
     "jobs": {"digits_mlp/nadamw-h66-s0-1a2b3c4d5e":
                {"key": ..., "idx": 0, "job_id": "41_0", "overrides": [...], "run_dir": "/...",
                 "pickle": ".../41_0_submitted.pkl", "history": ["37_2"]}, ...}}

Jobs are keyed by their run directory relative to the sweep directory (the key
``hpfree.sweeps`` uses too), so a relaunch of some jobs replaces just their entries.

:func:`job_table` joins it with SLURM's accounting (``sacct``) and each run's
``record.json``; :func:`resubmit` submits again the jobs that failed (nonzero exit, node
failure, out of memory, time limit) or were cancelled — and only those — from the very
callable submitit pickled for them, so they run the same Hydra job in the same run directory
and resume from its checkpoint.  ``hpfree-status`` and ``hpfree-resubmit`` call these for
SLURM sweeps (through the ``slurm`` back-end, :mod:`hpfree.slurm.backend`);
``python -m hpfree.slurm.jobs status|resubmit SWEEP_DIR`` does the same on its own.

The launcher imports this module during Hydra's plugin discovery: keep module-level imports
light.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Collection, Iterator, Optional, Sequence

MANIFEST = "slurm_jobs.json"

# SLURM end states after which the run did not finish: resubmitted.
RESUBMIT_STATES = frozenset({"FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "CANCELLED", "TIMEOUT",
                             "BOOT_FAIL", "DEADLINE", "PREEMPTED", "REVOKED"})
# States of a job that is still queued or running: left alone.
LIVE_STATES = frozenset({"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                         "RESIZING", "SUSPENDED", "COMPLETING", "CONFIGURING", "SIGNALING",
                         "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD", "SPECIAL_EXIT"})
FINAL_RUN_STATUSES = ("completed", "diverged")


def manifest_path(sweep_dir: str | os.PathLike) -> Path:
    return Path(sweep_dir) / MANIFEST


def is_slurm_sweep(sweep_dir: str | os.PathLike) -> bool:
    return manifest_path(sweep_dir).exists()


@contextlib.contextmanager
def _locked(sweep_dir: Path) -> Iterator[None]:
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with open(sweep_dir / f".{MANIFEST}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_manifest(sweep_dir: str | os.PathLike) -> Optional[dict[str, Any]]:
    path = manifest_path(sweep_dir)
    if not path.exists():
        return None
    with open(path) as f:
        return json.load(f)


def _write_manifest(sweep_dir: Path, manifest: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST}.", dir=sweep_dir)
    os.fchmod(fd, 0o644)
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, manifest_path(sweep_dir))


def job_key(sweep_dir: str | os.PathLike, run_dir: Optional[str], idx: int) -> str:
    """The run directory relative to the sweep directory (``#<idx>`` if unknown)."""
    if run_dir:
        try:
            return str(Path(run_dir).absolute().relative_to(Path(sweep_dir).absolute()))
        except ValueError:
            return str(run_dir)
    return f"#{idx}"


def add_jobs(sweep_dir: str | os.PathLike, folder: str, max_num_timeout: int,
             parameters: dict[str, Any], entries: Sequence[dict[str, Any]]) -> None:
    """Record newly submitted jobs; a job submitted again replaces its entry (the old SLURM
    job id goes to its ``history``)."""
    sweep_dir = Path(sweep_dir)
    with _locked(sweep_dir):
        manifest = read_manifest(sweep_dir) or {"jobs": {}}
        manifest.update(folder=folder, max_num_timeout=max_num_timeout,
                        parameters=_jsonable(parameters))
        for e in entries:
            key = e.get("key") or job_key(sweep_dir, e.get("run_dir"), e["idx"])
            old = manifest["jobs"].get(key)
            history = (old.get("history", []) + [old["job_id"]]) if old else []
            manifest["jobs"][key] = {**e, "key": key, "history": history}
        _write_manifest(sweep_dir, manifest)


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


# ---------------------------------------------------------------------- SLURM's view
def slurm_states(job_ids: Sequence[str]) -> dict[str, str]:
    """``{job_id: STATE}`` from ``sacct`` (accounting), completed by ``squeue``.

    ``CANCELLED by 0`` becomes ``CANCELLED``; a job SLURM does not know is left out.
    """
    ids = [str(j) for j in job_ids]
    if not ids:
        return {}
    states: dict[str, str] = {}
    try:
        out = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", ",".join(ids)],
                             capture_output=True, text=True, timeout=120)
        if out.returncode == 0:
            for line in out.stdout.splitlines():
                jid, _, state = line.partition("|")
                if state:
                    states[jid.strip()] = state.split()[0]
    except (OSError, subprocess.SubprocessError):
        pass
    # squeue knows live jobs at once; sacct can lag a few seconds behind slurmctld, and has
    # no record of array tasks still pending (which squeue lists one by one only with -r).
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i|%T", "-j", ",".join(ids)],
                             capture_output=True, text=True, timeout=60)
        if out.returncode == 0:
            for line in out.stdout.splitlines():
                jid, _, state = line.partition("|")
                if state:
                    states[jid.strip()] = state.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {j: states[j] for j in ids if j in states}


def _run_status(run_dir: Optional[str]) -> Optional[str]:
    if not run_dir:
        return None
    path = Path(run_dir) / "record.json"
    try:
        with open(path) as f:
            return json.load(f).get("status")
    except (OSError, ValueError):
        return None


def decide(slurm_state: Optional[str], run_status: Optional[str]) -> tuple[str, str]:
    """``(action, why)`` for one job: action is ``done``, ``wait`` or ``resubmit``."""
    if run_status in FINAL_RUN_STATUSES:
        return "done", f"run {run_status}"
    if slurm_state in LIVE_STATES:
        return "wait", slurm_state.lower()
    if slurm_state in RESUBMIT_STATES:
        return "resubmit", f"SLURM {slurm_state}"
    if slurm_state == "COMPLETED":
        return "resubmit", f"job completed but the run is {run_status or 'missing'}"
    # e.g. an array task cancelled while pending: it never gets an accounting record
    return "resubmit", f"job not in SLURM's accounting; run is {run_status or 'missing'}"


def job_table(sweep_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """One row per job: key, idx, job_id, slurm_state, run_status, action, why, run_dir,
    overrides, resubmissions."""
    manifest = read_manifest(sweep_dir)
    if manifest is None:
        return []
    entries = sorted(manifest["jobs"].values(), key=lambda e: e["key"])
    states = slurm_states([e["job_id"] for e in entries])
    rows = []
    for e in entries:
        state = states.get(e["job_id"])
        status = _run_status(e.get("run_dir"))
        action, why = decide(state, status)
        rows.append({"key": e["key"], "idx": e["idx"], "job_id": e["job_id"], "slurm_state": state,
                     "run_status": status, "action": action, "why": why,
                     "run_dir": e.get("run_dir"), "overrides": e.get("overrides", []),
                     "resubmissions": len(e.get("history", []))})
    return rows


# ---------------------------------------------------------------------- resubmission
def resubmit(sweep_dir: str | os.PathLike, dry_run: bool = False, log=print,
             keys: Optional[Collection[str]] = None) -> list[dict[str, Any]]:
    """Submit again every job whose row says ``resubmit`` (only those in ``keys`` if given);
    returns those rows (new job_id)."""
    sweep_dir = Path(sweep_dir)
    rows = [r for r in job_table(sweep_dir)
            if r["action"] == "resubmit" and (keys is None or r["key"] in keys)]
    if not rows or dry_run:
        return rows
    import submitit
    from submitit.core.utils import DelayedSubmission

    manifest = read_manifest(sweep_dir)
    assert manifest is not None
    executor = submitit.SlurmExecutor(folder=manifest["folder"],
                                      max_num_timeout=manifest["max_num_timeout"])
    executor.update_parameters(**manifest["parameters"])
    delayed = [DelayedSubmission.load(Path(manifest["jobs"][r["key"]]["pickle"]))
               for r in rows]
    if len(delayed) == 1:
        jobs = [executor.submit(delayed[0].function, *delayed[0].args, **delayed[0].kwargs)]
    else:  # one array; every pickle holds the same launcher, with its own job arguments
        jobs = executor.map_array(delayed[0].function, *zip(*(d.args for d in delayed)))
    entries = []
    for r, job in zip(rows, jobs):
        e = dict(manifest["jobs"][r["key"]])
        e.update(job_id=job.job_id, pickle=str(job.paths.submitted_pickle),
                 submitted_at=time.time())
        e.pop("history", None)
        entries.append(e)
        log(f"resubmitted {r['key']} ({r['why']}): SLURM job {r['job_id']} -> {job.job_id}")
        r["job_id"] = job.job_id
    add_jobs(sweep_dir, manifest["folder"], manifest["max_num_timeout"], manifest["parameters"],
             entries)
    return rows


def live_jobs(sweep_dir: str | os.PathLike) -> dict[str, str]:
    """``{key: SLURM state}`` of the jobs SLURM still has queued or running (no record check).

    What a sweep's status needs to tell "queued on SLURM" from "missing".
    """
    return {r["key"]: r["slurm_state"] for r in job_table(sweep_dir)
            if r["slurm_state"] in LIVE_STATES}


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    width = max([len(r["key"]) for r in rows] + [3])
    lines = [f"{'run':<{width}}  {'job':<10} {'slurm':<13} {'record':<10} action"]
    for r in rows:
        lines.append(f"{r['key']:<{width}}  {r['job_id']:<10} {r['slurm_state'] or '?':<13} "
                     f"{r['run_status'] or '-':<10} {r['action']} ({r['why']})")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpfree.slurm.jobs",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["status", "resubmit"])
    parser.add_argument("sweep_dir")
    parser.add_argument("--dry-run", action="store_true", help="resubmit: only list the jobs")
    args = parser.parse_args(argv)
    if not is_slurm_sweep(args.sweep_dir):
        print(f"error: {manifest_path(args.sweep_dir)} not found: not a SLURM sweep",
              file=sys.stderr)
        return 2
    if args.command == "status":
        print(format_table(job_table(args.sweep_dir)))
        return 0
    rows = resubmit(args.sweep_dir, dry_run=args.dry_run)
    if not rows:
        print("nothing to resubmit")
    elif args.dry_run:
        print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
