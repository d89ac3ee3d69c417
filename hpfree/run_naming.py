"""Run directories named by content, so re-running a command finds its own earlier run.

Hydra numbers multirun jobs by launch order and overwrites their directories; we name each
run by what it computes instead: the workload, optimizer, horizon and seed for people, plus a
short hash of every field that can change the result.  Search trials are named by (trial,
workload, seed index), which the sweep manifest maps back to points.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

# Fields that do not change what a run computes.
_NOT_HASHED = ("runs_dir", "sweeps_dir", "sweep_name", "force", "progress", "runner", "suite",
               "logger", "hydra", "batch_with")


def _plain(cfg: Any) -> dict[str, Any]:
    if isinstance(cfg, DictConfig):
        return {k: OmegaConf.to_container(cfg[k], resolve=True) if isinstance(cfg[k], DictConfig)
                else cfg[k] for k in cfg.keys() if k not in _NOT_HASHED}
    from hpfree.config import to_plain

    return {k: v for k, v in to_plain(cfg).items() if k not in _NOT_HASHED}


def content_hash(cfg: Any, length: int = 10) -> str:
    blob = json.dumps(_plain(cfg), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def run_name(cfg: Any) -> str:
    """``<workload>/<optimizer>-h<pct>-s<seed>-<hash>``, or ``t<trial>/<workload>-s<k>`` in a search."""
    workload = cfg.workload.name
    if cfg.trial is not None:
        return f"t{int(cfg.trial):04d}/{workload}-s{int(cfg.seed_index)}"
    pct = int(round(float(cfg.horizon.fraction) * 100))
    return f"{workload}/{cfg.optimizer.name}-h{pct}-s{cfg.seed}-{content_hash(cfg)}"


def _resolver(*, _root_: DictConfig) -> str:
    return run_name(_root_)


def register_resolver() -> None:
    """``${hpfree_run_name:}`` in Hydra's run/sweep directories (idempotent)."""
    if not OmegaConf.has_resolver("hpfree_run_name"):
        OmegaConf.register_new_resolver("hpfree_run_name", _resolver)
