"""Check every job of a command line before any work starts.

Hydra validates structure (unknown group options, misspelled keys, wrong types) when it
composes; our dataclasses add range checks (``__post_init__``).  Hydra would report a bad job
only when it reaches it — after earlier jobs ran and output directories were made — and with
a traceback hint.  ``check_command_line`` composes every job of a run or basic multirun up
front and raises :class:`ConfigError` with one line for the first bad one.
"""

from __future__ import annotations

import copy
import re
from typing import Iterable

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf, open_dict, read_write

from hpfree.errors import ConfigError
from hpfree.validation import register_configs, validate
from hpfree.run_naming import register_resolver

CONFIG_MODULE = "hpfree.conf"
CONFIG_NAME = "config"


def one_line(exc: BaseException) -> str:
    """Condense Hydra/OmegaConf's multi-line errors into one line."""
    parts: list[str] = []
    e: BaseException | None = exc
    while e is not None:
        text = str(e)
        lines = [ln.strip() for ln in text.splitlines()]
        keep = []
        options: list[str] = []
        for ln in lines:
            if ln.startswith("Config search path"):
                break
            if ln.startswith("base_"):  # schemas, not user-facing choices
                continue
            if not ln or ln.startswith(("full_key", "object_type", "To append", "reference_type")):
                continue
            if ln.startswith("Available options"):
                keep.append("available:")
                continue
            if keep and keep[-1] == "available:" or options:
                options.append(ln)
                continue
            keep.append(ln)
        if options:
            keep[-1] = "available: " + ", ".join(options)
        msg = " ".join(keep)
        if msg and msg not in parts:
            parts.append(msg)
        e = e.__cause__ or (e.__context__ if not e.__suppress_context__ else None)
    out = "; ".join(parts) or type(exc).__name__
    out = out.replace("In 'config': ", "").replace(".;", ";")
    return re.sub(r"\s+", " ", out)


def without_hydra(cfg):
    """The task's config (Hydra's node removed), keeping its structured type."""
    task = copy.deepcopy(cfg)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


def _compose(overrides: list[str]):
    return compose(config_name=CONFIG_NAME, overrides=overrides, return_hydra_config=True)


def _is_hydra_override(ov: str) -> bool:
    key = ov.lstrip("+~").split("=", 1)[0]
    return key.startswith("hydra.") or key.startswith("hydra/")


def expand_jobs(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The per-job override lists a basic sweep would launch (one list for a single run)."""
    if not multirun:
        return [overrides]
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    base = _compose([o for o in overrides if "," not in o.split("=", 1)[-1]])
    sweeper_target = str(OmegaConf.select(base, "hydra.sweeper._target_") or "")
    args = list(overrides)
    if sweeper_target.endswith("BasicSweeper"):
        params = OmegaConf.select(base, "hydra.sweeper.params") or {}
        args = [f"{k}={v}" for k, v in params.items()] + args
    else:
        # Another sweeper (e.g. quasirandom) draws its own points and validates them; check the
        # fixed part of the command line here.
        return [[o for o in overrides if "," not in o.split("=", 1)[-1]]]
    parser = OverridesParser.create()
    batches = BasicSweeper.split_arguments(parser.parse_overrides(args), None)
    return [job for batch in batches for job in batch]


def check_command_line(overrides: Iterable[str], multirun: bool) -> int:
    """Compose and validate every job; returns how many jobs there are."""
    register_configs()
    register_resolver()
    overrides = list(overrides)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base=None):
            jobs = expand_jobs(overrides, multirun)
            for job in jobs:
                cfg = _compose(job)
                validate(without_hydra(cfg))
    except ConfigError:
        raise
    except Exception as exc:  # Hydra composition / override grammar errors
        raise ConfigError(one_line(exc)) from None
    finally:
        GlobalHydra.instance().clear()
    return len(jobs)


def compose_config(overrides: Iterable[str] = ()):
    """The validated TrainConfig that ``hpfree-train OVERRIDES`` would run (for scripts)."""
    register_configs()
    register_resolver()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base=None):
            return validate(compose(config_name=CONFIG_NAME, overrides=list(overrides)))
    finally:
        GlobalHydra.instance().clear()
