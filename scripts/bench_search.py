"""What a search costs, four ways, in one process: suite-points per hour and where time goes.

A 16-point quasi-random search (``search_space=nadamw``) on ``suite=mini`` at ``horizon=h50``,
trained

1. **old**: as a sweep paid before compile-once and the data cache — every run generates its
   workload's data (``runner.data_cache=false``) and builds and compiles its train step and
   evaluation anew (the in-process programs are dropped before each run, the persistent
   compilation cache is off), and evaluates a split in one call as before batched
   evaluation (``hpfree.workloads.base.set_eval_batching(False)``; the "eval s" column shows
   what that costs).  Process start-up (imports, Hydra composition: seconds per run) is *not*
   counted, so this underestimates the old cost and the ratios below are conservative;
2. **compile-once**: the same runs one after the other in one process, each workload's step
   compiled once and its data read from the on-disk cache;
3. **trial_batch=K** (``--batch``, default 4 and 16): K points of a workload in one vmapped
   scan (``hpfree.runners.embedded.run_batch``), as ``runner.trial_batch=K`` makes a sweep.

Every way starts with no compiled program in memory and no persistent compilation cache (a
search's first process); the data cache is filled before timing (as by any earlier run).
It prints suite-points per hour (one point trained on every workload of the suite), the
ratio to the old cost, the share of wall time spent in training steps (the scanned chunks;
evaluation, checkpoints, data and compilation are the rest), the seconds spent evaluating
(summed over runs), the other seconds per run, and
the CPU seconds of the process (on a shared machine, wall time also measures the neighbours).

    python scripts/bench_search.py                                # the full budget (slow on a CPU)
    python scripts/bench_search.py --workloads mini_ogbg,mini_wmt --points 16 --steps 600
    python scripts/bench_search.py --ways batch --batch 1,16,64   # a GPU: batching alone
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

MINI = ["mini_criteo", "mini_fastmri", "mini_resnet", "mini_vit", "mini_conformer",
        "mini_deepspeech", "mini_ogbg", "mini_wmt"]


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--points", type=int, default=16, help="points of the search (16)")
    p.add_argument("--workloads", default=",".join(MINI),
                   help="comma-separated workloads (default: suite=mini's eight)")
    p.add_argument("--steps", type=int, default=None,
                   help="workload.max_steps for every workload (default: each one's own)")
    p.add_argument("--eval-every", type=int, default=None, help="workload.eval_every")
    p.add_argument("--batch", default="4,16", help="trial_batch sizes to time (4,16)")
    p.add_argument("--ways", default="old,once,batch",
                   help="which of old, once, batch to run (all three)")
    p.add_argument("--horizon", default="h50")
    p.add_argument("--space", default="nadamw", help="search space (conf/search_space)")
    p.add_argument("--optimizer", default="nadamw")
    p.add_argument("overrides", nargs="*", help="extra config overrides for every run")
    return p.parse_args(argv)


def point_configs(args, workload: str) -> list:
    """The search's points on ``workload``, as validated configs (the sweeper's jobs)."""
    import hpfree.conf
    from hpfree.preflight import compose_config
    from hpfree.sweeps import plan
    from hpfree.sweeps.space import SearchSpace

    node = OmegaConf.load(Path(hpfree.conf.__file__).parent / "search_space" /
                          f"{args.space}.yaml").hydra.sweeper.search_space
    space = SearchSpace.from_config(node)
    budget = [f"workload.max_steps={args.steps}"] if args.steps else []
    if args.eval_every:
        budget.append(f"workload.eval_every={args.eval_every}")
    user = [f"optimizer={args.optimizer}", f"horizon={args.horizon}", "progress=false",
            "runner.compilation_cache=false", *budget, *args.overrides]
    settings = plan.SweepSettings(num_points=args.points)
    jobs = plan.make_jobs(space, settings, [workload], user, "bench")
    return [compose_config(j.overrides) for j in jobs]


def run_way(way: str, k: int, cfgs: dict, root: Path) -> dict:
    """Train every point of every workload one way; wall and training seconds."""
    from hpfree.runners import embedded
    from hpfree.train import new_record
    from hpfree.workloads import base, datacache

    embedded.clear_caches()
    datacache.set_enabled(False if way == "old" else None)
    base.set_eval_batching(way != "old")  # read by workloads built from now on
    wall0, cpu0 = time.perf_counter(), time.process_time()
    train_s = eval_s = 0.0
    statuses: dict[str, int] = {}
    for wl, points in cfgs.items():
        size = k if way == "batch" else 1
        for start in range(0, len(points), size):
            group = points[start:start + size]
            if way == "old":
                embedded.clear_caches()  # a new process: build, compile, generate again
            dirs = [root / f"{way}{k}" / wl / f"p{start + i:03d}" for i in range(len(group))]
            recs = [new_record(c, d) for c, d in zip(group, dirs)]
            if size == 1:
                recs = [embedded.run(group[0], dirs[0], recs[0], handle_signals=False)]
            else:
                recs = embedded.run_batch(group, dirs, recs, handle_signals=False)
            # A batch's runs are each charged the chunks they trained in: the batch took
            # as long as its longest run.
            train_s += max(r.train_seconds for r in recs)
            eval_s += sum(r.eval_seconds for r in recs)
            for r in recs:
                statuses[r.status] = statuses.get(r.status, 0) + 1
    return {"wall": time.perf_counter() - wall0, "cpu": time.process_time() - cpu0,
            "train": train_s, "eval": eval_s, "statuses": statuses}


def main(argv=None) -> None:
    args = parse(argv)
    root = Path(tempfile.mkdtemp(prefix="hpfree-bench-search-"))
    os.environ.setdefault("HPFREE_CACHE", str(root / "data-cache"))
    import jax

    from hpfree.workloads import datacache, registry

    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    cfgs = {wl: point_configs(args, wl) for wl in workloads}
    datacache.set_enabled(None)
    for wl in workloads:  # fill the data cache: as any earlier run of the workload has
        registry.make(cfgs[wl][0].workload).make_data()
    ways = [w.strip() for w in args.ways.split(",")]
    plan = ([("old", 1)] if "old" in ways else []) + ([("once", 1)] if "once" in ways else [])
    plan += [("batch", int(k)) for k in args.batch.split(",")] if "batch" in ways else []
    steps = {wl: c[0].workload.max_steps for wl, c in cfgs.items()}
    print(f"bench_search: {args.points} points x {len(workloads)} workloads "
          f"({', '.join(f'{w} max_steps={s}' for w, s in steps.items())}), "
          f"search_space={args.space} optimizer={args.optimizer} horizon={args.horizon}, "
          f"backend {jax.default_backend()} ({jax.device_count()} device(s), "
          f"{os.cpu_count()} cpus)", flush=True)
    results = []
    for way, k in plan:
        name = {"old": "old cost (no caches)", "once": "compile-once + data cache"}.get(
            way, f"trial_batch={k}")
        res = run_way(way, k, cfgs, root)
        res["name"] = name
        results.append(res)
        print(f"  {name}: {res['wall']:.1f}s wall, {res['train']:.1f}s in training steps, "
              f"{res['eval']:.1f}s evaluating, {res['cpu']:.1f}s of CPU ({res['statuses']})",
              flush=True)
    base = next((r for r in results if r["name"].startswith("old")), results[0])
    print()
    # On a shared machine the wall clock also measures the neighbours; CPU seconds of this
    # process (all threads) measure the work, whatever else runs.
    print(f"| way | wall s | suite-points/h | vs {base['name'].split(' (')[0]} "
          "| wall in training steps | eval s | other s per point | CPU s | CPU vs old |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    n_runs = args.points * len(workloads)
    for r in results:
        per_hour = args.points / (r["wall"] / 3600)
        print(f"| {r['name']} | {r['wall']:.0f} | {per_hour:,.1f} | "
              f"{base['wall'] / r['wall']:.2f}x | {100 * r['train'] / r['wall']:.0f} % | "
              f"{r['eval']:.0f} | "
              f"{(r['wall'] - r['train']) / n_runs:.1f} | {r['cpu']:.0f} | "
              f"{base['cpu'] / r['cpu']:.2f}x |")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
