"""``logger=tensorboard``: TensorBoard event files beside the run (tensorboardX).

Each evaluation's numbers (training loss, learning rate, validation loss and metric,
accumulated seconds) are scalars at the run's step; the final record adds the
time-to-target and the best metric.  ``tensorboard --logdir runs/`` (or a sweep directory)
then shows every run of a search side by side.  Needs ``pip install tensorboardX``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hpfree.loggers.registry import LoggerConfig, LoggerSpec, scalars


@dataclass
class TensorBoardConfig(LoggerConfig):
    """``dir``: where the event files go; null = ``<run dir>/tensorboard``."""

    name: str = "tensorboard"
    dir: Optional[str] = None


class TensorBoardTracker:
    def __init__(self, log_dir: Path) -> None:
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(logdir=str(log_dir))
        self.last_step = 0

    def log(self, row: dict[str, Any]) -> None:
        self.last_step = int(row["step"])
        for key, value in scalars(row).items():
            self.writer.add_scalar(key, value, self.last_step)
        self.writer.flush()

    def finish(self, record: Any) -> None:
        final = {"final/ttt_steps": record.ttt_steps, "final/best_metric": record.best_metric,
                 "final/train_seconds": record.train_seconds}
        for key, value in final.items():
            if value is not None:
                self.writer.add_scalar(key, float(value), max(self.last_step, record.steps))
        self.writer.close()


def open_tensorboard(cfg: TensorBoardConfig, tcfg: Any, run_dir: Path, record: Any):
    return TensorBoardTracker(Path(cfg.dir) if cfg.dir else run_dir / "tensorboard")


TENSORBOARD = LoggerSpec("tensorboard", TensorBoardConfig, open_tensorboard,
                         requires=("tensorboardX",),
                         install="pip install tensorboardX (or pip install 'hpfree[trackers]')")
