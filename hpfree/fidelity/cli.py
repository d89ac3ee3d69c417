"""``hpfree-fidelity``: does a suite of small workloads tell the study's story?

    hpfree-fidelity                          # suite=mini: 72 naive runs + 3 NadamW seeds each
    hpfree-fidelity suite=smoke 'counterparts=["digits_cnn:imagenet_resnet","digits_mlp:imagenet_vit"]'
    hpfree-fidelity stages=[report]          # rewrite the report from the runs that are final

Runs the study's naive protocol (``hpfree-reproduce``'s naive stage) and the calibrated
NadamW baseline's seeds, then writes ``docs/fidelity.md`` (+ CSV and a plot).  Re-running
the same command continues where it stopped.
"""

from __future__ import annotations

import shlex
import sys
from typing import Optional

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from hpfree.errors import ConfigError
from hpfree.fidelity.protocol import Fidelity, FidelityConfig

ConfigStore.instance().store(name="base_fidelity", node=FidelityConfig)
_ARGV: list[str] = []

# One line for `hpfree-train --help`'s list of commands.
SUMMARY = "the study's naive protocol on a suite vs its Table 4: ranks, collapses, hits, noise"


def _run(cfg: FidelityConfig, command: str) -> None:
    from hpfree.fidelity import compare, report
    from hpfree.records import versions

    job = Fidelity(cfg, command)
    counterparts = job.counterparts()
    if not counterparts:
        raise ConfigError(f"suite={cfg.suite}: no workload has a counterpart in the study; "
                          "name them with 'counterparts=[\"WORKLOAD:STUDY_WORKLOAD\"]'")
    if "runs" in cfg.stages:
        job.run()
    if "report" in cfg.stages:
        naive, seeds = job.results()
        targets = dict(compare.targets_of(list(counterparts)))
        found = report.build(naive, seeds, counterparts, cfg.naive, targets, cfg.seeds,
                             compare.validation_sizes(list(counterparts)))
        path = report.write(found, cfg.report, command,
                            ", ".join(f"{k} {v}" for k, v in versions().items()))
        t = found.totals
        print(f"[fidelity] mean rho {t.mean_rho:+.2f}; collapses reproduced {t.reproduced}/"
              f"{t.study_collapses}, extra {t.extra}; naive hits {t.mini_hits}/{t.cells} "
              f"(study {t.study_hits}); report: {path}", flush=True)


@hydra.main(config_path=None, config_name="base_fidelity", version_base=None)
def task(cfg: DictConfig) -> None:
    command = "hpfree-fidelity " + " ".join(shlex.quote(a) for a in _ARGV)
    try:
        fcfg: FidelityConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
        _run(fcfg, command.strip())
    except (ConfigError, ValueError) as exc:
        print(f"hpfree-fidelity: error: {exc}", file=sys.stderr)
        sys.exit(2)


def main(argv: Optional[list[str]] = None) -> None:
    global _ARGV
    _ARGV = sys.argv[1:] if argv is None else list(argv)
    sys.argv = [sys.argv[0], *_ARGV, "hydra.run.dir=${root}/.fidelity",
                "hydra.output_subdir=null", "hydra.job.name=hpfree-fidelity",
                "hydra/job_logging=none", "hydra/hydra_logging=none"]
    task()


if __name__ == "__main__":
    main()
