"""Progress a person can follow: runs and sweeps as rich progress bars, or plain lines.

On a terminal, a run (or a trial batch) is a bar with its step, steps per second and the
time left, and a local sweep adds a bar of its points with done / running / failed /
diverged counts and points per hour; all bars share one live display.  When stdout is not a
terminal (a log file, SLURM), the same information comes as plain lines: one per
evaluation for a single run, one per chunk for a batch, one per finished job for a sweep.
``progress=false`` turns all of it off.  A first line always comes before anything slow
("compiling …"), never after it.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Optional, Sequence

_LIVE: Optional[Any] = None  # the shared rich Progress while any bar is shown
_USERS = 0
CONSOLE: Optional[Any] = None  # the rich Console the bars draw on (None: rich's own)


def is_terminal(stream: Any = None) -> bool:
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _live():
    """The shared ``rich.progress.Progress`` (started on first use)."""
    global _LIVE, _USERS
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    if _LIVE is None:
        _LIVE = Progress(TextColumn("{task.description}"), BarColumn(bar_width=20),
                         MofNCompleteColumn(),
                         TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                         TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                         refresh_per_second=4, transient=False, console=CONSOLE)
        _LIVE.start()
    _USERS += 1
    return _LIVE


def _release() -> None:
    global _LIVE, _USERS
    _USERS -= 1
    if _USERS <= 0 and _LIVE is not None:
        _LIVE.stop()
        _LIVE, _USERS = None, 0


def say(text: str, log: Callable[[str], None] = print) -> None:
    """A line above the bars (or on its own when there are none)."""
    if _LIVE is not None:
        _LIVE.console.print(text, markup=False, highlight=False)
    else:
        log(text)


def _rate(steps_per_s: float) -> str:
    return f"{steps_per_s:,.0f} steps/s" if steps_per_s >= 10 else f"{steps_per_s:.2f} steps/s"


def _eta(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


class RunProgress:
    """The progress of one run or one trial batch (``hpfree.runners.embedded.run_batch``)."""

    def __init__(self, label: str, log: Callable[[str], None] = print,
                 rich: Optional[bool] = None) -> None:
        self.label = label
        self.log = log
        self.rich = is_terminal() if rich is None else rich
        self.task = None
        self.totals: list[int] = []
        self.first: list[int] = []
        self.started = 0.0
        self.train_s = 0.0

    def note(self, text: str) -> None:
        say(f"[hpfree] {self.label}: {text}", self.log)

    def start(self, totals: Sequence[int], steps: Sequence[int]) -> None:
        self.totals, self.first = list(totals), list(steps)
        self.started = time.monotonic()
        if self.rich:
            live = _live()
            self.task = live.add_task(self.label, total=max(self.totals, default=0),
                                      completed=min(steps, default=0), rate="", info="")

    def update(self, steps: Sequence[int], statuses: Sequence[Optional[str]],
               chunk_s: float) -> None:
        self.train_s += chunk_s
        done = sum(s is not None for s in statuses)
        diverged = sum(s == "diverged" for s in statuses)
        # Steps of the slowest run still training: the batch ends when it does.
        live = [st for st, s in zip(steps, statuses) if s is None]
        at = min(live) if live else max(steps, default=0)
        goal = max((t for t, s in zip(self.totals, statuses) if s is None), default=at)
        trained = max(at - min(self.first, default=0), 0)
        rate = trained / self.train_s if self.train_s > 0 else 0.0
        eta = (goal - at) / rate if rate > 0 else float("nan")
        k = len(self.totals)
        info = f"{done}/{k} done" + (f", {diverged} diverged" if diverged else "") if k > 1 \
            else ""
        if self.task is not None and _LIVE is not None:
            _LIVE.update(self.task, total=goal, completed=at, rate=_rate(rate), info=info)
        elif k > 1:
            self.log(f"[hpfree] {self.label}: step {at}/{goal}  {_rate(rate)}  eta {_eta(eta)}"
                     f"  ({info})")

    def row(self, text: str) -> None:
        """One evaluation's line: shown for single runs when output is not a terminal."""
        if not self.rich and len(self.totals) <= 1:
            self.log(text)

    def stop(self) -> None:
        if self.task is not None and _LIVE is not None:
            _LIVE.remove_task(self.task)
            self.task = None
            _release()


class SweepProgress:
    """A sweep's points: done / running / failed / diverged and points per hour."""

    def __init__(self, label: str, total: int, log: Callable[[str], None] = print,
                 rich: Optional[bool] = None) -> None:
        self.label, self.total, self.log = label, total, log
        self.rich = is_terminal() if rich is None else rich
        self.started = time.monotonic()
        self.task = None
        if self.rich and total:
            self.task = _live().add_task(label, total=total, completed=0, rate="", info="")

    def update(self, counts: dict[str, int], finished_now: int) -> str:
        hours = (time.monotonic() - self.started) / 3600
        per_hour = finished_now / hours if hours > 0 else 0.0
        info = (f"done {counts.get('completed', 0)} · diverged {counts.get('diverged', 0)} · "
                f"failed {counts.get('failed', 0)} · running {counts.get('running', 0)}")
        rate = f"{per_hour:,.0f} points/h"
        if self.task is not None and _LIVE is not None:
            _LIVE.update(self.task, completed=finished_now, rate=rate, info=info)
        return f"{info} | {rate}"

    def stop(self) -> None:
        if self.task is not None and _LIVE is not None:
            _LIVE.remove_task(self.task)
            self.task = None
            _release()
