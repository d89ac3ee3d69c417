"""An AlgoPerf JAX submission that runs hpfree's algorithm (the module AlgoPerf imports).

AlgoPerf's runner imports this file by path (``--submission_path=
hpfree/runners/algoperf_submission.py``, run from a directory where ``hpfree`` is importable)
and calls the submission API of the installed algoperf: ``get_batch_size``,
``init_optimizer_state``, ``update_params`` (which accepts ``train_state``, so the runner
passes it), ``prepare_for_eval`` and ``data_selection``.  It is a self-tuning submission:
``hyperparameters`` is ``None`` and the hpfree config *is* the algorithm.

The config comes from the JSON file named by ``$HPFREE_ALGOPERF_CONFIG`` (written by
``hpfree.runners.algoperf``), or ``algoperf_submission.json`` next to this file.  It holds
the plain hpfree config plus the workload's step budget and batch size.

There is one algorithm path: the optimizer, its schedule over ``horizon × max_steps`` and the
evaluation-parameters hook all come from :func:`hpfree.algorithm.build_algorithm`, exactly as
in the embedded runner.  This module only adapts AlgoPerf's calling convention:

* the training step (jit, replicated params/state, batch-sharded inputs — AlgoPerf's JAX
  runner no longer uses pmap) computes the mean loss with the workload's ``model_fn`` /
  ``loss_fn``, passing ``dropout_rate`` and ``label_smoothing`` where the workload's functions
  take them (AlgoPerf's convention since dropout moved to ``model_fn``), then calls
  ``Algorithm.update``;
* optimizers with separate evaluation parameters (Schedule-Free) keep their training point
  in the optimizer state and return ``Algorithm.eval_params`` from ``prepare_for_eval``: the
  runner evaluates (and checkpoints) what ``prepare_for_eval`` returns and trains on from
  there, so the next ``update_params`` resumes from the kept training point;
* AlgoPerf's JAX checkpoint restore still adds a leading device axis
  (``flax.jax_utils.replicate``); the first call after a restore strips it again;
* a non-finite loss ends the run (``TrainingCompleteError`` at the next check, every
  ``CHECK_EVERY`` steps and before each evaluation) and the runner records ``diverged``;
* a stop request (SIGTERM/SIGUSR2 seen by ``hpfree.runners.algoperf``) raises
  :class:`Preempted` at the next step, leaving AlgoPerf's last checkpoint to resume from.

Nothing here imports algoperf at module level, so the signatures can be checked without it.
"""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from hpfree.algorithm import Algorithm, build_algorithm
from hpfree.config import (HorizonConfig, RegularizationConfig, ScheduleConfig, TrainConfig)
from hpfree.optimizers import registry as optimizer_registry

CONFIG_ENV = "HPFREE_ALGOPERF_CONFIG"
CONFIG_FILE = "algoperf_submission.json"
# The path AlgoPerf's runner is given: it turns it into the module name by replacing "/".
SUBMISSION_PATH = "hpfree/runners/algoperf_submission.py"
CHECK_EVERY = 100  # steps between host-side divergence checks (one device sync each)


class Preempted(Exception):
    """Raised from ``update_params`` when a stop was requested; AlgoPerf's runner does not
    catch it, so training ends and its last checkpoint is what a resumed run restores."""


# Set by the runner: a zero-argument callable that is true once a stop was requested.
stop_requested: Optional[Callable[[], bool]] = None


# --------------------------------------------------------------------------------------
# Config


def config_path() -> Path:
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else Path(__file__).with_name(CONFIG_FILE)


def train_config_from_plain(plain: dict[str, Any]) -> TrainConfig:
    """The algorithm part of a plain (JSON) hpfree config as typed dataclasses."""
    opt = dict(plain["optimizer"])
    spec = optimizer_registry.get(opt.get("name"))
    return TrainConfig(
        optimizer=spec.config_cls(**opt),
        horizon=HorizonConfig(**plain.get("horizon", {})),
        schedule=ScheduleConfig(**plain.get("schedule", {})),
        regularization=RegularizationConfig(**plain.get("regularization", {})),
        workload=plain.get("workload"),
        seed=int(plain.get("seed", 0)),
    )


@dataclass
class SubmissionConfig:
    train: TrainConfig
    max_steps: int
    batch_size: int
    workload: str = ""

    @classmethod
    def load(cls, path: Optional[Path] = None) -> "SubmissionConfig":
        path = Path(path) if path is not None else config_path()
        if not path.exists():
            raise FileNotFoundError(
                f"hpfree's AlgoPerf submission needs its config: set ${CONFIG_ENV} to the JSON "
                f"written by hpfree.runners.algoperf (or put {CONFIG_FILE} next to {__file__})")
        data = json.loads(path.read_text())
        return cls(train=train_config_from_plain(data["config"]),
                   max_steps=int(data["max_steps"]), batch_size=int(data["batch_size"]),
                   workload=str(data.get("workload", "")))


def write_config(path: Path, config: dict[str, Any], max_steps: int, batch_size: int,
                 workload: str) -> Path:
    """The JSON this module reads (``config`` is the plain hpfree config).

    Python's JSON dialect (``Infinity`` allowed): some optimizer defaults are infinite.
    """
    from hpfree.io import atomic_write_text

    blob = {"config": config, "max_steps": int(max_steps), "batch_size": int(batch_size),
            "workload": workload}
    return atomic_write_text(path, json.dumps(blob, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------------------
# Per-run state (one AlgoPerf study at a time in a process)


def _accepts(fn: Callable, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _shardings():
    mesh = jax.sharding.Mesh(jax.devices(), ("batch",))
    P = jax.sharding.PartitionSpec
    return (jax.sharding.NamedSharding(mesh, P()),
            jax.sharding.NamedSharding(mesh, P("batch")))


def _shape_tree(tree: Any) -> Any:
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), jnp.result_type(x)), tree)


def unreplicate_like(tree: Any, template: Any) -> Any:
    """Strip a leading device axis that AlgoPerf's JAX checkpoint restore adds.

    A leaf whose shape is ``(n_devices, *template_shape)`` (and not the template shape
    itself) is replaced by its first replica; other leaves are left alone.
    """
    n = jax.local_device_count()

    def fix(x, t):
        shape = tuple(np.shape(x))
        want = tuple(t.shape)
        if shape != want and shape == (n, *want):
            return x[0]
        return x

    return jax.tree.map(fix, tree, template)


@dataclass
class _Run:
    cfg: SubmissionConfig
    algo: Algorithm
    step_fn: Callable
    eval_fn: Optional[Callable]
    template: Any
    replicated: Any
    checked: bool = False
    diverged: bool = False
    last_loss: float = float("nan")
    steps_seen: int = 0

    @property
    def keeps_train_params(self) -> bool:
        return self.algo.spec.eval_params is not None


_RUN: Optional[_Run] = None


def current_run() -> Optional[_Run]:
    """The state of the study in progress (the runner reads ``diverged`` after a run)."""
    return _RUN


def keep_shapes(new: Any, old: Any) -> Any:
    """``new`` with each leaf reshaped to its ``old`` leaf's shape where only the shape differs.

    AlgoPerf's DeepSpeech and Conformer BatchNorm initialise their running statistics as
    ``[features]`` and store updates as ``[1, 1, features]`` (``keepdims``): the state handed
    back to the next step has new shapes, so the jitted step compiled a second time at step 2
    (measured on generated DeepSpeech, 2 CPU cores under load: 93 s of a 398 s run).  The
    values broadcast alike either way; keeping the shapes keeps one compiled step.
    """
    try:
        return jax.tree.map(
            lambda n, o: (jnp.reshape(n, jnp.shape(o))
                          if jnp.shape(n) != jnp.shape(o) and jnp.size(n) == jnp.size(o)
                          else n), new, old)
    except (ValueError, TypeError):  # another tree structure: nothing to keep
        return new


def _make_step(workload, algo: Algorithm, dropout: float, label_smoothing: float,
               keep_train_params: bool, replicated, batch_sharded):
    from algoperf import spec

    model_kwargs = {"dropout_rate": dropout} if _accepts(workload.model_fn, "dropout_rate") else {}
    loss_kwargs = ({"label_smoothing": label_smoothing}
                   if _accepts(workload.loss_fn, "label_smoothing") else {})

    def step(inner, params, model_state, batch, rng):
        train_params = inner["train_params"] if keep_train_params else params

        def loss_fn(p):
            logits, new_model_state = workload.model_fn(
                p, batch, model_state, spec.ForwardPassMode.TRAIN, rng,
                update_batch_norm=True, **model_kwargs)
            out = workload.loss_fn(label_batch=batch["targets"], logits_batch=logits,
                                   mask_batch=batch.get("weights"), **loss_kwargs)
            return out["summed"] / out["n_valid_examples"], new_model_state

        (loss, new_model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(train_params)
        new_params, opt_state = algo.update(grads, inner["opt"], train_params, loss)
        new_model_state = keep_shapes(new_model_state, model_state)
        new_inner = dict(inner)
        new_inner["opt"] = opt_state
        new_inner["nonfinite"] = jnp.logical_or(inner["nonfinite"],
                                                jnp.logical_not(jnp.isfinite(loss)))
        new_inner["loss"] = jnp.asarray(loss, jnp.float32)
        if keep_train_params:
            new_inner["train_params"] = new_params
        return new_inner, new_params, new_model_state

    in_shardings = (replicated, replicated, replicated, batch_sharded, replicated)
    out_shardings = (replicated, replicated, replicated)
    # Donation as in AlgoPerf's baselines; not when the optimizer keeps a second copy of the
    # training point (the runner may hold the same buffers as the optimizer state then).
    donate = () if keep_train_params else (0, 1, 2)
    return jax.jit(step, in_shardings=in_shardings, out_shardings=out_shardings,
                   donate_argnums=donate)


def _check_replication(run: _Run, inner, params, model_state):
    """First call after init or a checkpoint restore: undo AlgoPerf's replicate()."""
    if run.checked:
        return inner, params, model_state
    t_inner, t_params, t_state = run.template
    inner = unreplicate_like(inner, t_inner)
    params = unreplicate_like(params, t_params)
    model_state = unreplicate_like(model_state, t_state)
    inner, params, model_state = jax.device_put((inner, params, model_state), run.replicated)
    run.checked = True
    return inner, params, model_state


# --------------------------------------------------------------------------------------
# The submission API


def get_batch_size(workload_name: str) -> int:
    """The global batch size: ``workload.batch_size`` of the hpfree config."""
    del workload_name
    return SubmissionConfig.load().batch_size


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
    """Build hpfree's algorithm for this workload and initialise its state at the params."""
    del hyperparameters, rng  # self-tuning: the config is the algorithm
    global _RUN
    cfg = SubmissionConfig.load()
    algo = build_algorithm(cfg.train, cfg.max_steps)
    replicated, batch_sharded = _shardings()
    params = jax.device_put(model_params, replicated)
    keep = algo.spec.eval_params is not None
    inner = {
        "opt": algo.init(params),
        "nonfinite": jnp.zeros((), jnp.bool_),
        "loss": jnp.zeros((), jnp.float32),
    }
    if keep:
        inner["train_params"] = params
    # Fresh buffers for every leaf: optimizer states may hold the initial params themselves
    # (Prodigy's x0, ...), and the step donates params and state (one buffer, donated twice,
    # is an error).
    inner = jax.device_put(jax.tree.map(jnp.copy, inner), replicated)
    reg = cfg.train.regularization
    step_fn = _make_step(workload, algo, reg.dropout, reg.label_smoothing, keep,
                         replicated, batch_sharded)
    eval_fn = jax.jit(algo.eval_params, out_shardings=replicated) if keep else None
    template = (_shape_tree(inner), _shape_tree(params), _shape_tree(model_state))
    _RUN = _Run(cfg=cfg, algo=algo, step_fn=step_fn, eval_fn=eval_fn, template=template,
                replicated=replicated)
    # (state, update function): the pair AlgoPerf's JAX checkpointing unpacks.
    return inner, algo


def _check_divergence(run: _Run, inner, global_step, workload) -> None:
    loss = float(inner["loss"])
    run.last_loss = loss
    if bool(inner["nonfinite"]):
        run.diverged = True
    if workload.metrics_logger is not None:
        workload.metrics_logger.append_scalar_metrics({"loss": loss}, global_step)


def update_params(
    workload,
    current_param_container,
    current_params_types,
    model_state,
    hyperparameters,
    batch: Dict[str, Any],
    loss_type,
    optimizer_state,
    eval_results: List[Tuple[int, float]],
    global_step: int,
    rng,
    train_state: Optional[Dict[str, Any]] = None,
):
    """One step of hpfree's algorithm; returns (optimizer_state, params, model_state)."""
    del current_params_types, hyperparameters, loss_type, eval_results, train_state
    from algoperf import spec

    run = _RUN
    if run is None:
        raise RuntimeError("init_optimizer_state was not called before update_params")
    if stop_requested is not None and stop_requested():
        raise Preempted(f"stop requested at step {global_step}")
    inner, algo = optimizer_state
    inner, params, model_state = _check_replication(run, inner, current_param_container,
                                                    model_state)
    if global_step > 0 and global_step % CHECK_EVERY == 0:
        _check_divergence(run, inner, global_step, workload)
    if run.diverged:
        raise spec.TrainingCompleteError(f"non-finite training loss by step {global_step}")
    inner, params, model_state = run.step_fn(inner, params, model_state, batch, rng)
    run.steps_seen += 1
    return (inner, algo), params, model_state


def prepare_for_eval(
    workload,
    current_param_container,
    current_params_types,
    model_state,
    hyperparameters,
    loss_type,
    optimizer_state,
    eval_results: List[Tuple[int, float]],
    global_step: int,
    rng,
):
    """Hand the evaluation parameters to the runner (Schedule-Free's averaged point)."""
    del current_params_types, hyperparameters, loss_type, eval_results, rng
    run = _RUN
    inner, algo = optimizer_state
    if run is None:
        return optimizer_state, current_param_container, model_state
    inner, params, model_state = _check_replication(run, inner, current_param_container,
                                                    model_state)
    _check_divergence(run, inner, global_step, workload)
    if run.eval_fn is not None:
        params = run.eval_fn(inner["opt"], inner["train_params"])
    return (inner, algo), params, model_state


def data_selection(
    workload,
    input_queue: Iterator[Dict[str, Any]],
    optimizer_state,
    current_param_container,
    model_state,
    hyperparameters,
    global_step: int,
    rng,
) -> Dict[str, Any]:
    """The next batch of AlgoPerf's (pre-shuffled, repeating) input queue."""
    del workload, optimizer_state, current_param_container, model_state
    del hyperparameters, global_step, rng
    return next(input_queue)
