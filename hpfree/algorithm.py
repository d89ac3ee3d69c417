"""Config → the training algorithm both runners call (the single algorithm path).

An :class:`Algorithm` is the narrow interface between the optimizer and a runner, modelled on
AlgoPerf's submission API: ``init(params)`` → optimizer state, ``update(grads, state, params,
loss)`` → (new params, new state), ``eval_params(state, params)`` → the parameters to
evaluate.  The embedded runner scans ``update`` inside ``lax.scan``; the AlgoPerf submission
wraps the same object in ``init_optimizer_state`` / ``update_params`` / ``prepare_for_eval``.
Capabilities (needs the loss, separate evaluation parameters) come from the optimizer's spec.

The numbers of the config (learning rate, betas, weight decay, warmup and horizon steps...)
reach the optimizer as *values* (:mod:`hpfree.hparams`): Python floats by default, or traced
arrays when the embedded runner builds the algorithm inside its compiled step, so that one
executable serves every point of a search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import optax

from hpfree import hparams, schedules
from hpfree.config import TrainConfig
from hpfree.optimizers import registry


@dataclass(frozen=True)
class Algorithm:
    tx: optax.GradientTransformationExtraArgs
    spec: registry.OptimizerSpec
    lr_schedule: optax.Schedule
    horizon: Any  # steps until the schedule reaches 0 (a traced scalar inside a compiled step)
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


def build_algorithm(cfg: TrainConfig, max_steps: int,
                    values: Optional[hparams.Values] = None) -> Algorithm:
    """Build the optimizer with its schedule for a workload whose budget is ``max_steps``.

    ``values`` (``hparams.values(cfg, max_steps)``, leaves possibly traced) replaces the
    config's numbers; by default they are the config's own, as Python floats.
    """
    spec = registry.get(cfg.optimizer.name)
    if values is None:
        values = hparams.values(cfg, max_steps)
    traced = hparams.with_values(cfg, values)
    horizon, warmup = values["schedule"]["horizon"], values["schedule"]["warmup"]
    if isinstance(horizon, float):  # host values: the integers they are
        horizon, warmup = int(horizon), int(warmup)
    lr = schedules.scaled(traced.optimizer.learning_rate,
                          schedules.shape(cfg.schedule, horizon, warmup))
    tx = spec.build(traced.optimizer, lr, traced.regularization.weight_decay)
    if not isinstance(tx, optax.GradientTransformationExtraArgs):
        tx = optax.with_extra_args_support(tx)
    return Algorithm(tx=tx, spec=spec, lr_schedule=lr, horizon=horizon,
                     num_steps=hparams.num_steps(cfg, max_steps))
