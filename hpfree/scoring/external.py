"""Candidates scored elsewhere, joining the pool as per-workload runtime fractions.

The study's Appendix F adds Schedule-Free AdamW to its pool this way: the fraction of each
workload's budget the submission needed to reach the target in the AlgoPerf competition.
Because our profiles are computed on budget fractions (see ``ttt``), such numbers compare
directly (an approximation when hardware differs, as the paper notes).

Two CSV layouts are accepted (one row per value or one row per candidate)::

    candidate,workload,fraction          candidate,digits_mlp,digits_cnn
    Schedule-Free AdamW,digits_mlp,0.25  Schedule-Free AdamW,0.25,
    Schedule-Free AdamW,digits_cnn,inf

An empty cell, ``inf`` or a value above 1 (beyond the budget) is a missed target; a workload
absent from the file counts as missed too (NaN, as AlgoPerf treats a workload without runs).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd


class ExternalError(ValueError):
    """A bad external CSV; the message is one line naming the file and the bad value."""


def _to_fraction(value, where: str) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == "":
        return math.inf
    try:
        x = float(value)
    except ValueError:
        raise ExternalError(f"{where}: {value!r} is not a number; give a budget fraction in "
                            f"(0, 1], or leave it empty / write inf for a missed target") from None
    if not x > 0:
        raise ExternalError(f"{where}: {value!r} is not a budget fraction; it must be > 0")
    return math.inf if x > 1.0 else x


def read_external(path: str | Path) -> pd.DataFrame:
    """Candidates × workloads budget fractions from ``path`` (``inf`` = missed)."""
    path = Path(path)
    if not path.exists():
        raise ExternalError(f"--external {path}: no such file")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    raw.columns = [c.strip() for c in raw.columns]
    if "candidate" not in raw.columns:
        raise ExternalError(f"{path}: no 'candidate' column; expected the header "
                            "candidate,workload,fraction or candidate,<workload>,<workload>,...")
    if {"workload", "fraction"} <= set(raw.columns):
        long = raw[["candidate", "workload", "fraction"]]
    else:
        long = raw.melt(id_vars="candidate", var_name="workload", value_name="fraction")
    values = [_to_fraction(v, f"{path} ({c}, {w})")
              for c, w, v in long[["candidate", "workload", "fraction"]].itertuples(index=False)]
    long = long.assign(fraction=values)
    dup = long.duplicated(["candidate", "workload"])
    if dup.any():
        c, w = long[dup].iloc[0][["candidate", "workload"]]
        raise ExternalError(f"{path}: ({c}, {w}) appears twice; give one fraction per pair")
    mat = long.pivot(index="candidate", columns="workload", values="fraction")
    return mat.astype(float)
