"""``runner=algoperf``: the same algorithm on AlgoPerf workloads, through AlgoPerf's runner.

Config → submission config + flags → ``submission_runner.score_submission_on_workload`` →
``eval_measurements.csv`` → our run record.

* The submission is :mod:`hpfree.runners.algoperf_submission`; it rebuilds the algorithm with
  :func:`hpfree.algorithm.build_algorithm` from ``<run_dir>/algoperf_submission.json`` (named
  by ``$HPFREE_ALGOPERF_CONFIG``), so both runners train with the same code.
* Self-tuning ruleset (no search space: the config is the point; AlgoPerf allows 1.5× the
  runtime budget), ``max_global_steps`` = the algorithm's step count (the horizon, when the
  schedule stops there), ``rng_seed`` = ``seed + 1`` (AlgoPerf draws a random seed for 0),
  ``data_dir`` from ``runner.data_dir``.
* AlgoPerf writes to ``<run_dir>/algoperf/<workload>_jax/trial_1/`` (its usual
  ``experiment_dir/experiment_name/workload_framework`` layout with ``experiment_dir`` =
  the run directory).  We build that path ourselves and call the API, so AlgoPerf's log-dir
  helper — which asks on stdin whether to resume when the directory exists — never runs.
* Resume: AlgoPerf checkpoints after every evaluation and restores the latest checkpoint in
  that directory on start (counting ``preemption_count``).  A SIGTERM/SIGUSR2 stops training
  at the next step (:class:`~hpfree.runners.algoperf_submission.Preempted`) and the record
  says ``preempted``; running the same config again resumes.
* Times come from the CSV (``accumulated_submission_time`` of the first evaluation at or
  past the target), never from the score the API returns (under the external ruleset that
  value is ``min`` over a dict's keys — a trial index, not a time).
* The equivalent ``submission_runner.py`` command is written to ``algoperf_command.sh``.

Known traps of algoperf at main (Sept 2025), handled here: it imports torch (and TF) even for
JAX; ``score_submission_on_workload`` reads ``FLAGS.framework`` / ``FLAGS.tuning_ruleset`` so
absl flags are parsed first; its JAX restore re-adds a device axis (see the submission).
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pandas as pd

from hpfree import algoperf_rules, records
from hpfree.algorithm import build_algorithm
from hpfree.config import RunnerConfig, TrainConfig, to_plain
from hpfree.errors import ConfigError
from hpfree.io import atomic_write_text
from hpfree.knobs import knob, one_of
from hpfree.runners import algoperf_submission as submission
from hpfree.runners.registry import RunnerSpec
from hpfree.workloads.algoperf_specs import BASE_WORKLOADS, PREFIX, AlgoPerfWorkloadConfig

EXPERIMENT_NAME = "algoperf"
TRIAL = "trial_1"  # the self-tuning ruleset's single trial directory
EVAL_CSV = "eval_measurements.csv"
TRAIN_CSV = "measurements.csv"
# As submission_runner.main() does for these workloads, before JAX allocates GPU memory.
_MEM_FRACTION_WORKLOADS = ("librispeech_conformer", "librispeech_deepspeech", "imagenet_vit",
                           "criteo1tb")
_INIT_KWARG_FLAGS = {"librispeech_tokenizer_vocab_path": "tokenizer_vocab_path"}


def algoperf_available() -> bool:
    try:
        importlib.import_module("algoperf")
    except ImportError:
        return False
    return True


def _require_algoperf() -> None:
    if not algoperf_available():
        raise ConfigError(
            "runner=algoperf needs algoperf in this environment; install it beside hpfree "
            "(README: 'Running on AlgoPerf workloads')")


# --------------------------------------------------------------------------------------
# Config → names, paths, flags


def algoperf_name(cfg: TrainConfig) -> str:
    wl = cfg.workload
    if not isinstance(wl, AlgoPerfWorkloadConfig):
        raise ConfigError(
            f"runner=algoperf runs AlgoPerf workloads (workload=algoperf_ogbg, ...); "
            f"got workload={getattr(wl, 'name', wl)!r}")
    return cfg.runner.algoperf_workload or wl.algoperf_name


def step_budget(cfg: TrainConfig) -> int:
    """The run's step budget under ``runner.ruleset`` (:mod:`hpfree.algoperf_rules`).

    A base workload whose ``max_steps`` is the preset's (the study's Table 2 = v0.5) gets
    the ruleset's budget; an explicit ``workload.max_steps`` and every other workload keep
    theirs.
    """
    wl = cfg.workload
    rules = algoperf_rules.get(cfg.runner.ruleset)
    key = wl.name.removeprefix(PREFIX)
    if key in BASE_WORKLOADS and int(wl.max_steps) == algoperf_rules.V05.step_budget(key):
        return rules.step_budget(key)
    return int(wl.max_steps)


def _apply_runtime_budget(workload: Any, cfg: TrainConfig) -> None:
    """Give a base workload the ruleset's self-tuning runtime budget.

    AlgoPerf's runner (v0.6 code) allows ``1.5 × max_allowed_runtime_sec`` under the
    self-tuning ruleset, so the workload's budget becomes ``ruleset runtime / 1.5``: v0.5's
    3 × its own external runtimes, v0.6's 1.5 × (AlgoPerf's own numbers, unchanged).
    """
    key = cfg.workload.name.removeprefix(PREFIX)
    if key not in BASE_WORKLOADS:
        return
    seconds = algoperf_rules.get(cfg.runner.ruleset).self_tuning_runtime_s(key) / 1.5
    cls = type(workload)
    workload.__class__ = type(cls.__name__, (cls,), {
        "__module__": cls.__module__,
        "max_allowed_runtime_sec": property(lambda self: seconds)})


def log_dir(run_dir: str | Path, name: str, framework: str = "jax") -> Path:
    """AlgoPerf's experiment directory for this run (``trial_1`` is added by AlgoPerf)."""
    return Path(run_dir) / EXPERIMENT_NAME / f"{name}_{framework}"


def eval_csv_path(run_dir: str | Path, name: str, framework: str = "jax") -> Path:
    return log_dir(run_dir, name, framework) / TRIAL / EVAL_CSV


def rng_seed(cfg: TrainConfig) -> int:
    """AlgoPerf replaces a seed of 0 by a random one; ours map to ``seed + 1``."""
    return int(cfg.seed) + 1


def data_dir(cfg: TrainConfig) -> str:
    return os.path.expanduser(cfg.runner.data_dir or "~/data")


def flags(cfg: TrainConfig, run_dir: str | Path) -> dict[str, Any]:
    """``submission_runner.py`` flags equivalent to this run (self-tuning, no search space)."""
    name = algoperf_name(cfg)
    algo = build_algorithm(cfg, step_budget(cfg))
    out: dict[str, Any] = {
        "workload": name,
        "framework": cfg.runner.framework,
        "submission_path": submission.SUBMISSION_PATH,
        "tuning_ruleset": "self",
        "data_dir": data_dir(cfg),
        "experiment_dir": str(Path(run_dir).resolve()),
        "experiment_name": EXPERIMENT_NAME,
        "max_global_steps": int(algo.num_steps),
        "rng_seed": rng_seed(cfg),
        "resume_last_run": True,
        "save_checkpoints": True,
        "save_intermediate_checkpoints": False,
    }
    out.update(dict(cfg.runner.extra_flags or {}))
    return out


def flag_argv(flag_values: dict[str, Any]) -> list[str]:
    argv = []
    for k, v in flag_values.items():
        if v is None:
            continue
        if isinstance(v, bool):
            argv.append(f"--{k}" if v else f"--no{k}")
        else:
            argv.append(f"--{k}={v}")
    return argv


def command(cfg: TrainConfig, run_dir: str | Path) -> str:
    """The shell command that runs the same study with AlgoPerf's CLI."""
    cfg_path = Path(run_dir).resolve() / submission.CONFIG_FILE
    argv = ["python", "-m", "submission_runner", *flag_argv(flags(cfg, run_dir))]
    return (f"# Run from a directory where `import hpfree` works (e.g. the hpfree checkout).\n"
            f"{submission.CONFIG_ENV}={shlex.quote(str(cfg_path))} "
            + " ".join(shlex.quote(a) for a in argv) + "\n")


# --------------------------------------------------------------------------------------
# The AlgoPerf workload and what AlgoPerf says about it


@dataclass(frozen=True)
class WorkloadInfo:
    metric: str  # AlgoPerf's target_metric_name (the CSV column is validation/<metric>)
    target: float
    direction: str
    step_hint: int
    max_runtime_s: float
    eval_period_s: float


def make_workload(cfg: TrainConfig) -> Any:
    """The AlgoPerf workload object (``workload_class`` or AlgoPerf's registry)."""
    from algoperf.workloads import workloads

    wl: AlgoPerfWorkloadConfig = cfg.workload
    name = algoperf_name(cfg)
    kwargs = dict(wl.init_kwargs or {})
    extra = dict(cfg.runner.extra_flags or {})
    for flag, kwarg in _INIT_KWARG_FLAGS.items():
        if extra.get(flag):
            kwargs[kwarg] = extra[flag]
    if wl.workload_class:
        module, cls_name = wl.workload_class.split(":", 1)
        return getattr(importlib.import_module(module), cls_name)(**kwargs)
    if name not in workloads.WORKLOADS:
        raise ConfigError(f"algoperf has no workload {name!r}; it has: "
                          f"{', '.join(sorted(workloads.WORKLOADS))}")
    meta = workloads.WORKLOADS[name]
    path = os.path.join(workloads.BASE_WORKLOADS_DIR,
                        meta["workload_path"] + f"_{cfg.runner.framework}", "workload.py")
    return workloads.import_workload(workload_path=path,
                                     workload_class_name=meta["workload_class_name"],
                                     workload_init_kwargs=kwargs)


def workload_info(workload: Any) -> WorkloadInfo:
    """Target metric, validation target and its direction, read from the AlgoPerf workload.

    AlgoPerf states no direction; we ask the workload whether a value beyond the target on
    the high side reaches it.
    """
    metric = workload.target_metric_name
    target = float(workload.validation_target_value)
    probe = {f"validation/{metric}": target + abs(target) + 1.0}
    direction = "max" if workload.has_reached_validation_target(probe) else "min"
    return WorkloadInfo(metric=metric, target=target, direction=direction,
                        step_hint=int(workload.step_hint),
                        max_runtime_s=float(workload.max_allowed_runtime_sec),
                        eval_period_s=float(workload.eval_period_time_sec))


# --------------------------------------------------------------------------------------
# eval_measurements.csv → curve rows and record


def read_eval_measurements(path: str | Path) -> pd.DataFrame:
    """AlgoPerf's evaluations, one row per global step.

    After a preemption the resumed run may log an evaluation again for a step it had logged
    before the crash (killed between the CSV append and the checkpoint): keep the row from
    the latest run (highest ``preemption_count``).
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame()
    df = pd.read_csv(path)
    if df.empty:
        return df
    if "preemption_count" not in df:
        df["preemption_count"] = 0
    df = df.sort_values(["global_step", "preemption_count"], kind="stable")
    df = df.drop_duplicates("global_step", keep="last").reset_index(drop=True)
    return df


def _num(row: pd.Series, key: str) -> float:
    v = row.get(key)
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def curve_rows(df: pd.DataFrame, metric: str, lr: Optional[Callable[[int], float]] = None,
               alias: Optional[str] = None) -> list[dict[str, Any]]:
    """Our curve rows (the embedded runner's columns, plus AlgoPerf's bookkeeping)."""
    rows = []
    for _, r in df.iterrows():
        step = int(r["global_step"])
        row = {
            "step": step,
            "train_seconds": _num(r, "accumulated_submission_time"),
            "eval_seconds": _num(r, "accumulated_eval_time"),
            "train_loss": _num(r, "train/loss"),
            "lr": float(lr(max(step - 1, 0))) if lr is not None else float("nan"),
            "validation/loss": _num(r, "validation/loss"),
            f"validation/{metric}": _num(r, f"validation/{metric}"),
        }
        if alias and alias != metric:
            row[f"validation/{alias}"] = row[f"validation/{metric}"]
        row["preemption_count"] = int(_num(r, "preemption_count")) if not math.isnan(
            _num(r, "preemption_count")) else 0
        row["total_duration"] = _num(r, "total_duration")
        rows.append(row)
    return rows


def fill_record(record: records.RunRecord, df: pd.DataFrame, metric: str, target: float,
                direction: str, status: str = "completed",
                last_step: Optional[int] = None) -> records.RunRecord:
    """Results of an AlgoPerf study (its eval rows ``df``) into ``record``.

    ``ttt_steps``/``ttt_seconds``: the first evaluation reaching the target (non-strict, as
    AlgoPerf's scoring), with AlgoPerf's ``accumulated_submission_time`` as the time
    (:func:`hpfree.records.summarize`, as for every runner).
    """
    record.metric, record.target, record.direction = metric, float(target), direction
    record.status = status
    if df.empty:
        record.steps = int(last_step or 0)
        return record
    rows = curve_rows(df, metric)
    records.summarize(record, rows)
    steps = [int(r["step"]) for r in rows]
    record.steps = max([*steps, int(last_step or 0)])
    record.preemptions = int(pd.to_numeric(df["preemption_count"]).max())
    final = rows[-1][f"validation/{metric}"]
    if status == "completed" and not math.isfinite(final):
        record.status = "diverged"
    return record


def _last_logged_step(trial_dir: Path) -> Optional[int]:
    path = trial_dir / TRAIN_CSV
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        df = pd.read_csv(path, usecols=["global_step"])
    except (ValueError, pd.errors.EmptyDataError):
        return None
    return int(df["global_step"].max()) if not df.empty else None


# --------------------------------------------------------------------------------------
# Running


def _seed_torch(seed: int) -> None:
    """Seed torch's global generator: AlgoPerf's LibriSpeech pipelines shuffle with a torch
    ``DataLoader`` even in JAX runs, and AlgoPerf seeds torch only for PyTorch submissions,
    so without this the same config and seed gave a different curve each run."""
    import torch  # AlgoPerf imports it for every framework

    torch.manual_seed(seed)


def _parse_flags(flag_values: dict[str, Any]) -> Any:
    """Define (by importing submission_runner) and parse AlgoPerf's absl flags."""
    import submission_runner  # noqa: F401  (defines the flags; imports torch and TF)
    from absl import flags as absl_flags

    FLAGS = absl_flags.FLAGS
    argv = ["hpfree-algoperf", *flag_argv(flag_values)]
    FLAGS(argv)  # re-parsing in the same process sets the named flags again
    return FLAGS


def restore_checkpoint_jax(framework, optimizer_state, model_params, model_state, train_state,
                           eval_results, global_step, preemption_count, checkpoint_dir):
    """Restore AlgoPerf's latest JAX checkpoint in ``checkpoint_dir`` (same signature and
    return value as ``algoperf.checkpoint_utils.maybe_restore_checkpoint``).

    AlgoPerf's own restore at main (Sept 2025) fails for JAX: it restores with
    ``eval_results: None`` in the target, gets ``None`` back from Flax/Orbax and calls
    ``.items()`` on it; it also re-adds a device axis with ``jax_utils.replicate`` although
    the runner no longer uses pmap.  This reads the checkpoint without a target, restores
    the pytrees into the freshly initialised structures and leaves them unreplicated.
    """
    from flax import serialization
    from flax.training import checkpoints as flax_checkpoints

    if framework != "jax":
        raise ValueError("restore_checkpoint_jax is for framework=jax")
    opt_state, update_fn = optimizer_state
    raw = flax_checkpoints.restore_checkpoint(checkpoint_dir, target=None)
    if not isinstance(raw, dict) or "global_step" not in raw:
        return (optimizer_state, model_params, model_state, train_state, eval_results,
                global_step, preemption_count)
    target = {"model_params": model_params, "optimizer_state": opt_state,
              "model_state": model_state, "train_state": train_state}
    # Orbax stores empty containers (optax's EmptyState, {}) as None: put them back.
    state = _fill_empty(serialization.to_state_dict(target), {k: raw.get(k) for k in target})
    restored = serialization.from_state_dict(target, state)
    saved = raw.get("eval_results") or {}
    restored_evals = []
    for key in sorted(saved, key=lambda k: int(k)):
        item = saved[key]
        restored_evals.append((int(item["0"]), dict(item["1"])))
    return ((restored["optimizer_state"], update_fn), restored["model_params"],
            restored["model_state"], dict(restored["train_state"]), restored_evals,
            int(raw["global_step"]), int(raw["preemption_count"]) + 1)


def _fill_empty(template: Any, state: Any) -> Any:
    if isinstance(template, dict):
        if state is None and not template:
            return {}
        if isinstance(state, dict):
            return {k: _fill_empty(template.get(k), v) for k, v in state.items()} | {
                k: {} for k, v in template.items() if k not in state and v == {}}
    return state


@contextlib.contextmanager
def _working_restore():
    """Use AlgoPerf's restore, falling back to :func:`restore_checkpoint_jax` when it hits
    its known JAX failure (the fallback reads the same checkpoint)."""
    from algoperf import checkpoint_utils

    original = checkpoint_utils.maybe_restore_checkpoint

    def restore(framework, *args, **kwargs):
        try:
            return original(framework, *args, **kwargs)
        except (AttributeError, TypeError, KeyError) as exc:
            if framework != "jax":
                raise
            print(f"[hpfree] algoperf's checkpoint restore failed ({type(exc).__name__}: "
                  f"{exc}); restoring with hpfree's reader", flush=True)
            return restore_checkpoint_jax(framework, *args, **kwargs)

    checkpoint_utils.maybe_restore_checkpoint = restore
    try:
        yield
    finally:
        checkpoint_utils.maybe_restore_checkpoint = original


def _live_progress(workload: Any, run_dir: Path, metric: str, alias: str,
                   lr: Callable[[int], float], on_eval: Optional[Callable[[dict], None]]):
    """Report each evaluation as AlgoPerf logs it (and keep curve.csv current)."""
    rows: list[dict[str, Any]] = []
    attach = workload.attach_metrics_logger

    def attach_with_hook(logger):
        attach(logger)
        if logger is None:
            return
        append = logger.append_scalar_metrics

        def append_and_report(metrics, global_step, preemption_count=None, is_eval=False):
            append(metrics, global_step, preemption_count=preemption_count, is_eval=is_eval)
            if not is_eval:
                return
            row = curve_rows(pd.DataFrame([dict(metrics)]), metric, lr, alias)[0]
            rows.append(row)
            records.write_curve(run_dir, rows)
            if on_eval is not None:
                on_eval(row)

        logger.append_scalar_metrics = append_and_report

    workload.attach_metrics_logger = attach_with_hook


def run(cfg: TrainConfig, run_dir: str | Path, record: records.RunRecord,
        handle_signals: bool = True, on_eval: Optional[Callable[[dict], None]] = None,
        ) -> records.RunRecord:
    """Run (or resume) ``cfg`` with AlgoPerf's runner in ``run_dir``; fill ``record``."""
    run_dir = Path(run_dir).resolve()
    name = algoperf_name(cfg)
    if cfg.runner.framework != "jax":
        raise ConfigError(f"runner.framework={cfg.runner.framework!r}: hpfree's AlgoPerf "
                          "submission is JAX only")
    _require_algoperf()
    wl: AlgoPerfWorkloadConfig = cfg.workload
    budget = step_budget(cfg)
    algo = build_algorithm(cfg, budget)
    ldir = log_dir(run_dir, name, cfg.runner.framework)
    if cfg.force and ldir.exists():
        shutil.rmtree(ldir)

    if any(w in name for w in _MEM_FRACTION_WORKLOADS):
        os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.80")
    import jax

    if jax.process_count() > 1:
        raise ConfigError("AlgoPerf's JAX runner is single-host (its input pipelines feed "
                          "host-local batches): use one host per run (e.g. a single-worker "
                          "TPU slice)")

    cfg_json = submission.write_config(run_dir / submission.CONFIG_FILE, to_plain(cfg),
                                       budget, wl.batch_size, name)
    os.environ[submission.CONFIG_ENV] = str(cfg_json)
    flag_values = flags(cfg, run_dir)
    atomic_write_text(run_dir / "algoperf_command.sh", command(cfg, run_dir))
    FLAGS = _parse_flags(flag_values)
    import submission_runner
    from algoperf.profiler import PassThroughProfiler

    workload = make_workload(cfg)
    _apply_runtime_budget(workload, cfg)
    info = workload_info(workload)
    if wl.metric != info.metric or wl.direction != info.direction:
        print(f"[hpfree] note: algoperf's {name} targets validation/{info.metric} "
              f"({info.direction}); the config said {wl.metric} ({wl.direction})", flush=True)
    target = info.target if wl.target is None else float(wl.target)
    record.metric, record.target, record.direction = info.metric, target, info.direction
    _live_progress(workload, run_dir, info.metric, wl.metric, algo.lr_schedule, on_eval)

    from hpfree.runners.embedded import StopRequested

    stop = StopRequested()
    restore_signals = stop.install() if handle_signals else (lambda: None)
    submission.stop_requested = lambda: stop.signum is not None
    status = "completed"
    ldir.mkdir(parents=True, exist_ok=True)
    extra = dict(cfg.runner.extra_flags or {})
    _seed_torch(rng_seed(cfg))
    try:
        with _working_restore():
            submission_runner.score_submission_on_workload(
                workload=workload,
                workload_name=name,
                submission_path=submission.SUBMISSION_PATH,
                data_dir=data_dir(cfg),
                tuning_ruleset="self",
                profiler=PassThroughProfiler(),
                max_global_steps=int(algo.num_steps),
                imagenet_v2_data_dir=extra.get("imagenet_v2_data_dir"),
                log_dir=str(ldir),
                save_checkpoints=bool(FLAGS.save_checkpoints),
                rng_seed=rng_seed(cfg),
            )
    except submission.Preempted:
        status = "preempted"
    finally:
        restore_signals()
        submission.stop_requested = None

    sub_run = submission.current_run()
    if status == "completed" and sub_run is not None and sub_run.diverged:
        status = "diverged"
    trial_dir = ldir / TRIAL
    df = read_eval_measurements(trial_dir / EVAL_CSV)
    fill_record(record, df, info.metric, target, info.direction, status=status,
                last_step=_last_logged_step(trial_dir))
    records.write_curve(run_dir, curve_rows(df, info.metric, algo.lr_schedule, wl.metric))
    return record


def record_from_csv(csv_path: str | Path, record: records.RunRecord, metric: str,
                    target: float, direction: str, status: str = "completed",
                    ) -> records.RunRecord:
    """Convert an existing AlgoPerf ``eval_measurements.csv`` (e.g. from a run made with
    AlgoPerf's own CLI) into ``record``; writes nothing."""
    return fill_record(record, read_eval_measurements(csv_path), metric, target, direction,
                       status=status)


@dataclass
class AlgoPerfRunnerConfig(RunnerConfig):
    """``runner=algoperf``: AlgoPerf's JAX submission runner (algoperf installed beside hpfree).

    Self-tuning ruleset: no search space, the composed config is the submission.  Use with an
    AlgoPerf workload (``workload=algoperf_ogbg`` ...).  AlgoPerf evaluates and checkpoints
    every ``eval_period_time_sec`` seconds of its workload; a run stopped by SIGTERM/SIGUSR2
    (or killed) resumes from AlgoPerf's last checkpoint.

    Args:
      data_dir: AlgoPerf's dataset root (``submission_runner.py --data_dir``); null = ~/data.
        Not needed for ``algoperf_mnist_digits``.
      algoperf_workload: AlgoPerf's workload name when it differs from the workload's (a
        variant such as ``ogbg_gelu``).
      framework: only ``jax``.
      extra_flags: further ``submission_runner`` flags, e.g. ``{imagenet_v2_data_dir: ...,
        librispeech_tokenizer_vocab_path: ..., save_intermediate_checkpoints: true}``.
      ruleset: AlgoPerf rule version for the base workloads' budgets, ``v0.5`` (the study's
        Table 2 step budgets; default) or ``v0.6`` (:mod:`hpfree.algoperf_rules`).
    """

    name: str = "algoperf"
    checkpoint_every_s: float = 0.0
    data_dir: Optional[str] = None
    algoperf_workload: Optional[str] = None
    framework: str = "jax"
    extra_flags: dict[str, Any] = field(default_factory=dict)
    ruleset: str = knob(algoperf_rules.DEFAULT, one_of(*algoperf_rules.RULESETS))


RUNNER = RunnerSpec("algoperf", AlgoPerfRunnerConfig, run,
                    description="AlgoPerf's own JAX submission runner on its workloads")


__all__ = ["run", "flags", "step_budget", "command", "make_workload", "workload_info", "fill_record",
           "curve_rows", "read_eval_measurements", "record_from_csv", "algoperf_available",
           "eval_csv_path", "log_dir", "WorkloadInfo", "AlgoPerfRunnerConfig", "RUNNER"]
