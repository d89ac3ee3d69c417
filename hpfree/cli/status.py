"""``hpfree-status SWEEP_DIR``: how many jobs of a sweep are completed, diverged, running,
queued, failed, preempted or missing — per state, per workload and per trial.

States are read from each run's ``record.json`` and lock at the moment you ask, and from
SLURM's queue for a sweep launched with ``launcher=slurm`` (see ``hpfree.sweeps.status``);
nothing is written.  A search is read from its ``manifest.json``, a plain multirun from its
``multirun.yaml``, ``slurm_jobs.json`` and run directories (``hpfree.sweeps.multirun``).
``--jobs`` lists every job.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from hpfree.errors import ConfigError

# One line for `hpfree-train --help`'s list of commands.
SUMMARY = "a sweep's jobs per state, per workload and per trial"


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="hpfree-status", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", help="a sweep directory (manifest.json, multirun.yaml or "
                        "slurm_jobs.json)")
    parser.add_argument("--jobs", action="store_true", help="also list every job and its state")
    args = parser.parse_args(argv)

    import pandas as pd

    from hpfree.sweeps import manifest, multirun, status

    try:
        m = multirun.load_any(args.sweep_dir)
    except ConfigError as exc:
        print(f"hpfree-status: error: {exc}", file=sys.stderr)
        sys.exit(2)
    states = status.job_states(args.sweep_dir, m.jobs)
    print(status.summary(m, states, args.sweep_dir))
    if args.jobs:
        frame = manifest.jobs_frame(m)
        if multirun.is_plain(m) and len(frame):
            frame = frame.drop(columns=["trial", "seed_index"])
            frame["overrides"] = [" ".join(j.overrides) for j in m.jobs]
        with pd.option_context("display.max_rows", None, "display.width", 200,
                               "display.max_colwidth", 120):
            print("\njobs\n" + frame.to_string(index=False))


if __name__ == "__main__":
    main()
