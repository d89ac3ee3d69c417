"""The same runs scored by AlgoPerf's own scoring code give the same profiles and scores.

Runs only where ``algoperf`` is importable from a source checkout that has ``scoring/``
(e.g. ``PYTHONPATH=$PWD /work/algoperf-venv/bin/python -m pytest tests/test_scoring_algoperf.py``);
our venv does not install AlgoPerf, so there it is skipped.  AlgoPerf's scoring reads its own
workload registry for metrics and targets and hard-codes its eight base workloads; the test
points those three module globals at the hand-made suite, and feeds every run's evaluations
as AlgoPerf's per-trial arrays (one study per seed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpfree import records
from hpfree.scoring.report import score_sweeps
from test_scoring import MISS, curve_hitting_at, make_run, pool  # noqa: F401  (fixture)

algoperf = pytest.importorskip("algoperf", reason="AlgoPerf is not installed in this venv")
_SRC = Path(algoperf.__file__).resolve().parents[1]
if not (_SRC / "scoring" / "performance_profile.py").exists():
    pytest.skip(f"no AlgoPerf scoring/ next to {algoperf.__file__}", allow_module_level=True)
sys.path.insert(0, str(_SRC))
from scoring import performance_profile as pp  # noqa: E402
from scoring import scoring_utils  # noqa: E402

TIME_COL = {"steps": "global_step", "seconds": "accumulated_submission_time"}


def algoperf_scores(result, monkeypatch, out: Path, time: str):
    """Profiles and scores computed by AlgoPerf from the runs behind ``result``."""
    suite = result.workloads
    targets = {f"{w}_jax": (f"validation/{m}", t) for w, m, t in
               result.runs[["workload", "metric", "target"]].drop_duplicates().itertuples(index=False)}
    monkeypatch.setattr(pp, "BASE_WORKLOADS", suite)
    monkeypatch.setattr(pp, "NUM_BASE_WORKLOADS", len(suite))
    monkeypatch.setattr(pp, "HELDOUT_WORKLOADS", None)
    monkeypatch.setattr(scoring_utils, "get_workload_metrics_and_targets",
                        lambda workload, split="validation": targets[workload])
    submissions = {}
    for cand, runs in result.runs.groupby("candidate"):
        rows = []
        for run in runs.to_dict("records"):
            curve = records.load_curve(run["run_dir"])
            rows.append({"workload": f"{run['workload']}_jax", "study": run["study"],
                         "trial": (run["run_dir"], "x"),
                         f"validation/{run['metric']}": curve[f"validation/{run['metric']}"].to_numpy(),
                         "global_step": curve["step"].to_numpy(),
                         "accumulated_submission_time": curve["train_seconds"].to_numpy()})
        submissions[cand] = pd.DataFrame(rows)
    out.mkdir(exist_ok=True)
    perf = pp.compute_performance_profiles(
        submissions, time_col=TIME_COL[time], min_tau=1.0, max_tau=4.0,
        reference_submission_tag=None, num_points=100, scale="linear", verbosity=0,
        output_dir=str(out))
    scores = pp.compute_leaderboard_score(perf, normalize=True)["score"]
    return perf, scores


def assert_same(result, perf, scores):
    perf = perf.sort_index()
    ours = result.profiles.sort_index()
    assert list(ours.index) == list(perf.index)
    np.testing.assert_array_equal(ours.columns.to_numpy(), perf.columns.to_numpy(dtype=float))
    np.testing.assert_array_equal(ours.to_numpy(), perf.to_numpy(dtype=float))
    np.testing.assert_allclose(result.scores.sort_index().to_numpy(),
                               scores.sort_index().to_numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("time", ["steps", "seconds"])
def test_same_profiles_and_scores_as_algoperf(pool, tmp_path, monkeypatch, time):  # noqa: F811
    # Beyond the hand-computed pool: a second seed for one candidate (a median over two
    # studies), a candidate that misses a workload entirely, and per-step costs that differ
    # (so seconds rank differently from steps).
    make_run(pool, "nadamw", "A", curve_hitting_at(70), seed=1)
    make_run(pool, "nadamw", "B", curve_hitting_at(30), seed=1)
    make_run(pool, "nadamw", "C", MISS, seed=1)
    make_run(pool, "sgd", "A", curve_hitting_at(30), seconds_per_step=0.004)
    make_run(pool, "sgd", "B", curve_hitting_at(90), seconds_per_step=0.004)
    result = score_sweeps([pool], time=time)
    perf, scores = algoperf_scores(result, monkeypatch, tmp_path / "algoperf", time)
    assert_same(result, perf, scores)
