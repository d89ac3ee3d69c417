"""Performance profiles ρ(τ) and the AlgoPerf benchmark score, for a pool of candidates.

Every step mirrors ``scoring/performance_profile.py`` and ``scoring/score_submissions.py`` of
mlcommons/algorithmic-efficiency (commit 2c90454, the v0.5 scoring code):

1. Times per (candidate, workload) restricted to the suite's workloads (AlgoPerf's
   ``df = df[BASE_WORKLOADS]``); a workload a candidate did not run is NaN, which never
   counts as reached below.
2. ``best = df.min(axis=0)`` per workload; a time ``> 4 × best`` becomes ``inf``
   (AlgoPerf hard-codes the 4, independently of ``max_tau``).
3. Ratios ``r = time / best``.  A workload that no candidate reached has ``best = inf`` and
   ``inf / inf = NaN``: it counts for nobody but stays in the denominator.  Ties share the
   ratio 1.
4. ``ρ(τ) = #{workloads with r ≤ τ} / N``, with ``N`` the number of suite workloads
   (AlgoPerf's ``NUM_BASE_WORKLOADS``, not the number of workloads a candidate ran), on the
   grid ``np.linspace(1, 4, 100)`` (``min_tau=1.0, max_tau=4.0, num_points=100``,
   ``scale='linear'`` in ``score_submissions.main``).
5. Score = trapezoidal integral of ρ over that grid divided by ``max_tau − min_tau``
   (``compute_leaderboard_score(normalize=True)``, ``np.trapz(df, x=df.columns)``).  Because
   it integrates a step function sampled on 100 points, a candidate whose ratio falls between
   grid points gets the trapezoid's half-step, exactly as in AlgoPerf; a candidate that is the
   fastest everywhere scores 1, one that reaches nothing within 4× scores 0.

The profile depends on the whole pool: adding a faster candidate lowers everyone else's score.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

MISS_RATIO = 4.0  # AlgoPerf: "Set score to inf if not within 4x of fastest submission"
MIN_TAU = 1.0
MAX_TAU = 4.0
NUM_POINTS = 100
_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2.0 has only trapz


def ratios(times: pd.DataFrame, workloads: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Candidates × workloads ratio of each time to the per-workload best (steps 1–3).

    ``times`` holds times-to-target (steps or seconds) with ``inf`` for a missed
    target and NaN for a workload a candidate has no runs on.  Missed, beyond-4× and missing
    entries come out as ``inf`` or NaN, both of which never satisfy ``r ≤ τ``.
    """
    df = times.astype(float)
    if workloads is not None:
        df = df.reindex(columns=list(workloads))
    best = df.min(axis=0)
    with np.errstate(invalid="ignore"):
        df = df.mask(df.gt(MISS_RATIO * best, axis=1), np.inf)
        return df.div(best, axis=1)


def performance_profiles(times: pd.DataFrame, workloads: Optional[Sequence[str]] = None,
                         min_tau: float = MIN_TAU, max_tau: float = MAX_TAU,
                         num_points: int = NUM_POINTS) -> pd.DataFrame:
    """ρ(τ): one row per candidate, one column per τ on ``np.linspace(min_tau, max_tau, n)``.

    ``workloads`` is the suite (the denominator); by default the columns of ``times``.
    """
    r = ratios(times, workloads)
    n = r.shape[1]
    if n == 0:
        raise ValueError("no workloads to score: the suite is empty")
    taus = np.linspace(min_tau, max_tau, num=num_points)
    values = np.stack([(r.to_numpy() <= tau).sum(axis=1) / n for tau in taus], axis=1)
    return pd.DataFrame(values, index=r.index, columns=taus)


def benchmark_scores(profiles: pd.DataFrame) -> pd.Series:
    """Area under ρ(τ) divided by the τ range (AlgoPerf ``compute_leaderboard_score``)."""
    taus = profiles.columns.to_numpy(dtype=float)
    area = _trapezoid(profiles.to_numpy(dtype=float), x=taus, axis=1)
    return pd.Series(area / (taus.max() - taus.min()), index=profiles.index, name="score")
