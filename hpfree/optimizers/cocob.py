"""COCOB-Backprop (Orabona & Tommasi, 2017): per-coordinate continuous coin betting.

There is no package by the authors; ``optax.contrib.cocob`` transcribes Algorithm 2
(COCOB-Backprop) of the paper and is used as is: ``L₀ = eps``, ``G₀ = R₀ = θ₀ = 0``,
``w_{t+1} = w₁ + θ_t / (L_t·max(G_t + L_t, α·L_t))·(L_t + R_t)``.  Default α = 100 (the
paper's and Table 1's).  Two things are not in the paper: L2 weight decay added to the
gradient, and the relative schedule, which optax applies to the *gradient* fed to the bet
(COCOB's step is not a learning rate times a direction).  ``scripts/reference_trajectories.py``
transcribes Algorithm 2 independently; the test shows both agree to float64 rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import optax

from hpfree.knobs import POSITIVE, knob
from hpfree.optimizers.registry import OptimizerConfig, OptimizerSpec


@dataclass
class COCOBConfig(OptimizerConfig):
    name: str = "cocob"
    learning_rate: float = 1.0
    alpha: float = knob(100.0, POSITIVE)
    eps: float = knob(1e-8, POSITIVE)


def build(cfg: COCOBConfig, lr: optax.Schedule, weight_decay: float):
    return optax.contrib.cocob(lr, alpha=cfg.alpha, eps=cfg.eps, weight_decay=weight_decay)


COCOB = OptimizerSpec("cocob", COCOBConfig, build, relative_schedule=True,
                      reference="Orabona & Tommasi 2017, Alg. 2 (no package); "
                                "optax.contrib.cocob",
                      search_space="lr_free_no_betas")
