"""``logger=wandb``: a Weights & Biases run per hpfree run.

The run's config is the whole hpfree config; each evaluation is logged at its step; the
final record goes to the run summary (status, time-to-target, best metric).  Runs of one
sweep share a W&B group (the sweep name) and a resumed run continues the same W&B run (its
id derives from the run directory).  ``mode: offline`` (the default) needs no network or
account: the run is written under ``<run dir>/wandb`` and ``wandb sync`` uploads it later;
``logger.mode=online`` logs live.  Needs ``pip install wandb``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hpfree.errors import check
from hpfree.loggers.registry import LoggerConfig, LoggerSpec, scalars


@dataclass
class WandbConfig(LoggerConfig):
    """W&B's ``init`` arguments; ``dir`` null = the run directory."""

    name: str = "wandb"
    project: str = "hpfree"
    entity: Optional[str] = None
    mode: str = "offline"
    dir: Optional[str] = None
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check(self.mode in ("offline", "online", "disabled"),
              f"logger.mode={self.mode!r} is unknown; choose offline, online or disabled")


class WandbTracker:
    def __init__(self, cfg: WandbConfig, tcfg: Any, run_dir: Path, record: Any) -> None:
        import wandb

        from hpfree.config import to_plain

        os.environ.setdefault("WANDB_SILENT", "true")
        run_id = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:16]
        directory = Path(cfg.dir) if cfg.dir else run_dir
        directory.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=cfg.project, entity=cfg.entity, mode=cfg.mode, dir=str(directory),
            id=run_id, resume="allow", name=str(record.run_id), group=record.sweep,
            tags=list(cfg.tags) or None, config=to_plain(tcfg))

    def log(self, row: dict[str, Any]) -> None:
        self.run.log(scalars(row), step=int(row["step"]))

    def finish(self, record: Any) -> None:
        self.run.summary.update({
            "status": record.status, "ttt_steps": record.ttt_steps,
            "ttt_seconds": record.ttt_seconds, "best_metric": record.best_metric,
            "final_metric": record.final_metric, "steps": record.steps})
        self.run.finish(exit_code=0 if record.status in ("completed", "diverged") else 1)


def open_wandb(cfg: WandbConfig, tcfg: Any, run_dir: Path, record: Any):
    return WandbTracker(cfg, tcfg, run_dir, record)


WANDB = LoggerSpec("wandb", WandbConfig, open_wandb, requires=("wandb",),
                   install="pip install wandb (or pip install 'hpfree[trackers]')")
