"""The launcher: hydra-submitit-launcher's ``SlurmLauncher`` made checkpointable.

How a preempted job comes back
------------------------------
SLURM (``--signal=USR2@signal_delay_s`` before the time limit) or an operator
(``scancel --signal=USR2 JOBID``) sends submitit's preemption signal, SIGUSR2, to the job.

* While the run is inside its training loop, the runner's own handler catches it: the loop
  finishes its chunk, writes a checkpoint and returns a record with status ``preempted``.
  :meth:`HpfreeSlurmLauncher.__call__` sees that status and, if SLURM still has the job
  running (a signal, not a cancel or a kill at the time limit), hands over to submitit's
  own handler: :meth:`checkpoint` re-pickles this callable with its arguments and the job
  is requeued (``scontrol requeue``) under the same id.
* Outside the loop (start-up, compilation), submitit's handler runs directly and does the
  same; the run then resumes from its last periodic checkpoint.

The requeued job runs the same Hydra job again, in the same run directory (named by
content), and the runner resumes from ``checkpoint.npz`` — bit-identically, since batches are
drawn from ``(seed, step)``.  A job that is requeued without any signal (``scontrol
requeue``, a node failure with ``--requeue``) resumes the same way from its last checkpoint.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import OmegaConf
from submitit.helpers import Checkpointable, DelayedSubmission

from hpfree.slurm import jobs as slurm_jobs

log = logging.getLogger(__name__)

# Keys of our config that are not submitit parameters.
_OWN_KEYS = ("wait",)


def _slurm_state(job_id: str) -> Optional[str]:
    """SLURM's current state of ``job_id`` (``RUNNING``, ``CANCELLED``...), None if unknown."""
    try:
        out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True,
                             text=True, timeout=60).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return out[0] if out else None


def _run_status(ret: JobReturn) -> Optional[str]:
    """Status in the run's ``record.json`` (``completed``, ``preempted``...), if any."""
    from hpfree import records

    try:
        run_dir = Path(str(ret.hydra_cfg.hydra.runtime.output_dir))  # type: ignore[union-attr]
    except Exception:  # no Hydra config: the task failed before it had a run directory
        return None
    rec = records.load(run_dir)
    return None if rec is None else rec.status


class HpfreeSlurmLauncher(SlurmLauncher, Checkpointable):
    """``submitit_slurm`` whose jobs requeue themselves when preempted (see module doc)."""

    def __init__(self, **params: Any) -> None:
        own = {k: params.pop(k) for k in _OWN_KEYS if k in params}
        super().__init__(**params)
        self.wait = bool(own.get("wait", True))

    # ------------------------------------------------------------------ job side
    def __call__(self, sweep_overrides: List[str], job_dir_key: str, job_num: int, job_id: str,
                 singleton_state: Dict[type, Singleton]) -> JobReturn:
        started = time.time()
        ret = super().__call__(sweep_overrides, job_dir_key, job_num, job_id, singleton_state)
        if ret.status == JobStatus.COMPLETED and _run_status(ret) == "preempted":
            self._requeue_after_preemption(started)
        return ret

    def checkpoint(self, *args: Any, **kwargs: Any) -> DelayedSubmission:
        """Called by submitit on preemption: resubmit this job with the same arguments.

        The run's state is not in this object but in its run directory (``checkpoint.npz``),
        which the requeued job finds again; so the same call is all there is to save.
        """
        return DelayedSubmission(self, *args, **kwargs)

    def _requeue_after_preemption(self, started: float) -> None:
        """The runner stopped on a signal and checkpointed: requeue, or leave it to SLURM."""
        import submitit
        from submitit.core.job_environment import SignalHandler

        env = submitit.JobEnvironment()
        state = _slurm_state(env.job_id)
        if state != "RUNNING":
            # Cancelled, killed at the time limit, or already requeued by SLURM/an operator:
            # SLURM decides what happens next; exit without a result so that the launcher
            # sees SLURM's verdict (and a requeued job resumes from the checkpoint).
            log.warning("run stopped by a signal while its job is %s: exiting", state)
            sys.exit(1)
        delayed = DelayedSubmission.load(env.paths.submitted_pickle)
        handler = SignalHandler(env, env.paths, delayed)
        handler._start_time = started  # has_timed_out(): time-limit signal vs preemption
        # Checkpoints (self.checkpoint), requeues with `scontrol requeue` and exits; raises
        # UncompletedJobError when the job has timed out more than max_num_timeout times.
        handler.checkpoint_and_try_requeue(env._usr_sig())

    # ------------------------------------------------------------------ submitting side
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
               ) -> Sequence[JobReturn]:
        import submitit

        assert self.config is not None and self.hydra_context is not None
        assert len(job_overrides) > 0
        params = dict(self.params)
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR,
                                         folder=params.pop("submitit_folder"),
                                         slurm_max_num_timeout=params.pop("max_num_timeout"))
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in base else f"{self._EXECUTOR}_{k}": v
                                      for k, v in params.items()})

        sweep_dir = Path(str(self.config.hydra.sweep.dir)).absolute()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info(f"hpfree SLURM sweep output dir: {sweep_dir}")

        args: List[Any] = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            args.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}",
                         Singleton.get_state()))
        jobs = executor.map_array(self, *zip(*args))

        slurm_jobs.add_jobs(
            sweep_dir, folder=str(executor.folder),
            max_num_timeout=executor._executor.max_num_timeout,
            parameters=dict(executor._executor.parameters),
            entries=[{"idx": a[2], "job_id": j.job_id, "overrides": a[0],
                      "run_dir": self._run_dir(a[0]),
                      "pickle": str(j.paths.submitted_pickle), "submitted_at": time.time()}
                     for a, j in zip(args, jobs)])
        log.info(f"queued {len(jobs)} SLURM job(s) {jobs[0].job_id.split('_')[0]}; "
                 f"follow with: hpfree-status {sweep_dir}")
        if not self.wait:
            return [JobReturn(overrides=list(a[0]), status=JobStatus.COMPLETED,
                              _return_value=None, working_dir=str(sweep_dir)) for a in args]
        return [self._result(j, a[0]) for j, a in zip(jobs, args)]

    @staticmethod
    def _result(job: Any, overrides: List[str]) -> JobReturn:
        """The job's JobReturn; a job that SLURM killed becomes a FAILED JobReturn."""
        try:
            return job.results()[0]
        except Exception as exc:  # UncompletedJobError (cancelled, timeout...), FailedJobError
            return JobReturn(overrides=overrides, status=JobStatus.FAILED, _return_value=exc)

    def _run_dir(self, overrides: List[str]) -> Optional[str]:
        """Where job ``overrides`` will write (the run directory is named by content)."""
        assert self.hydra_context is not None and self.config is not None
        try:
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            return str((Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)).absolute())
        except Exception as exc:  # bookkeeping only: never block a launch on it
            log.debug(f"cannot compute the run directory of {overrides}: {exc}")
            return None

