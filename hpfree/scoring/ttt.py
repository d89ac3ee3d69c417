"""Time-to-target of each run, and its aggregate over seeds per (candidate, workload).

Time-to-target is the time of the *first* evaluation whose validation metric reaches the
target (non-strict: ``<=`` when lower is better, ``>=`` otherwise; NaN never reaches), not
the time of the best evaluation; it is infinite when the target is never reached.  It is
recomputed from ``curve.csv`` so that other targets can be applied (``targets=``); the
record's own ``ttt_steps`` / ``ttt_seconds`` are the runner's answer for its configured target
and are used only when a run has no curve.  A diverged run keeps a target it reached before
diverging (its NaN evaluations never count), as in AlgoPerf, where a run's earlier
evaluations stay in its measurements.

Times are kept in steps, in accumulated training seconds (evaluation excluded, like
AlgoPerf's ``accumulated_submission_time``) and as a *fraction of the workload's budget*.
The budget in steps is the record's ``max_steps``; in seconds it is, per workload, the median
over its runs of ``train_seconds / steps × max_steps`` (our workloads have a step budget, not
a wall-clock one).  Profiles are computed on the raw time (``time``), so that ratios are
bit-for-bit AlgoPerf's (``0.6 / 0.2`` is not ``3.0`` in floating point, ``60 / 20`` is); a
run whose budget differs from its workload's reference budget (the median) is rescaled to
it, and candidates scored elsewhere (``--external``, given as budget fractions) enter as
fraction × reference budget.

Aggregation over seeds follows AlgoPerf's ``scoring/performance_profile.py``
(``get_workloads_time_to_target`` and ``get_best_trial_index``, mlcommons/algorithmic-efficiency
at 2c90454): runs are grouped by study (one seed); within a study (several trials only under
external tuning) the trial that reaches the target at the earliest *evaluation index* is taken
(AlgoPerf's ``idxmin`` over the index, ties to the first, which we order by time), and its time
is the study's; a study none of whose trials reach the target counts as ``inf``; the
candidate's time is ``np.median`` over studies with ``inf`` counted as a value (so a target hit
in only one of three seeds is a miss, one hit in two of three counts).
"""

from __future__ import annotations

import math
from typing import Mapping, Optional

import numpy as np
import pandas as pd

from hpfree import records

TIME_UNITS = ("steps", "seconds")
SCORED_STATUSES = records.FINAL_STATUSES  # completed and diverged runs are final


def reached_mask(values: np.ndarray, target: float, direction: str) -> np.ndarray:
    """AlgoPerf's comparison (``operator.le`` when minimized, ``operator.ge`` otherwise)."""
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return values <= target if direction == "min" else values >= target


def time_to_target(curve: pd.DataFrame, metric: str, target: float, direction: str
                   ) -> tuple[float, float, float]:
    """``(steps, seconds, eval_index)`` of the first evaluation reaching ``target``.

    All three are ``inf`` when no evaluation reaches it (or the curve is empty).
    """
    col = f"validation/{metric}"
    if curve.empty or col not in curve:
        return math.inf, math.inf, math.inf
    hit = np.flatnonzero(reached_mask(curve[col].to_numpy(), target, direction))
    if hit.size == 0:
        return math.inf, math.inf, math.inf
    i = int(hit[0])
    seconds = float(curve["train_seconds"].iloc[i]) if "train_seconds" in curve else math.nan
    return float(curve["step"].iloc[i]), seconds, float(i)


def best_value(curve: pd.DataFrame, metric: str, direction: str) -> float:
    col = f"validation/{metric}"
    if curve.empty or col not in curve:
        return math.nan
    vals = curve[col].to_numpy(dtype=float)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return math.nan
    return float(vals.min() if direction == "min" else vals.max())


def _none_to_nan(x) -> float:
    """A missing target (``None``, e.g. ``workload.target=null``) is NaN: nothing reaches it."""
    return math.nan if x is None else float(x)


def _none_to_inf(x) -> float:
    return math.inf if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def run_times(runs: pd.DataFrame, time: str = "steps",
              targets: Optional[Mapping[str, float]] = None) -> pd.DataFrame:
    """One row per run: its target, time-to-target in steps/seconds, and budget fraction.

    ``runs`` is ``records.load_records`` output with ``candidate``/``study`` columns
    (``candidates.assign``).  ``targets`` maps workload → target replacing the recorded one.
    Adds ``ttt_steps``, ``ttt_seconds``, ``eval_index``, ``best`` (best finite validation
    metric), ``hit``, and in the ``time`` unit: ``budget`` (the run's), ``ref_budget`` (its
    workload's), ``time`` (time-to-target rescaled to ``ref_budget``; ``inf`` = missed) and
    ``fraction`` (= time / ref_budget).
    """
    if time not in TIME_UNITS:
        raise ValueError(f"time={time!r} is unknown; choose steps or seconds")
    targets = dict(targets or {})
    out = []
    for row in runs.to_dict("records"):
        row = dict(row)
        target = _none_to_nan(targets.get(row["workload"], row.get("target")))
        curve = records.load_curve(row["run_dir"]) if row.get("run_dir") else pd.DataFrame()
        if curve.empty:
            # No curve (e.g. an imported record): only the recorded target can be applied.
            same = target == _none_to_nan(row.get("target"))
            steps = _none_to_inf(row.get("ttt_steps")) if same else math.inf
            seconds = _none_to_inf(row.get("ttt_seconds")) if same else math.inf
            index = 0.0 if math.isfinite(steps) else math.inf
            best = row.get("best_metric")
            best = math.nan if best is None else float(best)
        else:
            steps, seconds, index = time_to_target(curve, row["metric"], target, row["direction"])
            best = best_value(curve, row["metric"], row["direction"])
        row.update(target=target, ttt_steps=steps, ttt_seconds=seconds, eval_index=index,
                   best=best, hit=math.isfinite(steps))
        out.append(row)
    table = pd.DataFrame(out)
    if table.empty:
        return table
    if time == "steps":
        table["budget"] = table["max_steps"].astype(float)
        raw = table["ttt_steps"].astype(float)
    else:
        per_step = table["train_seconds"].astype(float) / table["steps"].replace(0, np.nan)
        full = per_step * table["max_steps"].astype(float)
        table["budget"] = table["workload"].map(full.groupby(table["workload"]).median())
        raw = table["ttt_seconds"].astype(float)
    table["ref_budget"] = table["workload"].map(table.groupby("workload")["budget"].median())
    scale = table["ref_budget"] / table["budget"]
    # Multiply only where budgets differ: x * 1.0 is exact, x * (b / b') is not.
    table["time"] = raw.where(scale == 1.0, raw * scale)
    table["fraction"] = table["time"] / table["ref_budget"]
    return table


def _study_time(study: pd.DataFrame) -> float:
    """AlgoPerf ``get_best_trial_index``: the trial reaching the target at the earliest eval."""
    hit = study[np.isfinite(study["eval_index"])]
    if hit.empty:
        return math.inf
    best = hit.sort_values(["eval_index", "time"], kind="stable").iloc[0]
    return float(best["time"])


def aggregate(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (candidate, workload): median over studies of the time-to-target.

    Columns: ``candidate, label, optimizer, horizon, trial, workload, time`` (the median,
    ``inf`` = missed), ``budget`` (the workload's reference budget), ``fraction`` (time /
    budget), ``studies`` (seeds), ``studies_hit``, ``best`` (median over seeds of each run's
    best validation metric), ``metric``, ``direction``, ``target``.
    """
    rows = []
    for (cand, wl), group in table.groupby(["candidate", "workload"], sort=True):
        per_study = [_study_time(s) for _, s in group.groupby("study", sort=True)]
        first = group.iloc[0]
        bests = group["best"].to_numpy(dtype=float)
        rows.append({
            "candidate": cand, "label": first["label"], "optimizer": first["optimizer"],
            "horizon": first["horizon"], "trial": first.get("trial"), "workload": wl,
            "time": float(np.median(per_study)), "budget": float(first["ref_budget"]),
            "fraction": float(np.median(per_study)) / float(first["ref_budget"]),
            "studies": len(per_study),
            "studies_hit": int(np.isfinite(per_study).sum()),
            "best": float(np.median(bests[np.isfinite(bests)])) if np.isfinite(bests).any()
            else math.nan,
            "metric": first["metric"], "direction": first["direction"],
            "target": first["target"],
        })
    return pd.DataFrame(rows)


def times_matrix(agg: pd.DataFrame, workloads: Optional[list[str]] = None) -> pd.DataFrame:
    """Candidates × workloads times-to-target; a workload a candidate never ran is NaN."""
    mat = agg.pivot(index="candidate", columns="workload", values="time")
    if workloads is not None:
        mat = mat.reindex(columns=workloads)
    return mat.sort_index()
