"""One job of a search that trains a trial batch: its own point and those in ``batch_with``.

The quasi-random sweeper (``runner.trial_batch=K``, :mod:`hpfree.sweeps.batches`) launches
the first point of a batch with ``batch_with=[keys of the others]``.  This module turns that
one job back into points and trains them together:

- every point's config is the job's config with the point's trial, seed index, seed and
  knob values from the sweep's ``manifest.json`` — exactly what composing the point's own
  overrides gives, since points of a batch differ in nothing else;
- every point takes its own run directory's lock (another process running it: skipped) and
  is skipped if its record is already final, as a job of one point would be;
- the points left are trained per structure (``hpfree.hparams.structure``) with the runner's
  ``run_batch`` (one vmapped scan), each one's record written as soon as it is final
  (``completed``/``diverged``), the rest (``preempted``, ``failed``) when the batch returns.

A runner without ``run_batch`` trains the points one after the other.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from hpfree import hparams, progress, records, train
from hpfree.config import TrainConfig
from hpfree.errors import ConfigError
from hpfree.loggers import registry as loggers
from hpfree.runners import registry as runner_registry
from hpfree.sweeps import locking
from hpfree.sweeps import manifest as manifest_mod
from hpfree.validation import validate


def sweep_dir_of(run_dir: Path, leader: TrainConfig) -> tuple[Path, str]:
    """(the sweep directory, this job's key) from its run directory and Hydra's subdir."""
    subdir = None
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            subdir = str(HydraConfig.get().sweep.subdir)
    except Exception:  # outside a Hydra job (tests, scripts): the default naming
        subdir = None
    if not subdir:
        from hpfree.run_naming import run_name

        subdir = run_name(leader)
    parts = Path(subdir).parts
    run_dir = Path(run_dir)
    if tuple(run_dir.parts[-len(parts):]) != parts:
        raise ConfigError(f"batch_with: run directory {run_dir} does not end in its key "
                          f"{subdir}; trial batches are made by the quasirandom sweeper")
    return run_dir.parents[len(parts) - 1], subdir


def point_configs(cfg: DictConfig | TrainConfig, keys: list[str], sweep_dir: Path
                  ) -> list[TrainConfig]:
    """The validated config of each point ``keys`` names (see the module docstring)."""
    jobs = {j.key: j for j in manifest_mod.load(sweep_dir).jobs}
    unknown = [k for k in keys if k not in jobs]
    if unknown:
        raise ConfigError(f"batch_with: {unknown[0]} is not a job of the sweep in {sweep_dir}")
    base = cfg if isinstance(cfg, DictConfig) else OmegaConf.structured(cfg)
    if "hydra" in base:
        from hpfree.validation import without_hydra

        base = without_hydra(base)
    out = []
    for key in keys:
        job = jobs[key]
        point = copy.deepcopy(base)
        with read_write(point), open_dict(point):
            point.trial = job.trial
            point.seed_index = job.seed_index
            point.seed = job.seed
            point.batch_with = []
            for knob, value in job.knobs.items():
                OmegaConf.update(point, knob, value, merge=False)
        out.append(validate(point))
    return out


def run(cfg: DictConfig | TrainConfig, run_dir: str | Path,
        log: Callable[[str], None] = print, handle_signals: bool = True) -> records.RunRecord:
    """Train this job's point and those of its ``batch_with``; returns its own record.

    The task function's body for a job that carries a trial batch (``hpfree.train.run``
    for one that does not).
    """
    leader = validate(cfg)
    run_dir = Path(run_dir)
    if not leader.batch_with:
        return train.run(leader, run_dir, log, handle_signals)
    with locking.run_lock(run_dir) as held:
        if not held:
            log(f"[hpfree] another process is running {run_dir}; skipped")
            return records.load(run_dir) or train.new_record(leader, run_dir)
        return _run_locked(cfg, leader, run_dir, log, handle_signals)


def _run_locked(cfg: DictConfig | TrainConfig, leader: TrainConfig, run_dir: Path,
                log: Callable[[str], None], handle_signals: bool) -> records.RunRecord:
    sweep_dir, own = sweep_dir_of(run_dir, leader)
    keys = [own, *[k for k in dict.fromkeys(leader.batch_with) if k != own]]
    cfgs = point_configs(cfg, keys, sweep_dir)
    results: dict[str, records.RunRecord] = {}
    with contextlib.ExitStack() as locks:
        todo: list[tuple[str, TrainConfig, Path, Any]] = []
        for key, tcfg in zip(keys, cfgs):
            point_dir = sweep_dir / key
            if key != own and not locks.enter_context(locking.run_lock(point_dir)):
                log(f"[hpfree] another process is running {point_dir}; skipped")
                continue
            done, existing = train.prepare(tcfg, point_dir, log)
            if done is not None:
                results[key] = done
                continue
            todo.append((key, tcfg, point_dir, existing))
        groups: dict[tuple[str, str], list] = {}
        for item in todo:
            groups.setdefault((item[1].runner.name, hparams.structure(item[1])), []).append(item)
        for (runner_name, _), group in groups.items():
            runner = runner_registry.get(runner_name)
            if runner.run_batch is None or len(group) == 1:
                for key, tcfg, point_dir, _ in group:
                    results[key] = train._run_locked(tcfg, point_dir, log, handle_signals)
            else:
                results.update(_train_together(runner, group, log, handle_signals))
    return results.get(own) or records.load(run_dir) or train.new_record(leader, run_dir)


def _train_together(runner: Any, group: list, log: Callable[[str], None],
                    handle_signals: bool) -> dict[str, records.RunRecord]:
    keys = [g[0] for g in group]
    cfgs = [g[1] for g in group]
    dirs = [g[2] for g in group]
    train.use_caches(cfgs[0])
    recs = []
    for tcfg, point_dir, existing in zip(cfgs, dirs, (g[3] for g in group)):
        rec = train.new_record(tcfg, point_dir)
        if existing is not None:
            rec.started_at = existing.started_at or rec.started_at
        recs.append(rec)
    trackers = [loggers.open_tracker(t, d, r) for t, d, r in zip(cfgs, dirs, recs)]
    label = f"{cfgs[0].workload.name} × {len(cfgs)} points"
    bar = progress.RunProgress(label, log) if cfgs[0].progress else None
    say = bar.note if bar is not None else (lambda text: None)
    say(f"{cfgs[0].optimizer.name}: {', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''}; "
        "starting (data, compilation) …")
    written: set[int] = set()

    def on_done(i: int, rec: records.RunRecord) -> None:
        train.finish(rec, dirs[i], trackers[i])
        written.add(i)
        say(f"{keys[i]}: {rec.status}" + (f", best {rec.metric} {rec.best_metric:.4f}"
                                          if rec.best_metric is not None else ""))

    try:
        recs = runner.run_batch(cfgs, dirs, recs, handle_signals=handle_signals,
                                on_eval=lambda i, row: trackers[i].log(row), on_done=on_done,
                                progress=bar)
    except Exception as exc:  # a failed batch fails its unfinished points, never a sweep
        for i, (rec, point_dir) in enumerate(zip(recs, dirs)):
            if i not in written:
                train.mark_failed(rec, point_dir, exc)
    for i, (rec, point_dir) in enumerate(zip(recs, dirs)):
        if i not in written:  # preempted or failed: resumable
            train.finish(rec, point_dir, trackers[i])
    return dict(zip(keys, recs))
