"""``hpfree-score`` as a user runs it: errors, outputs, and sweep → scores → re-run → pick."""

from __future__ import annotations

import shlex

import pandas as pd
import pytest

from conftest import FAST, hpfree
from test_scoring import pool  # noqa: F401  (fixture)


@pytest.mark.parametrize("args,needle", [
    (["nope"], "nope: no such directory"),
    (["{empty}"], "no run records"),
    (["{pool}", "--time", "hours"], "argument --time: invalid choice: 'hours'"),
    (["{pool}", "--target", "A"], "expected WORKLOAD=VALUE"),
    (["{pool}", "--top-k", "0"], "'0' is not a positive integer"),
    (["{pool}", "--external", "missing.csv"], "--external missing.csv: no such file"),
], ids=["no-dir", "empty", "time", "target", "top-k", "external"])
def test_bad_input_is_one_line(pool, tmp_path, args, needle):  # noqa: F811
    (tmp_path / "empty").mkdir()
    args = [a.format(pool=pool, empty=tmp_path / "empty") for a in args]
    proc = hpfree([*args, "--out", str(tmp_path / "out")], tmp_path, tool="score")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("hpfree-score: error:"), proc.stderr
    assert needle in lines[0]
    assert not (tmp_path / "out").exists()


def test_leaderboard_files_and_rerun_script(pool, tmp_path):  # noqa: F811
    proc = hpfree([str(pool), "--out", str(tmp_path / "out"), "--top-k", "1", "--no-plots"],
                  tmp_path, tool="score", check=True)
    out = tmp_path / "out"
    board = (out / "leaderboard.md").read_text()
    assert board in proc.stdout
    assert board.splitlines()[3].startswith("| 1 | nadamw 50% ")
    assert "# Re-run them with 3 seeds" in proc.stdout
    script = (out / "rerun.sh").read_text()
    assert script.count("hpfree-train -m ") == 2 and "seed=0,1,2" in script
    assert not (out / "profiles.png").exists()  # --no-plots


@pytest.mark.slow
def test_smoke_sweep_to_profile_and_leaderboard_then_rerun_top_k(tmp_path):
    """The issue's 'done when': a real sweep → profile PNG + Markdown leaderboard, one command.

    Then the selection loop: the printed top-1 command re-runs the best candidate with two
    seeds (its seed-0 runs are reused), and ``--min-seeds 2`` scores just the re-run.
    """
    sweeps = tmp_path / "sweeps"
    hpfree(["-m", "optimizer=adamw,nadamw", "workload=digits_mlp", *FAST,
            "workload.target=0.5", f"sweeps_dir={sweeps}", "sweep_name=smoke"], tmp_path,
           check=True)
    proc = hpfree([str(sweeps / "smoke"), "--out", str(tmp_path / "scores"), "--top-k", "1",
                   "--seeds", "2"], tmp_path, tool="score", check=True)
    out = tmp_path / "scores"
    assert (out / "profiles.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "profiles.pdf").exists() and (out / "curves.png").exists()
    board = pd.read_csv(out / "leaderboard.csv")
    assert len(board) == 2 and board["score"].max() == pytest.approx(1.0, abs=0.05)
    assert set(board["targets_hit"]) == {1}  # an error rate of 0.5 is reached by both
    assert "| rank | candidate | score | targets_hit | digits_mlp |" in proc.stdout
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 2 and (runs["ttt_steps"] == 40).all()  # first evaluation reaches 0.5

    cmds = [ln for ln in (out / "rerun.sh").read_text().splitlines()
            if ln.startswith("hpfree-train")]
    best = board.iloc[0]["candidate"].split()[0]
    first = next(c for c in cmds if f"optimizer={best}" in c)
    assert "seed=0,1" in first and "workload=digits_mlp" in first
    rerun = hpfree(shlex.split(first)[1:], tmp_path, check=True)
    assert rerun.stdout.count("already completed") == 1  # the seed-0 run is reused
    proc = hpfree([str(sweeps / "smoke"), "--out", str(tmp_path / "final"), "--min-seeds", "2",
                   "--no-plots"], tmp_path, tool="score", check=True)
    assert "left out 1 candidates with fewer seeds" in proc.stderr
    final = pd.read_csv(tmp_path / "final" / "leaderboard.csv")
    assert len(final) == 1 and final.iloc[0]["candidate"].startswith(best)
    assert len(pd.read_csv(tmp_path / "final" / "runs.csv")) == 2  # 2 seeds
