"""Config → the training algorithm both runners call (the single algorithm path).

An :class:`Algorithm` is the narrow interface between the optimizer and a runner, modelled on
AlgoPerf's submission API: ``init(params)`` → optimizer state, ``update(grads, state, params,
loss)`` → (new params, new state), ``eval_params(state, params)`` → the parameters to
evaluate.  The embedded runner scans ``update`` inside ``lax.scan``; the AlgoPerf submission
wraps the same object in ``init_optimizer_state`` / ``update_params`` / ``prepare_for_eval``.
Capabilities (needs the loss, separate evaluation parameters) come from the optimizer's spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import optax

from hpfree import schedules
from hpfree.config import TrainConfig
from hpfree.optimizers import registry


@dataclass(frozen=True)
class Algorithm:
    tx: optax.GradientTransformationExtraArgs
    spec: registry.OptimizerSpec
    lr_schedule: optax.Schedule
    horizon: int
    num_steps: int

    @property
    def needs_loss(self) -> bool:
        return self.spec.needs_loss

    def init(self, params: Any) -> Any:
        # Fresh buffers: some states hold the params themselves (x0 of DoG, COCOB, Prodigy,
        # Mechanic) and the embedded runner donates its whole state to the scanned chunk.
        return jax.tree.map(jnp.copy, self.tx.init(params))

    def update(self, grads: Any, opt_state: Any, params: Any, loss: Any) -> tuple[Any, Any]:
        """One optimizer step; passes ``value=loss`` only to optimizers that declare it."""
        extra = {"value": loss} if self.spec.needs_loss else {}
        updates, opt_state = self.tx.update(grads, opt_state, params, **extra)
        return optax.apply_updates(params, updates), opt_state

    def eval_params(self, opt_state: Any, params: Any) -> Any:
        """Parameters to evaluate (Schedule-Free's averaged point; the params otherwise)."""
        fn: Optional[Callable[[Any, Any], Any]] = self.spec.eval_params
        return params if fn is None else fn(opt_state, params)


def build_algorithm(cfg: TrainConfig, max_steps: int) -> Algorithm:
    """Build the optimizer with its schedule for a workload whose budget is ``max_steps``."""
    spec = registry.get(cfg.optimizer.name)
    horizon = schedules.horizon_steps(cfg.horizon, max_steps)
    lr = schedules.scaled(cfg.optimizer.learning_rate, schedules.shape(cfg.schedule, horizon))
    tx = spec.build(cfg.optimizer, lr, cfg.regularization.weight_decay)
    if not isinstance(tx, optax.GradientTransformationExtraArgs):
        tx = optax.with_extra_args_support(tx)
    return Algorithm(
        tx=tx, spec=spec, lr_schedule=lr, horizon=horizon,
        num_steps=schedules.train_steps(cfg.schedule, horizon, max_steps),
    )
