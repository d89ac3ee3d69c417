"""One run end to end through the real CLI: record schema, determinism, skip, divergence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from conftest import FAST, hpfree
from hpfree import records

CURVE_COLS = ["step", "train_loss", "lr", "validation/loss", "validation/error_rate"]


def only_record(root: Path) -> Path:
    found = list(root.rglob("record.json"))
    assert len(found) == 1, found
    return found[0].parent


def test_default_run_writes_complete_record(workdir):
    proc = hpfree([*FAST, f"runs_dir={workdir}/runs"], workdir, check=True)
    run_dir = only_record(workdir / "runs")
    assert f"record: {run_dir / 'record.json'}" in proc.stdout
    assert "target" in proc.stdout
    data = json.loads((run_dir / "record.json").read_text())
    for key in ("run_id", "status", "workload", "optimizer", "horizon", "seed", "metric",
                "target", "direction", "max_steps", "steps", "ttt_steps", "ttt_seconds",
                "best_metric", "final_metric", "train_seconds", "eval_seconds", "config",
                "versions", "host", "started_at", "finished_at", "reached_target",
                "schema_version", "preemptions"):
        assert key in data, key
    assert data["status"] == "completed"
    assert data["optimizer"] == "nadamw" and data["workload"] == "digits_mlp"
    # h66 of 120 steps = 79 steps (the schedule stops the run at its horizon)
    assert data["steps"] == 79
    assert data["config"]["optimizer"]["name"] == "nadamw"
    assert data["versions"]["jax"]
    assert data["train_seconds"] > 0
    assert data["reached_target"] == (data["ttt_steps"] is not None)
    curve = pd.read_csv(run_dir / "curve.csv")
    assert list(curve["step"]) == [40, 79]
    assert (run_dir / "config.yaml").exists() and (run_dir / ".hydra" / "config.yaml").exists()
    rec = records.load(run_dir)
    assert rec.best_metric == min(curve["validation/error_rate"])
    assert rec.final_metric == curve["validation/error_rate"].iloc[-1]


def test_same_config_and_seed_give_same_curve(workdir):
    args = [*FAST, "optimizer=adamw", "horizon=h100"]
    hpfree([*args, f"runs_dir={workdir}/a"], workdir, check=True)
    hpfree([*args, f"runs_dir={workdir}/b"], workdir, check=True)
    hpfree([*args, "seed=1", f"runs_dir={workdir}/c"], workdir, check=True)
    a = pd.read_csv(only_record(workdir / "a") / "curve.csv")[CURVE_COLS]
    b = pd.read_csv(only_record(workdir / "b") / "curve.csv")[CURVE_COLS]
    c = pd.read_csv(only_record(workdir / "c") / "curve.csv")[CURVE_COLS]
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not a.equals(c)


def test_rerun_skips_completed_record_and_force_reruns(workdir):
    args = [*FAST, f"runs_dir={workdir}/runs"]
    hpfree(args, workdir, check=True)
    run_dir = only_record(workdir / "runs")
    before = (run_dir / "record.json").read_bytes()
    mtime = (run_dir / "record.json").stat().st_mtime_ns
    proc = hpfree(args, workdir, check=True)
    assert "already completed" in proc.stdout
    assert (run_dir / "record.json").read_bytes() == before
    assert (run_dir / "record.json").stat().st_mtime_ns == mtime
    hpfree([*args, "force=true"], workdir, check=True)
    assert (run_dir / "record.json").stat().st_mtime_ns != mtime


def test_diverging_run_is_recorded_and_exits_zero(workdir):
    proc = hpfree([*FAST, "optimizer=adamw", "optimizer.learning_rate=1e30", "schedule=constant",
                   "regularization=none", f"runs_dir={workdir}/runs"], workdir)
    assert proc.returncode == 0, proc.stderr
    rec = records.load(only_record(workdir / "runs"))
    assert rec.status == "diverged"
    assert rec.steps == 40  # stopped at the first evaluation after the blow-up
    assert rec.ttt_steps is None and rec.best_metric is None


def test_multirun_runs_every_combination(workdir):
    proc = hpfree(["-m", "optimizer=adamw,prodigy", "horizon=h33,h66", *FAST,
                   f"sweeps_dir={workdir}/sweeps", "sweep_name=grid"], workdir, check=True)
    table = records.load_records([workdir / "sweeps" / "grid"])
    assert len(table) == 4, proc.stdout
    assert set(zip(table.optimizer, table.horizon)) == {
        ("adamw", 0.33), ("adamw", 0.66), ("prodigy", 0.33), ("prodigy", 0.66)}
    assert set(table.status) == {"completed"}
    assert all(math.isfinite(x) for x in table.train_seconds)


def test_records_serialise_without_nan(workdir, tmp_path):
    rec = records.RunRecord(run_id="x", status="completed", runner="embedded", workload="w",
                            optimizer="o", horizon=0.5, seed=0, metric="m", target=1.0,
                            direction="min", max_steps=10, best_metric=float("nan"))
    records.write(tmp_path, rec)
    assert json.loads((tmp_path / "record.json").read_text())["best_metric"] is None
    with pytest.raises(TypeError):
        records.RunRecord(run_id="x")  # identity fields are required
