"""Job states, derived from each run directory's ``record.json`` and lock (and, for a SLURM
sweep, SLURM's queue), and their summary.

=========== =================================================================
completed   the record says completed (budget or target reached)
diverged    the record says diverged (non-finite loss)
running     a process holds the run's lock right now, or its queue (SLURM) runs its job
queued      its queue has the job pending (or requeued) and no final record yet
failed      the record says failed (an exception; resumable)
preempted   the record says preempted, or running while no process holds the lock
            (killed before it could say so); resumable from its checkpoint
missing     no record yet (never started, or killed before its first record)
corrupt     its record (or, for a final record, its curve) cannot be read: a hand edit,
            a foreign file, a disk fault; the run is re-run, the bad file kept aside
=========== =================================================================

``missing``, ``failed``, ``preempted`` and ``corrupt`` are what ``hpfree-resubmit``
relaunches; a final
record (completed or diverged) is never touched, nor a job its queue still has queued or
running (asked through the queue back-ends, :mod:`hpfree.sweeps.backends`: for SLURM,
``SWEEP_DIR/slurm_jobs.json``, written by ``launcher=slurm``, maps jobs to SLURM job ids).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Optional

import pandas as pd

from hpfree import records
from hpfree.errors import CorruptFile
from hpfree.sweeps import backends, locking
from hpfree.sweeps.manifest import Manifest, jobs_frame
from hpfree.sweeps.plan import Job

STATES = ("completed", "diverged", "running", "queued", "failed", "preempted", "missing",
          "corrupt")
RESUBMITTABLE = ("missing", "failed", "preempted", "corrupt")


def live_jobs(sweep_dir: str | Path) -> dict[str, str]:
    """``{key: "running" | "queued"}`` of the jobs a queue back-end still holds (``{}`` for a
    sweep launched on this machine; SLURM is asked once for all of its jobs)."""
    return backends.live(sweep_dir)


def job_state(run_dir: str | Path, queue_state: Optional[str] = None) -> str:
    """The state of one run directory (see the module docstring); ``queue_state`` is
    ``running``/``queued`` if a queue back-end still holds its job."""
    try:
        rec = records.inspect(run_dir)
    except CorruptFile:
        return "running" if locking.is_locked(run_dir) else records.CORRUPT
    if rec is not None and rec.status in records.FINAL_STATUSES:
        return rec.status
    if locking.is_locked(run_dir):
        return "running"
    if queue_state:
        return queue_state
    if rec is None:
        return "missing"
    if rec.status in ("failed", "preempted"):
        return rec.status
    return "preempted"  # a "running" record nobody is running: killed without a last word


def job_states(sweep_dir: str | Path, jobs: Iterable[Job],
               live: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """``{key: state}``; ``live`` (default: :func:`live_jobs`) are the queues' live jobs."""
    sweep_dir = Path(sweep_dir)
    live = live_jobs(sweep_dir) if live is None else live
    return {j.key: job_state(sweep_dir / j.key, live.get(j.key)) for j in jobs}


def corrupt_files(sweep_dir: str | Path, states: Mapping[str, str]) -> list[str]:
    """One line per corrupt job: the file that cannot be read, and why."""
    out = []
    for key, state in states.items():
        if state == records.CORRUPT:
            try:
                records.inspect(Path(sweep_dir) / key)
            except CorruptFile as exc:
                out.append(str(exc))
    return out


def counts(states: Mapping[str, str]) -> dict[str, int]:
    out = {s: 0 for s in STATES}
    for s in states.values():
        out[s] = out.get(s, 0) + 1
    return out


def counts_line(states: Mapping[str, str]) -> str:
    c = counts(states)
    return " · ".join(f"{s} {c[s]}" for s in STATES)


def _table(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    table = pd.crosstab(frame[by], frame["state"])
    table = table.reindex(columns=list(STATES), fill_value=0)
    table.columns.name = None
    return table


def summary(manifest: Manifest, states: Mapping[str, str], sweep_dir: str | Path) -> str:
    """Counts per state, per workload and per trial (with the trial's point)."""
    for job in manifest.jobs:
        job.state = states.get(job.key, job.state)
    frame = jobs_frame(manifest)
    search = bool(manifest.search_space)
    n_trials = frame["trial"].nunique() if len(frame) else 0
    n_wl = frame["workload"].nunique() if len(frame) else 0
    what = (f"{n_trials} trials × {n_wl} workloads, search space "
            f"{manifest.search_space.get('name')}, seed {manifest.seed}" if search else
            f"a multirun over {n_wl} workload(s), no search")
    lines = [f"sweep {manifest.sweep_name}  ({sweep_dir})", f"{len(frame)} jobs: {what}",
             "", "per state"]
    c = counts(states)
    width = max(len(s) for s in STATES)
    lines += [f"  {s:<{width}}  {c[s]}" for s in STATES]
    if len(frame):
        lines += ["", "per workload", _table(frame, "workload").to_string()]
    if len(frame) and search:
        per_trial = _table(frame, "trial")
        order = manifest.search_space.get("order") or []
        points = {j.trial: j.point for j in manifest.jobs}
        for name in order or next(iter(points.values())).keys():
            per_trial[name] = [points[t].get(name) for t in per_trial.index]
        per_trial.columns.name = None
        lines += ["", "per trial (counts, then the point)",
                  per_trial.to_string(float_format=lambda x: f"{x:.4g}")]
    todo = sum(c[s] for s in RESUBMITTABLE)
    if todo:
        lines += ["", f"{todo} jobs can be relaunched: hpfree-resubmit {sweep_dir}"]
    return "\n".join(lines)
