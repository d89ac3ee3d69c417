"""Plain multiruns (``hpfree-train -m optimizer=adamw,nadamw seed=0,1``) read as sweeps.

A search writes ``manifest.json``; a plain multirun (Hydra's basic sweeper) does not, but
its sweep directory holds enough to list every job:

- ``multirun.yaml``, which Hydra writes before the first job starts: the command (its Hydra
  and task overrides, and working directory), whose sweeps expand — as Hydra's basic sweeper
  expands them — into every job's overrides;
- a queue back-end's bookkeeping (``launcher=slurm``: ``slurm_jobs.json``): every submitted
  job, its overrides and run directory (:mod:`hpfree.sweeps.backends`);
- the run directories of jobs that have started (``.hydra/overrides.yaml``, ``record.json``
  or ``.lock``).

:func:`load` joins them into a :class:`~hpfree.sweeps.manifest.Manifest` without a search
space, its jobs keyed by run directory like a search's (a job that has not started and
has no SLURM entry yet is keyed ``#<n>``), so ``hpfree-status`` and ``hpfree-resubmit``
handle both kinds of sweep with the same code.  Nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

from omegaconf import OmegaConf

from hpfree import records
from hpfree.errors import ConfigError
from hpfree.sweeps import backends
from hpfree.sweeps import manifest as manifest_mod
from hpfree.sweeps.manifest import Manifest
from hpfree.sweeps.plan import Job, override_key

MULTIRUN = "multirun.yaml"
# A job of a plain multirun belongs to no trial of a search.
NO_TRIAL = -1


def is_sweep(sweep_dir: str | Path) -> bool:
    """Whether ``sweep_dir`` is the directory of a plain multirun (local or SLURM)."""
    d = Path(sweep_dir)
    return (d / MULTIRUN).exists() or any((d / m).exists() for m in backends.markers())


def _expand(task: Sequence[str], params: Any) -> list[list[str]]:
    """Every job's overrides, exactly as Hydra's basic sweeper makes them."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    args = [f"{k}={v}" for k, v in (params or {}).items()] + list(task)
    (batch,) = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(args), None)
    return [list(job) for job in batch]


def _run_dirs(sweep_dir: Path) -> dict[str, Optional[list[str]]]:
    """``{key: overrides or None}`` of every started run under ``sweep_dir``."""
    found: dict[str, Optional[list[str]]] = {}
    for root, dirs, files in os.walk(sweep_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        here = Path(root)
        saved = here / ".hydra" / "overrides.yaml"
        if saved.exists() or records.RECORD in files or ".lock" in files:
            if here == sweep_dir:
                continue
            overrides = [str(o) for o in OmegaConf.load(saved)] if saved.exists() else None
            found[str(here.relative_to(sweep_dir))] = overrides
    return found


def _value(overrides: Sequence[str], key: str) -> Optional[str]:
    """The value the last ``key=...`` of ``overrides`` sets (None if none does)."""
    values = [o.split("=", 1)[1] for o in overrides if "=" in o and override_key(o) == key]
    return values[-1] if values else None


def _job(key: str, overrides: Sequence[str], defaults: dict[str, Any]) -> Job:
    rec = records.load(defaults["sweep_dir"] / key) if not key.startswith("#") else None
    workload = (rec.workload if rec is not None else
                _value(overrides, "workload") or defaults.get("workload")
                or (key.split("/")[0] if "/" in key else "?"))
    seed = rec.seed if rec is not None else _value(overrides, "seed") or defaults.get("seed")
    try:
        seed = int(seed)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seed = 0
    return Job(key=key, trial=NO_TRIAL, seed_index=0, seed=seed, workload=str(workload),
               point={}, knobs={}, overrides=list(overrides))


def load(sweep_dir: str | Path) -> Manifest:
    """The jobs of a plain multirun (see the module docstring); ConfigError if it is none."""
    sweep_dir = Path(sweep_dir)
    if not is_sweep(sweep_dir):
        raise ConfigError(
            f"{sweep_dir} has no {', '.join([manifest_mod.MANIFEST, MULTIRUN, *backends.markers()])}"
            ": not a sweep directory (made by hpfree-train -m ...)")
    defaults: dict[str, Any] = {"sweep_dir": sweep_dir}
    expanded: list[list[str]] = []
    command: dict[str, Any] = {"argv": [], "cwd": None}
    name = sweep_dir.name
    if (sweep_dir / MULTIRUN).exists():
        try:
            cfg = OmegaConf.load(sweep_dir / MULTIRUN)
            hydra = cfg.hydra
            task = [str(a) for a in hydra.overrides.task]
            command = {"argv": [*(str(a) for a in hydra.overrides.hydra), *task],
                       "cwd": str(hydra.runtime.cwd)}
            params = hydra.sweeper.get("params")
            expanded = _expand(task, OmegaConf.to_container(params) if params else {})
            defaults["workload"] = OmegaConf.select(cfg, "workload.name", default=None)
            defaults["seed"] = OmegaConf.select(cfg, "seed", default=None)
            name = str(OmegaConf.select(cfg, "sweep_name", default=name))
        except Exception as exc:  # a hand-edited or foreign multirun.yaml
            raise ConfigError(f"{sweep_dir / MULTIRUN} is unreadable: "
                              f"{str(exc).splitlines()[0]}") from None

    jobs: dict[str, list[str]] = {}
    jobs.update(backends.submitted(sweep_dir))
    for key, overrides in _run_dirs(sweep_dir).items():
        if key not in jobs or not jobs[key]:
            jobs[key] = overrides or []
    started = {tuple(sorted(o)) for o in jobs.values() if o}
    n = 0
    for overrides in expanded:  # jobs Hydra will launch but that have not started yet
        if tuple(sorted(overrides)) not in started:
            while f"#{n}" in jobs:
                n += 1
            jobs[f"#{n}"] = overrides
    return Manifest(sweep_name=name, search_space={}, seed=0, commands=[command],
                    jobs=[_job(k, o, defaults) for k, o in sorted(jobs.items())])


def load_any(sweep_dir: str | Path) -> Manifest:
    """A search's ``manifest.json``, else the plain multirun in ``sweep_dir``."""
    if manifest_mod.path(sweep_dir).exists():
        return manifest_mod.load(sweep_dir)
    return load(sweep_dir)


def is_plain(m: Manifest) -> bool:
    """Whether ``m`` describes a plain multirun (no search space)."""
    return not m.search_space
