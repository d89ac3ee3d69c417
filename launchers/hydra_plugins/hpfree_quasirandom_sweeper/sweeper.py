"""The quasi-random sweeper: points × seeds × suite workloads → jobs for any Hydra launcher.

``hpfree-train -m search_space=nadamw hydra.sweeper.num_points=200 suite=mini horizon=h50``

1. Parse and validate the search space and every job before anything runs: a bad bound,
   an unknown knob or a point the config rejects prints one line and exits with code 2,
   writing nothing.
2. Name the sweep (``sweep_name=...`` or a content-derived name) and record its jobs in
   ``<sweeps_dir>/<sweep_name>/manifest.json``, with the command that relaunches them.
3. Launch only the jobs that are not ``completed``/``diverged`` and not running: re-running
   the same command resumes a sweep, growing ``num_points`` adds only the new trials.
4. Every job runs under its run directory's lock (``hpfree.sweeps.locking.LockedTask``), so
   a resubmission racing the sweep never runs or records a job twice.
5. With the local launcher jobs go one at a time and a progress line follows each (a
   live bar on a terminal: points done / diverged / failed and points per hour).
6. With ``runner.trial_batch=K`` one job trains up to K points of one workload together
   (:mod:`hpfree.sweeps.batches`); every point keeps its own run directory and record.

Hydra's plugin scanner imports this module on every ``hpfree-train`` call, so heavy imports
(scipy, pandas, hpfree.sweeps) happen inside the methods.
"""

import sys
import time
from pathlib import Path
from typing import Any, List, Optional, Sequence

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction

_PREFIX = "[hpfree-sweep]"
# How often (seconds) job states are written back to the manifest during a sweep.
_FLUSH_S = 30.0


def _container(node: Any) -> Any:
    if isinstance(node, DictConfig) or OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


class QuasiRandomSweeper(Sweeper):
    """See the module docstring; configured by ``QuasiRandomSweeperConf``."""

    def __init__(self, search_space: Any = None, num_points: Optional[int] = None,
                 seed: int = 0, seeds: int = 1, seed_start: int = 0,
                 trials: Optional[Sequence[int]] = None,
                 max_batch_size: Optional[int] = None, dry_run: bool = False,
                 params: Any = None) -> None:
        super().__init__()
        self.search_space = _container(search_space)
        self.num_points = num_points
        self.seed = seed
        self.seeds = seeds
        self.seed_start = seed_start
        self.trials = None if trials is None else list(_container(trials))
        self.max_batch_size = max_batch_size
        self.dry_run = bool(dry_run)
        self.params = _container(params) or {}
        self.hydra_context: Optional[HydraContext] = None
        self.config: Optional[DictConfig] = None
        self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        from hpfree.sweeps.locking import LockedTask

        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=LockedTask(task_function),
            config=config)

    # -- planning -----------------------------------------------------------------------

    def _compose(self, overrides: List[str]) -> DictConfig:
        assert self.hydra_context is not None and self.config is not None
        return self.hydra_context.config_loader.load_sweep_config(self.config, overrides)

    def _plan(self, arguments: List[str]):
        """Validate everything; returns (sweep dir, jobs, space, settings, name, command)."""
        from hpfree.sweeps import plan

        assert self.config is not None
        p = plan.plan_sweep(self.config, list(arguments), self._compose,
                            search_space=self.search_space, num_points=self.num_points,
                            seed=self.seed, seeds=self.seeds, seed_start=self.seed_start,
                            trials=self.trials, params=self.params)
        return p.sweep_dir, p.jobs, p.space, p.settings, p.name, p.command

    # -- launching ------------------------------------------------------------------------

    def _local(self) -> bool:
        """Whether jobs run in this process (Hydra's basic launcher)."""
        assert self.config is not None
        target = str(OmegaConf.select(self.config, "hydra.launcher._target_") or "")
        return target.endswith("BasicLauncher")

    def _batch_size(self, n: int) -> int:
        if self.max_batch_size is not None and self.max_batch_size > 0:
            return int(self.max_batch_size)
        return 1 if self._local() else max(n, 1)

    def sweep(self, arguments: List[str]) -> Any:
        from hpfree import outcome, records
        from hpfree.errors import ConfigError
        from hpfree.preflight import one_line
        from hpfree.sweeps import manifest, status

        assert self.config is not None and self.launcher is not None
        try:
            sweep_dir, jobs, space, settings, name, command = self._plan(list(arguments))
            if self.dry_run:
                return self._show(sweep_dir, jobs, name)
            command["created_at"] = records.now()
            manifest.add(sweep_dir, name, space.to_dict(), settings.seed, command, jobs)
        except ConfigError as exc:
            print(f"hpfree-train: error: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)
        except OSError:  # the sweep directory cannot be written: exit 1 (hpfree.cli.common)
            raise
        except Exception as exc:  # Hydra composition errors for a job's overrides
            print(f"hpfree-train: error: {one_line(exc)}", file=sys.stderr, flush=True)
            sys.exit(2)

        # The launcher reads the sweep directory from the primary config.
        with read_write(self.config), open_dict(self.config):
            self.config.sweep_name = name

        states = status.job_states(sweep_dir, jobs)
        todo = [j for j in jobs if states[j.key] in status.RESUBMITTABLE]
        n_trials = len({j.trial for j in jobs})
        n_wl = len({j.workload for j in jobs})
        print(f"{_PREFIX} sweep {name}: {n_trials} trials × {n_wl} workloads × "
              f"{settings.seeds} seed(s) = {len(jobs)} jobs; launching {len(todo)} "
              f"({status.counts_line(states)})", flush=True)
        print(f"{_PREFIX} directory {sweep_dir}  (hpfree-status {sweep_dir})", flush=True)

        from hpfree import progress
        from hpfree.sweeps import batches

        # runner.trial_batch=K: one job trains up to K points of one workload together.
        k = int(OmegaConf.select(self.config, "runner.trial_batch", default=1) or 1)
        units = batches.group(todo, k)
        if k > 1:
            print(f"{_PREFIX} trial batches of up to {k} points: {len(units)} jobs", flush=True)
        show = bool(OmegaConf.select(self.config, "progress", default=True))
        bar = progress.SweepProgress("sweep points", len(todo)) if show else None
        returns = []
        size = self._batch_size(len(units))
        local = self._local()
        job_idx = 0
        started = last_flush = time.monotonic()
        pending: dict = {}
        returned = 0
        for start in range(0, len(units), size):
            chunk = units[start:start + size]
            if bar is not None:  # what is about to run shows as running
                now = status.counts(states)
                now["running"] += sum(len(u) for u in chunk)
                bar.update(now, returned)
            results = self.launcher.launch([batches.overrides(u) for u in chunk],
                                           initial_job_idx=job_idx)
            job_idx += len(chunk)
            returns.append(results)
            for unit, ret in zip(chunk, results or []):
                error = _job_error(ret)
                if error:
                    progress.say(f"{_PREFIX} {unit[0].key} raised {error}")
            batch = [j for u in chunk for j in u]
            returned += len(batch)
            fresh = status.job_states(sweep_dir, batch)
            states.update(fresh)
            pending.update(fresh)
            if time.monotonic() - last_flush > _FLUSH_S:  # the manifest can be megabytes
                manifest.update_states(sweep_dir, pending)
                pending, last_flush = {}, time.monotonic()
            last = batch[-1]
            rate = ""
            if bar is not None:
                rate = " | " + bar.update(status.counts(states), returned).split(" | ")[-1]
            progress.say(f"{_PREFIX} {returned}/{len(todo)} points returned after "
                         f"{time.monotonic() - started:.0f}s{rate}"
                         f" | {status.counts_line(states)} | {last.key}: {states[last.key]}")
            if local and any(fresh[j.key] == "preempted" for j in batch):
                # A local job is preempted only by a signal to this process: stop here.
                progress.say(f"{_PREFIX} stopped by a signal; the same command (or "
                             f"hpfree-resubmit {sweep_dir}) continues the sweep")
                break
        if bar is not None:
            bar.stop()
        manifest.update_states(sweep_dir, pending)
        for job in todo:  # jobs run elsewhere (SLURM, TPU) count in this command's exit code
            if states[job.key] in outcome.FAILURES:
                outcome.note(states[job.key])
        print(f"{_PREFIX} done: {status.counts_line(states)}; hpfree-status {sweep_dir}",
              flush=True)
        return returns

    def _show(self, sweep_dir: Path, jobs: list, name: str) -> list:
        """``dry_run``: print the plan, launch and write nothing."""
        from hpfree.sweeps import status

        states = status.job_states(sweep_dir, jobs)
        print(f"{_PREFIX} dry run: sweep {name}, {len(jobs)} jobs in {sweep_dir}")
        for job in jobs:
            print(f"  {job.key}  [{states[job.key]}]  {' '.join(job.overrides)}")
        return []


def _job_error(ret: Any) -> Optional[str]:
    """The exception a job raised outside ``train.run`` (which records its own failures)."""
    try:
        from hydra.core.utils import JobStatus

        if getattr(ret, "status", None) == JobStatus.FAILED:
            exc = getattr(ret, "_return_value", None)
            return f"{type(exc).__name__}: {exc}".splitlines()[0]
    except Exception:  # pragma: no cover - a launcher with its own return type
        return None
    return None
