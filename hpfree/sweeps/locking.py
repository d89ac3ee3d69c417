"""One process per run directory: a non-blocking ``flock`` on ``<run_dir>/.lock``.

A sweep, a resubmission of it and a second resubmission may all reach the same job.  Whoever
holds the lock runs it; the others skip it.  The holder then re-reads the record under the
lock (``hpfree.train.run`` skips a run whose record is already ``completed``/``diverged``), so
a job is never run twice at once and a final record is never overwritten.  The kernel drops
the lock when its holder dies (even by SIGKILL), so a killed job is free to be resumed.

``is_locked`` probes with a *shared* lock, which works on read-only files and over NFS
(where ``flock`` is emulated with POSIX locks); a job starting during the probe retries
for a moment instead of skipping.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

LOCK = ".lock"
# Locks this process holds (path → depth): taking a held lock again is a no-op, so the
# sweeper's wrapper and a lock inside ``hpfree.train.run`` can coexist.
_HELD: dict[str, int] = {}


@contextmanager
def run_lock(run_dir: str | Path, attempts: int = 5, wait_s: float = 0.2) -> Iterator[bool]:
    """Hold ``run_dir``'s lock for the ``with`` block; yields False if another process has it.

    Re-entrant within one process.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    key = str((run_dir / LOCK).resolve())
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield True
        finally:
            _HELD[key] -= 1
        return
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    held = False
    try:
        for attempt in range(attempts):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
                break
            except BlockingIOError:
                if attempt + 1 < attempts:
                    time.sleep(wait_s)
        if held:  # who holds it, for people reading the file; the lock is the flock itself
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{socket.gethostname()} {os.getpid()}\n".encode(), 0)
            _HELD[key] = 1
        yield held
    finally:
        if held:
            _HELD.pop(key, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def is_locked(run_dir: str | Path) -> bool:
    """True while some process holds ``run_dir``'s lock (i.e. the run is in progress)."""
    path = Path(run_dir) / LOCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing the descriptor releases a shared lock we got
    return False


class LockedTask:
    """Wrap a Hydra task function so each job runs only under its run directory's lock.

    The sweeper hands this to the launcher instead of the bare task function, so every job of
    a sweep or resubmission — local, SLURM or TPU — takes the lock in the process that runs it.
    It is a plain class (not a closure) so launchers can pickle it.
    """

    def __init__(self, task_function: Callable[[Any], Any]) -> None:
        self.task_function = task_function

    def __call__(self, cfg: Any) -> Optional[Any]:
        from hydra.core.hydra_config import HydraConfig

        run_dir = Path(HydraConfig.get().runtime.output_dir)
        return run_locked(run_dir, self.task_function, cfg)


def run_locked(run_dir: str | Path, fn: Callable[[Any], Any], *args: Any) -> Optional[Any]:
    """``fn(*args)`` under ``run_dir``'s lock; None (and a note) if another process has it."""
    with run_lock(run_dir) as held:
        if not held:
            print(f"[hpfree] skipped {run_dir}: another process is running it ({LOCK} held)",
                  flush=True)
            return None
        return fn(*args)
