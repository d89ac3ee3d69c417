"""One run, end to end: validated config → run directory → runner → record.

This is the task function's body, usable without Hydra (sweeps, tests and the reproduction
script call it directly).  A run whose record is already final (``completed`` or
``diverged``) is reported and skipped unless ``force`` is set; anything else (no record,
``running``, ``preempted``, ``failed``) resumes from its checkpoint.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Callable, Optional

from omegaconf import DictConfig, OmegaConf

from hpfree import checkpoint, outcome, progress, records, recovery
from hpfree.config import TrainConfig, to_plain
from hpfree.validation import validate
from hpfree.io import atomic_write_text
from hpfree.loggers import registry as loggers
from hpfree.runners import registry as runner_registry
from hpfree.sweeps import locking
from hpfree.tpu import multihost

_CACHE_READY = False


def enable_compilation_cache(path: Optional[str] = None) -> None:
    """Turn on JAX's persistent compilation cache (``$HPFREE_JAX_CACHE`` or ~/.cache).

    Programs that compile in under ``$HPFREE_JAX_CACHE_MIN_S`` seconds (default 0.5) are
    not stored.
    """
    global _CACHE_READY
    if _CACHE_READY:
        return
    import jax

    path = path or os.environ.get("HPFREE_JAX_CACHE") or str(
        Path.home() / ".cache" / "hpfree" / "jax")
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs",
                      float(os.environ.get("HPFREE_JAX_CACHE_MIN_S", "0.5")))
    _CACHE_READY = True


def new_record(cfg: TrainConfig, run_dir: Path) -> records.RunRecord:
    wl = cfg.workload
    return records.RunRecord(
        run_id=str(run_dir.name if cfg.trial is None else run_dir),
        status="running", runner=cfg.runner.name, workload=wl.name,
        optimizer=cfg.optimizer.name, horizon=cfg.horizon.fraction, seed=cfg.seed,
        metric=wl.metric, target=wl.target, direction=wl.direction, max_steps=wl.max_steps,
        trial=cfg.trial, seed_index=cfg.seed_index,
        sweep=cfg.sweep_name if cfg.trial is not None else None,
        config=to_plain(cfg), versions=records.versions(), started_at=records.now(),
    )


def run(cfg: DictConfig | TrainConfig, run_dir: str | Path,
        log: Callable[[str], None] = print, handle_signals: bool = True) -> records.RunRecord:
    """Run (or resume, or skip) one training run in ``run_dir``; returns its record."""
    tcfg = validate(cfg)
    # On a TPU pod slice (HPFREE_MULTIHOST=1, set by launcher=tpu) start JAX's multi-host
    # runtime; only process 0 writes run_dir, the others a local copy (hpfree.tpu.multihost).
    run_dir = multihost.prepare(run_dir, log)
    # One process per run directory: a sweep and its resubmissions never run a job twice.
    with locking.run_lock(run_dir) as held:
        if not held:
            log(f"[hpfree] another process is running {run_dir}; skipped")
            return records.load(run_dir) or new_record(tcfg, Path(run_dir))
        return _run_locked(tcfg, run_dir, log, handle_signals)


def _run_locked(tcfg: TrainConfig, run_dir: Path, log: Callable[[str], None],
                handle_signals: bool) -> records.RunRecord:
    done, existing = prepare(tcfg, run_dir, log)
    if done is not None:
        return done
    use_caches(tcfg)
    record = new_record(tcfg, run_dir)
    if existing is not None:
        record.started_at = existing.started_at or record.started_at
    runner = runner_registry.get(tcfg.runner.name)
    tracker = loggers.open_tracker(tcfg, run_dir, record)
    metric = tcfg.workload.metric
    bar = progress.RunProgress(_label(run_dir), log) if tcfg.progress else None
    if bar is not None:
        bar.note(f"{tcfg.workload.name} / {tcfg.optimizer.name}: starting (data, compilation) …")

    def on_eval(row):
        tracker.log(row)
        if bar is not None:
            bar.row(f"[hpfree] step {row['step']:>6}  train_loss {row['train_loss']:.4f}  "
                    f"val {metric} {row[f'validation/{metric}']:.4f}  "
                    f"({row['train_seconds']:.1f}s)")

    try:
        if runner.run_batch is not None:  # the same loop, with a progress bar
            record = runner.run_batch([tcfg], [run_dir], [record], handle_signals=handle_signals,
                                      on_eval=lambda i, row: on_eval(row), progress=bar)[0]
        else:
            record = runner.run(tcfg, run_dir, record, handle_signals=handle_signals,
                                on_eval=on_eval)
    except Exception as exc:  # a failed run is recorded, never crashes a sweep
        mark_failed(record, run_dir, exc)
    finish(record, run_dir, tracker)
    return record


def prepare(tcfg: TrainConfig, run_dir: Path, log: Callable[[str], None],
            ) -> tuple[Optional[records.RunRecord], Optional[records.RunRecord]]:
    """(the final record, None) if the run is done and not forced (it is skipped); else
    (None, the existing record or None), with ``run_dir`` ready (config.yaml written, the
    checkpoint removed when forced)."""
    existing = recovery.prepare(run_dir, log)  # stale temp files, an unreadable record
    if existing is not None and existing.status in records.FINAL_STATUSES and not tcfg.force:
        log(f"[hpfree] already {existing.status}: {run_dir / records.RECORD} (force=true re-runs)")
        return existing, None
    run_dir.mkdir(parents=True, exist_ok=True)
    if tcfg.force:
        checkpoint.remove(run_dir)
    if not (run_dir / "config.yaml").exists():
        atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(OmegaConf.structured(tcfg)))
    return None, existing


def use_caches(tcfg: TrainConfig) -> None:
    """Turn the persistent compilation cache and the data cache on or off as configured."""
    if tcfg.runner.compilation_cache:
        enable_compilation_cache()
    from hpfree.workloads import datacache

    datacache.set_enabled(None if tcfg.runner.data_cache else False)


def mark_failed(record: records.RunRecord, run_dir: Path, exc: BaseException) -> None:
    record.status = "failed"
    record.error = f"{type(exc).__name__}: {exc}"
    try:
        (run_dir / "error.log").write_text(traceback.format_exc())
    except OSError:  # the disk that failed the run may refuse this too
        pass


def finish(record: records.RunRecord, run_dir: Path, tracker) -> None:
    """Write the final record (atomically) and close the run's tracker."""
    record.finished_at = records.now()
    records.write(run_dir, record)
    tracker.finish(record)
    outcome.note(record.status)  # the command's exit code (hpfree.outcome)


def _label(run_dir: Path) -> str:
    """A short name for a run's progress lines: its last two directory levels."""
    return "/".join(Path(run_dir).parts[-2:])


def summary(record: records.RunRecord, run_dir: Path) -> str:
    if record.status == "completed" or record.status == "diverged":
        hit = (f"reached target {record.metric} {record.target} at step {record.ttt_steps} "
               f"({record.ttt_seconds:.1f}s of training)" if record.reached_target
               else f"did not reach target {record.metric} {record.target}")
        best = "n/a" if record.best_metric is None else f"{record.best_metric:.4f}"
        return (f"[hpfree] {record.status}: {hit}; best {record.metric} {best}\n"
                f"[hpfree] record: {run_dir / records.RECORD}")
    return f"[hpfree] {record.status}: {record.error or ''} record: {run_dir / records.RECORD}"
