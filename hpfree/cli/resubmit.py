"""``hpfree-resubmit SWEEP_DIR [OVERRIDES...]``: relaunch a sweep's missing, failed and
preempted jobs with the command and launcher that made them; never a completed or diverged
one.

Safe to run while the sweep still runs, or twice at once: every job takes its run
directory's lock, and a job whose lock is held (or whose record became final) is skipped.
Trailing overrides are appended to the stored command (``hydra/launcher=basic`` finishes a
SLURM sweep locally).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from hpfree.config import ConfigError


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="hpfree-resubmit",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", help="a sweep directory (holds manifest.json)")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for the relaunch")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be relaunched and the commands, run nothing")
    args = parser.parse_args(argv)

    from hpfree.sweeps.resubmit import resubmit

    try:
        rc = resubmit(args.sweep_dir, args.overrides, dry_run=args.dry_run)
    except ConfigError as exc:
        print(f"hpfree-resubmit: error: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.exit(rc)


if __name__ == "__main__":
    main()
