"""Fan runs out over a pool of slices: one run per slice at a time, retried on another slice.

A dispatcher (the caller's thread) hands each free, healthy slice the first waiting run that
did not just fail or get preempted on it (unless it is the only healthy slice left); a thread
per running attempt starts the run on all of the slice's workers through the transport and
waits for every worker.  When one worker fails while others still run, all of them get
SIGTERM (the run checkpoints and stops) and, after ``stop_grace_s``, SIGKILL.

An attempt ends as the run's record says — ``completed`` / ``diverged`` (done), ``preempted``
(stopped by a signal after checkpointing) or ``failed`` — or as ``lost`` when ssh exits 255
(the connection dropped or the run was killed outright).  After anything but done, the slice
is probed (``ssh HOST true`` / ``gcloud describe``): a slice that does not answer, or that
failed ``max_consecutive_failures`` runs in a row, leaves the pool.  The run is then re-run in
the same run directory on another slice, where it resumes from its checkpoint — up to
``max_retries`` failures and ``max_preemptions`` preemptions.  Run directories must therefore
be on a filesystem every slice sees.  Every attempt is appended to a JSON-lines journal.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from hpfree import records
from hpfree.tpu import remote
from hpfree.tpu.slices import Slice
from hpfree.tpu.transport import UNREACHABLE, Transport

logger = logging.getLogger(__name__)

DONE = records.FINAL_STATUSES  # completed, diverged
LOG_DIR = "launcher"  # per-attempt worker logs, inside the run directory
_RESTOP_S = 5.0  # how often a stop is re-sent while a run is being stopped


@dataclass
class Settings:
    command: str = "hpfree-train"
    setup: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    remote_tmp: str = "/tmp/hpfree-tpu"
    max_retries: int = 3
    max_preemptions: int = 20
    max_consecutive_failures: int = 3
    stop_grace_s: float = 120.0
    probe_timeout_s: float = 60.0
    poll_s: float = 0.5


@dataclass
class Attempt:
    job: int
    number: int
    slice: str
    outcome: str  # completed | diverged | preempted | failed | lost
    detail: str
    returncodes: list[int]
    started_at: str
    seconds: float
    slice_problem: Optional[str] = None  # why the slice left the pool (from the probe)


@dataclass
class Job:
    index: int
    overrides: list[str]  # passed to the remote `hpfree-train`
    run_dir: Path  # absolute, on the shared filesystem
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(a.outcome in ("failed", "lost") for a in self.attempts)

    @property
    def preemptions(self) -> int:
        return sum(a.outcome == "preempted" for a in self.attempts)


@dataclass
class Result:
    job: Job
    status: str  # completed | diverged | failed
    record: Optional[records.RunRecord]
    error: Optional[str] = None


@dataclass
class _SliceState:
    slc: Slice
    healthy: bool = True
    reason: str = ""
    consecutive_failures: int = 0
    busy: bool = False


def classify(returncodes: Sequence[int], record: Optional[records.RunRecord]) -> tuple[str, str]:
    """An attempt's outcome from its workers' exit codes and the run's record."""
    lost = [i for i, rc in enumerate(returncodes) if rc == UNREACHABLE]
    if lost:
        return "lost", (f"exit {UNREACHABLE} from worker(s) {lost}: the connection was lost "
                        "or the run was killed by a signal")
    bad = [rc for rc in returncodes if rc != 0]
    error = record.error if record is not None and record.status == "failed" else None
    if bad:
        return "failed", f"exit codes {list(returncodes)}" + (f"; {error}" if error else "")
    if record is None:
        return "failed", "exited 0 but wrote no record.json (is the run directory shared?)"
    if record.status in DONE:
        return record.status, ""
    if record.status == "preempted":
        return "preempted", f"stopped at step {record.steps} after checkpointing"
    return "failed", error or f"exited 0 with record status {record.status!r}"


def attempt_overrides(job: Job) -> list[str]:
    """The job's overrides, minus ``force=true`` once a forced run has started.

    A retry must resume the run the first attempt began, not wipe its checkpoint again.
    """
    if not job.attempts:
        return list(job.overrides)
    rec = records.load(job.run_dir)
    if rec is None or rec.status in DONE:
        return list(job.overrides)
    return ["force=false" if o.replace(" ", "").lower() in ("force=true", "+force=true")
            else o for o in job.overrides]


def _log_tail(log_dir: Path, prefix: str) -> str:
    """`` (last line: ...)`` from the attempt's worker logs, to say what went wrong."""
    for path in sorted(log_dir.glob(f"{prefix}*.log")):
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
        if lines:
            return f" (last line of {path.name}: {lines[-1][:300]})"
    return ""


class SlicePool:
    """Run jobs on ``slices`` through ``transport``; see the module docstring."""

    def __init__(self, slices: Sequence[Slice], transport: Transport, settings: Settings,
                 journal: Optional[Path] = None,
                 log: Callable[[str], None] = logger.info) -> None:
        self.states = [_SliceState(s) for s in slices]
        self.transport = transport
        self.settings = settings
        self.journal = journal
        self.log = log
        self._journal_lock = threading.Lock()

    # ----------------------------------------------------------------- dispatching
    def run(self, jobs: Sequence[Job]) -> list[Result]:
        pending: list[Job] = list(jobs)
        results: dict[int, Result] = {}
        cancel = threading.Event()
        running: dict[Future, tuple[Job, _SliceState]] = {}
        with ThreadPoolExecutor(max_workers=len(self.states),
                                thread_name_prefix="hpfree-slice") as pool:
            try:
                while pending or running:
                    for st in self.states:
                        if not st.healthy or st.busy:
                            continue
                        job = self._pick(st, pending)
                        if job is None:
                            continue
                        pending.remove(job)
                        st.busy = True
                        self.log(f"#{job.index} -> slice {st.slc.name} "
                                 f"(attempt {len(job.attempts) + 1}): {' '.join(job.overrides)}")
                        running[pool.submit(self._attempt, job, st.slc, cancel)] = (job, st)
                    if not running:  # work is left but no slice can take it
                        why = "; ".join(f"{s.slc.name}: {s.reason}" for s in self.states)
                        for job in pending:
                            results[job.index] = Result(job, "failed", records.load(job.run_dir),
                                                        f"no healthy slice left ({why})")
                        pending.clear()
                        break
                    done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                    for fut in done:
                        job, st = running.pop(fut)
                        st.busy = False
                        self._settle(job, st, fut.result(), pending, results)
            except BaseException:
                # Ctrl-C or a bug: stop the runs on the slices (they checkpoint), then re-raise.
                cancel.set()
                if running:
                    self.log(f"stopping {len(running)} run(s); they checkpoint and resume when "
                             "the same command runs again")
                wait(list(running))
                raise
        return [results[j.index] for j in jobs]

    def _pick(self, st: _SliceState, pending: list[Job]) -> Optional[Job]:
        others = any(o is not st and o.healthy for o in self.states)
        for job in pending:
            if job.attempts and job.attempts[-1].slice == st.slc.name and others:
                continue  # goes to another slice while there is one
            return job
        return None

    def _settle(self, job: Job, st: _SliceState, attempt: Attempt, pending: list[Job],
                results: dict[int, Result]) -> None:
        job.attempts.append(attempt)
        self._write_journal(job, attempt)
        s = self.settings
        if attempt.outcome in DONE:
            st.consecutive_failures = 0
            self.log(f"#{job.index} {attempt.outcome} on slice {st.slc.name} "
                     f"({attempt.seconds:.0f}s): {job.run_dir}")
            results[job.index] = Result(job, attempt.outcome, records.load(job.run_dir))
            return
        if attempt.outcome != "preempted":
            st.consecutive_failures += 1
        if attempt.slice_problem:
            st.healthy, st.reason = False, attempt.slice_problem
        elif st.consecutive_failures >= s.max_consecutive_failures:
            st.healthy, st.reason = False, f"{st.consecutive_failures} failed runs in a row"
        if not st.healthy:
            self.log(f"slice {st.slc.name} leaves the pool: {st.reason}")
        over = (job.preemptions > s.max_preemptions if attempt.outcome == "preempted"
                else job.failures > s.max_retries)
        if over:
            error = (f"{attempt.outcome} on slice {st.slc.name}: {attempt.detail} "
                     f"(after {len(job.attempts)} attempts; logs in {job.run_dir / LOG_DIR})")
            self.log(f"#{job.index} gives up: {error}")
            results[job.index] = Result(job, "failed", records.load(job.run_dir), error)
            return
        self.log(f"#{job.index} {attempt.outcome} on slice {st.slc.name}: {attempt.detail}; "
                 "retrying on another slice")
        pending.insert(0, job)

    # ----------------------------------------------------------------- one attempt
    def _attempt(self, job: Job, slc: Slice, cancel: threading.Event) -> Attempt:
        s = self.settings
        number = len(job.attempts) + 1
        started_at, t0 = records.now(), time.monotonic()
        run_dir = str(job.run_dir)
        log_dir = job.run_dir / LOG_DIR
        log_dir.mkdir(parents=True, exist_ok=True)
        overrides = attempt_overrides(job)
        env = {**s.env, **slc.env}

        def make_script(tag: str, worker_env: Mapping[str, str]) -> str:
            return remote.run_script(command=s.command, overrides=overrides, run_dir=run_dir,
                                     setup=s.setup, env={**env, **worker_env},
                                     remote_tmp=s.remote_tmp, worker_tag=tag)

        try:
            procs = self.transport.start(slc, make_script, log_dir / f"a{number}-{slc.name}")
        except OSError as exc:
            return Attempt(job.index, number, slc.name, "lost", f"could not start: {exc}", [],
                           started_at, time.monotonic() - t0,
                           slice_problem=f"{self.transport.name} could not start: {exc}")
        first_stop: Optional[float] = None
        last_stop = 0.0
        killed = False
        while any(p.poll() is None for p in procs):
            trouble = cancel.is_set() or any(p.poll() not in (None, 0) for p in procs)
            now = time.monotonic()
            if trouble and first_stop is None:
                self.log(f"#{job.index} stopping on slice {slc.name} "
                         f"({'interrupted' if cancel.is_set() else 'a worker failed'})")
                first_stop = now
            if first_stop is not None and not killed:
                if now - first_stop > s.stop_grace_s:
                    self._stop(slc, run_dir, "KILL")
                    for p in procs:
                        if p.poll() is None:
                            p.terminate()
                    killed = True
                elif now - last_stop >= _RESTOP_S:
                    # Again every few seconds: a worker may not have written its pid file yet.
                    self._stop(slc, run_dir, "TERM")
                    last_stop = now
            time.sleep(s.poll_s)
        returncodes = [p.returncode for p in procs]
        outcome, detail = classify(returncodes, records.load(job.run_dir))
        if outcome not in DONE and outcome != "preempted":
            detail += _log_tail(log_dir, f"a{number}-{slc.name}-")
        problem = None
        if outcome not in DONE and not cancel.is_set():
            problem = self.transport.probe(slc, s.probe_timeout_s)
        return Attempt(job.index, number, slc.name, outcome, detail, returncodes, started_at,
                       time.monotonic() - t0, problem)

    def _stop(self, slc: Slice, run_dir: str, signal: str) -> None:
        script = remote.stop_script(run_dir=run_dir, remote_tmp=self.settings.remote_tmp,
                                    signal=signal)
        self.transport.run_everywhere(slc, script, timeout=self.settings.probe_timeout_s)

    def _write_journal(self, job: Job, attempt: Attempt) -> None:
        if self.journal is None:
            return
        line = json.dumps({**asdict(attempt), "run_dir": str(job.run_dir),
                           "overrides": job.overrides}, sort_keys=True)
        with self._journal_lock:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            with open(self.journal, "a") as f:
                f.write(line + "\n")
