"""Sweep directories → every score, table and figure, in one call (what ``hpfree-score`` runs).

``score_sweeps`` computes (nothing written); ``write_report`` writes the files into one
output directory::

    runs.csv                 per run: target, time-to-target (steps, seconds, budget fraction)
    times.csv, fractions.csv per candidate × workload: median time-to-target over seeds
                             (steps or seconds), and as a fraction of the budget
    ratios.csv, profiles.csv ratio to the fastest; ρ(τ) on AlgoPerf's τ grid
    leaderboard.{md,csv,tex} Table 6: score, targets hit, normalized time-to-target
    best_metrics.{md,csv,tex} Tables 4–5: best validation metric per workload
    ranking.{md,csv,tex}     geometric-mean cost of each candidate (the search ranking)
    selection.{md,csv,tex}   the best-scoring candidate per (algorithm, horizon)
    notes.md                 what was left out (unfinished or corrupt runs) and why
    profiles.{png,pdf}, curves.{png,pdf}, heatmap.{png,pdf}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from hpfree import records
from hpfree.io import atomic_write_text
from hpfree.scoring import candidates, external, profiles, selection, tables, ttt


class ScoringError(ValueError):
    """Nothing to score, or a bad option; the message is one line for the user."""


@dataclass
class ScoreResult:
    runs: pd.DataFrame            # one row per scored run (ttt.run_times + candidate columns)
    agg: pd.DataFrame             # one row per (candidate, workload) (ttt.aggregate)
    meta: pd.DataFrame            # per candidate: label, optimizer, horizon, trial, external
    times: pd.DataFrame           # candidates × workloads time-to-target (externals included)
    budgets: pd.Series            # per workload: the reference budget (same unit as times)
    workloads: list[str]          # the suite: the denominator of ρ
    ratios: pd.DataFrame
    profiles: pd.DataFrame
    scores: pd.Series
    leaderboard: pd.DataFrame
    ranking: pd.DataFrame         # geometric-mean cost (run candidates only)
    selection: pd.DataFrame       # per (optimizer, horizon): highest score
    time: str = "steps"
    notes: list[str] = field(default_factory=list)
    # Runs left out because they failed or their record/curve cannot be read (one line each
    # for the corrupt ones); what makes hpfree-score exit 1.
    left_out: dict[str, int] = field(default_factory=dict)
    corrupt: list[str] = field(default_factory=list)

    @property
    def labels(self) -> dict[str, str]:
        return self.meta["label"].to_dict()

    @property
    def fractions(self) -> pd.DataFrame:
        """Times as fractions of each workload's budget (what Table 6 shows)."""
        return self.times.div(self.budgets, axis=1)


def _seeds_per_candidate(agg: pd.DataFrame) -> pd.Series:
    return agg.groupby("candidate")["studies"].min()


def score_sweeps(dirs: Sequence[str | Path], time: str = "steps",
                 targets: Optional[Mapping[str, float]] = None,
                 externals: Iterable[str | Path] = (), min_seeds: int = 1,
                 workloads: Optional[Sequence[str]] = None,
                 miss_penalty: float = selection.MISS_PENALTY,
                 select: Optional[Callable[[pd.DataFrame], pd.DataFrame]] = None,
                 only: Optional[Iterable[str]] = None) -> ScoreResult:
    """Score every final run under ``dirs`` (plus external candidates) as one pool.

    ``select`` filters the loaded run table first (e.g. only the re-run seeds of a top-k
    evaluation); ``only`` keeps just these candidate ids (e.g. the final selection).
    """
    if time not in ttt.TIME_UNITS:
        raise ScoringError(f"--time {time}: choose steps or seconds")
    if not miss_penalty > 0:
        raise ScoringError(f"--miss-penalty {miss_penalty}: must be > 0 (a multiple of the budget)")
    if min_seeds < 1:
        raise ScoringError(f"--min-seeds {min_seeds}: must be a positive integer")
    for d in dirs:
        if not Path(d).is_dir():
            raise ScoringError(f"{d}: no such directory")
    notes: list[str] = []
    table = records.load_records(dirs)
    corrupt: list[str] = []
    if not table.empty and (table.status == records.CORRUPT).any():
        corrupt = [str(e) for e in table.loc[table.status == records.CORRUPT, "error"]]
        notes += [f"left out a corrupt run: {line} (hpfree-resubmit re-runs it)"
                  for line in corrupt]
        table = table[table.status != records.CORRUPT]
    if table.empty:
        raise ScoringError(f"no run records (record.json) under {', '.join(map(str, dirs))}"
                           + (f" but {len(corrupt)} corrupt: {corrupt[0]}" if corrupt else ""))
    left_out = {"corrupt": len(corrupt),
                "failed": int((table.status == "failed").sum())}
    final = table[table.status.isin(ttt.SCORED_STATUSES)]
    if len(final) < len(table):
        left = table[~table.status.isin(ttt.SCORED_STATUSES)]
        counts = ", ".join(f"{n} {s}" for s, n in left.status.value_counts().items())
        notes.append(f"left out {len(left)} unfinished runs ({counts}); "
                     "resume them and score again")
    if final.empty:
        raise ScoringError("no finished (completed or diverged) runs to score")
    known = set(final.workload)
    for w in (targets or {}):
        if w not in known:
            raise ScoringError(f"--target {w}=...: no runs on workload {w!r}; "
                               f"workloads here: {', '.join(sorted(known))}")
    if select is not None:
        final = select(final)
        if final.empty:
            raise ScoringError("no runs left after the selection filter")
    assigned = candidates.assign(final)
    if only is not None:
        assigned = assigned[assigned.candidate.isin(set(only))]
        if assigned.empty:
            raise ScoringError("none of the requested candidates has finished runs")
    runs = ttt.run_times(assigned, time=time, targets=targets)
    agg = ttt.aggregate(runs)

    seeds = _seeds_per_candidate(agg)
    if min_seeds > 1:
        keep = seeds[seeds >= min_seeds].index
        dropped = len(seeds) - len(keep)
        if dropped:
            notes.append(f"--min-seeds {min_seeds}: left out {dropped} candidates with fewer seeds")
        if len(keep) == 0:
            raise ScoringError(f"--min-seeds {min_seeds}: no candidate has that many seeds "
                               f"(most: {int(seeds.max())})")
        runs = runs[runs.candidate.isin(keep)]
        agg = agg[agg.candidate.isin(keep)]

    suite = sorted(set(agg.workload)) if workloads is None else list(workloads)
    unknown = [w for w in suite if w not in set(agg.workload)]
    if unknown and workloads is not None:
        notes.append(f"no runs on suite workload(s) {', '.join(unknown)}: they count as missed")
    meta = (agg.drop_duplicates("candidate").set_index("candidate")
            [["label", "optimizer", "horizon", "trial"]].assign(external=False))
    times = ttt.times_matrix(agg, suite)
    # A suite workload without runs has no budget; only externals can have times there,
    # and any constant keeps their ratios.
    budgets = agg.groupby("workload")["budget"].first().reindex(suite).fillna(1.0)

    for path in externals:
        try:
            ext = external.read_external(path)
        except external.ExternalError as exc:
            raise ScoringError(str(exc)) from None
        extra = [w for w in ext.columns if w not in suite]
        if extra:
            notes.append(f"{path}: ignored workload(s) outside the suite: {', '.join(extra)}")
        missing = [w for w in suite if w not in ext.columns]
        if missing:
            notes.append(f"{path}: no fraction for {', '.join(missing)}: counted as missed")
        ext = ext.reindex(columns=suite).mul(budgets, axis=1)
        ext.index = [f"external:{c}" for c in ext.index]
        clash = [c for c in ext.index if c in times.index]
        if clash:
            raise ScoringError(f"{path}: candidate {clash[0][9:]!r} is given twice")
        times = pd.concat([times, ext])
        meta = pd.concat([meta, pd.DataFrame(
            {"label": [c[9:] for c in ext.index], "optimizer": [c[9:] for c in ext.index],
             "horizon": math.nan, "trial": None, "external": True}, index=ext.index)])

    ratios = profiles.ratios(times, suite)
    prof = profiles.performance_profiles(times, suite)
    scores = profiles.benchmark_scores(prof)
    fractions = times.div(budgets, axis=1)
    board = tables.leaderboard(scores, fractions, meta["label"], suite)
    own = meta.index[~meta.external.astype(bool)]
    ranking = selection.rank(fractions.loc[own], meta.loc[own], suite, miss_penalty)
    meta = meta.assign(hits=np.isfinite(times.reindex(meta.index)).sum(axis=1))
    chosen = selection.select_final(scores.loc[own], meta.loc[own])
    return ScoreResult(runs=runs, agg=agg, meta=meta, times=times, budgets=budgets,
                       workloads=suite,
                       ratios=ratios, profiles=prof, scores=scores, leaderboard=board,
                       ranking=ranking, selection=chosen, time=time, notes=notes,
                       left_out=left_out, corrupt=corrupt)


# ------------------------------------------------------------------ writing


def _leaderboard_text(result: ScoreResult) -> pd.DataFrame:
    df = result.leaderboard.drop(columns="id")
    n = len(result.workloads)
    df["targets_hit"] = [f"{h}/{n}" for h in df["targets_hit"]]
    df["rank"] = df["rank"].astype(str)
    return tables.to_strings(df, {"rank": str, "candidate": str, "targets_hit": str})


def _selection_frames(result: ScoreResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    sel = result.selection
    num = pd.DataFrame({"optimizer": sel["optimizer"],
                        "horizon": sel["horizon"].astype(float),
                        "candidate": sel["label"], "score": sel["score"],
                        "targets_hit": sel["hits"].astype(int)}).reset_index(drop=True)
    text = num.assign(horizon=[f"{candidates.horizon_pct(h)}%" for h in num.horizon],
                      targets_hit=[f"{h}/{len(result.workloads)}" for h in num.targets_hit])
    return num, tables.to_strings(text, {"optimizer": str, "horizon": str, "candidate": str,
                                         "targets_hit": str})


def _ranking_frames(result: ScoreResult, k: Optional[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rk = result.ranking if k is None else selection.top_k(result.ranking, k)
    num = pd.DataFrame({"candidate": rk["label"], "optimizer": rk["optimizer"],
                        "horizon": rk["horizon"].astype(float), "geomean_cost": rk["cost"],
                        "targets_hit": rk["hits"].astype(int)}).reset_index(drop=True)
    text = num.assign(horizon=[f"{candidates.horizon_pct(h)}%" for h in num.horizon],
                      targets_hit=[f"{h}/{len(result.workloads)}" for h in num.targets_hit])
    return num, tables.to_strings(text, {"candidate": str, "optimizer": str, "horizon": str,
                                         "targets_hit": str})


def write_report(result: ScoreResult, out: str | Path, plots: bool = True,
                 top_k: Optional[int] = None, plot_top: int = 10) -> dict[str, Path]:
    """Write every table (and figure) into ``out``; returns name → path of the main files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    wl = result.workloads
    paths: dict[str, Path] = {}

    run_cols = ["candidate", "label", "optimizer", "horizon", "trial", "workload", "seed",
                "seed_index", "status", "metric", "direction", "target", "max_steps", "steps",
                "ttt_steps", "ttt_seconds", "budget", "time", "fraction", "best",
                "train_seconds",
                "run_dir"]
    records_csv = result.runs[[c for c in run_cols if c in result.runs]]
    atomic_write_text(out / "runs.csv", records_csv.to_csv(index=False))
    atomic_write_text(out / "times.csv", result.times.rename_axis("candidate").to_csv())
    atomic_write_text(out / "fractions.csv",
                             result.fractions.rename_axis("candidate").to_csv())
    atomic_write_text(out / "ratios.csv", result.ratios.rename_axis("candidate").to_csv())
    atomic_write_text(out / "profiles.csv",
                             result.profiles.rename_axis("candidate").to_csv())

    sub = ["", "", "", "", ""] + [tables.metric_header(result.agg, wl)[w] for w in wl]
    unit = "steps" if result.time == "steps" else "training seconds"
    paths["leaderboard"] = out / "leaderboard.md"
    tables.write_all(result.leaderboard, _leaderboard_text(result), out / "leaderboard",
                     subheader=sub[1:],
                     caption=f"AlgoPerf benchmark score and time-to-target ({unit}) as a "
                             "fraction of the budget; blank: target missed.")
    own = [c for c in result.scores.sort_values(ascending=False, kind="stable").index
           if not result.meta.loc[c, "external"]]
    bm = tables.best_metrics(result.agg, own, wl)
    tables.write_all(bm, tables.to_strings(bm, default=tables.fmt_metric), out / "best_metrics",
                     index=True, subheader=[""] + [tables.metric_header(result.agg, wl)[w]
                                                   for w in wl],
                     caption="Best validation metric per workload (median over seeds).")
    paths["best_metrics"] = out / "best_metrics.md"
    num, text = _ranking_frames(result, top_k)
    tables.write_all(num, text, out / "ranking",
                     caption="Geometric mean of time-to-target (budget fractions; a missed "
                             "target counts as the miss penalty).")
    paths["ranking"] = out / "ranking.md"
    num, text = _selection_frames(result)
    tables.write_all(num, text, out / "selection",
                     caption="Highest benchmark score per (algorithm, horizon).")
    paths["selection"] = out / "selection.md"

    if plots:
        from hpfree.scoring import plots as plotting

        top = result.scores.sort_values(ascending=False, kind="stable").index[:plot_top]
        paths["profiles"] = plotting.save(
            plotting.profiles_figure(result.profiles.loc[top], result.labels,
                                     result.scores.loc[top]), out / "profiles")[0]
        own_top = [c for c in top if not result.meta.loc[c, "external"]]
        paths["curves"] = plotting.save(
            plotting.curves_figure(result.runs, own_top, result.labels, wl, result.time),
            out / "curves")[0]
        rows = result.scores.sort_values(ascending=False, kind="stable").index[:40]
        paths["heatmap"] = plotting.save(
            plotting.heatmap_figure(result.ratios.loc[rows], result.times.loc[rows],
                                    result.labels), out / "heatmap")[0]
    if result.notes:
        paths["notes"] = out / "notes.md"
        atomic_write_text(paths["notes"], "# What was left out or changed\n\n"
                          + "".join(f"- {n}\n" for n in result.notes))
    return paths
