"""The run record: one ``record.json`` per run, the unit every sweep and score reads.

A record is written atomically at the end of a run (and with status ``running``/``preempted``
when a run is interrupted), next to ``curve.csv`` (one row per evaluation) and Hydra's
resolved config.  Both runners (embedded and AlgoPerf) produce the same schema, so scoring
never needs to know where a run came from.

Statuses: ``completed`` (reached its step budget or stopped at target), ``diverged``
(non-finite loss), ``preempted`` (stopped by a signal after checkpointing; resumable),
``failed`` (an exception; resumable), ``running`` (in progress).  A ``record.json`` or
``curve.csv`` that cannot be read back (a hand edit, a foreign file, a disk fault) makes its
run ``corrupt`` for every reader (:func:`read`, :func:`inspect`; docs/faults.md).
"""

from __future__ import annotations

import csv
import io
import math
import platform
import socket
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional

import pandas as pd

from hpfree.errors import CorruptFile
from hpfree.io import atomic_write_json, atomic_write_text, read_json

SCHEMA_VERSION = 1
RECORD = "record.json"
CURVE = "curve.csv"
FINAL_STATUSES = ("completed", "diverged")
STATUSES = ("completed", "diverged", "preempted", "failed", "running")
# Not a status a record holds: what readers call a run whose record or curve is unreadable.
CORRUPT = "corrupt"


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


_REQUIRED = [f.name for f in fields(RunRecord)
             if f.default is MISSING and f.default_factory is MISSING]  # type: ignore[misc]
_TYPES = {"status": str, "runner": str, "workload": str, "optimizer": str, "metric": str,
          "direction": str, "max_steps": int, "steps": int, "seed": int}


def read(run_dir: str | Path) -> Optional[RunRecord]:
    """The record in ``run_dir``, None if there is none.

    Raises :class:`~hpfree.errors.CorruptFile` when ``record.json`` exists but is not a
    record: unreadable, not JSON (a truncated file), not an object, a required field missing
    or of the wrong type, an unknown status.
    """
    path = Path(run_dir) / RECORD
    try:
        data = read_json(path)
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise CorruptFile(path, "not text") from None
    except ValueError as exc:
        raise CorruptFile(path, f"not valid JSON ({exc})") from None
    except OSError as exc:
        raise CorruptFile(path, exc.strerror or type(exc).__name__) from None
    if not isinstance(data, dict):
        raise CorruptFile(path, f"a JSON {type(data).__name__}, not a record")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise CorruptFile(path, f"no {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}")
    for key, typ in _TYPES.items():
        value = data.get(key)
        if key in data and not (isinstance(value, typ) and not isinstance(value, bool)):
            raise CorruptFile(path, f"{key}={value!r} is not a{'n' if typ is int else ''} "
                                    f"{typ.__name__}")
    if data["status"] not in STATUSES:
        raise CorruptFile(path, f"unknown status {data['status']!r}")
    data.pop("reached_target", None)
    known = RunRecord.__dataclass_fields__
    try:
        return RunRecord(**{k: v for k, v in data.items() if k in known})
    except (TypeError, ValueError) as exc:  # pragma: no cover - caught by the checks above
        raise CorruptFile(path, str(exc)) from None


def load(run_dir: str | Path) -> Optional[RunRecord]:
    """The record in ``run_dir`` if there is a usable one, else None.

    For callers that only ask "is there a final record?" (launchers); the readers that must
    tell a corrupt record from a missing one (status, resubmit, score, a starting run) use
    :func:`read` / :func:`inspect`.
    """
    try:
        return read(run_dir)
    except CorruptFile:
        return None


def check_curve(run_dir: str | Path) -> None:
    """Raise :class:`~hpfree.errors.CorruptFile` if ``curve.csv`` exists but cannot be read.

    Cheap (the csv module, no pandas): a header with ``step``, and every row with as many
    cells as the header, an integer step and numbers (or nothing) elsewhere.
    """
    path = Path(run_dir) / CURVE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return
    except UnicodeDecodeError:
        raise CorruptFile(path, "not text") from None
    except OSError as exc:
        raise CorruptFile(path, exc.strerror or type(exc).__name__) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or "step" not in rows[0]:
        raise CorruptFile(path, "no header with a step column")
    width, step = len(rows[0]), rows[0].index("step")
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != width:
            raise CorruptFile(path, f"line {n} has {len(row)} cells, the header {width}")
        try:
            int(row[step])
            [float(c) for c in row if c != ""]
        except ValueError:
            raise CorruptFile(path, f"line {n} is not numbers") from None


def inspect(run_dir: str | Path) -> Optional[RunRecord]:
    """:func:`read`, and for a final record also :func:`check_curve` (a final run's curve is
    part of its result): the record, None, or :class:`~hpfree.errors.CorruptFile`."""
    rec = read(run_dir)
    if rec is not None and rec.status in FINAL_STATUSES:
        check_curve(run_dir)
    return rec


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
    """All records under ``roots`` as one table (one row per run, ``run_dir`` column added).

    A run whose record (or, when final, curve) cannot be read gets a row with status
    ``corrupt`` and the reason in ``error``: scoring leaves it out and says so.
    """
    rows = []
    for d in find_run_dirs(roots):
        try:
            rec = inspect(d)
        except CorruptFile as exc:
            rows.append({"status": CORRUPT, "error": str(exc), "run_dir": str(d)})
            continue
        if rec is not None:
            row = rec.to_json()
            row["run_dir"] = str(d)
            rows.append(row)
    return pd.DataFrame(rows)


def load_curve(run_dir: str | Path) -> pd.DataFrame:
    path = Path(run_dir) / CURVE
    return pd.read_csv(path) if path.exists() else pd.DataFrame()
