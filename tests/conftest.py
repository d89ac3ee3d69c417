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
