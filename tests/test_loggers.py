"""``logger=tensorboard`` and ``logger=wandb`` (offline): a run's curve reaches the tracker.

Real trackers, no mocks: tensorboardX event files are read back record by record, and W&B
runs in offline mode (no network, no account) and writes its run file beside the run.
"""

from __future__ import annotations

import csv
import struct
from pathlib import Path

import pytest

from conftest import FAST, hpfree
from hpfree.errors import ConfigError
from hpfree.loggers import registry as loggers


def tensorboard_scalars(log_dir: Path) -> dict[str, dict[int, float]]:
    """``{tag: {step: value}}`` from every event file under ``log_dir`` (TFRecord format)."""
    from tensorboardX.proto import event_pb2

    out: dict[str, dict[int, float]] = {}
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                out.setdefault(value.tag, {})[event.step] = value.simple_value
    return out


def curve(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "curve.csv") as f:
        return list(csv.DictReader(f))


def only_run(root: Path) -> Path:
    (record,) = root.rglob("record.json")
    return record.parent


@pytest.mark.slow
def test_tensorboard_gets_every_evaluation(tmp_path):
    hpfree(["logger=tensorboard", *FAST], tmp_path, check=True)
    run_dir = only_run(tmp_path / "runs")
    scalars = tensorboard_scalars(run_dir / "tensorboard")
    rows = curve(run_dir)
    metric = "validation/error_rate"
    assert sorted(scalars[metric]) == [int(r["step"]) for r in rows]
    for r in rows:
        assert scalars[metric][int(r["step"])] == pytest.approx(float(r[metric]), rel=1e-6)
    assert "final/best_metric" in scalars


@pytest.mark.slow
def test_wandb_offline_run_needs_no_network(tmp_path):
    hpfree(["logger=wandb", *FAST], tmp_path, check=True)
    run_dir = only_run(tmp_path / "runs")
    (log,) = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    blob = log.read_bytes()
    assert b"validation/error_rate" in blob and b"train_loss" in blob
    assert b"ttt_steps" in blob and b"best_metric" in blob  # the final summary
    assert b"digits_mlp" in blob  # the run's config went along


def test_a_missing_tracker_package_is_one_line_before_any_work():
    spec = loggers.LoggerSpec("nope", loggers.LoggerConfig, lambda *a: None,
                              requires=("hpfree_no_such_package",), install="pip install x")
    with pytest.raises(ConfigError, match="logger=nope needs the hpfree_no_such_package "
                                          "package.*pip install x"):
        spec.check_available()


def test_logger_none_is_the_default_and_unknown_loggers_are_refused(tmp_path):
    proc = hpfree(["logger=nope", *FAST], tmp_path)
    assert proc.returncode == 2
    assert "logger/nope" in proc.stderr and "tensorboard" in proc.stderr
    assert not (tmp_path / "runs").exists()
    assert set(loggers.all_specs()) >= {"none", "tensorboard", "wandb"}
