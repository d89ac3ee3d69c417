"""Per-step time (as a ratio to AdamW, measured in the same run) and optimizer-state size.

Each optimizer config (its defaults, default regularization, warmup_cosine) trains a ~10M
parameter MLP (float32) on a fixed random batch, through ``hpfree.algorithm.build_algorithm``
and a jitted ``lax.scan`` of train steps, as the embedded runner does.  Rounds alternate
between the optimizers so that machine-load drift hits all of them alike; the per-step time
is the median over rounds.  State size is the optimizer state's bytes per model parameter.

    python scripts/bench_optimizers.py                       # all twelve, ~10M parameters
    python scripts/bench_optimizers.py --params 1e6 --steps 5 --rounds 2 adamw prodigy
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import optax
from hydra import compose, initialize_config_module

from hpfree.algorithm import build_algorithm
from hpfree.validation import register_configs, validate
from hpfree.optimizers import registry

IN, OUT, DEPTH, BATCH = 512, 10, 4, 128


def width_for(n_params: float) -> int:
    """Hidden width of a DEPTH-layer MLP with about ``n_params`` parameters."""
    # (DEPTH-1)·w² + (IN + OUT + DEPTH)·w ≈ n
    a, b = DEPTH - 1, IN + OUT + DEPTH
    return int((-b + (b * b + 4 * a * n_params) ** 0.5) / (2 * a))


def init_mlp(key, width: int):
    sizes = [IN] + [width] * DEPTH + [OUT]
    params = {}
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        key, sub = jax.random.split(key)
        params[f"layer{i}"] = {"w": jax.random.normal(sub, (m, n)) / m ** 0.5,
                               "b": jnp.zeros(n)}
    return params


def loss_fn(params, x, y):
    h = x
    for i in range(len(params)):
        h = h @ params[f"layer{i}"]["w"] + params[f"layer{i}"]["b"]
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    return optax.softmax_cross_entropy_with_integer_labels(h, y).mean()


def make_runner(algo, steps: int):
    @jax.jit
    def run(params, opt_state, x, y):
        def body(carry, _):
            p, s = carry
            loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
            p, s = algo.update(grads, s, p, loss)
            return (p, s), loss

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), None,
                                                   length=steps)
        return params, opt_state, losses

    return run


def state_bytes(state) -> int:
    return sum(leaf.nbytes for leaf in jax.tree.leaves(state) if hasattr(leaf, "nbytes"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("optimizers", nargs="*", help="default: all registered")
    parser.add_argument("--params", type=float, default=10e6)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed call")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = args.optimizers or list(registry.all_specs())
    if "adamw" not in names:
        names = ["adamw", *names]
    names = ["adamw", *[n for n in names if n != "adamw"]]

    register_configs()
    width = width_for(args.params)
    params = init_mlp(jax.random.PRNGKey(0), width)
    n_params = sum(p.size for p in jax.tree.leaves(params))
    kx, ky = jax.random.split(jax.random.PRNGKey(1))
    x = jax.random.normal(kx, (BATCH, IN))
    y = jax.random.randint(ky, (BATCH,), 0, OUT)
    print(f"MLP {IN}-{'-'.join([str(width)] * DEPTH)}-{OUT}: {n_params / 1e6:.2f}M parameters, "
          f"batch {BATCH}, {args.steps} steps per call, {args.rounds} rounds, "
          f"{jax.devices()[0].platform}")

    runs, times, sizes = {}, {n: [] for n in names}, {}
    with initialize_config_module(config_module="hpfree.conf", version_base=None):
        for name in names:
            cfg = validate(compose(config_name="config", overrides=[f"optimizer={name}"]))
            algo = build_algorithm(cfg, max_steps=1000)
            state = algo.init(params)
            sizes[name] = state_bytes(state) / n_params
            run = make_runner(algo, args.steps)
            jax.block_until_ready(run(params, state, x, y))  # compile
            runs[name] = (run, state)
    for _ in range(args.rounds):
        for name in names:
            run, state = runs[name]
            t0 = time.perf_counter()
            out = jax.block_until_ready(run(params, state, x, y))
            times[name].append((time.perf_counter() - t0) / args.steps)
            if not bool(jnp.all(jnp.isfinite(out[2]))):
                print(f"warning: {name} produced a non-finite loss")

    base = statistics.median(times["adamw"])
    print(f"\n| optimizer | ms / step | × AdamW | state bytes / param |")
    print("|---|---:|---:|---:|")
    for name in names:
        t = statistics.median(times[name])
        print(f"| {name} | {1e3 * t:.1f} | {t / base:.2f} | {sizes[name]:.1f} |")


if __name__ == "__main__":
    main()
