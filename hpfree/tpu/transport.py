"""How the launcher reaches a slice's workers: ``gcloud compute tpus tpu-vm ssh`` or plain ssh.

Both start a script on every worker of a slice at once and report one exit code per process
they started:

- :class:`GcloudTransport` runs ``gcloud compute tpus tpu-vm ssh NAME --zone Z --project P
  --worker=all --command CMD`` (one local process; gcloud fans out to the workers).  JAX
  finds its coordinator itself on Cloud TPU VMs, so the workers need only
  ``HPFREE_MULTIHOST=1``.  Health: ``gcloud compute tpus tpu-vm describe`` must say READY
  (a preempted spot slice says PREEMPTED).
- :class:`SSHTransport` runs one ``ssh`` per worker and passes each its process index and
  worker 0's address for ``jax.distributed.initialize``.  Health: ``ssh HOST true`` on every
  worker.  This is what the tests use, against sshd servers on this machine.

Exit code 255 is ssh's "could not connect / connection lost": the slice, not the run, failed.
"""

from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from hpfree.tpu import multihost
from hpfree.tpu.remote import HOST_TAG, wrap
from hpfree.tpu.slices import Host, Slice

UNREACHABLE = 255

# make_script(worker_tag, env) -> the script for one worker (see hpfree.tpu.remote).
ScriptFactory = Callable[[str, Mapping[str, str]], str]


def _tail(text: str, n: int = 200) -> str:
    text = " ".join(text.strip().split())
    return text[-n:]


class Transport(ABC):
    name: str

    @abstractmethod
    def start(self, slc: Slice, make_script: ScriptFactory, log_prefix: Path
              ) -> list[subprocess.Popen]:
        """Start the run on all workers of ``slc``; one process per local command started."""

    @abstractmethod
    def run_everywhere(self, slc: Slice, script: str, timeout: float) -> list[int]:
        """Run a short script on every worker and wait; exit codes (124 = timed out)."""

    @abstractmethod
    def probe(self, slc: Slice, timeout: float) -> Optional[str]:
        """None if the slice can take a run, else one line saying why not."""


def _run(argv: Sequence[str], timeout: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a short command; 124 = timed out, 127 = not found."""
    try:
        p = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout:.0f}s"
    except FileNotFoundError as exc:
        return 127, "", str(exc)
    return p.returncode, p.stdout, p.stderr


class SSHTransport(Transport):
    """One ``ssh`` process per worker; the workers are ``[user@]host[:port]`` in the slice."""

    name = "ssh"

    def __init__(self, options: Sequence[str] = (), identity_file: Optional[str] = None,
                 user: Optional[str] = None, ssh: str = "ssh") -> None:
        self.options = list(options)
        self.identity_file = identity_file
        self.user = user
        self.ssh = ssh

    def argv(self, host: Host, remote_command: str) -> list[str]:
        argv = [self.ssh]
        for opt in self.options:
            argv += ["-o", opt]
        if self.identity_file:
            argv += ["-i", str(Path(self.identity_file).expanduser())]
        if host.port:
            argv += ["-p", str(host.port)]
        return argv + [host.target(self.user), remote_command]

    @staticmethod
    def worker_env(slc: Slice, index: int) -> dict[str, str]:
        if slc.workers == 1:
            return {}
        return {multihost.FLAG: "1", multihost.COORDINATOR: str(slc.coordinator),
                multihost.NUM_PROCESSES: str(slc.workers), multihost.PROCESS_ID: str(index)}

    def start(self, slc, make_script, log_prefix):
        procs = []
        for i, host in enumerate(slc.hosts):
            script = make_script(f"w{i}", self.worker_env(slc, i))
            with open(f"{log_prefix}-w{i}.log", "ab") as log:
                procs.append(subprocess.Popen(self.argv(host, wrap(script)),
                                              stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True))
        return procs

    def run_everywhere(self, slc, script, timeout):
        return [_run(self.argv(h, wrap(script)), timeout)[0] for h in slc.hosts]

    def probe(self, slc, timeout):
        for i, host in enumerate(slc.hosts):
            rc, _, err = _run(self.argv(host, "true"), timeout)
            if rc != 0:
                where = f"{host.host}:{host.port}" if host.port else host.host
                return f"worker {i} ({where}) unreachable: ssh exit {rc}: {_tail(err)}"
        return None


class GcloudTransport(Transport):
    """``gcloud compute tpus tpu-vm ssh NAME --worker=all``: gcloud fans out to the workers."""

    name = "gcloud"

    def __init__(self, gcloud: str = "gcloud", extra_args: Sequence[str] = ()) -> None:
        self.gcloud = gcloud
        self.extra_args = list(extra_args)

    def _base(self, verb: str, slc: Slice) -> list[str]:
        argv = [self.gcloud, "compute", "tpus", "tpu-vm", verb, slc.name]
        if slc.zone:
            argv.append(f"--zone={slc.zone}")
        if slc.project:
            argv.append(f"--project={slc.project}")
        return argv

    def ssh_argv(self, slc: Slice, remote_command: str) -> list[str]:
        return [*self._base("ssh", slc), "--worker=all", f"--command={remote_command}",
                *self.extra_args]

    def describe_argv(self, slc: Slice) -> list[str]:
        return [*self._base("describe", slc), "--format=value(state)"]

    @staticmethod
    def worker_env(slc: Slice) -> dict[str, str]:
        return {multihost.FLAG: "1"} if slc.workers > 1 else {}

    def start(self, slc, make_script, log_prefix):
        script = make_script(HOST_TAG, self.worker_env(slc))
        with open(f"{log_prefix}-all.log", "ab") as log:
            return [subprocess.Popen(self.ssh_argv(slc, wrap(script)), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)]

    def run_everywhere(self, slc, script, timeout):
        return [_run(self.ssh_argv(slc, wrap(script)), timeout)[0]]

    def probe(self, slc, timeout):
        rc, out, err = _run(self.describe_argv(slc), timeout)
        if rc != 0:
            return f"gcloud describe failed (exit {rc}): {_tail(err or out)}"
        state = out.strip()
        return None if state == "READY" else f"slice state is {state or 'unknown'}, not READY"


def make_transport(name: str, *, ssh_options: Sequence[str] = (),
                   identity_file: Optional[str] = None, user: Optional[str] = None,
                   gcloud: str = "gcloud", gcloud_args: Sequence[str] = ()) -> Transport:
    if name == "ssh":
        return SSHTransport(ssh_options, identity_file, user)
    return GcloudTransport(gcloud, gcloud_args)
