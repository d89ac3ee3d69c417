"""``manifest.json``: every job of a sweep and the commands that launch them.

Hydra forgets a multirun once it returns (its job numbers restart and its output directories
are overwritten on the next run).  The manifest keeps what is needed to look at a sweep and
to relaunch any of its jobs later, from any machine that sees the sweep directory:

- ``search_space`` and ``seed``: the points (trial ``i`` is point ``i`` of the space);
- ``commands``: each ``hpfree-train -m`` command that added jobs — its overrides (Hydra's,
  launcher included, then the task's), its working directory and the resolved launcher;
- ``jobs``: trial, point, knob values, workload, seed index, derived seed, run directory
  (relative to the sweep directory), the job's full override list, the command it came from,
  and its state as of the last update (``hpfree-status`` re-derives states from records).

Several processes may update one manifest (a sweep and resubmissions of it): every
read-modify-write holds ``.manifest.lock`` and the file is replaced atomically.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

import pandas as pd

from hpfree import records
from hpfree.errors import ConfigError
from hpfree.io import atomic_write_json, read_json
from hpfree.sweeps.plan import Job, override_key

MANIFEST = "manifest.json"
LOCK = ".manifest.lock"
SCHEMA_VERSION = 1
# Task overrides that may differ between two commands adding the same job.
_IRRELEVANT = ("progress", "force", "runs_dir", "launcher", "runner.trial_batch")


@dataclass
class Manifest:
    sweep_name: str
    search_space: dict[str, Any]
    seed: int
    commands: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version, "sweep_name": self.sweep_name,
            "search_space": self.search_space, "seed": self.seed,
            "created_at": self.created_at, "updated_at": self.updated_at,
            "commands": self.commands, "jobs": [j.to_dict() for j in self.jobs],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Manifest":
        return cls(
            sweep_name=data["sweep_name"], search_space=data["search_space"],
            seed=int(data["seed"]), commands=list(data.get("commands", [])),
            jobs=[Job.from_dict(j) for j in data.get("jobs", [])],
            created_at=data.get("created_at"), updated_at=data.get("updated_at"),
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
        )

    def job(self, key: str) -> Job:
        for j in self.jobs:
            if j.key == key:
                return j
        raise KeyError(key)


def path(sweep_dir: str | Path) -> Path:
    return Path(sweep_dir) / MANIFEST


def load(sweep_dir: str | Path) -> Manifest:
    """The manifest of ``sweep_dir``; one-line :class:`ConfigError` if there is none."""
    p = path(sweep_dir)
    if not p.exists():
        raise ConfigError(f"{sweep_dir} has no {MANIFEST}: not a sweep directory (sweeps are "
                          "made by hpfree-train -m hydra/sweeper=quasirandom search_space=...)")
    try:
        return Manifest.from_json(read_json(p))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{p} is unreadable: {exc}") from None


def write(sweep_dir: str | Path, manifest: Manifest) -> Path:
    manifest.updated_at = records.now()
    return atomic_write_json(path(sweep_dir), manifest.to_json())


@contextmanager
def locked(sweep_dir: str | Path) -> Iterator[None]:
    """Hold the sweep's manifest lock (blocking; held only for a read-modify-write)."""
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(sweep_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _comparable(overrides: Sequence[str]) -> list[str]:
    return sorted(o for o in overrides if override_key(o) not in _IRRELEVANT)


def check_compatible(existing: Manifest, sweep_name: str, search_space: Mapping[str, Any],
                     seed: int, jobs: Sequence[Job]) -> None:
    """A second command may add jobs to a sweep only if it cannot change existing ones."""
    if existing.search_space != dict(search_space) or existing.seed != seed:
        raise ConfigError(
            f"sweep {sweep_name} was made with search space {existing.search_space.get('name')}"
            f" and seed {existing.seed}; this command has a different space or seed: choose "
            "another sweep_name=...")
    known = {j.key: j for j in existing.jobs}
    for job in jobs:
        old = known.get(job.key)
        if old is not None and _comparable(old.overrides) != _comparable(job.overrides):
            diff = sorted(set(_comparable(job.overrides)) ^ set(_comparable(old.overrides)))
            raise ConfigError(
                f"job {job.key} of sweep {sweep_name} already exists with other overrides "
                f"(differs in: {', '.join(diff[:4])}); choose another sweep_name=...")


def add(sweep_dir: str | Path, sweep_name: str, search_space: Mapping[str, Any], seed: int,
        command: Mapping[str, Any], jobs: Sequence[Job]) -> list[Job]:
    """Record ``command`` and its ``jobs`` (new ones appended, known ones kept as they were).

    Returns the manifest's entries for ``jobs``.  Raises :class:`ConfigError` — before
    writing anything — if the sweep exists with another space/seed or other job overrides.
    """
    with locked(sweep_dir):
        existing = load(sweep_dir) if path(sweep_dir).exists() else None
        if existing is None:
            manifest = Manifest(sweep_name, dict(search_space), seed, created_at=records.now())
        else:
            check_compatible(existing, sweep_name, search_space, seed, jobs)
            manifest = existing
        argvs = [c.get("argv") for c in manifest.commands]
        if command["argv"] in argvs:
            index = argvs.index(command["argv"])
        else:
            manifest.commands.append(dict(command))
            index = len(manifest.commands) - 1
        known = {j.key: j for j in manifest.jobs}
        out = []
        for job in jobs:
            if job.key not in known:
                job.command = index
                manifest.jobs.append(job)
                known[job.key] = job
            out.append(known[job.key])
        manifest.jobs.sort(key=lambda j: (j.trial, j.seed_index, j.key))
        write(sweep_dir, manifest)
    return out


def update_states(sweep_dir: str | Path, states: Mapping[str, str]) -> None:
    """Store the latest known state of some jobs (by key)."""
    if not states:
        return
    with locked(sweep_dir):
        manifest = load(sweep_dir)
        for job in manifest.jobs:
            if job.key in states:
                job.state = states[job.key]
        write(sweep_dir, manifest)


def jobs_frame(manifest: Manifest) -> pd.DataFrame:
    """One row per job: key, trial, workload, seed_index, seed, state, and the point's values."""
    rows = []
    for j in manifest.jobs:
        row = {"key": j.key, "trial": j.trial, "workload": j.workload,
               "seed_index": j.seed_index, "seed": j.seed, "state": j.state}
        row.update(j.point)
        rows.append(row)
    return pd.DataFrame(rows)


def points_frame(manifest: Manifest) -> pd.DataFrame:
    """One row per trial with its point (what the scoring tables join records against)."""
    seen: dict[int, dict[str, Any]] = {}
    for j in manifest.jobs:
        seen.setdefault(j.trial, {"trial": j.trial, **j.point})
    return pd.DataFrame([seen[t] for t in sorted(seen)])
