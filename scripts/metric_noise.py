"""Standard error of a validation metric that is not a proportion (BLEU, SSIM), at the
calibrated NadamW's level: how much of a time-to-target is decided by which validation
examples a mini happens to hold.

For each workload, the final state of a finished run (its ``checkpoint.npz``; by default
the fidelity run's NadamW seed 0 at the calibrated point) is evaluated example by example
on the validation split, and the metric's standard error is bootstrapped over examples
(sentences for BLEU: sacrebleu's corpus BLEU of each resample; slices for SSIM: the mean of
per-slice SSIM, whose SE is also given in closed form).  Error rates and WER need no model:
``hpfree-fidelity`` states their binomial standard error.

    python scripts/metric_noise.py --root experiments/fidelity-mini
    python scripts/metric_noise.py --workloads mini_wmt --run-dir <a run directory>
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def calibrated_run(root: Path, workload: str, seed: int) -> Path:
    """The run directory of the calibrated NadamW's ``seed`` under a fidelity root."""
    from hpfree import records
    from hpfree.fidelity.protocol import SEEDS_SWEEP, at_calibrated_point

    table = records.load_records([root / SEEDS_SWEEP / workload])
    if not table.empty:
        table = table[[at_calibrated_point(r) and r["seed"] == seed
                       for r in table.to_dict("records")]]
    if table.empty:
        sys.exit(f"metric_noise: no calibrated NadamW run of seed {seed} under "
                 f"{root / SEEDS_SWEEP / workload} (run hpfree-fidelity first)")
    return Path(table.sort_values("finished_at").iloc[-1]["run_dir"])


def final_state(run_dir: Path):
    """(config, workload, state) of a finished run, read back from its checkpoint."""
    from hpfree import checkpoint, hparams
    from hpfree.preflight import compose_config
    from hpfree.records import read
    from hpfree.runners import embedded

    rec = read(run_dir)
    c = rec.config
    overrides = [f"workload={rec.workload}", f"optimizer={rec.optimizer}",
                 f"seed={rec.seed}", f"horizon.fraction={c['horizon']['fraction']}",
                 f"horizon.name={c['horizon']['name']}",
                 f"optimizer.learning_rate={c['optimizer']['learning_rate']}",
                 f"regularization.dropout={c['regularization']['dropout']}"]
    cfg = compose_config(overrides)
    prog = embedded.program(cfg)
    values = hparams.values(cfg, cfg.workload.max_steps)
    template = prog.init(jax.random.PRNGKey(0), hparams.as_arrays(values))
    restored = checkpoint.load(run_dir, jax.device_get(template))
    if restored is None:
        sys.exit(f"metric_noise: {run_dir} has no readable checkpoint.npz")
    state, progress = restored
    return cfg, prog.workload, state, progress


def bootstrap(stat, n: int, resamples: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([stat(rng.integers(0, n, n)) for _ in range(resamples)])


def bleu_noise(workload, state, resamples: int) -> dict:
    from hpfree.workloads.metrics import bleu

    split = jax.tree.map(jax.numpy.asarray, workload.make_data()["validation"])
    _, tokens = workload._eval(state.params, split)
    hyps = [workload.grammar.decode(row) for row in np.asarray(tokens)]
    refs = [workload.grammar.decode(row) for row in np.asarray(split["tgt"])]
    full = bleu(hyps, refs)
    draws = bootstrap(lambda i: bleu([hyps[k] for k in i], [refs[k] for k in i]),
                      len(hyps), resamples)
    return {"examples": len(hyps), "value": full, "se": float(draws.std(ddof=1)),
            "unit": "sentences (bootstrap)"}


def ssim_noise(workload, state, resamples: int) -> dict:
    from hpfree.workloads.metrics import ssim

    split = jax.tree.map(jax.numpy.asarray, workload.make_data()["validation"])
    out = workload.model().apply({"params": state.params}, split["x"], train=False)
    m, s = split["mean"][:, None, None], split["std"][:, None, None]
    per = np.asarray(ssim(out * s + m, split["y"] * s + m, split["max"]), np.float64)
    draws = bootstrap(lambda i: per[i].mean(), len(per), resamples)
    return {"examples": len(per), "value": float(per.mean()), "se": float(draws.std(ddof=1)),
            "se_closed_form": float(per.std(ddof=1) / np.sqrt(len(per))),
            "unit": "slices (bootstrap; closed form alike)"}


NOISE = {"bleu": bleu_noise, "ssim": ssim_noise}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="mini_wmt,mini_fastmri")
    parser.add_argument("--root", default="experiments/fidelity-mini",
                        help="hpfree-fidelity's root (its calibrated NadamW seed runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", help="a finished run to use instead (one workload)")
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args(argv)
    workloads = [w for w in args.workloads.split(",") if w]
    if args.run_dir and len(workloads) != 1:
        parser.error("--run-dir takes exactly one workload")
    print("| workload | run | step | validation examples | metric | value | SE | SE / target |")
    print("|---|---|---:|---:|---|---:|---:|---:|")
    for w in workloads:
        run_dir = Path(args.run_dir) if args.run_dir else calibrated_run(Path(args.root), w,
                                                                        args.seed)
        cfg, workload, state, progress = final_state(run_dir)
        metric = cfg.workload.metric
        if metric not in NOISE:
            parser.error(f"{w}: metric {metric!r}: only {', '.join(NOISE)} here "
                         "(error rates and WER: hpfree-fidelity states their binomial SE)")
        out = NOISE[metric](workload, state, args.resamples)
        print(f"| {w} | {run_dir.name} | {int(state.step)} | {out['examples']} | {metric} | "
              f"{out['value']:.4g} | {out['se']:.3g} | {out['se'] / cfg.workload.target:.1%} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
