"""``hpfree-train``: one run, a multirun (``-m``), or a search (``-m hydra/sweeper=quasirandom``).

Every job is validated before anything starts (see ``hpfree.preflight``); a bad value gets one
line on stderr and exit code 2.  Then Hydra takes over: it composes the config from
``conf/`` (shipped inside the package), names the run directory by content and calls
:func:`task`, which runs, resumes or skips the run and prints where its record is.  Exit
code 1 when a run failed (``hpfree.cli.common``, docs/faults.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from hpfree import outcome
from hpfree.cli import common
from hpfree.errors import ConfigError
from hpfree.run_naming import register_resolver
from hpfree.validation import register_configs

register_configs()
register_resolver()

_NO_PREFLIGHT = {"--hydra-help", "--version", "--cfg", "-c", "--info", "-i",
                 "--shell-completion", "-sc", "--resolve", "--package", "-p"}

# One line for `hpfree-train --help`'s list of commands.
SUMMARY = "train one run, a multirun (-m) or a quasi-random search"


@hydra.main(config_path="pkg://hpfree.conf", config_name="config", version_base=None)
def task(cfg: DictConfig) -> Optional[float]:
    """Hydra task function: returns the run's time-to-target in steps (None if missed)."""
    from hpfree import train

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    with common.reporting("hpfree-train"):
        if cfg.get("batch_with"):  # a trial batch of a search (runner.trial_batch)
            from hpfree import trial_batch

            record = trial_batch.run(cfg, run_dir)
        else:
            record = train.run(cfg, run_dir)
    failed = record.status == "failed"
    print(train.summary(record, run_dir), flush=True, file=sys.stderr if failed else sys.stdout)
    return record.ttt_steps


def _split_argv(argv: list[str]) -> tuple[list[str], bool, bool]:
    overrides, multirun, skip = [], False, False
    it = iter(argv)
    for a in it:
        if a in ("-m", "--multirun"):
            multirun = True
        elif a in _NO_PREFLIGHT or a.startswith("--config") or a.startswith("-c"):
            skip = True
        elif a in ("--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                   "--experimental-rerun"):
            skip = True
            next(it, None)
        elif not a.startswith("-"):
            overrides.append(a)
    return overrides, multirun, skip


def main(argv: Optional[list[str]] = None) -> None:
    common.run("hpfree-train", _main, argv)


def _main(argv: list[str]) -> int:
    argv = common.without_debug(argv)
    if "--help" in argv or "-h" in argv:
        from hpfree.cli.help import page

        print(page())
        return outcome.OK
    overrides, multirun, skip = _split_argv(argv)
    presets = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] == "experiment"]
    if presets:
        value = presets[0].split("=", 1)[-1]
        raise ConfigError(f"{presets[0]} is a preset of the paper's protocol: run it with "
                          f"hpfree-reproduce experiment={value} (hpfree-reproduce --help)")
    if not skip:
        from hpfree.preflight import check_command_line

        check_command_line(overrides, multirun)
    sys.argv = [sys.argv[0], *argv]
    task()
    # 0: every run completed, diverged or was stopped to resume; 1: some run failed.
    return outcome.exit_code()


if __name__ == "__main__":
    main()
