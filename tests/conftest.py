"""Shared test helpers: run the real CLI in a subprocess with a private JAX cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Generated data sets are cached on disk (hpfree.workloads.datacache): the tests keep theirs
# apart from the user's.
TEST_DATA_CACHE = str(Path.home() / ".cache" / "hpfree" / "data-tests")
os.environ.setdefault("HPFREE_CACHE", TEST_DATA_CACHE)
# Tiny budgets so a run takes a second or two.
FAST = ["workload.max_steps=120", "workload.eval_every=40", "progress=false"]


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HPFREE_JAX_CACHE", str(Path.home() / ".cache" / "hpfree" / "jax-tests"))
    env.setdefault("HPFREE_CACHE", TEST_DATA_CACHE)
    env["JAX_PLATFORMS"] = "cpu"
    env["HYDRA_FULL_ERROR"] = "0"
    return env


def hpfree(args: list[str], cwd: Path, tool: str = "train", check: bool = False,
           timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``hpfree-<tool> ARGS`` as a user would (via ``python -m`` for the venv's python)."""
    cmd = [sys.executable, "-m", f"hpfree.cli.{tool}", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=cli_env(cwd), capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def preempt_and_resume():
    """``run(cfg, run_dir, stop_after)``: an AlgoPerf run stopped by SIGTERM (what SLURM or a
    TPU preemption sends) right after its ``stop_after``-th evaluation, then run again in the
    same directory.  Checks the first is recorded ``preempted`` at that evaluation and the
    second ``completed`` with one preemption; returns ``(first, second, evaluation steps of the
    first run)`` for the workload-specific checks of AlgoPerf's own measurements."""
    import signal

    from hpfree import train
    from hpfree.runners import algoperf as ap

    def run(cfg, run_dir: Path, stop_after: int):
        calls: list[int] = []

        def stop(row):
            calls.append(row["step"])
            if len(calls) == stop_after:
                os.kill(os.getpid(), signal.SIGTERM)

        first = ap.run(cfg, run_dir, train.new_record(cfg, run_dir), handle_signals=True,
                       on_eval=stop)
        assert first.status == "preempted" and first.steps == calls[stop_after - 1]
        second = ap.run(cfg, run_dir, train.new_record(cfg, run_dir), handle_signals=True)
        assert second.status == "completed", second.error
        assert second.preemptions == 1
        return first, second, calls

    return run
