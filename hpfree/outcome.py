"""How the runs this process ran or looked at ended: what a command's exit code says.

Exit codes of every hpfree command (docs/faults.md): 0 all done, 1 some run failed or was
left corrupt, 2 bad input.  :func:`note` is told each run's final state (``hpfree.train``
after every run, the sweeper for jobs it launched elsewhere); :func:`exit_code` turns the
tally into the code.  A stopped (``preempted``) run is not a failure: it resumes.
"""

from __future__ import annotations

from collections import Counter

OK, FAILED, BAD_INPUT = 0, 1, 2
FAILURES = ("failed", "corrupt")

_seen: Counter = Counter()


def note(state: str) -> None:
    _seen[state] += 1


def failures() -> int:
    return sum(_seen[s] for s in FAILURES)


def exit_code() -> int:
    return FAILED if failures() else OK


def reset() -> None:
    _seen.clear()
