"""Run the authors' PyTorch optimizers in float64 and save their trajectories for the CI test.

This is NOT part of hpfree's runtime or CI: it needs torch and the authors' packages, in a
separate virtual environment::

    python3 -m venv /work/refvenv
    /work/refvenv/bin/pip install torch==2.13.0 numpy prodigyopt dadaptation dog-optimizer \
        dowg mechanic-pytorch momo-opt schedulefree
    /work/refvenv/bin/python scripts/reference_trajectories.py   # writes tests/data/…npz

Three deterministic full-batch problems (least squares, logistic regression, a tiny tanh
MLP), 200 steps, with weight decay 0 and 0.1, under the relative warmup + cosine schedule
hpfree uses (warmup 5 %, horizon 200: the multiplier is exactly 0 at step 0).  Every 10th
iterate is stored (plus the initial one), with the problem data, the multipliers and each
run's exact reference call, and the reference's own sensitivity: the same run from a start
perturbed by 1e-15 (relative), compared snapshot by snapshot.
``tests/test_optimizers_reference.py`` replays the same problems with hpfree's optimizers in
JAX float64 and compares.

COCOB has no author package: ``COCOBAlg2`` below transcribes Algorithm 2 (COCOB-Backprop) of
Orabona & Tommasi (2017).  NAdamW is AlgoPerf's PyTorch baseline (torch's ``NAdam`` uses a
different momentum schedule), copied below with attribution.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import math
from pathlib import Path

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

STEPS = 200
EVERY = 10
HORIZON = 200
WARMUP = 10  # round(0.05 * HORIZON)
WEIGHT_DECAYS = (0.0, 0.1)
# Each run is repeated from a start perturbed by this relative amount; how far the two
# trajectories drift apart ("sens/…") tells the test where a run is too ill-conditioned
# (chaotic) for a 1e-8 comparison to mean anything.
PERTURBATION = 1e-15
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference_trajectories.npz"


# ----------------------------------------------------------------------------------------
# Problems: data and initial parameters from fixed seeds; parameters in sorted-name order.
def make_problems() -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.RandomState(0)
    lsq_x = rng.randn(64, 8)
    lsq = {"x": lsq_x, "y": lsq_x @ rng.randn(8) + 0.1 * rng.randn(64), "w": 0.1 * rng.randn(8)}
    log_x = rng.randn(64, 10)
    logit = log_x @ rng.randn(10)
    logreg = {"x": log_x, "y": np.where(logit + 0.5 * rng.randn(64) > 0, 1.0, -1.0),
              "w": 0.1 * rng.randn(10), "b": np.zeros(1)}
    mlp_x = rng.randn(32, 4)
    mlp = {"x": mlp_x, "y": np.sin(mlp_x @ rng.randn(4)), "W1": 0.5 * rng.randn(4, 8),
           "b1": np.zeros(8), "W2": 0.5 * rng.randn(8), "b2": np.zeros(1)}
    return {"lsq": lsq, "logreg": logreg, "mlp": mlp}


PARAM_NAMES = {"lsq": ["w"], "logreg": ["b", "w"], "mlp": ["W1", "W2", "b1", "b2"]}


def loss_fn(problem: str, data: dict, p: dict):
    x, y = data["x"], data["y"]
    if problem == "lsq":
        return 0.5 * torch.mean((x @ p["w"] - y) ** 2)
    if problem == "logreg":
        return torch.mean(torch.nn.functional.softplus(-y * (x @ p["w"] + p["b"])))
    h = torch.tanh(x @ p["W1"] + p["b1"])
    return 0.5 * torch.mean((h @ p["W2"] + p["b2"] - y) ** 2)


def multipliers(name: str) -> np.ndarray:
    """hpfree's schedule shapes, per step: ``warmup_cosine`` (0 at step 0) or ``none``."""
    t = np.arange(STEPS, dtype=np.float64)
    if name == "none":
        return np.ones(STEPS)
    warm = t / WARMUP
    cos = 0.5 * (1 + np.cos(np.pi * np.clip(t - WARMUP, 0, HORIZON - WARMUP) / (HORIZON - WARMUP)))
    return np.where(t < WARMUP, warm, np.where(t >= HORIZON, 0.0, cos))


# ----------------------------------------------------------------------------------------
# AlgoPerf's PyTorch NAdamW baseline (algorithms/archived_paper_baselines/nadamw/pytorch/
# submission.py, Apache-2.0), reduced to its arithmetic.
class NAdamW(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                grad, exp_avg, exp_avg_sq = p.grad, state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                step = state["step"]
                p.mul_(1 - lr * wd)
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)  # the Nesterov look-ahead
                denom = (exp_avg_sq.sqrt() / math.sqrt(1 - beta2 ** step)).add_(eps)
                p.addcdiv_(exp_avg, denom, value=-lr / (1 - beta1 ** step))
                exp_avg.sub_(grad, alpha=1 - beta1).div_(beta1)
        return None


# COCOB-Backprop, Algorithm 2 of Orabona & Tommasi (2017), in the paper's notation (g is the
# *negative* stochastic gradient).  Not in the paper: the gradient fed to the bet is
# lr·(∇f + wd·w) — the relative schedule and L2 decay as optax applies them.
class COCOBAlg2(torch.optim.Optimizer):
    def __init__(self, params, lr=1.0, alpha=100.0, eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            alpha = group["alpha"]
            for w in group["params"]:
                st = self.state[w]
                if not st:
                    st["w1"] = w.clone()
                    st["L"] = torch.full_like(w, group["eps"])
                    st["G"] = torch.zeros_like(w)
                    st["Reward"] = torch.zeros_like(w)
                    st["theta"] = torch.zeros_like(w)
                g = -group["lr"] * (w.grad + group["weight_decay"] * w)
                st["L"] = torch.maximum(st["L"], g.abs())
                st["G"] = st["G"] + g.abs()
                st["Reward"] = torch.clamp(st["Reward"] + (w - st["w1"]) * g, min=0.0)
                st["theta"] = st["theta"] + g
                L = st["L"]
                w.copy_(st["w1"] + st["theta"] / (L * torch.maximum(st["G"] + L, alpha * L))
                        * (L + st["Reward"]))
        return None


# ----------------------------------------------------------------------------------------
# Reference runs: name -> (constructor(params, wd), peak lr, schedule, weight decays, how the
# step is called, the call as text).  The peak lr multiplies the schedule and is written to
# every param group's "lr" before each step (what a LambdaLR scheduler does).
def reference_runs():
    from dadaptation import DAdaptAdam
    from dog import DoG
    from dowg import ScalarDoWG
    from mechanic_pytorch import mechanize
    from momo import Momo, MomoAdam
    from prodigyopt import Prodigy
    from schedulefree import AdamWScheduleFree

    both, zero = WEIGHT_DECAYS, (0.0,)
    adam_betas = (0.93266, 0.99552)
    return {
        "torch_adamw": (lambda p, wd: torch.optim.AdamW(p, lr=1.0, betas=adam_betas, eps=1e-8,
                                                        weight_decay=wd),
                        1.7486e-3, "warmup_cosine", both, "plain",
                        "torch.optim.AdamW(betas=(0.93266, 0.99552), eps=1e-8)"),
        "algoperf_nadamw": (lambda p, wd: NAdamW(p, lr=1.0, betas=adam_betas, eps=1e-8,
                                                 weight_decay=wd),
                            1.7486e-3, "warmup_cosine", both, "plain",
                            "AlgoPerf NAdamW(betas=(0.93266, 0.99552), eps=1e-8)"),
        "dog": (lambda p, wd: DoG(p, reps_rel=1e-6, lr=1.0, weight_decay=wd), 1.0,
                "warmup_cosine", both, "plain", "dog.DoG(reps_rel=1e-6)"),
        "dowg_scalar": (lambda p, wd: ScalarDoWG(p), 1.0, "none", zero, "closure",
                        "dowg.ScalarDoWG() (ignores lr and weight decay)"),
        "dadapt_default": (lambda p, wd: DAdaptAdam(p, lr=1.0, weight_decay=wd), 1.0,
                           "warmup_cosine", both, "plain", "dadaptation.DAdaptAdam()"),
        "dadapt_decoupled_bc": (lambda p, wd: DAdaptAdam(p, lr=1.0, weight_decay=wd,
                                                         decouple=True,
                                                         use_bias_correction=True),
                                1.0, "warmup_cosine", both, "plain",
                                "DAdaptAdam(decouple=True, use_bias_correction=True)"),
        "prodigy_default": (lambda p, wd: Prodigy(p, lr=1.0, weight_decay=wd), 1.0,
                            "warmup_cosine", both, "plain", "prodigyopt.Prodigy()"),
        "prodigy_bc": (lambda p, wd: Prodigy(p, lr=1.0, weight_decay=wd,
                                             use_bias_correction=True),
                       1.0, "warmup_cosine", both, "plain",
                       "prodigyopt.Prodigy(use_bias_correction=True)"),
        "prodigy_safeguard": (lambda p, wd: Prodigy(p, lr=1.0, weight_decay=wd,
                                                    safeguard_warmup=True),
                              1.0, "warmup_cosine", both, "plain",
                              "prodigyopt.Prodigy(safeguard_warmup=True)"),
        "mechanic_adamw": (lambda p, wd: mechanize(torch.optim.AdamW)(p, lr=1.0,
                                                                      weight_decay=wd),
                           1.0, "warmup_cosine", both, "plain",
                           "mechanic_pytorch.mechanize(torch.optim.AdamW)(betas=(0.9, 0.999))"),
        "mechanic_nadamw": (lambda p, wd: mechanize(NAdamW)(p, lr=1.0, betas=(0.9, 0.999),
                                                            weight_decay=wd),
                            1.0, "warmup_cosine", both, "plain",
                            "mechanic_pytorch.mechanize(AlgoPerf NAdamW)(betas=(0.9, 0.999))"),
        "cocob_alg2": (lambda p, wd: COCOBAlg2(p, lr=1.0, alpha=100.0, eps=1e-8,
                                               weight_decay=wd),
                       1.0, "warmup_cosine", both, "plain",
                       "COCOB-Backprop, Orabona & Tommasi (2017) Alg. 2, alpha=100"),
        "momo": (lambda p, wd: Momo(p, lr=1.0, weight_decay=wd), 1.0, "warmup_cosine", both,
                 "loss", "momo.Momo(lr=1, lb=0)"),
        # With a warmup from 0, MoMo*'s first step sets the lower bound to the loss itself and
        # it never moves again (in both implementations): compared without a schedule.
        "momo_fstar": (lambda p, wd: Momo(p, lr=1.0, weight_decay=wd, use_fstar=True), 1.0,
                       "none", zero, "loss", "momo.Momo(lr=1, lb=0, use_fstar=True)"),
        "momo_adam": (lambda p, wd: MomoAdam(p, lr=1.0, weight_decay=wd), 1e-2,
                      "warmup_cosine", both, "loss", "momo.MomoAdam(lr=1e-2, lb=0)"),
        "momo_adam_multiply": (lambda p, wd: MomoAdam(p, lr=1.0, weight_decay=wd,
                                                      divide=False),
                               1e-2, "warmup_cosine", (0.1,), "loss",
                               "momo.MomoAdam(lr=1e-2, lb=0, divide=False)"),
        "sf_adamw": (lambda p, wd: AdamWScheduleFree(p, lr=1.0, weight_decay=wd), 0.0025,
                     "warmup_cosine", both, "schedule_free",
                     "schedulefree.AdamWScheduleFree(lr=0.0025)"),
        "sf_adamw_warmup": (lambda p, wd: AdamWScheduleFree(p, lr=1.0, weight_decay=wd,
                                                            warmup_steps=20),
                            0.0025, "none", both, "schedule_free",
                            "schedulefree.AdamWScheduleFree(lr=0.0025, warmup_steps=20)"),
    }


def run_one(make_opt, peak: float, sched: np.ndarray, wd: float, call: str, problem: str,
            data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """Snapshots (every EVERY-th iterate, the initial one first) and, for Schedule-Free, x."""
    tdata = {k: torch.tensor(v) for k, v in data.items()}
    names = PARAM_NAMES[problem]
    params = {n: torch.tensor(data[n], requires_grad=True) for n in names}
    opt = make_opt([params[n] for n in names], wd)
    if call == "schedule_free":
        opt.train()

    def flat() -> np.ndarray:
        return np.concatenate([params[n].detach().numpy().ravel() for n in names])

    def closure():
        opt.zero_grad()
        loss = loss_fn(problem, tdata, params)
        loss.backward()
        return loss

    snaps = [flat()]
    for t in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = peak * float(sched[t])
        if call == "closure":
            opt.step(closure)
        else:
            loss = closure()
            opt.step(loss=loss) if call == "loss" else opt.step()
        if (t + 1) % EVERY == 0:
            snaps.append(flat())
    x_final = None
    if call == "schedule_free":
        opt.eval()
        x_final = flat()
    return np.stack(snaps), x_final


def perturbed(data: dict[str, np.ndarray], problem: str) -> dict[str, np.ndarray]:
    """The same problem with the initial parameters scaled by 1 + 1e-15 (a few ulps)."""
    return {k: v * (1 + PERTURBATION) if k in PARAM_NAMES[problem] else v
            for k, v in data.items()}


def relative_deviation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per snapshot ``‖a − b‖ / ‖b‖``."""
    return np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(b, axis=1), 1e-300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.manual_seed(0)
    problems = make_problems()
    arrays: dict[str, np.ndarray] = {}
    for prob, data in problems.items():
        for k, v in data.items():
            arrays[f"problem/{prob}/{k}"] = v
    scheds = {s: multipliers(s) for s in ("warmup_cosine", "none")}
    for s, m in scheds.items():
        arrays[f"schedule/{s}"] = m
    runs_meta = {}
    for name, (make_opt, peak, sched, wds, call, text) in reference_runs().items():
        runs_meta[name] = {"call": text, "peak_lr": peak, "schedule": sched,
                           "weight_decays": list(wds)}
        for prob, data in problems.items():
            for wd in wds:
                snaps, x_final = run_one(make_opt, peak, scheds[sched], wd, call, prob, data)
                if not np.all(np.isfinite(snaps)):
                    raise SystemExit(f"{name}/{prob}/wd={wd}: the reference went non-finite")
                arrays[f"traj/{name}/{prob}/wd{wd:g}"] = snaps
                twin, _ = run_one(make_opt, peak, scheds[sched], wd, call, prob,
                                  perturbed(data, prob))
                arrays[f"sens/{name}/{prob}/wd{wd:g}"] = relative_deviation(twin, snaps)
                if x_final is not None:
                    arrays[f"eval/{name}/{prob}/wd{wd:g}"] = x_final
    versions = {pkg: md.version(pkg) for pkg in (
        "torch", "prodigyopt", "dadaptation", "dog-optimizer", "dowg", "mechanic-pytorch",
        "momo-opt", "schedulefree")}
    meta = {"steps": STEPS, "every": EVERY, "horizon": HORIZON, "warmup": WARMUP,
            "perturbation": PERTURBATION,
            "param_names": PARAM_NAMES, "runs": runs_meta, "versions": versions}
    arrays["meta"] = np.array(json.dumps(meta))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB, "
          f"{sum(k.startswith('traj/') for k in arrays)} trajectories); versions {versions}")


if __name__ == "__main__":
    main()
