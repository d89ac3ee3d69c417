"""Structured configs of the core groups of one training run (dataclasses only).

Every core config group under ``conf/`` (horizon, schedule, regularization, suite) has a
dataclass schema here; optimizers, workloads and runners declare theirs in their plug-in
specs (``hpfree.optimizers.registry``, ``hpfree.workloads.registry``,
``hpfree.runners.registry``).  The schemas give Hydra its strictness (a misspelled key or a
wrong type fails at composition); each knob declares its domain with it (``hpfree.knobs``),
checked by ``__post_init__``.  Storing them
in Hydra's ConfigStore and turning a composed config into these objects is
``hpfree.validation``'s job; this module imports no registry, so everything can import it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from hpfree.errors import ConfigError, check  # noqa: F401  (re-exported)
from hpfree.knobs import NON_NEGATIVE, UNIT, at_least, interval, knob
from hpfree.knobs import check as check_knobs


@dataclass
class HorizonConfig:
    """The length of the schedule as a fraction of each workload's ``max_steps``.

    The paper's horizons are 33 %, 50 % and 66 %: the warmup + cosine schedule reaches 0 at
    ``round(fraction * max_steps)`` steps.  One fraction is used for every workload.
    """

    name: str = "h66"
    fraction: float = knob(0.66, interval(0.0, 1.0, low_open=True,
                                          hint="use e.g. 0.33, 0.5, 0.66 or 1.0"))

    def __post_init__(self) -> None:
        check_knobs(self, "horizon")


SCHEDULE_SHAPES = ("warmup_cosine", "constant", "none")


@dataclass
class ScheduleConfig:
    """The shape of the (relative or absolute) learning-rate schedule.

    ``warmup_cosine``: linear warmup from 0 over ``warmup × horizon`` steps, cosine decay to 0
    at the horizon, 0 after it (and, with ``stop_at_horizon``, the run ends there since
    further steps cannot move the parameters for schedule-scaled optimizers).
    ``constant``: the same linear warmup, then 1.  ``none``: 1 from the first step — the
    "out-of-the-box" setting of the paper's naive runs.
    """

    name: str = "warmup_cosine"
    warmup: float = knob(0.05, UNIT)
    stop_at_horizon: bool = True

    def __post_init__(self) -> None:
        check(
            self.name in SCHEDULE_SHAPES,
            f"schedule.name={self.name!r} is unknown; choose one of {', '.join(SCHEDULE_SHAPES)}",
        )
        check_knobs(self, "schedule")


@dataclass
class RegularizationConfig:
    """Regularization knobs shared by all workloads (the paper ties dropout rates)."""

    name: str = "none"
    weight_decay: float = knob(0.0, NON_NEGATIVE)
    dropout: float = knob(0.0, UNIT)
    label_smoothing: float = knob(0.0, UNIT)

    def __post_init__(self) -> None:
        check_knobs(self, "regularization")


@dataclass
class RunnerConfig:
    """Knobs every runner has; each runner's spec declares a subclass with its own.

    Evaluations are the runner's natural checkpoints; ``checkpoint_every_s`` bounds how often
    (in wall seconds) one is written (0 = at every evaluation), besides on a stop signal and
    at the end.  ``stop_at_target`` ends a run at its first evaluation reaching the target.
    ``compilation_cache`` turns on JAX's persistent compilation cache, ``data_cache`` the
    on-disk cache of generated data sets; ``trial_batch`` is how many points of a search one
    job trains together (with a runner that can, see docs/speed.md).
    """

    name: str = MISSING
    checkpoint_every_s: float = knob(30.0, NON_NEGATIVE)
    stop_at_target: bool = False
    compilation_cache: bool = True
    # The on-disk cache of generated data sets (hpfree.workloads.datacache).
    data_cache: bool = True
    # Points of a search trained together in one vmapped scan (docs/speed.md).
    trial_batch: int = knob(1, at_least(1))

    def __post_init__(self) -> None:
        check_knobs(self, "runner")


@dataclass
class SuiteConfig:
    """A named list of workloads: what one search trial runs on."""

    name: str = "single"
    workloads: list[str] = field(default_factory=list)


@dataclass
class TrainConfig:
    """One training run: algorithm (optimizer + schedule + horizon + regularization) × workload."""

    optimizer: Any = MISSING
    horizon: HorizonConfig = field(default_factory=HorizonConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    regularization: RegularizationConfig = field(default_factory=RegularizationConfig)
    workload: Any = MISSING
    runner: Any = MISSING
    suite: SuiteConfig = field(default_factory=SuiteConfig)
    # Where curves go besides the run directory (``logger=tensorboard|wandb``).
    logger: Any = None
    seed: int = knob(0, at_least(0))
    # Where single runs and sweeps live; run directories are named by content.
    runs_dir: str = "runs"
    sweeps_dir: str = "sweeps"
    sweep_name: str = "sweep"
    # Search bookkeeping, set by the quasi-random sweeper (None for plain runs).
    trial: Optional[int] = knob(None, at_least(0))
    seed_index: int = knob(0, at_least(0))
    # Run directories (relative to the sweep directory) of the other points of a search
    # this job trains together with its own, in one vmapped scan (``runner.trial_batch``;
    # set by the quasi-random sweeper, hpfree.trial_batch).
    batch_with: list[str] = field(default_factory=list)
    force: bool = False
    progress: bool = True


def to_plain(obj: Any) -> Any:
    """Dataclass config → plain dict (for records and hashing)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj
