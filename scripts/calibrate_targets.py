"""Set each built-in workload's target the AlgoPerf way: what a tuned NadamW reaches.

For every workload:

1. a small NadamW search at full budget — the 8 points in ``POINTS`` (learning rate ×⅓, ×3,
   ×9 around the AlgoPerf defaults, dropout off, label smoothing 0.1; a point that a workload
   cannot tell from another, e.g. dropout on a model without dropout, runs once) — with the
   warmup + cosine schedule ending at ``--fraction`` (0.75) of ``max_steps``, so the best
   configuration gets to its best value at about 3/4 of the budget;
2. the best point (best validation metric) again with ``--seeds`` − 1 more seeds;
3. target = the least good of the seeds' best values, rounded (4 significant digits) in the
   easier direction, so every seed of the calibrated baseline reaches it;
4. ``--check-fraction`` (0.66, the default horizon): the calibrated point at that horizon;
5. ``--naive prodigy,dog``: the paper's naive learning-rate-free runs
   (``optimizer=<name> schedule=none regularization=none``, full ``max_steps``).

Runs are ordinary hpfree runs in ``--out`` (named by content: re-running the script resumes
or reuses them), trained with a fixed placeholder target (``PLACEHOLDER_TARGET``) so that
they do not depend on the targets being set; reaching is computed from their curves.  ``--write`` replaces the
``target`` default in each workload's config dataclass (the one source of truth) and writes
``hpfree/workloads/calibration.json``; the Markdown table for the README is printed.

    nice -n 10 python scripts/calibrate_targets.py --write --naive prodigy,dog
    python scripts/calibrate_targets.py --workloads mini_criteo --seeds 2   # a quick look
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CALIBRATION_JSON = REPO / "hpfree" / "workloads" / "calibration.json"

# Around the AlgoPerf NadamW defaults (lr 1.7486e-3, weight decay 0.08122, dropout 0.1): the
# learning rate ×⅓, ×3, ×9 (these small models like larger steps), dropout off, smoothing on.
POINTS: list[dict[str, Any]] = [
    {},
    {"optimizer.learning_rate": 5.2458e-3},
    {"optimizer.learning_rate": 5.8287e-4},
    {"regularization.dropout": 0.0},
    {"optimizer.learning_rate": 5.2458e-3, "regularization.dropout": 0.0},
    {"regularization.label_smoothing": 0.1},
    {"optimizer.learning_rate": 1.5737e-2},
    {"optimizer.learning_rate": 1.5737e-2, "regularization.dropout": 0.0},
]


# The target every calibration run is trained with: fixed, so that run names (content hashes)
# do not change when --write changes the targets; finite, because the config refuses nan.
# Nothing here reads a run's own reached/ttt fields: reaching is computed from the curves.
PLACEHOLDER_TARGET = 0.0


def compose_cfg(overrides: list[str]):
    """The validated TrainConfig that ``hpfree-train <overrides>`` would run."""
    from hpfree.preflight import compose_config

    return compose_config(overrides)


def effective(point: dict[str, Any], workload: str) -> tuple:
    """The point as the workload sees it (regularizers it has no counterpart for dropped)."""
    from hpfree.workloads import registry

    cls = type(registry.make(registry.get_config_class(workload)()))
    keep = {k: v for k, v in point.items()
            if not (k == "regularization.dropout" and not cls.supports_dropout)
            and not (k == "regularization.label_smoothing" and not cls.supports_label_smoothing)}
    return tuple(sorted(keep.items()))


def run(out: Path, overrides: list[str], label: str) -> dict[str, Any]:
    """Train (or reuse) one run; its curve's best value and the steps of every evaluation."""
    from hpfree import records, train
    from hpfree.run_naming import run_name

    cfg = compose_cfg([*overrides, f"workload.target={PLACEHOLDER_TARGET}", "progress=false",
                       f"runs_dir={out / 'runs'}"])
    run_dir = out / "runs" / run_name(cfg)
    record = train.run(cfg, run_dir, log=lambda s: None, handle_signals=False)
    curve = records.load_curve(run_dir)
    col = f"validation/{cfg.workload.metric}"
    values = [float(v) for v in curve[col]] if col in curve else []
    finite = [v for v in values if math.isfinite(v)]
    best = None
    if finite:
        best = min(finite) if cfg.workload.direction == "min" else max(finite)
    print(f"  {label:<44} {record.status:<9} best {best if best is None else f'{best:.4f}'} "
          f"({record.train_seconds:.0f} s)", flush=True)
    return {"overrides": overrides, "status": record.status, "best": best,
            "steps": [int(s) for s in curve["step"]] if len(curve) else [], "values": values,
            "train_seconds": record.train_seconds, "run_dir": str(run_dir)}


def better(a: float, b: float, direction: str) -> bool:
    return a < b if direction == "min" else a > b


def round_easier(value: float, direction: str, digits: int = 4) -> float:
    """``value`` to ``digits`` significant digits, rounded so that ``value`` still reaches it."""
    if value == 0 or not math.isfinite(value):
        return value
    quantum = 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)
    steps = value / quantum
    rounded = (math.ceil(steps - 1e-9) if direction == "min" else math.floor(steps + 1e-9))
    return float(f"{rounded * quantum:.{digits}g}")


def first_reach(result: dict[str, Any], target: float, direction: str) -> int | None:
    from hpfree.workloads.base import reached

    for step, value in zip(result["steps"], result["values"]):
        if reached(value, target, direction):
            return step
    return None


def calibrate(name: str, args, out: Path) -> dict[str, Any]:
    from hpfree.workloads import registry

    wcfg = registry.get_config_class(name)()
    base = ["optimizer=nadamw", f"workload={name}", f"horizon.fraction={args.fraction}",
            f"horizon.name=h{round(args.fraction * 100)}"]
    print(f"{name}: max_steps {wcfg.max_steps}, metric {wcfg.metric} ({wcfg.direction})",
          flush=True)
    seen: dict[tuple, dict] = {}
    for point in POINTS:
        key = effective(point, name)
        if key in seen:
            continue
        ovr = [f"{k}={v}" for k, v in key]
        seen[key] = run(out, [*base, *ovr, "seed=0"], "nadamw " + (" ".join(ovr) or "defaults"))
    best_key, best = None, None
    for key, r in seen.items():
        if r["best"] is None:
            continue
        if best is None or better(r["best"], best["best"], wcfg.direction):
            best_key, best = key, r
    if best is None:
        raise SystemExit(f"{name}: every calibration run failed or diverged")
    point_ovr = [f"{k}={v}" for k, v in best_key]
    seeds = [best] + [run(out, [*base, *point_ovr, f"seed={s}"], f"best point, seed {s}")
                      for s in range(1, args.seeds)]
    bests = [r["best"] for r in seeds if r["best"] is not None]
    worst = max(bests) if wcfg.direction == "min" else min(bests)
    target = round_easier(worst, wcfg.direction)
    reach = [first_reach(r, target, wcfg.direction) for r in seeds]
    entry: dict[str, Any] = {
        "metric": wcfg.metric, "direction": wcfg.direction, "max_steps": wcfg.max_steps,
        "fraction": args.fraction, "target": target,
        "points": [{"point": dict(k), "best": r["best"]} for k, r in seen.items()],
        "best_point": dict(best_key), "seed_bests": bests,
        "seed_reach_steps": reach,
        "train_seconds": [r["train_seconds"] for r in seeds],
    }
    if args.check_fraction:
        check = run(out, ["optimizer=nadamw", f"workload={name}",
                          f"horizon.fraction={args.check_fraction}",
                          f"horizon.name=h{round(args.check_fraction * 100)}", *point_ovr,
                          "seed=0"], f"best point at horizon {args.check_fraction}")
        entry["check"] = {"fraction": args.check_fraction, "best": check["best"],
                          "reach_step": first_reach(check, target, wcfg.direction)}
    entry["naive"] = {}
    for opt in args.naive:
        r = run(out, [f"optimizer={opt}", f"workload={name}", "schedule=none",
                      "regularization=none", "horizon=h100", "seed=0"], f"naive {opt}")
        entry["naive"][opt] = {"best": r["best"], "status": r["status"],
                               "reach_step": first_reach(r, target, wcfg.direction)}
    return entry


def write_target(name: str, target: float) -> None:
    """Replace ``target: float = …`` in the workload's config dataclass source."""
    from hpfree.workloads import registry

    cls = registry.get_config_class(name)
    path = Path(inspect.getsourcefile(cls))
    lines, start = inspect.getsourcelines(cls)
    text = path.read_text().splitlines(keepends=True)
    for i in range(start - 1, start - 1 + len(lines)):
        if re.match(r"\s+target: float = ", text[i]):
            text[i] = re.sub(r"=.*$", f"= {target!r}", text[i].rstrip("\n")) + "\n"
            path.write_text("".join(text))
            return
    raise SystemExit(f"{name}: no `target: float = ...` line in {cls.__name__} ({path})")


def fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.4g}"


def markdown(cal: dict[str, dict], naive: list[str]) -> str:
    head = ("| workload | metric | max_steps | target | NadamW best point | seed bests | "
            "reached at (of max_steps) | at h66 |" + "".join(f" naive {o} |" for o in naive))
    lines = [head, "|" + "---|" * (8 + len(naive))]
    for name, e in cal.items():
        point = ", ".join(f"{k.split('.')[-1]}={v}"
                          for k, v in e["best_point"].items()) or "defaults"
        reach = [s / e["max_steps"] for s in e["seed_reach_steps"] if s is not None]
        check = e.get("check")
        at66 = "–" if not check else (fmt(check["best"]) + (" ✓" if check["reach_step"] else " ✗"))
        cells = [name, f"{e['metric']} ({'↓' if e['direction'] == 'min' else '↑'})",
                 str(e["max_steps"]), fmt(e["target"]), point,
                 ", ".join(fmt(b) for b in e["seed_bests"]),
                 ", ".join(f"{r:.2f}" for r in reach) or "–", at66]
        for o in naive:
            n = e["naive"].get(o)
            cells.append("–" if n is None else
                         f"{fmt(n['best'])}{' ✓' if n['reach_step'] else ' ✗'}"
                         + ("" if n["status"] == "completed" else f" ({n['status']})"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", help="comma-separated (default: the mini suite)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fraction", type=float, default=0.75,
                        help="schedule horizon of the calibration runs (fraction of max_steps)")
    parser.add_argument("--check-fraction", type=float, default=0.66,
                        help="also run the calibrated point at this horizon (0 = skip)")
    parser.add_argument("--naive", default="", help="e.g. prodigy,dog")
    parser.add_argument("--out", default="calibration", help="directory for the runs")
    parser.add_argument("--write", action="store_true",
                        help="write the targets into the workload modules + calibration.json")
    args = parser.parse_args()
    args.naive = [o for o in args.naive.split(",") if o]
    if args.workloads:
        names = args.workloads.split(",")
    else:
        names = list(compose_cfg(["suite=mini"]).suite.workloads)
    out = Path(args.out).resolve()
    cal = {name: calibrate(name, args, out) for name in names}
    table = markdown(cal, args.naive)
    print(table)
    if args.write:
        old = json.loads(CALIBRATION_JSON.read_text()) if CALIBRATION_JSON.exists() else {}
        old.update(cal)
        CALIBRATION_JSON.write_text(json.dumps(old, indent=1) + "\n")
        for name, e in cal.items():
            write_target(name, e["target"])
        print(f"targets written to the workload modules; details in {CALIBRATION_JSON}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
