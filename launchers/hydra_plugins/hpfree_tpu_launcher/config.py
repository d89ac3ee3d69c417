"""``hydra/launcher=hpfree_tpu``: the pool of slices, the transport, setup lines, retries."""
# No `from __future__ import annotations`: Hydra execs plugin modules outside sys.modules,
# where dataclasses cannot resolve string annotations.

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class SliceConf:
    """One TPU VM / pod slice.  gcloud: ``name``, ``zone``, ``project``, ``workers`` (VMs in
    the slice, e.g. 4 for a v4-32).  ssh: ``hosts``, one ``[user@]host[:port]`` per worker,
    worker 0 first; ``coordinator`` (``host:port`` of worker 0 as the others reach it)
    defaults to worker 0's host and ``coordinator_port`` + the slice's index."""

    name: str = MISSING
    zone: Optional[str] = None
    project: Optional[str] = None
    workers: Optional[int] = None
    hosts: List[str] = field(default_factory=list)
    coordinator: Optional[str] = None
    env: Dict[str, str] = field(default_factory=dict)


@dataclass
class SSHConf:
    user: Optional[str] = None
    identity_file: Optional[str] = None
    # `ssh -o KEY=VALUE` options; add one with `+hydra.launcher.ssh.options.KEY=VALUE`.
    # ServerAlive*: a slice that vanishes (preempted VM) ends the ssh session within a minute.
    options: Dict[str, str] = field(default_factory=lambda: {
        "BatchMode": "yes", "ConnectTimeout": "20", "ServerAliveInterval": "15",
        "ServerAliveCountMax": "4"})


@dataclass
class TPULauncherConf:
    _target_: str = "hydra_plugins.hpfree_tpu_launcher.launcher.TPULauncher"

    slices: List[SliceConf] = field(default_factory=list)
    transport: str = "gcloud"  # gcloud | ssh
    # Shell lines run on every worker before the run, e.g. ["cd ~/hpfree", ". .venv/bin/activate"].
    setup: List[str] = field(default_factory=list)
    env: Dict[str, str] = field(default_factory=dict)
    command: str = "hpfree-train"
    # Re-runs on another slice after a failed or lost attempt / after a preemption.
    max_retries: int = 3
    max_preemptions: int = 20
    # A slice that fails this many runs in a row leaves the pool (one that does not answer
    # its health probe leaves at once).
    max_consecutive_failures: int = 3
    coordinator_port: int = 8476
    # How long the workers of a slice wait for each other in jax.distributed.initialize.
    init_timeout_s: int = 300
    # After SIGTERM (checkpoint and stop) wait this long before SIGKILL.
    stop_grace_s: float = 120.0
    probe_timeout_s: float = 60.0
    remote_tmp: str = "/tmp/hpfree-tpu"  # pid files on the workers
    gcloud: str = "gcloud"
    gcloud_args: List[str] = field(default_factory=lambda: ["--quiet"])
    ssh: SSHConf = field(default_factory=SSHConf)


ConfigStore.instance().store(
    group="hydra/launcher",
    name="hpfree_tpu",
    node=TPULauncherConf(),
    provider="hpfree_tpu_launcher",
)
