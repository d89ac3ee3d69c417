"""JAX's multi-host start-up for a run started on every worker of a pod slice at once.

The TPU launcher starts the same ``hpfree-train`` command on all workers of a slice and sets
``HPFREE_MULTIHOST=1``.  :func:`prepare` then calls ``jax.distributed.initialize`` before
anything touches a JAX backend: with no further variables JAX finds the coordinator, the
process count and this worker's index itself (as it does on Cloud TPU VMs); the launcher's
ssh transport names them explicitly in ``HPFREE_COORDINATOR`` (worker 0's ``host:port``),
``HPFREE_NUM_PROCESSES`` and ``HPFREE_PROCESS_ID``.

Only process 0 writes the run directory (which must be on a filesystem every worker sees).
The other processes compute the same run from a copy of its resumable state in local scratch
(``$HPFREE_WORKER_SCRATCH``, default the system temp dir), so no two workers ever write the
same record or checkpoint; the copy is deleted when the process exits.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

FLAG = "HPFREE_MULTIHOST"
COORDINATOR = "HPFREE_COORDINATOR"
NUM_PROCESSES = "HPFREE_NUM_PROCESSES"
PROCESS_ID = "HPFREE_PROCESS_ID"
INIT_TIMEOUT = "HPFREE_MULTIHOST_TIMEOUT"
SCRATCH = "HPFREE_WORKER_SCRATCH"

# What a non-primary process copies from the shared run directory to resume like process 0.
_RESUME_FILES = ("record.json", "checkpoint.npz", "curve.csv", "config.yaml")

_STATE: dict[str, int] = {}


def requested() -> bool:
    """Whether the launcher asked for a multi-host run (``HPFREE_MULTIHOST=1``)."""
    return os.environ.get(FLAG, "").strip().lower() in ("1", "true", "yes")


def initialize(log=print) -> Optional[tuple[int, int]]:
    """Start JAX's distributed runtime when requested; returns (process index, count).

    Idempotent; returns None (and does nothing) for an ordinary single-host run.
    """
    if not requested():
        return None
    if _STATE:
        return _STATE["index"], _STATE["count"]
    import jax

    kwargs: dict = {}
    coordinator = os.environ.get(COORDINATOR)
    if coordinator:
        try:
            kwargs = dict(coordinator_address=coordinator,
                          num_processes=int(os.environ[NUM_PROCESSES]),
                          process_id=int(os.environ[PROCESS_ID]))
        except (KeyError, ValueError):
            raise RuntimeError(f"{COORDINATOR}={coordinator} needs integer {NUM_PROCESSES} and "
                               f"{PROCESS_ID} as well") from None
    if os.environ.get(INIT_TIMEOUT):
        kwargs["initialization_timeout"] = int(os.environ[INIT_TIMEOUT])
    jax.distributed.initialize(**kwargs)
    _STATE.update(index=jax.process_index(), count=jax.process_count())
    log(f"[hpfree] multi-host: process {_STATE['index']} of {_STATE['count']} "
        f"(coordinator {coordinator or 'auto-detected'})")
    return _STATE["index"], _STATE["count"]


def worker_scratch(run_dir: str | Path, index: int) -> Path:
    """Local directory where non-primary process ``index`` writes its copy of ``run_dir``."""
    key = hashlib.sha256(str(Path(run_dir).resolve()).encode()).hexdigest()[:16]
    base = Path(os.environ.get(SCRATCH) or tempfile.gettempdir())
    return base / "hpfree-workers" / key / f"p{index}"


def prepare(run_dir: str | Path, log=print) -> Path:
    """Initialise multi-host JAX if requested; the directory this process should write.

    Process 0 (and every single-host run) gets ``run_dir`` back unchanged.
    """
    run_dir = Path(run_dir)
    started = initialize(log)
    if started is None or started[0] == 0:
        return run_dir
    scratch = worker_scratch(run_dir, started[0])
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    for name in _RESUME_FILES:
        if (run_dir / name).exists():
            shutil.copy2(run_dir / name, scratch / name)
    # The copy only matters while the run lasts (process 0 keeps the real one).
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    return scratch
