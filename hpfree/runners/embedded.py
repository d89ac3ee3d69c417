"""The embedded runner: a jitted train step scanned over the steps between evaluations.

Per chunk of ``workload.eval_every`` steps there is one dispatch (``lax.scan`` inside one
``jit``) and one host sync (the chunk's losses, to detect divergence).  Data lives on the
device; batches are drawn inside the scan from ``(seed, step)``.  After each chunk: evaluate
(at the optimizer's evaluation parameters), append a curve row, write a checkpoint
atomically, and stop early on a non-finite loss (``diverged``), on a requested stop signal
(``preempted``), or — with ``runner.stop_at_target`` — once the target is reached.

**Compiled once per structure.**  The chunk takes the run's numbers — learning rate, betas,
weight decay, dropout, label smoothing, warmup and horizon steps, the number of steps to
train, the training key — as arguments (:mod:`hpfree.hparams`), so its program depends only
on the *structure* (workload config, optimizer and its switches, schedule shape).  A
:class:`Program` is built and compiled once per structure and process and reused by every
run of it; across processes the persistent compilation cache (``train.py``) serves the same
executable.  The chunk always has ``eval_every`` steps; steps past a run's end are no-ops.

**Trial batches.**  :func:`run_batch` trains K runs of one structure in one ``jax.vmap``-ed
scan (the data shared, the numbers and states stacked).  Each run keeps its own directory,
curve, checkpoint and record; a run whose loss turns non-finite is recorded ``diverged`` and
frozen (its step limit becomes its current step, so the scan leaves it alone) while the
others go on; runs with other horizons stop at their own step; each run restores its own
checkpoint, at whatever step it had reached.  ``run`` is ``run_batch`` of one run, with the
un-batched program.

Training time excludes evaluation, like AlgoPerf's ``accumulated_submission_time``, and —
unlike AlgoPerf — compilation: it is paid once per structure and process (or not at all on a
persistent-cache hit), so charging it to whichever run compiled first would make
time-to-target depend on launch order.  In a batch, every run is charged the wall time of
the chunks it trained in (the batch's time, not a share of it).
"""

from __future__ import annotations

import collections
import copy
import json
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from hpfree import checkpoint, hparams, records
from hpfree.algorithm import build_algorithm
from hpfree.config import RunnerConfig, TrainConfig, to_plain
from hpfree.optimizers import registry as optimizer_registry
from hpfree.runners.registry import RunnerSpec
from hpfree.workloads import registry as workload_registry
from hpfree.workloads.base import Workload, reached

# Programs and device data kept per process (least recently used dropped first).
MAX_PROGRAMS = 8
MAX_DATASETS = 2


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


# ----------------------------------------------------------------------------- programs


def _scrubbed(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with every value replaced by NaN: what a :class:`Program` is built from, so
    that no run's numbers can become constants of the compiled step (they would poison its
    results and fail the tests)."""
    nan = float("nan")
    vals = hparams.values(cfg, cfg.workload.max_steps)
    out = hparams.with_values(cfg, {g: {k: nan for k in v} for g, v in vals.items()})
    out.schedule = copy.copy(cfg.schedule)
    out.schedule.warmup = nan
    return out


def make_chunk_fn(workload: Workload, cfg: TrainConfig, chunk_len: int):
    """``chunk(state, train_data, values, train_key, total) -> (state, (losses, lrs))``.

    ``chunk_len`` scanned steps of the run whose numbers are ``values``
    (``hparams.as_arrays``) and which ends at step ``total``; steps at or past ``total``
    leave the state unchanged and report a loss and learning rate of 0.
    """
    max_steps = cfg.workload.max_steps

    def chunk(state: TrainState, train_data, values, base_key, total):
        algo = build_algorithm(cfg, max_steps, values)
        reg = workload.regularizers(hparams.with_values(cfg, values).regularization)

        def step_fn(state: TrainState, _):
            key = jax.random.fold_in(base_key, state.step)
            batch_key, dropout_key = jax.random.split(key)
            batch = workload.sample_batch(train_data, batch_key)
            (loss, model_state), grads = jax.value_and_grad(workload.loss, has_aux=True)(
                state.params, state.model_state, batch, dropout_key, True, reg)
            params, opt_state = algo.update(grads, state.opt_state, state.params, loss)
            lr = jnp.asarray(algo.lr_schedule(state.step), jnp.float32)
            return (TrainState(state.step + 1, params, model_state, opt_state),
                    (jnp.asarray(loss, jnp.float32), lr))

        def guarded_step(state: TrainState, _):
            # Steps past the end are no-ops: every chunk has the same length and the scan
            # compiles once (a shorter last chunk, or a per-run length, would compile again).
            return jax.lax.cond(state.step < total, step_fn,
                                lambda s, _: (s, (jnp.zeros((), jnp.float32),) * 2), state, None)

        return jax.lax.scan(guarded_step, state, None, length=chunk_len)

    return chunk


@dataclass
class Program:
    """Everything compiled for one structure (see the module docstring), shared by its runs."""

    key: str
    workload: Workload
    cfg: TrainConfig  # the structure, its values scrubbed to NaN
    chunk_len: int
    init: Callable[..., TrainState]  # jit: (init_key, values) -> fresh state
    chunk_fn: Callable[..., Any]  # the un-jitted chunk (make_chunk_fn)
    eval_params: Callable[[Any, Any], Any]
    take: Callable[[Any, Any], Any]  # jit: (batched tree, i) -> run i's tree
    compiled: dict[int, Any] = field(default_factory=dict)  # K (0 = un-batched) -> executable
    compile_seconds: float = 0.0

    def chunk(self, k: int, args: tuple, announce: Callable[[str], None] = lambda _: None):
        """The compiled chunk for batches of ``k`` runs (0: one run, not vmapped)."""
        if k not in self.compiled:
            fn = self.chunk_fn if k == 0 else jax.vmap(self.chunk_fn,
                                                       in_axes=(0, None, 0, 0, 0))
            what = "1 run" if k == 0 else f"a batch of {k} runs"
            announce(f"compiling {self.cfg.workload.name} / {self.cfg.optimizer.name} "
                     f"for {what} (once per structure; cached on disk) …")
            t0 = time.perf_counter()
            self.compiled[k] = jax.jit(fn, donate_argnums=0).lower(*args).compile()
            self.compile_seconds += time.perf_counter() - t0
            announce(f"compiled in {time.perf_counter() - t0:.1f}s")
        return self.compiled[k]


_PROGRAMS: "collections.OrderedDict[str, Program]" = collections.OrderedDict()
_DATA: "collections.OrderedDict[str, tuple[Any, Any]]" = collections.OrderedDict()


def _remember(cache: collections.OrderedDict, key: str, value: Any, limit: int) -> Any:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)
    return value


def program(cfg: TrainConfig) -> Program:
    """The :class:`Program` of ``cfg``'s structure (built on first use in this process)."""
    key = hparams.structure(cfg)
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key]
    static = _scrubbed(cfg)
    workload = workload_registry.make(cfg.workload)
    spec = optimizer_registry.get(cfg.optimizer.name)
    max_steps = cfg.workload.max_steps

    def init(init_key, values):
        params, model_state = workload.init(init_key)
        algo = build_algorithm(static, max_steps, values)
        return TrainState(jnp.zeros((), jnp.int32), params, model_state, algo.init(params))

    def eval_params(opt_state, params):
        return params if spec.eval_params is None else spec.eval_params(opt_state, params)

    prog = Program(key=key, workload=workload, cfg=static, chunk_len=cfg.workload.eval_every,
                   init=jax.jit(init),
                   chunk_fn=make_chunk_fn(workload, static, cfg.workload.eval_every),
                   eval_params=jax.jit(eval_params),
                   take=jax.jit(lambda tree, i: jax.tree.map(lambda x: x[i], tree)))
    return _remember(_PROGRAMS, key, prog, MAX_PROGRAMS)


def device_data(prog: Program) -> tuple[Any, Any]:
    """(train, validation) of the program's workload, on the device (kept per process)."""
    key = json.dumps(to_plain(prog.cfg.workload), sort_keys=True, default=str)
    if key in _DATA:
        _DATA.move_to_end(key)
        return _DATA[key]
    data = prog.workload.make_data()
    pair = (jax.device_put(data["train"]), jax.device_put(data["validation"]))
    return _remember(_DATA, key, pair, MAX_DATASETS)


def clear_caches() -> None:
    """Forget compiled programs and device data (the next run compiles again)."""
    _PROGRAMS.clear()
    _DATA.clear()


# ----------------------------------------------------------------------------- runs


def _fresh(tree: Any) -> Any:
    """Own, strongly typed device buffers for every leaf: the chunk donates its state (and a
    buffer cannot be donated twice, e.g. Prodigy's x0 = params), and the compiled chunk's
    input types must not depend on where a state came from (init or a checkpoint)."""
    return jax.device_put(jax.tree.map(np.array, jax.device_get(tree)))


@dataclass
class _Run:
    """Host-side bookkeeping of one run of a batch."""

    cfg: TrainConfig
    run_dir: Path
    record: records.RunRecord
    values: hparams.Values
    total: int
    train_key: jax.Array
    progress: dict[str, Any]
    step: int = 0
    status: Optional[str] = None  # None while training

    @property
    def active(self) -> bool:
        return self.status is None


def run(cfg: TrainConfig, run_dir: str | Path, record: records.RunRecord,
        handle_signals: bool = True, on_eval: Optional[Callable[[dict], None]] = None,
        ) -> records.RunRecord:
    """Train ``cfg`` in ``run_dir``, resuming from its checkpoint if there is one.

    ``record`` carries the identity fields (filled by the caller); this function fills the
    results and returns it.  It does not write the final record — the caller does.
    """
    hook = None if on_eval is None else (lambda i, row: on_eval(row))
    return run_batch([cfg], [run_dir], [record], handle_signals=handle_signals,
                     on_eval=hook)[0]


def run_batch(cfgs: Sequence[TrainConfig], run_dirs: Sequence[str | Path],
              recs: Sequence[records.RunRecord], handle_signals: bool = True,
              on_eval: Optional[Callable[[int, dict], None]] = None,
              on_done: Optional[Callable[[int, records.RunRecord], None]] = None,
              progress: Any = None) -> list[records.RunRecord]:
    """Train runs of one structure together (``jax.vmap``; one run: the plain program).

    ``on_eval(i, row)`` follows every curve row of run ``i``; ``on_done(i, record)`` is
    called as soon as run ``i`` has its final status (the caller writes its record then, so
    a later kill of the batch does not lose it); ``progress`` (``hpfree.progress``) shows
    the batch.  Returns the records, filled (not written).
    """
    if not cfgs:
        return []
    keys = {hparams.structure(c) for c in cfgs}
    if len(keys) != 1:
        raise ValueError("a trial batch must share one structure (workload, optimizer and "
                         "its switches, schedule shape); these runs differ")
    prog = program(cfgs[0])
    wl_cfg = prog.cfg.workload
    every, max_steps = wl_cfg.eval_every, wl_cfg.max_steps
    workload = prog.workload
    batched = len(cfgs) > 1
    announce = getattr(progress, "note", None) or (lambda _: None)

    runs: list[_Run] = []
    states = []
    for cfg, run_dir, rec in zip(cfgs, run_dirs, recs):
        values = hparams.values(cfg, max_steps)
        init_key, train_key = jax.random.split(jax.random.PRNGKey(cfg.seed))
        state = _fresh(prog.init(init_key, hparams.as_arrays(values)))
        run_progress: dict[str, Any] = {"rows": [], "train_seconds": 0.0, "eval_seconds": 0.0,
                                        "preemptions": 0, "ttt_steps": None, "ttt_seconds": None}
        restored = checkpoint.load(run_dir, state)
        if restored is not None:
            state, run_progress = restored
            state = _fresh(state)
            run_progress["preemptions"] = run_progress.get("preemptions", 0) + 1
        runs.append(_Run(cfg, Path(run_dir), rec, values, hparams.num_steps(cfg, max_steps),
                         train_key, run_progress, step=int(state.step)))
        states.append(state)

    train_data, valid_data = device_data(prog)
    if batched:
        state = jax.device_put(hparams.stack(states))
        values = hparams.stack([hparams.as_arrays(r.values) for r in runs])
        train_keys = jnp.stack([r.train_key for r in runs])
    else:
        state, values, train_keys = states[0], hparams.as_arrays(runs[0].values), runs[0].train_key
    del states

    def limits() -> jax.Array:
        # A finished or frozen run's limit is its current step: the scan leaves it alone.
        lim = [r.total if r.active else r.step for r in runs]
        return jnp.asarray(lim if batched else lim[0], jnp.int32)

    def one(tree: Any, i: int) -> Any:
        return prog.take(tree, i) if batched else tree

    def finish(i: int, status: str) -> None:
        r = runs[i]
        r.status = status
        records.write_curve(r.run_dir, r.progress["rows"])
        if status == "completed":
            # The final state stays on disk: it is what resume-equivalence is checked
            # against, and what a longer continuation would start from.
            checkpoint.save(r.run_dir, jax.device_get(one(state, i)), r.progress)
        _fill(r)
        if on_done is not None:
            on_done(i, r.record)

    for i, r in enumerate(runs):
        if r.step >= r.total:  # restored from its final checkpoint
            finish(i, "completed")

    stop = StopRequested()
    restore_signals = stop.install() if handle_signals else (lambda: None)
    last_ckpt = time.monotonic()
    if progress is not None:
        progress.start([r.total for r in runs], [r.step for r in runs])
    try:
        while any(r.active for r in runs):
            args = (state, train_data, values, train_keys, limits())
            chunk = prog.chunk(len(runs) if batched else 0, args, announce)
            t0 = time.perf_counter()
            state, (losses, lrs) = chunk(*args)
            losses, lrs = jax.device_get((losses, lrs))  # the one host sync per chunk
            elapsed = time.perf_counter() - t0
            for i, r in enumerate(runs):
                if not r.active:
                    continue
                length = min(every, r.total - r.step)
                run_losses = (losses[i] if batched else losses)[:length]
                run_lrs = (lrs[i] if batched else lrs)[:length]
                r.progress["train_seconds"] += elapsed
                r.step += length
                diverged = not np.all(np.isfinite(run_losses))
                t1 = time.perf_counter()
                if diverged:
                    metrics = {"loss": float("nan"), wl_cfg.metric: float("nan")}
                else:
                    s = one(state, i)
                    metrics = workload.evaluate(prog.eval_params(s.opt_state, s.params),
                                                s.model_state, valid_data)
                r.progress["eval_seconds"] += time.perf_counter() - t1
                value = float(metrics[wl_cfg.metric])
                row = {
                    "step": r.step,
                    "train_seconds": r.progress["train_seconds"],
                    "eval_seconds": r.progress["eval_seconds"],
                    "train_loss": float(np.mean(run_losses)),
                    "lr": float(run_lrs[-1]),
                    "validation/loss": float(metrics["loss"]),
                    f"validation/{wl_cfg.metric}": value,
                }
                r.progress["rows"].append(row)
                if r.progress["ttt_steps"] is None and reached(value, wl_cfg.target,
                                                               wl_cfg.direction):
                    r.progress["ttt_steps"] = r.step
                    r.progress["ttt_seconds"] = r.progress["train_seconds"]
                if on_eval is not None:
                    on_eval(i, row)
                if diverged:
                    finish(i, "diverged")
                elif r.cfg.runner.stop_at_target and r.progress["ttt_steps"] is not None:
                    finish(i, "completed")
                elif r.step >= r.total:
                    finish(i, "completed")
            if progress is not None:
                progress.update([r.step for r in runs], [r.status for r in runs], elapsed)
            due = time.monotonic() - last_ckpt >= min(r.cfg.runner.checkpoint_every_s
                                                       for r in runs)
            if stop.signum is not None or due:
                live = [i for i, r in enumerate(runs) if r.active]
                for i in live:
                    r = runs[i]
                    records.write_curve(r.run_dir, r.progress["rows"])
                    checkpoint.save(r.run_dir, jax.device_get(one(state, i)), r.progress)
                if live:
                    last_ckpt = time.monotonic()
            if stop.signum is not None:
                for i, r in enumerate(runs):
                    if r.active:
                        r.status = "preempted"
                        _fill(r)
                break
    finally:
        restore_signals()
        if progress is not None:
            progress.stop()
    for r in runs:
        if r.active:  # not reached: the loop ends only when every run is finished
            r.status = "preempted"
            _fill(r)
    return [r.record for r in runs]


def _fill(r: _Run) -> None:
    """Copy a run's results into its record (its status included)."""
    records.summarize(r.record, r.progress["rows"])
    r.record.status = r.status or "preempted"
    r.record.steps = r.step
    r.record.train_seconds = r.progress["train_seconds"]
    r.record.eval_seconds = r.progress["eval_seconds"]
    r.record.preemptions = r.progress["preemptions"]


@dataclass
class EmbeddedRunnerConfig(RunnerConfig):
    """``runner=embedded``: hpfree's own jit + ``lax.scan`` loop on the built-in workloads.

    A checkpoint at most every ``checkpoint_every_s`` seconds (0 = at every evaluation),
    always on SIGTERM/SIGUSR2 and at the end.  ``trial_batch`` points of a search train
    together in one vmapped scan (:func:`run_batch`).
    """

    name: str = "embedded"
    checkpoint_every_s: float = 30.0


RUNNER = RunnerSpec("embedded", EmbeddedRunnerConfig, run, run_batch=run_batch,
                    description="jit + lax.scan on the built-in workloads (CPU-friendly)")
