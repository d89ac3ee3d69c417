"""Every preset of ``conf/experiment/`` composes and validates at every stage, for every
algorithm it names (``hpfree-reproduce experiment=X dry_run=true``), training nothing.

This is what caught ``paper_full`` giving DoG and COCOB a search space with betas they do
not have; now each optimizer's spec declares its space (``search_space=auto``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import hpfree.cli.reproduce  # noqa: F401  (stores the reproduce schema)
from conftest import REPO, hpfree
from hpfree.errors import ConfigError
from hpfree.reproduce import Reproduction

PRESETS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))


def preset(name: str, *overrides: str):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="hpfree.conf", version_base=None):
            return OmegaConf.to_object(compose(config_name="reproduce",
                                               overrides=[f"experiment={name}", *overrides]))
    finally:
        GlobalHydra.instance().clear()


@pytest.mark.slow
@pytest.mark.parametrize("name", PRESETS)
def test_every_stage_of_every_preset_composes_and_validates(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = preset(name)
    lines: list[str] = []
    n = Reproduction(cfg, "test").dry_run(max_points=1, log=lines.append)
    assert n > 0
    stages = {line.split("stage ")[1].split(":")[0] for line in lines}
    assert stages == {"naive", "search", "select"} & set(cfg.stages)
    searched = " ".join(line for line in lines if "stage search" in line)
    for algo in cfg.algorithms:
        for horizon in cfg.horizons:
            assert f"optimizer={algo} horizon={horizon}" in searched
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_preset_with_a_bad_search_space_fails_its_dry_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = preset("smoke", "algorithms=[dog]", "horizons=[h33]", "stages=[search]",
                 "+search_spaces.dog=lr_free")
    with pytest.raises(ConfigError, match="stage search.*knob optimizer.b1 does not exist"):
        Reproduction(cfg, "test").dry_run(max_points=1, log=lambda m: None)


@pytest.mark.slow
def test_the_cli_dry_run_is_one_line_on_failure_and_writes_nothing(tmp_path):
    ok = hpfree(["experiment=smoke", "dry_run=true"], tmp_path, tool="reproduce")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "nothing was trained" in ok.stdout
    bad = hpfree(["experiment=smoke", "dry_run=true", "algorithms=[nosuchopt]"], tmp_path,
                 tool="reproduce")
    assert bad.returncode == 2 and "optimizer/nosuchopt" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert not list(Path(tmp_path).iterdir())


def test_a_search_over_a_suite_of_another_runner_passes_the_command_line_check():
    # hpfree-train checks a search's fixed overrides before the sweeper starts; on a suite
    # whose workloads need runner=algoperf that check once composed the default workload
    # (digits_mlp, runner=embedded) and refused paper_full's search stage. Each of the
    # suite's workloads is checked instead.
    from hpfree.preflight import check_command_line

    args = ["hydra/sweeper=quasirandom", "search_space=auto", "hydra.sweeper.num_points=2",
            "optimizer=nadamw", "horizon=h66", "suite=algoperf_generated", "runner=algoperf"]
    assert check_command_line(args, multirun=True) == 8
    with pytest.raises(ConfigError, match="runs with runner=algoperf, not runner=embedded"):
        check_command_line([*args[:-1], "runner=embedded"], multirun=True)
