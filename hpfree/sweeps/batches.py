"""Trial batches of a search: which points one job trains together (``runner.trial_batch``).

With ``runner.trial_batch=K`` the quasi-random sweeper groups the points it launches by
workload into batches of up to K and hands the launcher one job per batch: the first
point's overrides plus ``batch_with=['<key>',...]``, the run directories (relative to the
sweep directory) of the others.  That job (one local Hydra job, one SLURM array task, one
TPU run) trains all of them in one vmapped scan (:mod:`hpfree.trial_batch`); each point keeps
its own run directory, record, curve, checkpoint and lock, so ``hpfree-status`` and the
manifest see points, never batches.  Only a queue's bookkeeping (SLURM's
``slurm_jobs.json``) knows a job by its first point: :func:`spread` gives the others the
queue state of the job that carries them.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from hpfree.sweeps.plan import Job, override_key

KEY = "batch_with"


def group(jobs: Sequence[Job], size: int) -> list[list[Job]]:
    """``jobs`` in batches of at most ``size`` points of one workload, in launch order."""
    size = max(int(size), 1)
    by_workload: dict[str, list[Job]] = {}
    for job in jobs:
        by_workload.setdefault(job.workload, []).append(job)
    out: list[list[Job]] = []
    for same in by_workload.values():
        out += [same[i:i + size] for i in range(0, len(same), size)]
    return out


def overrides(batch: Sequence[Job]) -> list[str]:
    """The overrides of the one job that trains ``batch``."""
    first = list(batch[0].overrides)
    if len(batch) == 1:
        return first
    others = ",".join("'" + j.key.replace("'", "\\'") + "'" for j in batch[1:])
    return [*first, f"{KEY}=[{others}]"]


def members(job_overrides: Sequence[str]) -> list[str]:
    """The keys a job's ``batch_with=[...]`` lists (``[]`` for a job of one point)."""
    found = [o for o in job_overrides if override_key(str(o)) == KEY]
    if not found:
        return []
    from hydra.core.override_parser.overrides_parser import OverridesParser

    value = OverridesParser.create().parse_overrides([str(found[-1])])[0].value()
    return [str(v) for v in (value or [])]


def spread(states: Mapping[str, str], submitted: Mapping[str, Sequence[str]]
           ) -> dict[str, str]:
    """``states`` (a queue's ``{job key: state}``) plus the same state for every point each
    job carries in its ``batch_with``."""
    out = dict(states)
    for key, state in states.items():
        for member in members(submitted.get(key, ())):
            out.setdefault(member, state)
    return out
