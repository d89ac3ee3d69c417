"""The fidelity measures: rank agreement, collapses, target hits and seed noise.

A **collapse** is defined once per workload from its metric (the study's Table 2 metric;
the mini counterpart is judged by the same rule against its own target):

=========================  ==========================================  ====================
metric                     collapsed when the best validation value    why
=========================  ==========================================  ====================
Error Rate, WER            ≥ (target + chance) / 2                      nearer chance than
                                                                        the goal
BLEU, mAP                  ≤ target / 4                                 a quarter of the goal
SSIM                       ≤ target / 2                                 (none in the study)
CE                         ≥ 1.5 × target                               (none in the study)
=========================  ==========================================  ====================

``chance`` is the metric of a model that learned nothing (``table2.csv``): a constant
prediction's error rate, 1 − 1/classes (ImageNet 0.999, the minis' ten digits 0.9); the WER
of an empty transcript, 1.  An error rate is judged against both ends because a mini's
target may itself be far from zero: on the study's workloads (targets 0.09–0.23) the
midpoint lies at 0.54–0.61 and a fixed "≥ 0.5" classifies Table 4 the same way, but a mini
whose tuned baseline ends at 0.6 error would have every run "collapsed" under it.  The other
rules are already relative to the target.

A run with no finite validation value (diverged at once) is collapsed whatever its metric.
On the study's Table 4 these rules give exactly the nine collapses the study reports:
DoWG on ViT, Conformer, DeepSpeech and WMT; MoMo-Adam on ViT and WMT; Prodigy and both
Mechanic variants on WMT.

A **hit** is a best value that reaches the workload's target (``<=`` when lower is better,
``>=`` otherwise, as AlgoPerf compares); on Table 4 with Table 2's targets: 1 of 72
(D-Adapt on Criteo, 0.1236 = the target).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

# metric (Table 2's name) → (comparison, threshold kind, value)
COLLAPSE_RULES: dict[str, tuple[str, str, float]] = {
    "Error Rate": ("ge", "chance", 0.5),
    "WER": ("ge", "chance", 0.5),
    "BLEU": ("le", "target", 0.25),
    "mAP": ("le", "target", 0.25),
    "SSIM": ("le", "target", 0.5),
    "CE": ("ge", "target", 1.5),
}


def collapse_threshold(metric: str, target: float,
                       chance: float = math.nan) -> tuple[str, float]:
    """``(op, threshold)``: a value ``op`` the threshold is a collapse (``ge`` or ``le``).

    A NaN target (or, for a chance rule, a NaN chance) gives a NaN threshold: nothing but
    NaN values collapse."""
    if metric not in COLLAPSE_RULES:
        raise KeyError(f"no collapse rule for metric {metric!r}; known: "
                       f"{', '.join(COLLAPSE_RULES)}")
    op, kind, value = COLLAPSE_RULES[metric]
    target = _float(target)
    if kind == "chance":
        return op, target + value * (_float(chance) - target)
    return op, value * target


def describe_rule(metric: str) -> str:
    op, kind, value = COLLAPSE_RULES[metric]
    sign = "≥" if op == "ge" else "≤"
    if kind == "chance":
        return f"{sign} target + {value:g} × (chance − target)"
    return f"{sign} {value:g} × target"


def _float(x) -> float:
    return math.nan if x is None else float(x)


def collapsed(value, metric: str, target: float, chance: float = math.nan) -> bool:
    value = _float(value)
    if not math.isfinite(value):
        return True
    op, thr = collapse_threshold(metric, target, chance)
    if not math.isfinite(thr):
        return False
    return value >= thr if op == "ge" else value <= thr


def reached(value, target, direction: str) -> bool:
    """AlgoPerf's non-strict comparison; a NaN value or a NaN/missing target never reaches."""
    value, target = _float(value), _float(target)
    if not (math.isfinite(value) and math.isfinite(target)):
        return False
    return value <= target if direction == "min" else value >= target


def spearman(study: pd.Series, mini: pd.Series, direction: str) -> float:
    """Spearman's ρ between the study's and the mini's best values of the same methods.

    A method whose mini run has no finite value ranks last (it is worse than any number);
    methods missing on either side are left out; fewer than 3 methods, or a side with all
    values tied, gives NaN.
    """
    both = pd.concat([study.rename("study"), mini.rename("mini")], axis=1)
    both = both[both["study"].notna() & both.index.isin(mini.index)]
    worst = math.inf if direction == "min" else -math.inf
    m = both["mini"].astype(float).where(np.isfinite(both["mini"].astype(float)), worst)
    if len(both) < 3 or both["study"].nunique() < 2 or m.nunique() < 2:
        return math.nan
    return float(stats.spearmanr(both["study"].to_numpy(float), m.to_numpy(float)).statistic)


def tied_pairs(values: pd.Series) -> float:
    """Share of method pairs whose values are equal (the study prints 3–4 digits: on
    Criteo and fastMRI many methods tie, and ρ there is partly decided by rounding)."""
    v = values.dropna().to_numpy(float)
    n = len(v)
    if n < 2:
        return math.nan
    ties = sum(v[i] == v[j] for i in range(n) for j in range(i + 1, n))
    return ties / (n * (n - 1) / 2)


@dataclass
class WorkloadComparison:
    workload: str            # the mini (or any suite) workload
    study_workload: str      # the study's workload it stands for
    metric: str              # the study's metric name (the collapse rule's key)
    direction: str
    study_target: float
    mini_target: float
    rho: float
    study_collapsed: list[str]
    mini_collapsed: list[str]
    study_hits: list[str]
    mini_hits: list[str]
    study_ties: float = math.nan   # share of method pairs tied in the study's table

    @property
    def reproduced(self) -> list[str]:
        return [m for m in self.study_collapsed if m in self.mini_collapsed]

    @property
    def extra(self) -> list[str]:
        return [m for m in self.mini_collapsed if m not in self.study_collapsed]


def compare_workload(workload: str, study_workload: str, study: pd.Series, mini: pd.Series,
                     metric: str, direction: str, study_target: float,
                     mini_target: float, study_chance: float = math.nan,
                     mini_chance: float = math.nan) -> WorkloadComparison:
    """``study``/``mini``: best value per method (index: optimizer name) on one workload.

    ``mini`` holds the methods that ran (a NaN value: ran, no finite metric); the study's
    collapses and hits are counted over all of ``study``'s methods, so a method that has not
    run on the mini yet counts as a collapse not reproduced; ρ uses the methods on both.
    """
    methods = list(study.index)
    ran = [m for m in methods if m in mini.index]
    return WorkloadComparison(
        workload=workload, study_workload=study_workload, metric=metric, direction=direction,
        study_target=_float(study_target), mini_target=_float(mini_target),
        rho=spearman(study.loc[ran], mini.loc[ran], direction),
        study_collapsed=[m for m in methods
                         if collapsed(study[m], metric, study_target, study_chance)],
        mini_collapsed=[m for m in ran if collapsed(mini[m], metric, mini_target, mini_chance)],
        study_hits=[m for m in methods if reached(study[m], study_target, direction)],
        mini_hits=[m for m in ran if reached(mini[m], mini_target, direction)],
        study_ties=tied_pairs(study))


@dataclass
class Totals:
    mean_rho: float
    study_collapses: int
    reproduced: int
    extra: int
    study_hits: int
    mini_hits: int
    cells: int


def totals(comparisons: Sequence[WorkloadComparison], cells: int) -> Totals:
    rhos = [c.rho for c in comparisons if math.isfinite(c.rho)]
    return Totals(
        mean_rho=float(np.mean(rhos)) if rhos else math.nan,
        study_collapses=sum(len(c.study_collapsed) for c in comparisons),
        reproduced=sum(len(c.reproduced) for c in comparisons),
        extra=sum(len(c.extra) for c in comparisons),
        study_hits=sum(len(c.study_hits) for c in comparisons),
        mini_hits=sum(len(c.mini_hits) for c in comparisons), cells=cells)


@dataclass
class SeedNoise:
    """The calibrated baseline's time-to-target over seeds on one workload (steps)."""

    times: list[float]          # inf = the seed missed the target
    budget: float               # max_steps

    @property
    def hits(self) -> int:
        return int(np.isfinite(self.times).sum())

    @property
    def fractions(self) -> list[float]:
        return [t / self.budget for t in self.times]

    @property
    def spread(self) -> float:
        """(slowest − fastest) / median over the seeds that hit; NaN unless all hit."""
        t = np.asarray(self.times, float)
        if t.size == 0 or not np.isfinite(t).all():
            return math.nan
        return float((t.max() - t.min()) / np.median(t))


def median_seed_hits(naive: pd.Series, seed_bests: Sequence[float],
                     direction: str) -> tuple[float, int]:
    """(target, hits) under AlgoPerf's own target rule: the median over seeds of the tuned
    baseline's best validation value (``docs/DOCUMENTATION.md`` of AlgoPerf, "to prevent
    selecting a lucky outlier"; it uses 20 seeds), and how many of ``naive``'s best values
    reach it.  NaN and 0 when there are no seed runs."""
    bests = [float(b) for b in seed_bests if b is not None and math.isfinite(float(b))]
    if not bests:
        return math.nan, 0
    target = float(np.median(bests))
    return target, sum(reached(v, target, direction) for v in naive)


def seed_noise(times: Sequence[float], budget: float) -> SeedNoise:
    return SeedNoise([_float(t) if t is not None else math.inf for t in times], float(budget))


def best_table(runs: pd.DataFrame, value: str = "best") -> pd.DataFrame:
    """Methods × workloads of the runs' best values (median over seeds if several)."""
    if runs.empty:
        return pd.DataFrame()
    return runs.pivot_table(index="optimizer", columns="workload", values=value,
                            aggfunc="median", dropna=False)


def validation_sizes(workloads: Sequence[str]) -> dict[str, int | None]:
    """Each workload's number of validation examples (``num_validation``; None if it has no
    such field, e.g. the digits' fixed split)."""
    from hpfree.workloads import registry

    return {w: getattr(registry.get_config_class(w)(), "num_validation", None)
            for w in workloads}


def proportion_se(p: float, n: int | None) -> float:
    """Standard error of an error rate ``p`` measured on ``n`` independent examples
    (binomial); for WER, words of one utterance are not independent, so the utterance count
    is the conservative ``n``."""
    p = _float(p)
    if not n or not math.isfinite(p) or not 0 <= p <= 1:
        return math.nan
    return math.sqrt(p * (1 - p) / n)


def targets_of(workloads: Sequence[str]) -> Mapping[str, float]:
    """Each workload's configured target (its config dataclass default; NaN when missing)."""
    from hpfree.workloads import registry

    out = {}
    for w in workloads:
        t = getattr(registry.get_config_class(w)(), "target", None)
        out[w] = _float(t)
    return out
