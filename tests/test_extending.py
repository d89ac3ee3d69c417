"""docs/extending.md is a working plug-in package: install it and use it like a built-in.

The files of the page (each code block headed by **File `path`:**) are written into a
temporary directory and installed with pip into a private target directory (so the test
environment's own registries stay untouched); the CLI then runs with that directory on
``PYTHONPATH``: a training run with a plug-in knob from the shell, a quasi-random search over
the space the plug-in's spec declares (``search_space=auto``), and a score of that search.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, cli_env

DOC = REPO / "docs" / "extending.md"


def doc_files(text: str) -> dict[str, str]:
    """``{path: content}`` of every block headed by **File `path`:** in the page."""
    pattern = re.compile(r"\*\*File `([^`]+)`:\*\*\s*\n+```[a-z]*\n(.*?)```", re.S)
    return {path: body for path, body in pattern.findall(text)}


def test_the_page_holds_a_complete_package():
    files = doc_files(DOC.read_text())
    assert set(files) == {"pyproject.toml", "hpfree_demo_plugin/__init__.py",
                          "hpfree_demo_plugin/signum.py", "hpfree_demo_plugin/regression.py"}


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin")
    pkg = root / "hpfree-demo-plugin"
    for rel, body in doc_files(DOC.read_text()).items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(body)
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(pkg)],
                   check=True, capture_output=True, text=True)
    env = cli_env(root)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return root, env


def run(tool: str, args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"hpfree.cli.{tool}", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_an_installed_plugin_trains_searches_and_scores_like_a_builtin(plugin_env):
    root, env = plugin_env
    work = root / "work"
    work.mkdir()
    one = run("train", ["optimizer=signum", "optimizer.beta=0.95", "workload=demo_regression",
                        "progress=false"], work, env)
    assert one.returncode == 0, one.stdout + one.stderr
    (record,) = (work / "runs" / "demo_regression").rglob("record.json")
    assert '"optimizer": "signum"' in record.read_text()
    assert '"beta": 0.95' in record.read_text()

    search = run("train", ["-m", "search_space=auto", "optimizer=signum",
                           "workload=demo_regression", "hydra.sweeper.num_points=3",
                           "sweep_name=signum-demo", "progress=false"], work, env)
    assert search.returncode == 0, search.stdout + search.stderr
    sweep = work / "sweeps" / "signum-demo"
    assert len(list(sweep.rglob("record.json"))) == 3
    manifest = (sweep / "manifest.json").read_text()
    assert "one_minus_beta" in manifest and "optimizer.beta" in manifest  # the spec's space

    score = run("score", [str(sweep), "--out", str(work / "scores")], work, env)
    assert score.returncode == 0, score.stdout + score.stderr
    assert (work / "scores" / "leaderboard.csv").exists()

    status = run("status", [str(sweep)], work, env)
    assert status.returncode == 0 and "completed  3" in status.stdout


@pytest.mark.slow
def test_plugin_knobs_are_validated_and_listed(plugin_env):
    root, env = plugin_env
    bad = run("train", ["optimizer=signum", "optimizer.beta=1.5", "workload=demo_regression"],
              root, env)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "hpfree-train: error: optimizer.beta=1.5 is outside [0, 1)"
    page = run("train", ["--help"], root, env)
    assert "signum" in page.stdout and "demo_regression" in page.stdout
