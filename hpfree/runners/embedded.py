"""The embedded runner: a jitted train step scanned over the steps between evaluations.

Per chunk of ``workload.eval_every`` steps there is one dispatch (``lax.scan`` inside one
``jit``) and one host sync (the chunk's losses, to detect divergence).  Data lives on the
device; batches are drawn inside the scan from ``(seed, step)``.  After each chunk: evaluate
(at the optimizer's evaluation parameters), append a curve row, write a checkpoint
atomically, and stop early on a non-finite loss (``diverged``), on a requested stop signal
(``preempted``), or — with ``runner.stop_at_target`` — once the target is reached.

Training time excludes evaluation, like AlgoPerf's ``accumulated_submission_time``; it
includes compilation, which AlgoPerf counts too.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from hpfree import checkpoint, records
from hpfree.algorithm import Algorithm, build_algorithm
from hpfree.config import RunnerConfig, TrainConfig
from hpfree.runners.registry import RunnerSpec
from hpfree.workloads import registry as workload_registry
from hpfree.workloads.base import Workload, reached


class TrainState(NamedTuple):
    step: jax.Array
    params: Any
    model_state: Any
    opt_state: Any


class StopRequested:
    """Set by SIGTERM/SIGUSR2; the loop checkpoints at the next chunk boundary and returns."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None

    def __call__(self, signum, frame) -> None:  # signal handler
        self.signum = signum

    def install(self) -> Callable[[], None]:
        old = {s: signal.signal(s, self) for s in (signal.SIGTERM, signal.SIGUSR2)}

        def restore() -> None:
            for s, h in old.items():
                signal.signal(s, h)

        return restore


def make_chunk_fn(workload: Workload, algo: Algorithm, base_key: jax.Array, chunk_len: int,
                  total_steps: int):
    """``chunk(state, train_data) -> (state, (losses, lrs))``: ``chunk_len`` scanned steps."""

    def step_fn(train_data, state: TrainState, _):
        key = jax.random.fold_in(base_key, state.step)
        batch_key, dropout_key = jax.random.split(key)
        batch = workload.sample_batch(train_data, batch_key)
        (loss, model_state), grads = jax.value_and_grad(workload.loss, has_aux=True)(
            state.params, state.model_state, batch, dropout_key, True)
        params, opt_state = algo.update(grads, state.opt_state, state.params, loss)
        lr = jnp.asarray(algo.lr_schedule(state.step), jnp.float32)
        return TrainState(state.step + 1, params, model_state, opt_state), (loss, lr)

    def guarded_step(train_data, state: TrainState, _):
        # Steps past the end of training are no-ops, so every chunk has the same length and
        # the scan compiles once per run (a shorter last chunk would compile again).
        return jax.lax.cond(state.step < total_steps, partial(step_fn, train_data),
                            lambda s, _: (s, (jnp.zeros((), jnp.float32),) * 2), state, None)

    @partial(jax.jit, donate_argnums=0)
    def chunk(state: TrainState, train_data):
        return jax.lax.scan(partial(guarded_step, train_data), state, None, length=chunk_len)

    return chunk


def run(cfg: TrainConfig, run_dir: str | Path, record: records.RunRecord,
        handle_signals: bool = True, on_eval: Optional[Callable[[dict], None]] = None,
        ) -> records.RunRecord:
    """Train ``cfg`` in ``run_dir``, resuming from its checkpoint if there is one.

    ``record`` carries the identity fields (filled by the caller); this function fills the
    results and returns it.  It does not write the final record — the caller does.
    """
    run_dir = Path(run_dir)
    wl_cfg = cfg.workload
    workload = workload_registry.make(wl_cfg, cfg.regularization)
    algo = build_algorithm(cfg, wl_cfg.max_steps)

    data = workload.make_data()
    train_data = jax.device_put(data["train"])
    valid_data = jax.device_put(data["validation"])

    root = jax.random.PRNGKey(cfg.seed)
    init_key, train_key = jax.random.split(root)
    params, model_state = workload.init(init_key)
    state = TrainState(jnp.asarray(0, jnp.int32), params, model_state, algo.init(params))
    # Optimizer states may alias the parameters (e.g. Prodigy keeps x0 = params); the chunk
    # donates its input state, and a buffer cannot be donated twice: give each leaf its own.
    state = jax.tree.map(lambda x: jnp.array(x, copy=True), state)

    progress: dict[str, Any] = {"rows": [], "train_seconds": 0.0, "eval_seconds": 0.0,
                                "preemptions": 0, "ttt_steps": None, "ttt_seconds": None}
    restored = checkpoint.load(run_dir, state)
    if restored is not None:
        state, progress = restored
        state = jax.device_put(state)
        progress["preemptions"] = progress.get("preemptions", 0) + 1

    eval_params = jax.jit(algo.eval_params)
    total = algo.num_steps
    every = wl_cfg.eval_every
    chunk = make_chunk_fn(workload, algo, train_key, min(every, total), total)

    stop = StopRequested()
    restore_signals = stop.install() if handle_signals else (lambda: None)
    status = "completed"
    last_ckpt = time.monotonic()
    try:
        step = int(state.step)
        while step < total:
            length = min(every, total - step)
            t0 = time.perf_counter()
            state, (losses, lrs) = chunk(state, train_data)
            losses, lrs = jax.device_get((losses, lrs))  # the one host sync per chunk
            losses, lrs = losses[:length], lrs[:length]
            progress["train_seconds"] += time.perf_counter() - t0
            step += length

            diverged = not np.all(np.isfinite(losses))
            t1 = time.perf_counter()
            if diverged:
                metrics = {"loss": float("nan"), wl_cfg.metric: float("nan")}
            else:
                metrics = workload.evaluate(eval_params(state.opt_state, state.params),
                                            state.model_state, valid_data)
            progress["eval_seconds"] += time.perf_counter() - t1
            value = float(metrics[wl_cfg.metric])
            row = {
                "step": step,
                "train_seconds": progress["train_seconds"],
                "eval_seconds": progress["eval_seconds"],
                "train_loss": float(np.mean(losses)),
                "lr": float(lrs[-1]),
                "validation/loss": float(metrics["loss"]),
                f"validation/{wl_cfg.metric}": value,
            }
            progress["rows"].append(row)
            if progress["ttt_steps"] is None and reached(value, wl_cfg.target, wl_cfg.direction):
                progress["ttt_steps"] = step
                progress["ttt_seconds"] = progress["train_seconds"]
            if on_eval is not None:
                on_eval(row)
            if diverged:
                status = "diverged"
                break
            if cfg.runner.stop_at_target and progress["ttt_steps"] is not None:
                break
            due = time.monotonic() - last_ckpt >= cfg.runner.checkpoint_every_s
            if stop.signum is not None or (due and step < total):
                records.write_curve(run_dir, progress["rows"])
                checkpoint.save(run_dir, state, progress)
                last_ckpt = time.monotonic()
            if stop.signum is not None:
                status = "preempted"
                break
    finally:
        restore_signals()
    records.write_curve(run_dir, progress["rows"])

    records.summarize(record, progress["rows"])
    record.status = status
    record.steps = int(state.step)
    record.train_seconds = progress["train_seconds"]
    record.eval_seconds = progress["eval_seconds"]
    record.preemptions = progress["preemptions"]
    if status == "completed":
        # The final state stays on disk: it is what resume-equivalence is checked against,
        # and what a longer continuation would start from.
        checkpoint.save(run_dir, state, progress)
    return record


@dataclass
class EmbeddedRunnerConfig(RunnerConfig):
    """``runner=embedded``: hpfree's own jit + ``lax.scan`` loop on the built-in workloads.

    A checkpoint at most every ``checkpoint_every_s`` seconds (0 = at every evaluation),
    always on SIGTERM/SIGUSR2 and at the end.
    """

    name: str = "embedded"
    checkpoint_every_s: float = 30.0


RUNNER = RunnerSpec("embedded", EmbeddedRunnerConfig, run,
                    description="jit + lax.scan on the built-in workloads (CPU-friendly)")
