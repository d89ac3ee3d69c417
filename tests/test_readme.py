"""README: its first two lines are the set-up commands CI runs, and its quick start works as
written, command after command, in an empty directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, cli_env

README = (REPO / "README.md").read_text()


def quick_start() -> list[str]:
    section = README.split("## Quick start", 1)[1]
    (block,) = re.findall(r"```bash\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_is_short_and_starts_with_the_two_commands():
    lines = README.splitlines()
    assert lines[0].strip() == "pip install -e . && hpfree-train"
    assert lines[1].strip() == "pip install -e '.[test]' && pytest -q"
    assert len(lines) <= 250
    for link in re.findall(r"\]\(((?:docs/)[^)#]+)", README):
        assert (REPO / link).exists(), link


@pytest.mark.slow
def test_quick_start_runs_verbatim(tmp_path):
    env = cli_env(tmp_path)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    commands = quick_start()
    assert len(commands) >= 4 and commands[0].startswith("hpfree-train")
    for command in commands:
        proc = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert len(list((tmp_path / "sweeps" / "quickstart").rglob("record.json"))) == 4
    assert (tmp_path / "scores" / "quickstart" / "leaderboard.csv").exists()
