"""The shell scripts the TPU launcher runs on a slice's workers.

``run_script`` starts one run: the user's setup lines (``cd`` to the code, activate its
environment), the environment for JAX's multi-host start-up, a pid file so that the run can
be stopped later, then ``exec hpfree-train <overrides> hydra.run.dir=<run dir>`` — a single
run, not a multirun, in the run directory the sweep assigned.  ``stop_script`` sends that
process a signal (SIGTERM: the run checkpoints at its next evaluation and records itself as
``preempted``), checking the process's command line first so that a stale pid file never
hits an unrelated process.  Both are wrapped in ``bash -c '...'`` so they behave the same
whatever the remote login shell is.
"""

from __future__ import annotations

import hashlib
import shlex
from typing import Mapping, Optional, Sequence

# On gcloud's `--worker=all` every worker runs the same script; the pid file is then named
# after the worker's host name, which differs between the VMs of a slice.
HOST_TAG = "$(hostname)"


def job_key(run_dir: str) -> str:
    """A short name for one run, used for its pid files on the workers."""
    return "run-" + hashlib.sha256(run_dir.encode()).hexdigest()[:16]


def _run_dir_arg(run_dir: str) -> str:
    return f"hydra.run.dir={run_dir}"


def run_script(*, command: str, overrides: Sequence[str], run_dir: str, setup: Sequence[str],
               env: Mapping[str, str], remote_tmp: str, worker_tag: str) -> str:
    """The script one worker runs (``worker_tag`` names its pid file: ``w0`` or HOST_TAG)."""
    key = job_key(run_dir)
    pidfile = f"{shlex.quote(remote_tmp)}/{key}-{worker_tag}.pid"
    lines = ["set -e", *setup]
    lines += [f"export {k}={shlex.quote(str(v))}" for k, v in env.items()]
    lines += [f"mkdir -p {shlex.quote(remote_tmp)}", f"echo $$ > {pidfile}"]
    args = " ".join(shlex.quote(a) for a in [*overrides, _run_dir_arg(run_dir)])
    lines.append(f"exec {command} {args}")
    return "\n".join(lines)


def stop_script(*, run_dir: str, remote_tmp: str, signal: str = "TERM") -> str:
    """Signal every process of this run on the worker (all its pid files there)."""
    key = job_key(run_dir)
    marker = shlex.quote(_run_dir_arg(run_dir))
    return "\n".join([
        f"for f in {shlex.quote(remote_tmp)}/{key}-*.pid; do",
        '  [ -s "$f" ] || continue',
        '  p=$(cat "$f")',
        f'  if tr "\\0" "\\n" < "/proc/$p/cmdline" 2>/dev/null | grep -qxF -- {marker}; then',
        f'    kill -{signal} "$p" 2>/dev/null || true',
        "  fi",
        "done",
        "true",
    ])


def wrap(script: str, shell: Optional[str] = "bash") -> str:
    """``bash -c '<script>'``: the one string handed to ssh or ``gcloud ... --command``."""
    return f"{shell} -c {shlex.quote(script)}" if shell else script
