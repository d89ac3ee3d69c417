"""Which runs belong to the same candidate, and what to call it.

A *candidate* is one fixed training configuration — optimizer and its knobs, schedule,
horizon, regularization — run on every workload of a suite with several seeds.  Runs of one
candidate therefore differ only in workload and seed, so the candidate's identity is a hash of
the run's config with those fields (and bookkeeping that cannot change what is computed)
removed.  ``run_naming.content_hash`` is not usable here: it includes seed and workload on
purpose, to give each run its own directory.

The same point re-run in another sweep, or as a plain ``hpfree-train -m`` run, maps to the
same candidate, so a top-k re-run with more seeds joins the original trial.  A record whose
``candidate`` field is set (e.g. by a runner that knows better) keeps that name.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

import pandas as pd

# Config fields that differ between runs of one candidate, or never change a result.
NOT_IDENTITY = ("workload", "seed", "seed_index", "trial", "runs_dir", "sweeps_dir",
                "sweep_name", "force", "progress", "runner", "suite", "hydra")


def config_key(config: Mapping[str, Any], length: int = 8) -> str:
    """Short hash of ``config`` without workload, seed and bookkeeping fields."""
    kept = {k: v for k, v in config.items() if k not in NOT_IDENTITY}
    blob = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def horizon_pct(fraction: float) -> int:
    return int(round(float(fraction) * 100))


def _label(row: Mapping[str, Any], key: str) -> str:
    """People's name: ``adamw 66% t12`` for a search trial, ``adamw 66% <hash>`` otherwise."""
    base = f"{row['optimizer']} {horizon_pct(row['horizon'])}%"
    trial = row.get("trial")
    if trial is not None and not pd.isna(trial):
        return f"{base} t{int(trial)}"
    return f"{base} {key[-8:]}"


def assign(runs: pd.DataFrame) -> pd.DataFrame:
    """Add ``candidate`` (unique id), ``label`` (display name) and ``study`` columns.

    ``study`` identifies one independent repetition (a seed): AlgoPerf takes the median over
    studies.  Labels are made unique by appending the hash when two candidates would share one
    (e.g. trial 3 of two different sweeps).
    """
    runs = runs.copy()
    keys, labels = [], []
    for row in runs.to_dict("records"):
        given = row.get("candidate")
        if isinstance(given, str) and given:
            keys.append(given)
            labels.append(given)
            continue
        config = row.get("config")
        config = config if isinstance(config, dict) else {}
        key = f"{row['optimizer']}-h{horizon_pct(row['horizon'])}-{config_key(config)}"
        keys.append(key)
        labels.append(_label(row, key))
    runs["candidate"] = keys
    runs["label"] = labels
    first = runs.groupby("candidate")["label"].first()
    clash = first[first.duplicated(keep=False)].index
    runs.loc[runs.candidate.isin(clash), "label"] = (
        runs.loc[runs.candidate.isin(clash), "label"] + " ("
        + runs.loc[runs.candidate.isin(clash), "candidate"].str[-8:] + ")")
    seed_index = runs["seed_index"] if "seed_index" in runs else 0
    runs["study"] = runs["seed"].astype(int).astype(str) + ":" + pd.Series(
        seed_index, index=runs.index).fillna(0).astype(int).astype(str)
    return runs
