"""Cost of each built-in workload: one full run of ``max_steps``, compilation included.

Every workload runs its whole budget (NadamW defaults, ``horizon=h100`` so no step is cut,
persistent compilation cache off so compilation is paid as on a fresh machine) through
``hpfree.train.run``, in this process, one after another.  The table gives wall seconds
(data generation + compilation + training + evaluations), CPU seconds of the process (on
a shared machine the better guide to what an idle one would take), training seconds as the
runner counts them (compilation included, evaluations excluded), steps per training second,
the parameter count, and each wall time as a multiple of ``digits_mlp``'s, measured in the
same run as the baseline.

    python scripts/bench_workloads.py                      # digits_mlp + the mini suite
    python scripts/bench_workloads.py --workloads mini_wmt,mini_ogbg --steps 200
    taskset -c 0,1 nice -n 10 python scripts/bench_workloads.py --out bench.md
    python scripts/bench_workloads.py --conv-check         # nn.Conv vs layers.Conv in a scan
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import jax

BASELINE = "digits_mlp"


def compose_cfg(overrides: list[str]):
    """The validated TrainConfig that ``hpfree-train <overrides>`` would run."""
    from hpfree.preflight import compose_config

    return compose_config(overrides)


def suite_workloads(suite: str) -> list[str]:
    return list(compose_cfg([f"suite={suite}"]).suite.workloads)


def bench_one(name: str, steps: int | None, root: Path) -> dict:
    from hpfree import train
    from hpfree.workloads import registry

    overrides = [f"workload={name}", "horizon=h100", "progress=false",
                 "runner.compilation_cache=false", "force=true"]
    if steps:
        overrides.append(f"workload.max_steps={steps}")
    cfg = compose_cfg(overrides)
    workload = registry.make(cfg.workload, cfg.regularization)
    params = workload.param_count(workload.init(jax.random.PRNGKey(0))[0])
    run_dir = root / name
    wall, cpu = time.perf_counter(), time.process_time()
    record = train.run(cfg, run_dir, log=lambda s: None, handle_signals=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if record.status != "completed":
        raise SystemExit(f"{name}: run {record.status}: {record.error}")
    return {"workload": name, "steps": record.steps, "batch": cfg.workload.batch_size,
            "params": params, "wall": wall, "cpu": cpu, "train": record.train_seconds,
            "eval": record.eval_seconds, "steps_per_s": record.steps / record.train_seconds,
            "metric": cfg.workload.metric, "final": record.final_metric}


def table(rows: list[dict]) -> str:
    base = next((r["wall"] for r in rows if r["workload"] == BASELINE), None)
    lines = ["| workload | steps | batch | params | wall s | CPU s | train s | eval s | steps/s "
             f"| × {BASELINE} | final metric |", "|" + "---|" * 11]
    for r in rows:
        ratio = f"{r['wall'] / base:.1f}" if base else "–"
        lines.append(
            f"| {r['workload']} | {r['steps']} | {r['batch']} | {r['params']:,} | "
            f"{r['wall']:.1f} | {r['cpu']:.1f} | {r['train']:.1f} | {r['eval']:.1f} | "
            f"{r['steps_per_s']:.0f} | {ratio} | {r['metric']} {r['final']:.4g} |")
    minis = [r for r in rows if r["workload"] != BASELINE]
    lines.append(f"| **total (without {BASELINE})** | | | | {sum(r['wall'] for r in minis):.1f} "
                 f"| {sum(r['cpu'] for r in minis):.1f} | {sum(r['train'] for r in minis):.1f} "
                 "| | | | |")
    return "\n".join(lines)


def conv_check() -> str:
    """Seconds per scanned training step of a 3×3 conv layer: ``nn.Conv`` vs ``layers.Conv``."""
    import flax.linen as nn

    from hpfree.workloads.layers import Conv

    x = jax.random.normal(jax.random.PRNGKey(0), (32, 16, 16, 16))
    out = []
    for label, module in (("flax nn.Conv", nn.Conv(16, (3, 3))),
                          ("hpfree layers.Conv", Conv(16, (3, 3)))):
        params = module.init(jax.random.PRNGKey(0), x)

        def body(carry, _, module=module, params=params):
            grads = jax.grad(lambda p: (module.apply(p, carry) ** 2).mean())(params)
            return carry + 1e-9 * jax.tree.leaves(grads)[-1].sum(), None

        run = jax.jit(lambda c: jax.lax.scan(body, c, None, length=20)[0])
        jax.block_until_ready(run(x))
        t0 = time.perf_counter()
        jax.block_until_ready(run(x))
        out.append((label, (time.perf_counter() - t0) / 20))
    ratio = out[0][1] / out[1][1]
    return "\n".join(f"{label}: {s * 1e3:.2f} ms per scanned step" for label, s in out) + \
        f"\nnn.Conv / layers.Conv = {ratio:.1f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", help="comma-separated names (default: digits_mlp + suite)")
    parser.add_argument("--suite", default="mini", help="suite whose workloads to run")
    parser.add_argument("--steps", type=int, help="override every workload's max_steps")
    parser.add_argument("--out", help="also write the table to this file")
    parser.add_argument("--conv-check", action="store_true",
                        help="only time nn.Conv against layers.Conv inside lax.scan")
    args = parser.parse_args()
    if args.conv_check:
        print(conv_check())
        return
    names = (args.workloads.split(",") if args.workloads
             else [BASELINE, *suite_workloads(args.suite)])
    rows = []
    with tempfile.TemporaryDirectory(prefix="hpfree-bench-") as tmp:
        for name in names:
            rows.append(bench_one(name, args.steps, Path(tmp)))
            print(f"{name}: {rows[-1]['wall']:.1f} s wall, {rows[-1]['cpu']:.1f} s CPU", flush=True)
    text = table(rows)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
