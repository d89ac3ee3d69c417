"""Kill a real training process and resume it: the curve and final parameters are bit-identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import cli_env, hpfree
from hpfree import records

ARGS = ["optimizer=nadamw", "horizon=h100", "workload.max_steps=1200",
        "workload.eval_every=20", "progress=false",
        "runner.checkpoint_every_s=0"]
CURVE_COLS = ["step", "train_loss", "lr", "validation/loss", "validation/error_rate"]


def start(runs: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "hpfree.cli.train", *ARGS, f"runs_dir={runs}"]
    return subprocess.Popen(cmd, cwd=runs.parent, env=cli_env(runs.parent),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_rows(runs: Path, n: int, proc: subprocess.Popen, timeout: float = 300) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for curve in runs.rglob("curve.csv"):
            if len(curve.read_text().splitlines()) - 1 >= n and (curve.parent / "checkpoint.npz").exists():
                return curve.parent
        if proc.poll() is not None:
            raise AssertionError(f"run ended before it could be interrupted:\n{proc.stdout.read()}")
        time.sleep(0.05)
    raise AssertionError("run made no progress")


def final_leaves(run_dir: Path) -> list[np.ndarray]:
    with np.load(run_dir / "checkpoint.npz") as z:
        return [z[k] for k in sorted(z.files) if k.startswith("leaf_")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reference")
    hpfree([*ARGS, f"runs_dir={root}/runs"], root, check=True)
    return next((root / "runs").rglob("record.json")).parent


def assert_same_run(a: Path, b: Path) -> None:
    ca = pd.read_csv(a / "curve.csv")[CURVE_COLS]
    cb = pd.read_csv(b / "curve.csv")[CURVE_COLS]
    pd.testing.assert_frame_equal(ca, cb, check_exact=True)
    la, lb = final_leaves(a), final_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(x, y)


@pytest.mark.slow
def test_sigkill_then_rerun_resumes_bit_identically(tmp_path, reference):
    runs = tmp_path / "runs"
    runs.mkdir()
    proc = start(runs)
    run_dir = wait_for_rows(runs, 15, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rows_at_kill = len(pd.read_csv(run_dir / "curve.csv"))
    assert rows_at_kill < 60
    assert records.load(run_dir) is None or records.load(run_dir).status not in records.FINAL_STATUSES
    hpfree([*ARGS, f"runs_dir={runs}"], tmp_path, check=True)
    rec = records.load(run_dir)
    assert rec.status == "completed" and rec.steps == 1200
    assert rec.preemptions == 1
    assert_same_run(reference, run_dir)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR2])
def test_stop_signal_checkpoints_and_exits_cleanly(tmp_path, reference, sig):
    runs = tmp_path / "runs"
    runs.mkdir()
    proc = start(runs)
    run_dir = wait_for_rows(runs, 10, proc)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    rec = records.load(run_dir)
    assert rec.status == "preempted", out
    assert (run_dir / "checkpoint.npz").exists()
    assert len(pd.read_csv(run_dir / "curve.csv")) == rec.steps // 20
    hpfree([*ARGS, f"runs_dir={runs}"], tmp_path, check=True)
    assert records.load(run_dir).status == "completed"
    assert_same_run(reference, run_dir)


WRITER = """
import sys
from hpfree.io import atomic_write_json
i = 0
while True:
    atomic_write_json(sys.argv[1], {"i": i, "payload": "x" * 2_000_000})
    i += 1
"""


def test_killed_writer_never_leaves_partial_record(tmp_path):
    target = tmp_path / "record.json"
    for delay in (0.3, 0.55, 0.8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)])
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if target.exists():
            import json

            data = json.loads(target.read_text())  # complete JSON or nothing
            assert len(data["payload"]) == 2_000_000
