"""Scoring runs the way AlgoPerf does: time-to-target, performance profiles, benchmark score.

The pipeline, one module per arrow::

    records (load_records) ─► candidates.assign ─► ttt.run_times ─► ttt.aggregate
        ─► profiles.performance_profiles ─► profiles.benchmark_scores
        ─► selection (geometric-mean ranking, top-k, final pick) ─► tables / plots

``report.score_sweeps`` runs all of it; ``hpfree-score`` is its command line.
"""

from hpfree.scoring.profiles import benchmark_scores, performance_profiles
from hpfree.scoring.ttt import aggregate, run_times, time_to_target

__all__ = ["aggregate", "benchmark_scores", "performance_profiles", "run_times",
           "time_to_target"]
