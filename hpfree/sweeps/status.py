"""Job states, derived from each run directory's ``record.json`` and lock (and, for a SLURM
sweep, SLURM's queue), and their summary.

=========== =================================================================
completed   the record says completed (budget or target reached)
diverged    the record says diverged (non-finite loss)
running     a process holds the run's lock right now, or SLURM runs its job
queued      SLURM has its job pending (or requeued) and no final record yet
failed      the record says failed (an exception; resumable)
preempted   the record says preempted, or running while no process holds the lock
            (killed before it could say so); resumable from its checkpoint
missing     no record yet (never started, or killed before its first record)
=========== =================================================================

``missing``, ``failed`` and ``preempted`` are what ``hpfree-resubmit`` relaunches; a final
record (completed or diverged) is never touched, nor a job SLURM still has queued or running
(``SWEEP_DIR/slurm_jobs.json``, written by ``launcher=slurm``, maps jobs to SLURM job ids).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Optional

import pandas as pd

from hpfree import records
from hpfree.sweeps import locking
from hpfree.sweeps.manifest import Manifest, jobs_frame
from hpfree.sweeps.plan import Job

STATES = ("completed", "diverged", "running", "queued", "failed", "preempted", "missing")
RESUBMITTABLE = ("missing", "failed", "preempted")
# SLURM states of a job whose processes run (the other live states wait in the queue).
SLURM_RUNNING = frozenset({"RUNNING", "COMPLETING", "CONFIGURING", "SIGNALING", "STAGE_OUT",
                           "RESIZING"})


def slurm_live(sweep_dir: str | Path) -> dict[str, str]:
    """``{key: SLURM state}`` of the jobs SLURM has queued or running; ``{}`` unless the sweep
    went through ``launcher=slurm`` (asks ``squeue``/``sacct`` once for all its jobs)."""
    from hydra_plugins.hpfree_slurm_launcher import jobs as slurm_jobs

    if not slurm_jobs.is_slurm_sweep(sweep_dir):
        return {}
    return slurm_jobs.live_jobs(sweep_dir)


def job_state(run_dir: str | Path, slurm_state: Optional[str] = None) -> str:
    """The state of one run directory (see the module docstring); ``slurm_state`` is its
    job's state if SLURM has it queued or running."""
    rec = records.load(run_dir)
    if rec is not None and rec.status in records.FINAL_STATUSES:
        return rec.status
    if locking.is_locked(run_dir):
        return "running"
    if slurm_state:
        return "running" if slurm_state in SLURM_RUNNING else "queued"
    if rec is None:
        return "missing"
    if rec.status in ("failed", "preempted"):
        return rec.status
    return "preempted"  # a "running" record nobody is running: killed without a last word


def job_states(sweep_dir: str | Path, jobs: Iterable[Job],
               live: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """``{key: state}``; ``live`` (default: :func:`slurm_live`) are SLURM's live jobs."""
    sweep_dir = Path(sweep_dir)
    live = slurm_live(sweep_dir) if live is None else live
    return {j.key: job_state(sweep_dir / j.key, live.get(j.key)) for j in jobs}


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
