"""``hpfree-reproduce``: the paper's four-stage protocol at any scale (``hpfree.reproduce``).

    hpfree-reproduce experiment=laptop
    hpfree-reproduce experiment=smoke num_points=4 report=docs/smoke-report
    hpfree-reproduce experiment=paper_full launcher=slurm
    hpfree-reproduce experiment=paper_full dry_run=true    # validate every stage, train nothing

Re-running the same command continues where it stopped.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
from typing import Optional

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from hpfree import outcome
from hpfree.cli import common
from hpfree.errors import ConfigError
from hpfree.reproduce import ReproduceConfig, Reproduction

ConfigStore.instance().store(name="base_reproduce", node=ReproduceConfig)
_ARGV: list[str] = []

# One line for `hpfree-train --help`'s list of commands.
SUMMARY = "the paper's protocol (naive, search, top-k re-runs, leaderboard) at any scale"


@hydra.main(config_path="pkg://hpfree.conf", config_name="reproduce", version_base=None)
def task(cfg: DictConfig) -> None:
    with common.reporting("hpfree-reproduce"):
        _task(cfg)


def _task(cfg: DictConfig) -> None:
    try:
        rcfg: ReproduceConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    except ValueError as exc:  # a range check or OmegaConf's validation: one line
        from hpfree.preflight import one_line

        raise ConfigError(one_line(exc)) from None
    command = "hpfree-reproduce " + " ".join(shlex.quote(a) for a in _ARGV)
    if rcfg.dry_run:
        n = Reproduction(rcfg, command.strip()).dry_run()
        print(f"[reproduce] dry run: {n} jobs of every stage compose and validate; "
              "nothing was trained")
        return
    report = Reproduction(rcfg, command.strip()).run()
    print(f"[reproduce] report: {report / 'README.md'}")


def main(argv: Optional[list[str]] = None) -> None:
    common.run("hpfree-reproduce", _main, argv)


def _main(argv: list[str]) -> int:
    global _ARGV
    _ARGV = common.without_debug(argv)
    extra: list[str] = []
    scratch = None
    if any(a.lower() in ("dry_run=true", "+dry_run=true") for a in _ARGV):
        # A dry run writes nothing: Hydra's own run directory goes to a scratch directory.
        scratch = tempfile.mkdtemp(prefix="hpfree-reproduce-dry-run-")
        extra = [f"hydra.run.dir={scratch}"]
    sys.argv = [sys.argv[0], *_ARGV, *extra]
    try:
        task()
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return outcome.exit_code()

if __name__ == "__main__":
    main()
