"""Steps/s of the embedded runner against two loops on the same model and data, in one process.

(a) the optax-tutorial loop: a jitted train step called from Python, the loss read every step;
(b) a bare ``jit(lax.scan)`` over all steps: one dispatch, no evaluation, no bookkeeping;
(c) the embedded runner (``hpfree.runners.embedded.run``): scanned chunks, an evaluation and
    a checkpoint at every chunk boundary, divergence check, curve file.
Every variant trains the same number of steps from the same initialisation, and its clock
runs from before its data and initialisation to its last step, its one compilation included,
so the ratios compare whole runs (the embedded runner also writes its curve, evaluations and
checkpoints inside that time; the two loops do none of that).  Goal: (c) ≥ 0.9 × (b) and ≥ 1.3 × (a).

    python scripts/bench_runner.py [--steps 6000] [--workload digits_mlp] [--optimizer nadamw]
                                   [override ...]   # e.g. workload.batch_size=8
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial

import jax
import jax.numpy as jnp

from hpfree.algorithm import build_algorithm
from hpfree.preflight import compose_config
from hpfree.runners import embedded
from hpfree.train import new_record
from hpfree.workloads import registry


def load_cfg(args):
    overrides = [f"workload={args.workload}", f"optimizer={args.optimizer}", "horizon=h100",
                 f"workload.max_steps={args.steps}", "progress=false",
                 "runner.compilation_cache=false"]
    if args.eval_every:
        overrides.append(f"workload.eval_every={args.eval_every}")
    overrides += args.overrides
    return compose_config(overrides)


def setup(cfg):
    workload = registry.make(cfg.workload, cfg.regularization)
    algo = build_algorithm(cfg, cfg.workload.max_steps)
    train = jax.device_put(workload.make_data()["train"])
    init_key, train_key = jax.random.split(jax.random.PRNGKey(cfg.seed))
    params, model_state = workload.init(init_key)
    return workload, algo, train, train_key, params, model_state

def step_fn(workload, algo, key, train, carry, step):
    params, model_state, opt_state = carry
    batch_key, dropout_key = jax.random.split(jax.random.fold_in(key, step))
    batch = workload.sample_batch(train, batch_key)
    (loss, model_state), grads = jax.value_and_grad(workload.loss, has_aux=True)(
        params, model_state, batch, dropout_key, True)
    params, opt_state = algo.update(grads, opt_state, params, loss)
    return (params, model_state, opt_state), loss


def tutorial_loop(cfg) -> float:
    t0 = time.perf_counter()
    workload, algo, train, key, params, ms = setup(cfg)
    step = jax.jit(partial(step_fn, workload, algo, key))
    carry = (params, ms, algo.init(params))
    for i in range(cfg.workload.max_steps):
        carry, loss = step(train, carry, i)
        float(loss)  # the tutorial's per-step logging: a host sync every step
    return cfg.workload.max_steps / (time.perf_counter() - t0)


def bare_scan(cfg) -> float:
    t0 = time.perf_counter()
    workload, algo, train, key, params, ms = setup(cfg)
    n = cfg.workload.max_steps

    @jax.jit
    def run(train, carry):
        return jax.lax.scan(partial(step_fn, workload, algo, key, train), carry, jnp.arange(n))

    carry, losses = run(train, (params, ms, algo.init(params)))
    jax.block_until_ready(losses)
    return n / (time.perf_counter() - t0)


def embedded_runner(cfg) -> float:
    # The runner keeps its compiled chunk for later runs of the same program (compile once per
    # search); forget it so that this run, like the other two, pays its one compilation.
    embedded.clear_caches()
    with tempfile.TemporaryDirectory() as d:
        record = new_record(cfg, __import__("pathlib").Path(d))
        t0 = time.perf_counter()
        record = embedded.run(cfg, d, record, handle_signals=False)
        elapsed = time.perf_counter() - t0
    return record.steps / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--workload", default="digits_mlp")
    p.add_argument("--optimizer", default="nadamw")
    p.add_argument("--eval-every", type=int, default=0, help="0 = the workload's own cadence")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("overrides", nargs="*", help="extra config overrides, e.g. workload.batch_size=8")
    args = p.parse_args()
    cfg = load_cfg(args)
    print(f"{args.workload} / {args.optimizer}: {cfg.workload.max_steps} steps, "
          f"eval every {cfg.workload.eval_every}, batch {cfg.workload.batch_size}, "
          f"device {jax.devices()[0].platform}")
    results = {"tutorial": [], "bare_scan": [], "embedded": []}
    for _ in range(args.repeats):  # interleave so drift in machine load hits all variants alike
        results["tutorial"].append(tutorial_loop(cfg))
        results["bare_scan"].append(bare_scan(cfg))
        results["embedded"].append(embedded_runner(cfg))
    best = {k: max(v) for k, v in results.items()}
    for k, v in best.items():
        print(f"  {k:10s} {v:9.0f} steps/s")
    print(f"embedded / bare_scan = {best['embedded'] / best['bare_scan']:.2f}  (goal >= 0.9)")
    print(f"embedded / tutorial  = {best['embedded'] / best['tutorial']:.2f}  (goal >= 1.3)")


if __name__ == "__main__":
    main()
