"""``hpfree-score``: sweep directories → leaderboard, profiles, tables and figures.

    hpfree-score sweeps/smoke                       # leaderboard on stdout, files in scores/
    hpfree-score sweeps/a sweeps/b --out paper --time seconds
    hpfree-score sweeps/search --top-k 3 --seeds 3  # + the commands that re-run the top 3
    hpfree-score sweeps/search --min-seeds 3        # after the re-runs: the final pick
    hpfree-score sweeps/final --external sfadam.csv # a submission scored elsewhere joins

Bad input gets one line on stderr and exit code 2; exit code 1 when failed or corrupt runs
(unreadable record or curve) were left out (each named on stderr and in ``notes.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from hpfree.cli import common
from hpfree.cli.common import FAILED, OK
from hpfree.errors import ConfigError
from hpfree.io import atomic_write_text

PROG = "hpfree-score"

# One line for `hpfree-train --help`'s list of commands.
SUMMARY = "sweeps -> time-to-target, performance profiles, benchmark score, tables, plots"


def _target(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--target {text!r}: expected WORKLOAD=VALUE, e.g. digits_mlp=0.05") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = common.Parser(prog=PROG, description="Score sweeps the way AlgoPerf does: time-to-target, "
                "performance profiles, benchmark score, tables and plots.")
    p.add_argument("dirs", nargs="+", metavar="SWEEP_DIR",
                   help="directories holding run records (searched recursively)")
    p.add_argument("--out", default="scores", help="output directory (default: ./scores)")
    p.add_argument("--time", choices=("steps", "seconds"), default="steps",
                   help="score on steps or on accumulated training seconds (default: steps)")
    p.add_argument("--external", action="append", default=[], metavar="CSV",
                   help="per-workload budget fractions of a candidate not run here (repeatable)")
    p.add_argument("--target", action="append", default=[], type=_target,
                   metavar="WORKLOAD=VALUE", help="score against another target (repeatable)")
    p.add_argument("--workloads", default=None,
                   help="comma-separated suite (default: every workload with runs)")
    p.add_argument("--min-seeds", type=_positive_int, default=1, metavar="N",
                   help="score only candidates with at least N seeds on each of their workloads")
    p.add_argument("--top-k", type=_positive_int, default=None, metavar="K",
                   help="print the K best candidates per (optimizer, horizon) by geometric-mean "
                        "time-to-target, and the commands that re-run them with --seeds seeds")
    p.add_argument("--seeds", type=_positive_int, default=3, metavar="N",
                   help="seeds for the --top-k re-runs (default: 3)")
    p.add_argument("--miss-penalty", type=float, default=2.0, metavar="X",
                   help="cost of a missed target in the geometric mean, as a multiple of the "
                        "budget (default: 2)")
    p.add_argument("--plot-top", type=_positive_int, default=10, metavar="N",
                   help="candidates shown in the profile and curve plots (default: 10)")
    p.add_argument("--no-plots", action="store_true", help="write tables only")
    return p


def main(argv: Optional[list[str]] = None) -> None:
    common.run(PROG, _main, argv)


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from hpfree.scoring import selection
    from hpfree.scoring.report import ScoringError, score_sweeps, write_report

    suite = [w.strip() for w in args.workloads.split(",") if w.strip()] if args.workloads else None
    try:
        result = score_sweeps(args.dirs, time=args.time, targets=dict(args.target),
                              externals=args.external, min_seeds=args.min_seeds,
                              workloads=suite, miss_penalty=args.miss_penalty)
    except ScoringError as exc:
        raise ConfigError(str(exc)) from None
    for note in result.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    paths = write_report(result, args.out, plots=not args.no_plots, top_k=args.top_k,
                         plot_top=args.plot_top)
    out = Path(args.out)
    n_runs, n_cand = len(result.runs), len(result.scores)
    def count(n: int, what: str) -> str:
        return f"{n} {what}{'' if n == 1 else 's'}"

    print(f"# Leaderboard ({count(n_cand, 'candidate')}, {count(n_runs, 'run')}, "
          f"{count(len(result.workloads), 'workload')}, time in {args.time})\n")
    print(paths["leaderboard"].read_text())
    print("# Best per (algorithm, horizon)\n")
    print(paths["selection"].read_text())
    if args.top_k is not None:
        print(f"# Top {args.top_k} per (algorithm, horizon) by geometric-mean time-to-target\n")
        print(paths["ranking"].read_text())
        chosen = selection.top_k(result.ranking, args.top_k)
        cmds = selection.rerun_commands(chosen, result.runs, args.seeds)
        script = "\n".join(cmds) + "\n"
        atomic_write_text(out / "rerun.sh", "#!/bin/sh\nset -e\n" + script)
        print(f"# Re-run them with {args.seeds} seeds (also in {out / 'rerun.sh'}), then "
              f"score with --min-seeds {args.seeds}\n")
        print(script)
    print(f"[hpfree-score] tables and figures in {out}/ "
          f"({', '.join(sorted(p.name for p in paths.values()))})")
    left = {k: n for k, n in result.left_out.items() if n}
    if left:
        print(f"[hpfree-score] left out {', '.join(f'{n} {k}' for k, n in left.items())} "
              f"run(s): see {out / 'notes.md'}", file=sys.stderr)
        return FAILED
    return OK


if __name__ == "__main__":
    main()
