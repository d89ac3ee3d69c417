"""``hpfree-resubmit SWEEP_DIR [OVERRIDES...]``: relaunch a sweep's missing, failed,
preempted and corrupt jobs with the command and launcher that made them; never a completed or diverged
one, nor one SLURM still has queued or running.

Safe to run while the sweep still runs, or twice at once: every job takes its run
directory's lock, and a job whose lock is held (or whose record became final) is skipped.
Trailing overrides replace or extend the stored command's (``launcher=local`` finishes a
SLURM sweep on this machine).  Works for searches (``manifest.json``) and plain multiruns
(``multirun.yaml``; on SLURM, the failed and cancelled jobs are submitted again from their
submitit pickles) — see ``hpfree.sweeps.resubmit``.  A corrupt run (unreadable record or
curve) is re-run, its bad file kept aside.  Exit code 1 when a job is still failed or
corrupt afterwards, 2 for a directory that is not a sweep.
"""

from __future__ import annotations

from typing import Optional

from hpfree.cli import common

# One line for `hpfree-train --help`'s list of commands.
SUMMARY = "relaunch a sweep's missing, failed, preempted and corrupt jobs (never a final one)"


def main(argv: Optional[list[str]] = None) -> None:
    common.run("hpfree-resubmit", _main, argv)


def _main(argv: list[str]) -> int:
    parser = common.Parser(prog="hpfree-resubmit", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", metavar="SWEEP_DIR", help="a sweep directory "
                        "(manifest.json, multirun.yaml or slurm_jobs.json)")
    parser.add_argument("overrides", nargs="*", default=[], metavar="OVERRIDE",
                        help="optional extra Hydra overrides for the relaunch "
                             "(e.g. launcher=local)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be relaunched and the commands, run nothing")
    args = parser.parse_args(argv)

    from hpfree.sweeps.resubmit import resubmit

    return resubmit(args.sweep_dir, args.overrides, dry_run=args.dry_run)

if __name__ == "__main__":
    main()
