"""Scoring on hand-made records whose scores are worked out by hand below.

AlgoPerf's τ grid is ``np.linspace(1, 4, 100)`` = ``1 + i/33`` (i = 0..99), and the score is
the trapezoid integral of ρ over it divided by 3.  A workload on which a candidate's ratio is
exactly the grid point ``1 + k/33`` adds ρ = 1 from grid point k on, i.e. an area of
``(99 − k)/33`` plus the half-step ``1/66`` of the trapezoid crossing the jump, so its share of
the score is ``s(r) = (99.5 − k)/99`` for k ≥ 1 and ``s(1) = 1``; a miss adds 0.  The score
is the mean of ``s`` over the suite's workloads.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import pytest

from hpfree import records
from hpfree.scoring import candidates, external, profiles, selection, ttt
from hpfree.scoring.report import ScoringError, score_sweeps, write_report


def s(ratio: float) -> float:
    """A workload's share of the score for a ratio on the τ grid (see the module docstring)."""
    k = round((ratio - 1) * 33)
    assert math.isclose(1 + k / 33, ratio)
    return 1.0 if k == 0 else (99.5 - k) / 99


def make_run(root: Path, optimizer: str, workload: str, evals: Sequence[tuple[int, Optional[float]]],
             *, seed: int = 0, horizon: float = 0.5, target: float = 0.1, direction: str = "min",
             metric: str = "error_rate", max_steps: int = 100, status: Optional[str] = None,
             knobs: Optional[dict] = None, seconds_per_step: float = 0.01,
             trial: Optional[int] = None, seed_index: int = 0, overrides: Optional[list] = None,
             point: Optional[dict] = None) -> Path:
    """Write record.json + curve.csv like a finished run of the embedded runner would."""
    knobs = knobs or {}
    tag = "-".join(f"{k}{v}" for k, v in sorted(knobs.items()))
    run_dir = root / workload / f"{optimizer}-h{int(horizon * 100)}{tag}-t{trial}-s{seed}"
    run_dir.mkdir(parents=True)
    rows = []
    for step, value in evals:
        value = math.nan if value is None else value
        rows.append({"step": step, "train_seconds": step * seconds_per_step,
                     "eval_seconds": 0.1, "train_loss": 1.0 if math.isfinite(value) else math.nan,
                     "lr": 0.1, "validation/loss": 1.0, f"validation/{metric}": value})
    pd.DataFrame(rows).to_csv(run_dir / records.CURVE, index=False)
    first = next((r for r in rows if ttt.reached_mask(
        np.array([r[f"validation/{metric}"]]), target, direction)[0]), None)
    diverged = any(not math.isfinite(r[f"validation/{metric}"]) for r in rows)
    config = {"optimizer": {"name": optimizer, **knobs}, "horizon": {"fraction": horizon},
              "workload": {"name": workload, "max_steps": max_steps}, "seed": seed,
              "seed_index": seed_index, "trial": trial, "runs_dir": str(root)}
    rec = records.RunRecord(
        run_id=run_dir.name, status=status or ("diverged" if diverged else "completed"),
        runner="embedded", workload=workload, optimizer=optimizer, horizon=horizon, seed=seed,
        metric=metric, target=target, direction=direction, max_steps=max_steps,
        steps=rows[-1]["step"], ttt_steps=first and first["step"],
        ttt_seconds=first and first["train_seconds"],
        train_seconds=rows[-1]["train_seconds"], trial=trial, seed_index=seed_index,
        config=config, point=point or {})
    records.write(run_dir, rec)
    if overrides is not None:
        (run_dir / ".hydra").mkdir()
        (run_dir / ".hydra" / "overrides.yaml").write_text(
            "".join(f"- {o}\n" for o in overrides))
    return run_dir


def curve_hitting_at(step: int, last: int = 100, every: int = 10, before: float = 0.5,
                     after: float = 0.05) -> list[tuple[int, float]]:
    """Evaluations every ``every`` steps; the metric drops below 0.1 first at ``step``."""
    return [(s_, before if s_ < step else after) for s_ in range(every, last + 1, every)]


MISS = curve_hitting_at(10**9)


@pytest.fixture
def pool(tmp_path: Path) -> Path:
    """Three candidates on suite {A, B, C} with budget 100 steps, target error ≤ 0.1.

    ==========  ===================  ================  ==================================
    workload    X (adamw, wd=0.1)    Y (nadamw)        Z (adamw, wd=0.5)
    ==========  ===================  ================  ==================================
    A           20  (ratio 1)        40 (ratio 2)      60 (3; dips under at 60, best at 90)
    B           40  (1, tie)         40 (1, tie)       80 (2)
    C           miss                 60 (1)            diverges at 40 without a hit
    ==========  ===================  ================  ==================================
    """
    root = tmp_path / "sweep"
    x, z = {"wd": 0.1}, {"wd": 0.5}
    make_run(root, "adamw", "A", curve_hitting_at(20), knobs=x)
    make_run(root, "adamw", "B", curve_hitting_at(40), knobs=x)
    make_run(root, "adamw", "C", MISS, knobs=x)
    make_run(root, "nadamw", "A", curve_hitting_at(40))
    make_run(root, "nadamw", "B", curve_hitting_at(40))
    make_run(root, "nadamw", "C", curve_hitting_at(60))
    # Z on A: first under the target at 60, back above, best (0.01) at 90: ttt is 60.
    make_run(root, "adamw", "A", [(10, .5), (20, .5), (30, .5), (40, .5), (50, .5), (60, .09),
                                  (70, .2), (80, .2), (90, .01), (100, .05)], knobs=z)
    make_run(root, "adamw", "B", curve_hitting_at(80), knobs=z)
    make_run(root, "adamw", "C", [(10, .5), (20, .4), (30, .3), (40, None)], knobs=z)
    return root


def by_label(result) -> dict[str, str]:
    """label prefix (X/Y/Z by optimizer and weight decay) → candidate id."""
    out = {}
    for cand in result.scores.index:
        if result.meta.loc[cand, "external"]:
            continue
        opt = result.meta.loc[cand, "optimizer"]
        wd = result.runs[result.runs.candidate == cand].iloc[0]["config"]["optimizer"].get("wd")
        out[{("adamw", 0.1): "X", ("nadamw", None): "Y", ("adamw", 0.5): "Z"}[(opt, wd)]] = cand
    return out


# ------------------------------------------------------------------ time-to-target


def test_time_to_target_is_first_reaching_eval_not_best():
    curve = pd.DataFrame({"step": [10, 20, 30, 40], "train_seconds": [1., 2., 3., 4.],
                          "validation/error_rate": [0.5, 0.1, 0.3, 0.01]})
    # Non-strict: exactly the target counts.
    assert ttt.time_to_target(curve, "error_rate", 0.1, "min") == (20.0, 2.0, 1.0)
    assert ttt.time_to_target(curve, "error_rate", 0.05, "min") == (40.0, 4.0, 3.0)
    assert ttt.time_to_target(curve, "error_rate", 0.001, "min") == (math.inf,) * 3
    up = curve.rename(columns={"validation/error_rate": "validation/ssim"})
    assert ttt.time_to_target(up, "ssim", 0.3, "max")[0] == 10.0
    nan = curve.assign(**{"validation/error_rate": [0.5, np.nan, np.nan, np.nan]})
    assert ttt.time_to_target(nan, "error_rate", 0.5, "min")[0] == 10.0  # hit before diverging
    assert ttt.time_to_target(nan, "error_rate", 0.4, "min")[0] == math.inf


def test_per_run_times_in_steps_seconds_and_budget_fraction(pool):
    result = score_sweeps([pool])
    ids = by_label(result)
    runs = result.runs.set_index(["candidate", "workload"])
    za = runs.loc[(ids["Z"], "A")]
    assert za["ttt_steps"] == 60 and za["ttt_seconds"] == pytest.approx(0.6)
    assert za["fraction"] == pytest.approx(0.6) and za["best"] == pytest.approx(0.01)
    zc = runs.loc[(ids["Z"], "C")]
    assert zc["status"] == "diverged" and zc["ttt_steps"] == math.inf and not zc["hit"]
    assert runs.loc[(ids["X"], "C")]["fraction"] == math.inf


# ------------------------------------------------------------------ profiles and score


def test_hand_computed_profiles_and_scores(pool):
    result = score_sweeps([pool])
    ids = by_label(result)
    assert result.workloads == ["A", "B", "C"]
    r = result.ratios
    assert r.loc[ids["X"]].tolist() == [1.0, 1.0, math.inf]
    assert r.loc[ids["Y"]].tolist() == [2.0, 1.0, 1.0]
    assert r.loc[ids["Z"]].tolist() == [3.0, 2.0, math.inf]
    sc = result.scores
    assert sc[ids["X"]] == pytest.approx((1 + 1 + 0) / 3)          # = 2/3
    assert sc[ids["Y"]] == pytest.approx((s(2) + 1 + 1) / 3)       # = 264.5/297
    assert sc[ids["Z"]] == pytest.approx((s(3) + s(2) + 0) / 3)    # = 100/297
    assert sc[ids["Y"]] == pytest.approx(264.5 / 297) and sc[ids["Z"]] == pytest.approx(100 / 297)
    # ρ(τ): Y covers 2 of 3 workloads until τ = 2, all 3 from there on.
    taus = result.profiles.columns.to_numpy()
    assert taus[0] == 1.0 and taus[-1] == 4.0 and len(taus) == 100
    rho_y = result.profiles.loc[ids["Y"]].to_numpy()
    assert np.allclose(rho_y, np.where(taus < 2.0 - 1e-12, 2 / 3, 1.0))
    assert list(result.leaderboard["candidate"].str.split().str[0]) == ["nadamw", "adamw", "adamw"]
    assert list(result.leaderboard["targets_hit"]) == [3, 2, 2]


def test_ratio_beyond_four_times_the_best_is_a_miss_and_four_is_not():
    times = pd.DataFrame({"W": [1.0, 4.0, 4.0001]}, index=["fast", "four", "slow"])
    r = profiles.ratios(times)
    assert r["W"].tolist() == [1.0, 4.0, math.inf]
    sc = profiles.benchmark_scores(profiles.performance_profiles(times))
    assert sc["fast"] == 1.0 and sc["four"] == pytest.approx(0.5 / 99) and sc["slow"] == 0.0


def test_workload_nobody_reaches_counts_in_the_denominator(tmp_path):
    root = tmp_path / "s"
    make_run(root, "adamw", "A", curve_hitting_at(20))
    make_run(root, "adamw", "D", MISS)
    make_run(root, "nadamw", "A", curve_hitting_at(40))
    make_run(root, "nadamw", "D", MISS)
    result = score_sweeps([root])
    by_opt = {result.meta.loc[c, "optimizer"]: v for c, v in result.scores.items()}
    assert by_opt == pytest.approx({"adamw": 1 / 2, "nadamw": s(2) / 2})
    assert result.ratios["D"].isna().all()  # inf / inf: reached by nobody


def test_no_candidate_hits_any_target(tmp_path):
    root = tmp_path / "s"
    for opt in ("adamw", "nadamw"):
        for wl in ("A", "B"):
            make_run(root, opt, wl, MISS)
    result = score_sweeps([root])
    assert (result.scores == 0).all()
    assert (result.leaderboard["targets_hit"] == 0).all()
    assert result.ranking["cost"].tolist() == pytest.approx([selection.MISS_PENALTY] * 2)
    paths = write_report(result, tmp_path / "out")
    assert paths["profiles"].exists() and paths["heatmap"].exists()


def test_workload_missing_for_one_candidate_is_a_miss_in_a_suite_of_all(tmp_path):
    root = tmp_path / "s"
    make_run(root, "adamw", "A", curve_hitting_at(20))
    make_run(root, "adamw", "B", curve_hitting_at(30))
    make_run(root, "nadamw", "A", curve_hitting_at(40))  # never ran B
    result = score_sweeps([root])
    by_opt = {result.meta.loc[c, "optimizer"]: c for c in result.scores.index}
    assert result.workloads == ["A", "B"]
    assert math.isnan(result.times.loc[by_opt["nadamw"], "B"])
    assert result.scores[by_opt["nadamw"]] == pytest.approx(s(2) / 2)
    assert result.scores[by_opt["adamw"]] == pytest.approx(1.0)
    write_report(result, tmp_path / "out", plots=False)
    md = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "| 2 | nadamw 50% " in md and "| 0.400 | n/a |" in md


def test_single_candidate_scores_the_fraction_of_targets_it_hits(tmp_path):
    root = tmp_path / "s"
    make_run(root, "adamw", "A", curve_hitting_at(70))
    make_run(root, "adamw", "B", MISS)
    make_run(root, "adamw", "C", curve_hitting_at(10))
    result = score_sweeps([root])
    assert result.scores.tolist() == pytest.approx([2 / 3])


def test_exact_ties_share_the_best_time(tmp_path):
    root = tmp_path / "s"
    for opt in ("adamw", "nadamw"):
        make_run(root, opt, "A", curve_hitting_at(30))
    result = score_sweeps([root])
    assert result.scores.tolist() == [1.0, 1.0]
    assert result.leaderboard["rank"].tolist() == [1, 2]


# ------------------------------------------------------------------ seeds


@pytest.mark.parametrize("hits,expected", [
    ([20, 40, None], 0.40),       # median of (0.2, 0.4, inf)
    ([20, None, None], math.inf),  # a target hit by one seed in three is missed
    ([20, 40], 0.30),             # an even count averages the middle two
    ([20, None], math.inf),       # (0.2 + inf) / 2
])
def test_median_over_seeds_counts_misses(tmp_path, hits, expected):
    root = tmp_path / "s"
    for seed, hit in enumerate(hits):
        make_run(root, "adamw", "A", curve_hitting_at(hit) if hit else MISS, seed=seed)
    result = score_sweeps([root])
    assert len(result.times) == 1  # seeds are one candidate
    assert result.fractions.iloc[0, 0] == pytest.approx(expected)
    assert result.times.iloc[0, 0] == pytest.approx(expected * 100)  # in steps
    assert result.agg.iloc[0]["studies"] == len(hits)


def test_candidate_identity_ignores_seed_and_workload_but_not_knobs(tmp_path):
    base = {"optimizer": {"name": "adamw", "b2": 0.99}, "horizon": {"fraction": 0.5},
            "workload": {"name": "A"}, "seed": 0, "runs_dir": "x", "sweep_name": "a"}
    other_seed = {**base, "seed": 3, "workload": {"name": "B"}, "runs_dir": "y", "sweep_name": "b"}
    other_knob = {**base, "optimizer": {"name": "adamw", "b2": 0.999}}
    assert candidates.config_key(base) == candidates.config_key(other_seed)
    assert candidates.config_key(base) != candidates.config_key(other_knob)


def test_external_tuning_takes_earliest_trial_of_each_study():
    # Two trials in study "0:0" (earliest eval index wins), one in study "1:0" (misses).
    table = pd.DataFrame({
        "candidate": ["c"] * 3, "label": ["c"] * 3, "optimizer": ["o"] * 3, "horizon": [.5] * 3,
        "trial": [None] * 3, "workload": ["A"] * 3, "study": ["0:0", "0:0", "1:0"],
        "eval_index": [3.0, 1.0, math.inf], "time": [40.0, 20.0, math.inf],
        "ref_budget": [100.0] * 3,
        "best": [0.0] * 3, "metric": ["m"] * 3, "direction": ["min"] * 3, "target": [1.] * 3})
    agg = ttt.aggregate(table)
    assert agg.iloc[0]["time"] == math.inf  # median(20, inf)
    agg = ttt.aggregate(table.iloc[:2])
    assert agg.iloc[0]["time"] == 20.0 and agg.iloc[0]["fraction"] == 0.2
    assert agg.iloc[0]["studies"] == 1


def test_unfinished_runs_are_left_out_with_a_note(pool):
    make_run(pool, "adamw", "A", curve_hitting_at(10), knobs={"wd": 0.1}, seed=5,
             status="preempted")
    result = score_sweeps([pool])
    assert any("1 preempted" in n for n in result.notes)
    assert len(result.runs) == 9


def test_min_seeds_keeps_only_re_run_candidates(pool):
    for seed in (1, 2):
        for wl in ("A", "B", "C"):
            make_run(pool, "nadamw", wl, curve_hitting_at(40), seed=seed)
    result = score_sweeps([pool], min_seeds=3)
    assert result.meta["optimizer"].tolist() == ["nadamw"]
    assert any("left out 2 candidates" in n for n in result.notes)
    with pytest.raises(ScoringError, match="--min-seeds 4"):
        score_sweeps([pool], min_seeds=4)


# ------------------------------------------------------------------ targets and time


def test_other_targets_are_applied_from_the_curve(pool):
    result = score_sweeps([pool], targets={"C": 0.45})
    ids = by_label(result)
    # Z's diverging C curve passes 0.45 at step 20 (0.4) before blowing up; X never does.
    assert result.runs.set_index(["candidate", "workload"]).loc[(ids["Z"], "C"), "ttt_steps"] == 20
    assert result.times.loc[ids["Z"], "C"] == 20.0
    with pytest.raises(ScoringError, match="no runs on workload 'Q'"):
        score_sweeps([pool], targets={"Q": 1.0})


def test_seconds_reward_faster_steps(tmp_path):
    root = tmp_path / "s"
    # adamw needs fewer steps (20 vs 30) but each of its steps takes 3x as long.
    make_run(root, "adamw", "A", curve_hitting_at(20), seconds_per_step=0.03)
    make_run(root, "nadamw", "A", curve_hitting_at(30), seconds_per_step=0.01)
    steps = score_sweeps([root], time="steps")
    secs = score_sweeps([root], time="seconds")
    opt = {c: steps.meta.loc[c, "optimizer"] for c in steps.scores.index}
    assert {opt[c]: v for c, v in steps.ratios["A"].items()} == pytest.approx(
        {"adamw": 1.0, "nadamw": 1.5})
    assert {opt[c]: v for c, v in secs.ratios["A"].items()} == pytest.approx(
        {"adamw": 2.0, "nadamw": 1.0})
    # Seconds budget: median over runs of seconds/step × max_steps = median(3, 1) = 2 s.
    assert secs.runs["budget"].tolist() == pytest.approx([2.0, 2.0])


# ------------------------------------------------------------------ external candidates


def test_external_candidate_joins_the_pool(pool, tmp_path):
    csv = tmp_path / "sf.csv"
    csv.write_text("candidate,A,B,C,Q\nSchedule-Free AdamW,0.1,,inf,0.3\n")
    result = score_sweeps([pool], externals=[csv])
    ids = by_label(result)
    ext = "external:Schedule-Free AdamW"
    assert result.fractions.loc[ext].tolist() == [0.1, math.inf, math.inf]
    assert result.times.loc[ext].tolist() == [10.0, math.inf, math.inf]  # × 100 steps
    # X's 0.2 on A is now twice the best; Y's 0.4 four times.
    assert result.ratios.loc[ids["X"], "A"] == 2.0 and result.ratios.loc[ids["Y"], "A"] == 4.0
    assert result.scores[ext] == pytest.approx(1 / 3)
    assert result.scores[ids["X"]] == pytest.approx((s(2) + 1) / 3)
    assert any("ignored workload(s) outside the suite: Q" in n for n in result.notes)
    assert ext not in result.ranking.index and ext not in result.selection.index
    long = tmp_path / "long.csv"
    long.write_text("candidate,workload,fraction\nSF,A,0.1\nSF,B,\nSF,C,inf\n")
    again = score_sweeps([pool], externals=[long])
    assert again.scores["external:SF"] == pytest.approx(result.scores[ext])


@pytest.mark.parametrize("text,needle", [
    ("name,A\nx,0.1\n", "no 'candidate' column"),
    ("candidate,A\nx,fast\n", "'fast' is not a number"),
    ("candidate,A\nx,-0.5\n", "must be > 0"),
    ("candidate,workload,fraction\nx,A,0.1\nx,A,0.2\n", "appears twice"),
])
def test_bad_external_csv_is_one_line(tmp_path, text, needle):
    csv = tmp_path / "bad.csv"
    csv.write_text(text)
    with pytest.raises(external.ExternalError, match=needle):
        external.read_external(csv)


# ------------------------------------------------------------------ selection


def test_geometric_mean_ranking_penalises_misses(pool):
    result = score_sweeps([pool])
    ids = by_label(result)
    cost = result.ranking["cost"]
    assert cost[ids["X"]] == pytest.approx((0.2 * 0.4 * 2.0) ** (1 / 3))   # miss → 2 × budget
    assert cost[ids["Y"]] == pytest.approx((0.4 * 0.4 * 0.6) ** (1 / 3))
    assert cost[ids["Z"]] == pytest.approx((0.6 * 0.8 * 2.0) ** (1 / 3))
    assert list(result.ranking.index) == [ids["Y"], ids["X"], ids["Z"]]
    harsh = score_sweeps([pool], miss_penalty=100.0).ranking["cost"]
    assert harsh[ids["X"]] == pytest.approx((0.2 * 0.4 * 100.0) ** (1 / 3))
    # top-1 per (optimizer, horizon): X beats Z among adamw 50 %; Y is alone.
    top = selection.top_k(result.ranking, 1)
    assert set(top.index) == {ids["X"], ids["Y"]}
    assert set(selection.top_k(result.ranking, 2).index) == {ids["X"], ids["Y"], ids["Z"]}


def test_final_pick_per_algorithm_and_horizon_is_the_best_score(pool):
    result = score_sweeps([pool])
    ids = by_label(result)
    assert set(result.selection.index) == {ids["X"], ids["Y"]}
    assert result.selection.loc[ids["X"], "score"] == pytest.approx(2 / 3)


def test_rerun_commands_plain_multirun(tmp_path):
    root = tmp_path / "s"
    for wl in ("A", "B"):
        make_run(root, "adamw", wl, curve_hitting_at(20), knobs={"wd": 0.1},
                 overrides=["optimizer=adamw", f"workload={wl}", "optimizer.wd=0.1",
                            "workload.max_steps=100", "seed=0", "sweep_name=s"],
                 point={"regularization.dropout": 0.1})
    result = score_sweeps([root])
    cmds = selection.rerun_commands(result.ranking, result.runs, 3)
    assert len(cmds) == 1
    cmd = cmds[0].splitlines()[-1]
    assert cmd == ("hpfree-train -m optimizer=adamw optimizer.wd=0.1 workload.max_steps=100 "
                   "sweep_name=s regularization.dropout=0.1 workload=A,B seed=0,1,2")


def _search(root: Path) -> None:
    for trial, knob in ((3, 0.1), (7, 0.2)):
        for wl in ("A", "B"):
            make_run(root / f"t{trial:04d}", "prodigy", wl, curve_hitting_at(20 * trial // 3),
                     knobs={"wd": knob}, trial=trial)


def test_rerun_commands_from_the_quasirandom_sweep_manifest(tmp_path):
    from hpfree.sweeps import manifest
    from hpfree.sweeps.plan import Job

    root = tmp_path / "search"
    _search(root)
    argv = ["hydra/sweeper=quasirandom", "hydra.sweeper.num_points=200",
            "hydra.sweeper.seeds=1", "search_space=lr_free", "optimizer=prodigy",
            "sweep_name=search"]
    jobs = [Job(key=f"t{t:04d}/{wl}-s0", trial=t, seed_index=0, seed=t, workload=wl, point={},
                knobs={}, overrides=[]) for t in (3, 7) for wl in ("A", "B")]
    manifest.write(root, manifest.Manifest("search", {}, 0, commands=[{"argv": argv}], jobs=jobs))
    result = score_sweeps([root])
    assert sorted(result.meta["label"]) == ["prodigy 50% t3", "prodigy 50% t7"]
    cmds = selection.rerun_commands(result.ranking, result.runs, 5)
    assert cmds == [f"# trials [3, 7] of {root}\nhpfree-train -m hydra/sweeper=quasirandom "
                    "hydra.sweeper.num_points=200 search_space=lr_free optimizer=prodigy "
                    "sweep_name=search 'hydra.sweeper.trials=[3,7]' hydra.sweeper.seeds=5"]


def test_rerun_commands_from_another_sweepers_multirun_yaml(tmp_path):
    root = tmp_path / "search"
    _search(root)
    (root / "multirun.yaml").write_text(json.dumps({"hydra": {
        "runtime": {"choices": {"hydra/sweeper": "othersweeper"}},
        "overrides": {"hydra": ["hydra.mode=MULTIRUN", "hydra.sweeper.num_points=200"],
                      "task": ["optimizer=prodigy", "sweep_name=search"]},
    }}))
    result = score_sweeps([root])
    cmds = selection.rerun_commands(selection.top_k(result.ranking, 1), result.runs, 2)
    assert cmds == [f"# trials [3] of {root}\nhpfree-train -m hydra/sweeper=othersweeper "
                    "hydra.sweeper.num_points=200 optimizer=prodigy sweep_name=search "
                    "'hydra.sweeper.trials=[3]' hydra.sweeper.seeds=2"]


# ------------------------------------------------------------------ tables and files


def test_report_files_tables_and_figures(pool, tmp_path):
    result = score_sweeps([pool])
    paths = write_report(result, tmp_path / "out", top_k=1)
    out = tmp_path / "out"
    for stem in ("leaderboard", "best_metrics", "ranking", "selection"):
        for ext in ("md", "csv", "tex"):
            assert (out / f"{stem}.{ext}").stat().st_size > 0, (stem, ext)
    for stem in ("profiles", "curves", "heatmap"):
        assert (out / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"
    assert paths["leaderboard"] == out / "leaderboard.md"
    md = (out / "leaderboard.md").read_text().splitlines()
    assert md[0] == "| rank | candidate | score | targets_hit | A | B | C |"
    assert md[2] == "|  |  |  |  | error_rate ≤ 0.1 | error_rate ≤ 0.1 | error_rate ≤ 0.1 |"
    assert md[3].startswith("| 1 | nadamw 50% ") and md[3].endswith(
        f"| {264.5 / 297:.3f} | 3/3 | 0.400 | 0.400 | 0.600 |")
    assert md[4].endswith(f"| {2 / 3:.3f} | 2/3 | 0.200 | 0.400 |  |")  # blank = missed
    csv = pd.read_csv(out / "leaderboard.csv")
    assert csv["score"].tolist() == pytest.approx([264.5 / 297, 2 / 3, 100 / 297])
    assert math.isinf(csv.loc[1, "C"])
    tex = (out / "leaderboard.tex").read_text()
    assert r"\toprule" in tex and r"error\_rate $\leq$ 0.1" in tex and "nadamw 50\\%" in tex
    best = pd.read_csv(out / "best_metrics.csv", index_col=0)
    assert best[best.index.str.startswith("adamw ")]["A"].min() == pytest.approx(0.01)
    # Z's diverged run on C: its best is the best finite evaluation before the blow-up.
    assert sorted(best[best.index.str.startswith("adamw ")]["C"]) == pytest.approx([0.3, 0.5])
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 9 and {"ttt_steps", "ttt_seconds", "fraction"} <= set(runs.columns)
    assert len(pd.read_csv(out / "ranking.csv")) == 2  # top-1 of each (optimizer, horizon)
    assert len(pd.read_csv(out / "profiles.csv", index_col=0).columns) == 100


def test_empty_or_missing_directory_is_an_error(tmp_path):
    with pytest.raises(ScoringError, match="no run records"):
        score_sweeps([tmp_path])
    with pytest.raises(ScoringError, match="no such directory"):
        score_sweeps([tmp_path / "nope"])
