"""``hydra/launcher=hpfree_slurm``: hydra-submitit-launcher's SLURM options plus ours."""
# No `from __future__ import annotations`: Hydra execs plugin modules outside sys.modules,
# where dataclasses cannot resolve string annotations.

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf


@dataclass
class HpfreeSlurmQueueConf(SlurmQueueConf):
    """Every ``submitit_slurm`` option (partition, gpus_per_node, cpus_per_task, mem_gb,
    timeout_min, array_parallelism, setup, additional_parameters, ...) plus:

    wait: block until every job has returned (Hydra's usual behaviour).  ``false`` returns
        as soon as the jobs are queued; follow them with ``hpfree-status SWEEP_DIR``.
    """

    _target_: str = "hydra_plugins.hpfree_slurm_launcher.launcher.HpfreeSlurmLauncher"

    wait: bool = True
    # Our runs resume from their own checkpoints, so a job that reaches its time limit may
    # be requeued (submitit counts time-outs; preemptions are not counted).
    max_num_timeout: int = 3
    # SLURM sends SIGUSR2 this long before the time limit: time to finish the current chunk
    # and write the checkpoint.
    signal_delay_s: int = 120


ConfigStore.instance().store(
    group="hydra/launcher",
    name="hpfree_slurm",
    node=HpfreeSlurmQueueConf(),
    provider="hpfree_slurm_launcher",
)
