"""``hpfree-reproduce``: the paper's four-stage protocol at any scale (``hpfree.reproduce``).

    hpfree-reproduce experiment=laptop
    hpfree-reproduce experiment=smoke num_points=4 report=docs/smoke-report
    hpfree-reproduce experiment=paper_full launcher=slurm

Re-running the same command continues where it stopped.
"""

from __future__ import annotations

import shlex
import sys
from typing import Optional

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from hpfree.errors import ConfigError
from hpfree.reproduce import ReproduceConfig, Reproduction

ConfigStore.instance().store(name="base_reproduce", node=ReproduceConfig)
_ARGV: list[str] = []

# One line for `hpfree-train --help`'s list of commands.
SUMMARY = "the paper's protocol (naive, search, top-k re-runs, leaderboard) at any scale"


@hydra.main(config_path="pkg://hpfree.conf", config_name="reproduce", version_base=None)
def task(cfg: DictConfig) -> None:
    try:
        rcfg: ReproduceConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    except (ConfigError, ValueError) as exc:
        print(f"hpfree-reproduce: error: {exc}", file=sys.stderr)
        sys.exit(2)
    command = "hpfree-reproduce " + " ".join(shlex.quote(a) for a in _ARGV)
    report = Reproduction(rcfg, command.strip()).run()
    print(f"[reproduce] report: {report / 'README.md'}")


def main(argv: Optional[list[str]] = None) -> None:
    global _ARGV
    _ARGV = sys.argv[1:] if argv is None else list(argv)
    sys.argv = [sys.argv[0], *_ARGV]
    task()


if __name__ == "__main__":
    main()
