"""The paper's protocol at smoke scale, end to end through the real CLIs (issue: reproduce)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import hpfree
from hpfree import records

TINY = '["workload.max_steps=40","workload.eval_every=20"]'


def test_bad_scale_knob_is_one_line(workdir):
    proc = hpfree(["experiment=smoke", "num_points=0", f"root={workdir}/exp"], workdir,
                  tool="reproduce")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["hpfree-reproduce: error: num_points=0 must be >= 1"]
    assert not (workdir / "exp" / "naive").exists()


@pytest.mark.slow
def test_smoke_reproduction_produces_report_and_resumes(workdir):
    # One horizon instead of the preset's two: half the searches, the same stages and checks
    # (the dry-run tests compose every horizon of every preset).
    args = ["experiment=smoke", "horizons=[h66]", f"root={workdir}/exp", f"overrides={TINY}"]
    proc = hpfree(args, workdir, tool="reproduce", timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    exp, report = workdir / "exp", workdir / "exp" / "report"
    for stage in ("naive", "search", "select"):
        assert (exp / stage / "stage.json").exists(), stage
    table = records.load_records([exp])
    assert set(table.status) <= set(records.FINAL_STATUSES)
    # smoke: 2 workloads; naive 2 LR-free + 1 baseline; search 2 algos x 1 horizon x 4 points;
    # top-2 of each search re-run with 2 fresh seeds.
    assert (table.sweep.isna() | (table.trial.isna())).sum() == 3 * 2
    search = table[table.trial.notna()]
    assert len(search[search.seed_index == 0]) == 2 * 1 * 4 * 2
    reruns = search[search.seed_index >= 1]
    assert len(reruns) == 2 * 1 * 2 * 2 * 2
    assert reruns.groupby("sweep").trial.nunique().tolist() == [2, 2]
    summary = (report / "README.md").read_text()
    assert "hpfree-reproduce experiment=smoke" in summary and "jax" in summary
    for part in ("naive/leaderboard.md", "naive/best_metrics.tex", "select/selection.md",
                 "leaderboard/leaderboard.md", "leaderboard/leaderboard.csv",
                 "leaderboard/profiles.png", "leaderboard/profiles.pdf"):
        assert (report / part).exists(), part
    board = pd.read_csv(report / "leaderboard" / "leaderboard.csv")
    assert len(board) == 2 * 1 + 1  # one per (algorithm, horizon) + the NadamW baseline
    mtimes = {p: p.stat().st_mtime_ns for p in exp.rglob("record.json")}
    again = hpfree(args, workdir, tool="reproduce", timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "hpfree-train" not in again.stdout  # every stage was skipped
    assert {p: p.stat().st_mtime_ns for p in exp.rglob("record.json")} == mtimes
    assert json.loads((exp / "select" / "stage.json").read_text())["top"]

    def hits(part):
        column = pd.read_csv(report / part / "leaderboard.csv").targets_hit.astype(str)
        return column.str.split("/").str[0].astype(int)

    reached = hits("select")
    # The workloads changed since (here: evaluated more often) and were recalibrated (an
    # error rate of at most 1: reached at once). Each finished stage says so in one line and
    # how to re-run it; nothing is re-run or lost by itself; every stage, search trials
    # included (their runs keep the target they were trained with), is scored against
    # today's targets.
    changed = ["experiment=smoke", "horizons=[h66]", f"root={workdir}/exp",
               'overrides=["workload.max_steps=40","workload.eval_every=10",'
               '"workload.target=1.0"]']
    third = hpfree(changed, workdir, tool="reproduce", timeout=600)
    assert third.returncode == 0, third.stderr[-2000:]
    lines = [l for l in third.stdout.splitlines() if "holds runs of an older config" in l]
    assert [l.split()[2] for l in lines] == ["naive", "search", "select"], third.stdout[-2000:]
    assert all("digits_cnn, digits_mlp" in l and "stage.json" in l for l in lines)
    assert "hpfree-train" not in third.stdout
    assert {p: p.stat().st_mtime_ns for p in exp.rglob("record.json")} == mtimes
    for part in ("select", "leaderboard", "naive"):
        assert (hits(part) == 2).all(), (part, hits(part))
    assert (reached < 2).all()  # 40 steps reach few of the real targets


def test_stage_is_done_although_a_run_of_an_older_workload_config_never_finished(workdir):
    """A run killed before its workload changed is never resumed by today's commands: it
    must not keep the stage open (before, every re-run said '1 runs not final yet')."""
    from hpfree.reproduce import ReproduceConfig, Reproduction, workload_config

    now = dict(workload_config("digits_mlp"))

    def run(name, status, eval_every):
        rec = records.RunRecord(
            run_id=name, status=status, runner="embedded", workload="digits_mlp",
            optimizer="prodigy", horizon=1.0, seed=0, metric="error_rate", target=0.5,
            direction="min", max_steps=now["max_steps"],
            config={"workload": {**now, "eval_every": eval_every}})
        records.write(workdir / "exp" / "naive" / name, rec)

    rep = Reproduction(ReproduceConfig(root=str(workdir / "exp")), command="test")
    run("current", "completed", now["eval_every"])
    run("older", "running", now["eval_every"] + 1)
    rep.mark_done("naive", [workdir / "exp" / "naive"])
    assert rep.done("naive")["runs"] == 1
    (workdir / "exp" / "naive" / "stage.json").unlink()
    run("current-unfinished", "preempted", now["eval_every"])
    rep.mark_done("naive", [workdir / "exp" / "naive"])
    assert rep.done("naive") is None
