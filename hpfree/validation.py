"""Composed config → typed, checked :class:`~hpfree.config.TrainConfig`; the ConfigStore.

``register_configs`` stores every schema in Hydra's ConfigStore: the core groups' schemas
(``base_horizon`` ... for the YAML files in ``conf/`` to extend) and, for every plug-in, its
config dataclass *as the option itself* (``optimizer/prodigy``, ``workload/mini_wmt``,
``runner/algoperf``), so an optimizer or workload installed from another package is selected
from the shell like a built-in and needs no YAML file.

``validate`` turns a composed DictConfig into the dataclasses, running every group's checks,
and checks the pairs (a workload and the runner that can execute it); errors are
:class:`~hpfree.errors.ConfigError` with one line naming the bad value and what is allowed.
"""

from __future__ import annotations

import copy
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException

from hpfree.config import (HorizonConfig, RegularizationConfig, ScheduleConfig, SuiteConfig,
                           TrainConfig)
from hpfree import knobs
from hpfree.errors import ConfigError, check
from hpfree.loggers import registry as logger_registry
from hpfree.optimizers import registry as optimizer_registry
from hpfree.runners import registry as runner_registry
from hpfree.workloads import registry as workload_registry

_REGISTERED = False


def register_configs() -> None:
    """Register the top-level schema, the core groups' schemas and every plug-in's option."""
    global _REGISTERED
    if _REGISTERED:
        return
    cs = ConfigStore.instance()
    cs.store(name="base_train", node=TrainConfig)
    cs.store(group="horizon", name="base_horizon", node=HorizonConfig)
    cs.store(group="schedule", name="base_schedule", node=ScheduleConfig)
    cs.store(group="regularization", name="base_regularization", node=RegularizationConfig)
    cs.store(group="suite", name="base_suite", node=SuiteConfig)
    for name, spec in optimizer_registry.all_specs().items():
        cs.store(group="optimizer", name=name, node=spec.config_cls(name=name))
    for name, spec in workload_registry.all_specs().items():
        cs.store(group="workload", name=name, node=spec.default_config())
    for name, spec in runner_registry.all_specs().items():
        cs.store(group="runner", name=name, node=spec.config_cls(name=name))
    for name, spec in logger_registry.all_specs().items():
        cs.store(group="logger", name=name, node=spec.config_cls(name=name))
    _REGISTERED = True


def without_hydra(cfg):
    """The task's config (Hydra's node removed), keeping its structured type."""
    task = copy.deepcopy(cfg)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


def _short(exc: Exception) -> str:
    """First line of an OmegaConf/validation error, without its full-key trailer."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def validate(cfg: DictConfig | TrainConfig) -> TrainConfig:
    """Return the typed config, running every group's range checks.

    Raises :class:`ConfigError` (one line) for bad values, unknown optimizers, workloads,
    runners or loggers, a logger whose package is not installed, and a workload paired with
    a runner that cannot execute it.
    """
    if isinstance(cfg, TrainConfig):
        return cfg
    try:
        opt_name = OmegaConf.select(cfg, "optimizer.name")
        wl_name = OmegaConf.select(cfg, "workload.name")
        runner_name = OmegaConf.select(cfg, "runner.name")
    except OmegaConfBaseException as exc:  # pragma: no cover - defensive
        raise ConfigError(_short(exc)) from None
    optimizer_registry.get(opt_name)  # one-line errors for unknown names
    wl_spec = workload_registry.get(wl_name)
    runner_registry.get(runner_name)
    logger_name = OmegaConf.select(cfg, "logger.name", default=None)
    if logger_name is not None:
        logger_registry.get(logger_name).check_available()
    try:
        obj: Any = OmegaConf.to_object(cfg)
    except ConfigError:
        raise
    except OmegaConfBaseException as exc:
        raise ConfigError(_short(exc)) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(_short(exc)) from None
    if not isinstance(obj, TrainConfig):
        raise ConfigError("the composed config is not a TrainConfig (missing `base_train` default?)")
    # Every knob's domain, also of plug-in configs whose __post_init__ does not check them.
    knobs.check_tree(obj)
    check(wl_spec.runner == obj.runner.name,
          f"workload {wl_name!r} runs with runner={wl_spec.runner}, not runner={obj.runner.name}")
    return obj
