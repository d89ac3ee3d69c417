"""Name → runner: the ``hpfree.runners`` plug-in registry.

A runner executes a validated :class:`~hpfree.config.TrainConfig` in a run directory and
fills the run's record; ``hpfree.train`` owns everything around it (the run directory, its
lock, skipping final records, writing the record).  Each runner declares a
:class:`RunnerSpec` — its config dataclass (``runner=<name>`` selects it; its fields are
``runner.<knob>=...``) and its ``run`` function — and reaches the registry through an
entry point, like optimizers and workloads.  Workloads say which runner can execute them
(``Workload.runner``), and validation checks the pair before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

from hpfree.plugins import Registry


class RunFn(Protocol):
    def __call__(self, cfg: Any, run_dir: Any, record: Any, handle_signals: bool = True,
                 on_eval: Optional[Callable[[dict], None]] = None) -> Any: ...


@dataclass(frozen=True)
class RunnerSpec:
    """What a runner plug-in declares.

    Args:
      name: the option name (``runner=<name>``); equal to its entry point's name.
      config_cls: its config dataclass (a subclass of :class:`~hpfree.config.RunnerConfig`).
      run: ``run(cfg, run_dir, record, handle_signals=True, on_eval=None) -> record``: train
        (or resume) one run and fill ``record``'s results; the caller writes it.
      run_batch: optional; trains several runs of one workload together (trial batches).
      description: one line for ``--help``.
    """

    name: str
    config_cls: type
    run: RunFn
    run_batch: Optional[Callable[..., Any]] = None
    description: str = ""


REGISTRY: Registry[RunnerSpec] = Registry("hpfree.runners", "runner", RunnerSpec,
                                          fallback="hpfree.runners")


def get(name: Optional[str]) -> RunnerSpec:
    return REGISTRY.get(name)


def all_specs() -> dict[str, RunnerSpec]:
    return REGISTRY.all()
