"""The Hydra ``Launcher``: sweep jobs → run directories → :class:`hpfree.tpu.pool.SlicePool`.

For each job it composes the job's config as Hydra's own launchers do, takes the run
directory Hydra assigns (``hydra.sweep.dir`` / ``hydra.sweep.subdir``, named by content),
skips runs whose record is already final (unless ``force=true``), and hands the rest to the
pool, which runs ``hpfree-train <job overrides> hydra.run.dir=<run dir>`` on a slice.  The
results come back as Hydra ``JobReturn``s: COMPLETED with the run's time-to-target (like the
local launcher), FAILED with the reason once the retries are spent.  ``tpu_launcher.jsonl``
in the sweep directory lists every attempt (slice, outcome, exit codes).
"""

import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)

JOURNAL = "tpu_launcher.jsonl"


class TPURunFailed(RuntimeError):
    """A run that failed on every slice it was given (raised when Hydra reads its result)."""


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0].strip()


def remote_overrides(overrides: Sequence[str]) -> List[str]:
    """What the remote single run gets: the job's overrides minus the launcher choice."""
    return [o for o in overrides if _key(o) != "launcher"]


class TPULauncher(Launcher):
    def __init__(self, **params: Any) -> None:
        self.params: Dict[str, Any] = {k: _plain(v) for k, v in params.items()}
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.task_function: Optional[TaskFunction] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def _pool(self, journal: Path):
        from hpfree.errors import ConfigError
        from hpfree.tpu import multihost
        from hpfree.tpu.pool import Settings, SlicePool
        from hpfree.tpu.slices import parse_slices
        from hpfree.tpu.transport import make_transport

        p = self.params
        transport_name = str(p.get("transport", "gcloud"))
        slices = parse_slices(p.get("slices") or [], transport_name,
                              int(p.get("coordinator_port", 8476)))
        for key in ("max_retries", "max_preemptions"):
            if int(p[key]) < 0:
                raise ConfigError(f"hydra.launcher.{key}={p[key]} is negative; it must be >= 0")
        ssh = p.get("ssh") or {}
        options = [f"{k}={v}" for k, v in (ssh.get("options") or {}).items() if v is not None]
        transport = make_transport(transport_name, ssh_options=options,
                                   identity_file=ssh.get("identity_file"), user=ssh.get("user"),
                                   gcloud=p["gcloud"], gcloud_args=p.get("gcloud_args") or [])
        settings = Settings(
            command=p["command"], setup=list(p.get("setup") or []),
            env={multihost.INIT_TIMEOUT: str(int(p["init_timeout_s"])),
                 **{str(k): str(v) for k, v in (p.get("env") or {}).items()}},
            remote_tmp=p["remote_tmp"], max_retries=int(p["max_retries"]),
            max_preemptions=int(p["max_preemptions"]),
            max_consecutive_failures=int(p["max_consecutive_failures"]),
            stop_grace_s=float(p["stop_grace_s"]), probe_timeout_s=float(p["probe_timeout_s"]))
        return SlicePool(slices, transport, settings, journal=journal, log=log.info), slices

    def _job_config(self, overrides: Sequence[str], idx: int) -> DictConfig:
        assert self.hydra_context is not None and self.config is not None
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with open_dict(cfg):
            cfg.hydra.job.id = idx
            cfg.hydra.job.num = idx
        return cfg

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        from hpfree import records
        from hpfree.tpu.pool import Job

        setup_globals()
        assert self.config is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).absolute()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        try:
            pool, slices = self._pool(sweep_dir / JOURNAL)
        except ValueError as exc:  # ConfigError included: one line, exit code 2, nothing ran
            print(f"hpfree-train: error: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)
        log.info(f"Launching {len(job_overrides)} jobs on {len(slices)} TPU slice(s) "
                 f"({', '.join(s.name for s in slices)}) over {pool.transport.name}")

        configs: Dict[int, DictConfig] = {}
        run_dirs: Dict[int, Path] = {}
        returns: Dict[int, JobReturn] = {}
        jobs: List[Job] = []
        for i, overrides in enumerate(job_overrides):
            idx = initial_job_idx + i
            cfg = self._job_config(overrides, idx)
            HydraConfig.instance().set_config(cfg)
            run_dir = (Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)).absolute()
            configs[idx], run_dirs[idx] = cfg, run_dir
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            rec = records.load(run_dir)
            if rec is not None and rec.status in records.FINAL_STATUSES and not cfg.get("force"):
                log.info(f"#{idx} already {rec.status}: {run_dir} (force=true re-runs)")
                returns[idx] = self._job_return(overrides, cfg, run_dir, JobStatus.COMPLETED,
                                                rec.ttt_steps)
                continue
            jobs.append(Job(idx, remote_overrides(overrides), run_dir))

        for res in pool.run(jobs):
            idx = res.job.index
            overrides = job_overrides[idx - initial_job_idx]
            if res.status in records.FINAL_STATUSES:
                value = res.record.ttt_steps if res.record is not None else None
                returns[idx] = self._job_return(overrides, configs[idx], run_dirs[idx],
                                                JobStatus.COMPLETED, value)
            else:
                returns[idx] = self._job_return(overrides, configs[idx], run_dirs[idx],
                                                JobStatus.FAILED,
                                                TPURunFailed(f"{run_dirs[idx]}: {res.error}"))
        return [returns[initial_job_idx + i] for i in range(len(job_overrides))]

    def _job_return(self, overrides: Sequence[str], cfg: DictConfig, run_dir: Path,
                    status: JobStatus, value: Any) -> JobReturn:
        task_cfg = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
        hydra_cfg = OmegaConf.masked_copy(cfg, "hydra")
        ret = JobReturn(overrides=list(overrides), cfg=task_cfg, hydra_cfg=hydra_cfg,
                        working_dir=str(run_dir), task_name=str(cfg.hydra.job.name),
                        status=status)
        ret.return_value = value
        return ret
