"""A regular (non-editable) install finds its configs and plugins from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, cli_env


@pytest.mark.slow
def test_wheel_install_runs_from_any_directory(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(wheels), str(REPO)], check=True, capture_output=True)
    (wheel,) = wheels.glob("hpfree-*.whl")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    assert (target / "hpfree" / "conf" / "config.yaml").is_file()  # configs travel along
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = cli_env(elsewhere)
    env["PYTHONPATH"] = str(target)  # the wheel's hpfree shadows the editable checkout
    code = ("import hpfree, sys; site = sys.argv.pop(1);"
            "assert hpfree.__file__.startswith(site), hpfree.__file__;"
            "from hpfree.cli.train import main; main()")
    proc = subprocess.run([sys.executable, "-c", code, str(target), "workload.max_steps=60",
                           "workload.eval_every=30", "progress=false"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list((elsewhere / "runs").rglob("record.json"))
