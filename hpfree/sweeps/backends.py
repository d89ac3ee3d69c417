"""Queue back-ends: what the sweep tools ask of the system that runs a sweep's jobs.

``hpfree-status`` and ``hpfree-resubmit`` work the same whatever launched a sweep; what they
need from the queue that holds its jobs is a :class:`BackendSpec` in the ``hpfree.backends``
plug-in registry (entry points, like optimizers and workloads):

- ``owns(sweep_dir)``: whether this back-end launched jobs of the sweep (it keeps its own
  bookkeeping file there, e.g. SLURM's ``slurm_jobs.json``);
- ``live(sweep_dir)``: ``{job key: "running" | "queued"}`` for the jobs the queue still holds
  (never resubmitted while live);
- ``submitted(sweep_dir)``: ``{job key: overrides}`` of every job it was handed (lists the
  jobs of a plain multirun that have not started yet);
- ``resubmit(sweep_dir, keys, dry_run, log)``: optional; relaunch those jobs with the queue's
  own means (SLURM: from submitit's pickles), returning one row per job and ``describe``
  rendering them.

``local`` (Hydra's basic launcher, this machine) holds nothing beyond the run directories'
locks; ``slurm`` is :mod:`hpfree.slurm.backend`, ``tpu`` :mod:`hpfree.tpu.backend` (its jobs
run while the sweep command waits: it lists what it was handed, nothing is queued).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Optional

from hpfree.plugins import Registry


@dataclass(frozen=True)
class BackendSpec:
    """What a queue back-end plug-in declares (see the module docstring)."""

    name: str
    owns: Callable[[Path], bool]
    live: Callable[[Path], dict[str, str]]
    submitted: Callable[[Path], dict[str, list[str]]]
    resubmit: Optional[Callable[..., list[dict[str, Any]]]] = None
    describe: Optional[Callable[[list[dict[str, Any]]], str]] = None
    marker: Optional[str] = None  # its bookkeeping file in a sweep directory


REGISTRY: Registry[BackendSpec] = Registry("hpfree.backends", "queue back-end", BackendSpec,
                                           fallback=("hpfree.sweeps", "hpfree.slurm", "hpfree.tpu"))

LOCAL = BackendSpec("local", owns=lambda d: False, live=lambda d: {}, submitted=lambda d: {})


def owning(sweep_dir: str | Path) -> list[BackendSpec]:
    """The back-ends that hold jobs of ``sweep_dir`` (usually none or one)."""
    d = Path(sweep_dir)
    return [b for b in REGISTRY.all().values() if b.owns(d)]


def live(sweep_dir: str | Path) -> dict[str, str]:
    """``{key: "running" | "queued"}`` over every back-end owning the sweep."""
    from hpfree.sweeps import batches

    out: dict[str, str] = {}
    for b in owning(sweep_dir):
        states = b.live(Path(sweep_dir))
        # A job that trains a trial batch holds the points it carries too.
        out.update(batches.spread(states, b.submitted(Path(sweep_dir))) if states else states)
    return out


def submitted(sweep_dir: str | Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for b in owning(sweep_dir):
        out.update(b.submitted(Path(sweep_dir)))
    return out


def markers() -> list[str]:
    """Bookkeeping file names that make a directory a sweep directory."""
    return [b.marker for b in REGISTRY.all().values() if b.marker]


def resubmit_natively(sweep_dir: str | Path, keys: Collection[str], dry_run: bool,
                      log: Callable[[str], None]) -> tuple[set[str], list[str]]:
    """Let each owning back-end that can relaunch jobs relaunch those of ``keys`` it was
    handed; returns (keys it took, descriptions of what it did for a dry run)."""
    taken: set[str] = set()
    shown: list[str] = []
    for b in owning(sweep_dir):
        if b.resubmit is None:
            continue
        mine = set(b.submitted(Path(sweep_dir))) & set(keys)
        if not mine:
            continue
        rows = b.resubmit(Path(sweep_dir), keys=mine, dry_run=dry_run, log=log)
        if dry_run and rows and b.describe is not None:
            shown.append(b.describe(rows))
        taken |= mine
    return taken, shown
