"""``hpfree-status SWEEP_DIR``: how many jobs of a sweep are completed, diverged, running,
queued, failed, preempted, missing or corrupt — per state, per workload and per trial.

States are read from each run's ``record.json`` and lock at the moment you ask, and from
SLURM's queue for a sweep launched with ``launcher=slurm`` (see ``hpfree.sweeps.status``);
nothing is written.  A search is read from its ``manifest.json``, a plain multirun from its
``multirun.yaml``, ``slurm_jobs.json`` and run directories (``hpfree.sweeps.multirun``).
``--jobs`` lists every job.  Exit code 1 when a job failed or is corrupt (each corrupt file
is named on stderr), 2 for a directory that is not a sweep.
"""

from __future__ import annotations

import sys
from typing import Optional

from hpfree import outcome
from hpfree.cli import common

# One line for `hpfree-train --help`'s list of commands.
SUMMARY = "a sweep's jobs per state, per workload and per trial"


def main(argv: Optional[list[str]] = None) -> None:
    common.run("hpfree-status", _main, argv)


def _main(argv: list[str]) -> int:
    parser = common.Parser(prog="hpfree-status", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", help="a sweep directory (manifest.json, multirun.yaml or "
                        "slurm_jobs.json)")
    parser.add_argument("--jobs", action="store_true", help="also list every job and its state")
    args = parser.parse_args(argv)

    import pandas as pd

    from hpfree.sweeps import manifest, multirun, status

    m = multirun.load_any(args.sweep_dir)
    states = status.job_states(args.sweep_dir, m.jobs)
    for line in status.corrupt_files(args.sweep_dir, states):
        print(f"hpfree-status: corrupt: {line}", file=sys.stderr)
    print(status.summary(m, states, args.sweep_dir))
    if args.jobs:
        frame = manifest.jobs_frame(m)
        if multirun.is_plain(m) and len(frame):
            frame = frame.drop(columns=["trial", "seed_index"])
            frame["overrides"] = [" ".join(j.overrides) for j in m.jobs]
        with pd.option_context("display.max_rows", None, "display.width", 200,
                               "display.max_colwidth", 120):
            print("\njobs\n" + frame.to_string(index=False))
    bad = sum(1 for s in states.values() if s in outcome.FAILURES)
    return outcome.FAILED if bad else outcome.OK

if __name__ == "__main__":
    main()
