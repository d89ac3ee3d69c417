"""Structured configs for one training run, registered in Hydra's ConfigStore.

Every config group under ``conf/`` has a dataclass schema here (or, for optimizers and
workloads, in the module that implements them, registered through their registries).  The
schemas give Hydra its strictness (a misspelled key or a wrong type fails at composition)
and ``__post_init__`` gives the range checks (horizon in (0, 1], non-negative weight decay,
dropout in [0, 1)).  ``validate(cfg)`` turns a composed DictConfig into these objects and
raises :class:`ConfigError` with one line naming the bad value and what is allowed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException


class ConfigError(ValueError):
    """A configuration value is invalid; the message is one line meant for the user."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)


@dataclass
class HorizonConfig:
    """The length of the schedule as a fraction of each workload's ``max_steps``.

    The paper's horizons are 33 %, 50 % and 66 %: the warmup + cosine schedule reaches 0 at
    ``round(fraction * max_steps)`` steps.  One fraction is used for every workload.
    """

    name: str = "h66"
    fraction: float = 0.66

    def __post_init__(self) -> None:
        check(
            0.0 < self.fraction <= 1.0,
            f"horizon.fraction={self.fraction} is outside (0, 1]; use e.g. 0.33, 0.5, 0.66 or 1.0",
        )


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
    warmup: float = 0.05
    stop_at_horizon: bool = True

    def __post_init__(self) -> None:
        check(
            self.name in SCHEDULE_SHAPES,
            f"schedule.name={self.name!r} is unknown; choose one of {', '.join(SCHEDULE_SHAPES)}",
        )
        check(0.0 <= self.warmup < 1.0, f"schedule.warmup={self.warmup} is outside [0, 1)")


@dataclass
class RegularizationConfig:
    """Regularization knobs shared by all workloads (the paper ties dropout rates)."""

    name: str = "none"
    weight_decay: float = 0.0
    dropout: float = 0.0
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        check(
            self.weight_decay >= 0.0,
            f"regularization.weight_decay={self.weight_decay} is negative; it must be >= 0",
        )
        check(
            0.0 <= self.dropout < 1.0,
            f"regularization.dropout={self.dropout} is outside [0, 1)",
        )
        check(
            0.0 <= self.label_smoothing < 1.0,
            f"regularization.label_smoothing={self.label_smoothing} is outside [0, 1)",
        )


@dataclass
class RunnerConfig:
    """Which runner executes the run, and its knobs.

    ``embedded``: our jit + ``lax.scan`` loop on built-in workloads.  ``algoperf``: the
    AlgoPerf JAX submission runner (see ``hpfree.runners.algoperf``).
    """

    name: str = "embedded"
    # Evaluations are the chunk boundaries of the scanned loop; checkpoints are written there,
    # at most every ``checkpoint_every_s`` seconds of wall time (0 = at every evaluation),
    # and always on a stop signal and at the end.
    checkpoint_every_s: float = 30.0
    stop_at_target: bool = False
    compilation_cache: bool = True
    # The on-disk cache of generated data sets (hpfree.workloads.datacache).
    data_cache: bool = True
    # Points of a search trained together in one vmapped scan (docs/speed.md).
    trial_batch: int = 1
    # Fields used only by the AlgoPerf runner.
    data_dir: Optional[str] = None
    algoperf_workload: Optional[str] = None
    framework: str = "jax"
    extra_flags: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check(
            self.name in ("embedded", "algoperf"),
            f"runner.name={self.name!r} is unknown; choose embedded or algoperf",
        )
        check(self.checkpoint_every_s >= 0, "runner.checkpoint_every_s must be >= 0")
        check(self.trial_batch >= 1, f"runner.trial_batch={self.trial_batch} must be >= 1")


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
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    suite: SuiteConfig = field(default_factory=SuiteConfig)
    seed: int = 0
    # Where single runs and sweeps live; run directories are named by content.
    runs_dir: str = "runs"
    sweeps_dir: str = "sweeps"
    sweep_name: str = "sweep"
    # Search bookkeeping, set by the quasi-random sweeper (None for plain runs).
    trial: Optional[int] = None
    seed_index: int = 0
    force: bool = False
    progress: bool = True


def register_configs() -> None:
    """Register the top-level and group schemas in Hydra's ConfigStore (idempotent)."""
    from hpfree.optimizers import registry as optimizer_registry
    from hpfree.workloads import registry as workload_registry

    cs = ConfigStore.instance()
    cs.store(name="base_train", node=TrainConfig)
    cs.store(group="horizon", name="base_horizon", node=HorizonConfig)
    cs.store(group="schedule", name="base_schedule", node=ScheduleConfig)
    cs.store(group="regularization", name="base_regularization", node=RegularizationConfig)
    cs.store(group="runner", name="base_runner", node=RunnerConfig)
    cs.store(group="suite", name="base_suite", node=SuiteConfig)
    for name, spec in optimizer_registry.all_specs().items():
        cs.store(group="optimizer", name=f"base_{name}", node=spec.config_cls)
    for name, cls in workload_registry.all_config_classes().items():
        cs.store(group="workload", name=f"base_{name}", node=cls)


def _short(exc: Exception) -> str:
    """First line of an OmegaConf/validation error, without its full-key trailer."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text


def validate(cfg: DictConfig | TrainConfig) -> TrainConfig:
    """Return the typed config, running every group's range checks.

    Raises :class:`ConfigError` (one line) for bad values, unknown optimizers or workloads.
    """
    from hpfree.optimizers import registry as optimizer_registry
    from hpfree.workloads import registry as workload_registry

    if isinstance(cfg, TrainConfig):
        return cfg
    try:
        opt_name = OmegaConf.select(cfg, "optimizer.name")
        wl_name = OmegaConf.select(cfg, "workload.name")
    except OmegaConfBaseException as exc:  # pragma: no cover - defensive
        raise ConfigError(_short(exc)) from None
    optimizer_registry.get(opt_name)  # one-line error for unknown names
    workload_registry.get_config_class(wl_name)
    try:
        obj = OmegaConf.to_object(cfg)
    except ConfigError:
        raise
    except OmegaConfBaseException as exc:
        raise ConfigError(_short(exc)) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(_short(exc)) from None
    if not isinstance(obj, TrainConfig):
        raise ConfigError("the composed config is not a TrainConfig (missing `base_train` default?)")
    needs = workload_registry.get_class(wl_name).runner
    check(needs == obj.runner.name,
          f"workload {wl_name!r} runs with runner={needs}, not runner={obj.runner.name}")
    return obj


def to_plain(obj: Any) -> Any:
    """Dataclass config → plain dict (for records and hashing)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj
