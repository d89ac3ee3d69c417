"""The run record: one ``record.json`` per run, the unit every sweep and score reads.

A record is written atomically at the end of a run (and with status ``running``/``preempted``
when a run is interrupted), next to ``curve.csv`` (one row per evaluation) and Hydra's
resolved config.  Both runners (embedded and AlgoPerf) produce the same schema, so scoring
never needs to know where a run came from.

Statuses: ``completed`` (reached its step budget or stopped at target), ``diverged``
(non-finite loss), ``preempted`` (stopped by a signal after checkpointing; resumable),
``failed`` (an exception; resumable), ``running`` (in progress).
"""

from __future__ import annotations

import math
import platform
import socket
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional

import pandas as pd

from hpfree.io import atomic_write_json, atomic_write_text, read_json

SCHEMA_VERSION = 1
RECORD = "record.json"
CURVE = "curve.csv"
FINAL_STATUSES = ("completed", "diverged")
STATUSES = ("completed", "diverged", "preempted", "failed", "running")


@dataclass
class RunRecord:
    run_id: str
    status: str
    runner: str
    workload: str
    optimizer: str
    horizon: float
    seed: int
    metric: str
    target: float
    direction: str
    max_steps: int
    steps: int = 0
    # Time-to-target: the first evaluation reaching the target (None = never reached).
    ttt_steps: Optional[int] = None
    ttt_seconds: Optional[float] = None
    best_metric: Optional[float] = None
    final_metric: Optional[float] = None
    train_seconds: float = 0.0  # accumulated submission (training) time, evals excluded
    eval_seconds: float = 0.0
    preemptions: int = 0
    trial: Optional[int] = None
    seed_index: int = 0
    sweep: Optional[str] = None
    candidate: Optional[str] = None
    point: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    error: Optional[str] = None
    versions: dict[str, str] = field(default_factory=dict)
    host: str = field(default_factory=socket.gethostname)
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    schema_version: int = SCHEMA_VERSION

    @property
    def reached_target(self) -> bool:
        return self.ttt_steps is not None

    def to_json(self) -> dict[str, Any]:
        out = _finite(asdict(self))
        out["reached_target"] = self.reached_target
        return out


def _finite(obj: Any) -> Any:
    """Replace inf/nan (anywhere, e.g. an optimizer knob set to inf) by None: strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def reached(value: float, target: float, direction: str) -> bool:
    """AlgoPerf's non-strict comparison: ≤ target when lower is better, ≥ otherwise."""
    if value is None or not math.isfinite(value):
        return False
    return value <= target if direction == "min" else value >= target


def _finite_or_none(x: Optional[float]) -> Optional[float]:
    return None if x is None or not math.isfinite(x) else float(x)


def summarize(record: RunRecord, rows: list[dict[str, Any]]) -> RunRecord:
    """Fill ``record``'s results from its curve rows (one per evaluation, in step order).

    Every runner calls this, so every record means the same: ``ttt_steps``/``ttt_seconds``
    are the step and accumulated training time of the first evaluation reaching the target
    (AlgoPerf's non-strict comparison), ``best_metric``/``final_metric`` the best and last
    finite validation values, ``train_seconds``/``eval_seconds`` the last row's accumulated
    times.  Rows carry ``step``, ``train_seconds``, ``eval_seconds`` and
    ``validation/<record.metric>``.  Status, steps and preemptions are the runner's.
    """
    col = f"validation/{record.metric}"
    values = [float(r.get(col, float("nan"))) for r in rows]
    record.ttt_steps = record.ttt_seconds = None
    for row, value in zip(rows, values):
        if reached(value, record.target, record.direction):
            record.ttt_steps = int(row["step"])
            record.ttt_seconds = float(row["train_seconds"])
            break
    finite = [v for v in values if math.isfinite(v)]
    best = (min(finite) if record.direction == "min" else max(finite)) if finite else None
    record.best_metric = _finite_or_none(best)
    record.final_metric = _finite_or_none(values[-1]) if values else None
    if rows:
        last = rows[-1]
        train = float(last.get("train_seconds", float("nan")))
        evals = float(last.get("eval_seconds", float("nan")))
        record.train_seconds = train if math.isfinite(train) else 0.0
        record.eval_seconds = evals if math.isfinite(evals) else 0.0
    return record


def write_curve(run_dir: str | Path, rows: list[dict[str, Any]]) -> Optional[Path]:
    """``curve.csv``: one row per evaluation, columns in order of first appearance.

    Floats are written with ``repr`` (round-trip exact), missing cells empty.  Atomic; not
    fsynced (it is rewritten at every evaluation; the record is the durable summary).
    """
    if not rows:
        return None
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]

    def cell(v: Any) -> str:
        if v is None:
            return ""
        return repr(float(v)) if isinstance(v, float) else str(v)

    lines = [",".join(cols)] + [",".join(cell(r.get(c)) for c in cols) for r in rows]
    return atomic_write_text(Path(run_dir) / CURVE, "\n".join(lines) + "\n", durable=False)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("hpfree", "jax", "jaxlib", "optax", "flax", "hydra-core", "algoperf"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def write(run_dir: str | Path, record: RunRecord) -> Path:
    return atomic_write_json(Path(run_dir) / RECORD, record.to_json())


def load(run_dir: str | Path) -> Optional[RunRecord]:
    """The record in ``run_dir``; None if absent or unreadable (treated as missing)."""
    path = Path(run_dir) / RECORD
    if not path.exists():
        return None
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return None
    data.pop("reached_target", None)
    known = RunRecord.__dataclass_fields__
    return RunRecord(**{k: v for k, v in data.items() if k in known})


def find_run_dirs(roots: Iterable[str | Path]) -> list[Path]:
    """Every directory under ``roots`` holding a record.json (sorted, deduplicated)."""
    found: set[Path] = set()
    for root in roots:
        root = Path(root)
        if (root / RECORD).exists():
            found.add(root.resolve())
        found.update(p.parent.resolve() for p in root.rglob(RECORD))
    return sorted(found)


def load_records(roots: Iterable[str | Path]) -> pd.DataFrame:
    """All records under ``roots`` as one table (one row per run, ``run_dir`` column added)."""
    rows = []
    for d in find_run_dirs(roots):
        rec = load(d)
        if rec is not None:
            row = rec.to_json()
            row["run_dir"] = str(d)
            rows.append(row)
    return pd.DataFrame(rows)


def load_curve(run_dir: str | Path) -> pd.DataFrame:
    path = Path(run_dir) / CURVE
    return pd.read_csv(path) if path.exists() else pd.DataFrame()
