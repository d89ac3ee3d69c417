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
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Optional

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from hpfree.errors import ConfigError
from hpfree.run_naming import register_resolver
from hpfree.validation import register_configs, validate, without_hydra

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


def _compose(overrides: list[str]):
    return compose(config_name=CONFIG_NAME, overrides=overrides, return_hydra_config=True)


@contextmanager
def hydra_session(one_line_errors: bool = True) -> Iterator[None]:
    """Hydra's compose API on hpfree's configs (``pkg://hpfree.conf`` + every plug-in option).

    Hydra's global state is cleared before and after, so sessions never leak into each other
    or into a Hydra app running in the same process.  With ``one_line_errors``, composition
    and override-grammar errors become one-line :class:`ConfigError`.
    """
    register_configs()
    register_resolver()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base=None):
            yield
    except ConfigError:
        raise
    except Exception as exc:  # Hydra composition / override grammar errors
        if not one_line_errors:
            raise
        raise ConfigError(one_line(exc)) from None
    finally:
        GlobalHydra.instance().clear()


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
        # fixed part of the command line here, once per workload the sweep runs: a suite's
        # workloads may need another runner than the default workload (runner=algoperf).
        from hpfree.sweeps import plan

        fixed = [o for o in overrides if "," not in o.split("=", 1)[-1]
                 and o.split("=", 1)[0] != "workload"]
        names = plan.suite_workloads(base, OmegaConf.select(base, "hydra.sweeper.params"))
        return [[*fixed, f"workload={name}"] for name in names]
    parser = OverridesParser.create()
    batches = BasicSweeper.split_arguments(parser.parse_overrides(args), None)
    return [job for batch in batches for job in batch]


def covering(jobs: list[list[str]]) -> list[list[str]]:
    """A subset of ``jobs`` in which every override of every job appears at least once.

    A multirun's jobs are a product (e.g. 9 optimizers x 8 workloads): a covering subset (16
    jobs there) still composes every option once and every workload with its runner.
    """
    seen: set[str] = set()
    out = []
    for job in jobs:
        if not set(job) <= seen:
            out.append(job)
            seen |= set(job)
    return out


def check_command_line(overrides: Iterable[str], multirun: bool, cover: bool = False,
                       limit: Optional[int] = None) -> int:
    """Compose and validate every job; returns how many jobs there are.

    ``cover``: validate only a :func:`covering` subset of a multirun's jobs (dry runs) and
    return its size; ``limit``: only the first ``limit`` jobs (a dry run's later horizons,
    which differ from the first only in the schedule's length).
    """
    overrides = list(overrides)
    with hydra_session():
        jobs = expand_jobs(overrides, multirun)
        if cover:
            jobs = covering(jobs)
        if limit is not None:
            jobs = jobs[:limit]
        for job in jobs:
            cfg = _compose(job)
            validate(without_hydra(cfg))
    return len(jobs)


def compose_config(overrides: Iterable[str] = ()):
    """The validated TrainConfig that ``hpfree-train OVERRIDES`` would run (for scripts)."""
    with hydra_session(one_line_errors=False):
        return validate(compose(config_name=CONFIG_NAME, overrides=list(overrides)))


def _is_hydra_arg(arg: str) -> bool:
    key = arg.lstrip("+~").split("=", 1)[0]
    return key.startswith("hydra.") or key.startswith("hydra/") or key == "hydra"


_COMPOSED: dict[tuple[tuple[str, ...], tuple[str, ...]], Any] = {}


def _compose_cached(hydra_args: list[str], overrides: list[str]):
    """A job's config for dry runs, composed once per (Hydra args, task overrides).

    The sweeper's own knobs (``hydra.sweeper.*``: points, trials, seeds) do not change a
    job's config, so a search and its re-run share every composition.
    """
    key = (tuple(a for a in hydra_args if not a.startswith("hydra.sweeper.")), tuple(overrides))
    if key not in _COMPOSED:
        _COMPOSED[key] = _compose([*key[0], *key[1]])
    return copy.deepcopy(_COMPOSED[key])


def check_search(overrides: Iterable[str], max_points: Optional[int] = None,
                 workloads: Optional[int] = None) -> int:
    """Plan and validate a quasi-random search (``hpfree-train -m hydra/sweeper=quasirandom
    ...``) in this process, launching nothing; returns how many jobs it has.

    The sweeper does the same when it starts; this is for dry runs (``hpfree-reproduce
    dry_run=true``).  ``max_points`` caps the trials validated (the first ones; every
    trial sets the same knobs, so they catch what a bad command gets wrong); ``workloads``
    caps the suite's workloads validated (the first ones).
    """
    from hpfree.sweeps import plan

    overrides = [o for o in overrides if o not in ("-m", "--multirun")]
    hydra_args = [o for o in overrides if _is_hydra_arg(o)]
    with hydra_session():
        config = _compose(overrides)
        sweeper = OmegaConf.select(config, "hydra.sweeper")
        if not str(OmegaConf.select(sweeper, "_target_") or "").endswith("QuasiRandomSweeper"):
            raise ConfigError("not a quasi-random search: add hydra/sweeper=quasirandom "
                              "(or search_space=...)")
        knobs = OmegaConf.to_container(sweeper, resolve=True)
        num_points = knobs.get("num_points")
        trials = knobs.get("trials")
        if max_points is not None and trials is None:
            space = OmegaConf.to_container(sweeper.search_space, resolve=True) or {}
            full = num_points or (None if space.get("grid") else plan.DEFAULT_POINTS)
            num_points = min(full or max_points, max_points)
        task = [o for o in overrides if not _is_hydra_arg(o)]
        result = plan.plan_sweep(
            config, task, lambda ovs: _compose_cached(hydra_args, ovs),
            search_space=knobs.get("search_space"), num_points=num_points,
            seed=int(knobs.get("seed") or 0), seeds=int(knobs.get("seeds") or 1),
            seed_start=int(knobs.get("seed_start") or 0),
            trials=None if trials is None else list(trials),
            params=knobs.get("params") or {}, workloads=workloads)
    return len(result.jobs)
