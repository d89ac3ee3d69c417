"""Hyperparameters are values of the compiled step: a search compiles once per workload.

A second point of a search — other learning rate, betas, epsilon, weight decay, dropout,
label smoothing, warmup, horizon and seed — reuses the first point's executable in-process
(no backend compilation at all), and hits the persistent compilation cache in a new process.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from jax import monitoring

from conftest import cli_env
from hpfree import hparams
from hpfree.preflight import compose_config
from hpfree.runners import embedded
from hpfree.train import new_record

BASE = ["workload=digits_mlp", "workload.max_steps=60", "workload.eval_every=20",
        "progress=false", "optimizer=nadamw", "horizon=h100"]
POINT_B = ["optimizer.learning_rate=0.004", "optimizer.b1=0.8", "optimizer.b2=0.95",
           "optimizer.eps=1e-7", "regularization.weight_decay=0.01",
           "regularization.dropout=0.2", "regularization.label_smoothing=0.1",
           "schedule.warmup=0.1", "horizon=h50", "seed=7"]
CURVE = ["step", "train_loss", "lr", "validation/loss", "validation/error_rate"]

_COUNTS = {"compiles": 0}
monitoring.register_event_duration_secs_listener(
    lambda name, *a, **kw: _COUNTS.__setitem__("compiles", _COUNTS["compiles"] + 1)
    if name == "/jax/core/compile/backend_compile_duration" else None)


@contextmanager
def backend_compilations():
    """Counts XLA compilations (persistent-cache retrievals included) inside the block."""
    start = dict(_COUNTS)
    out = {"n": 0}
    yield out
    out["n"] = _COUNTS["compiles"] - start["compiles"]


def train(cfg, run_dir: Path):
    return embedded.run(cfg, run_dir, new_record(cfg, run_dir), handle_signals=False)


def test_structure_ignores_values_and_sees_switches():
    a = compose_config(BASE)
    assert hparams.structure(a) == hparams.structure(compose_config(BASE + POINT_B))
    for other in (["optimizer.variant=optax"], ["workload.eval_every=10"],
                  ["schedule=constant"], ["workload.hidden=64"]):
        assert hparams.structure(compose_config(BASE + other)) != hparams.structure(a), other
    p = ["optimizer=prodigy"]
    assert hparams.structure(compose_config(BASE + p)) != hparams.structure(
        compose_config(BASE + p + ["optimizer.growth_rate=2.0"]))  # None-ness is structure


def test_second_point_compiles_nothing_and_gets_its_own_values(tmp_path):
    embedded.clear_caches()
    a, b = compose_config(BASE), compose_config(BASE + POINT_B)
    rec_a = train(a, tmp_path / "a")
    with backend_compilations() as count:
        rec_b = train(b, tmp_path / "b")
    assert count["n"] == 0, f"the second point compiled {count['n']} program(s)"
    assert (rec_a.status, rec_a.steps, rec_b.status, rec_b.steps) == (
        "completed", 60, "completed", 30)
    # No number of the first point leaked into the shared program: b compiled for itself
    # trains exactly the same curve.
    embedded.clear_caches()
    train(b, tmp_path / "b-alone")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "b" / "curve.csv")[CURVE],
                                  pd.read_csv(tmp_path / "b-alone" / "curve.csv")[CURVE],
                                  check_exact=True)


COUNTER = """
import atexit, sys
from jax import monitoring
seen = {"hits": 0, "misses": 0}
def event(name, **kw):
    if name.endswith("/cache_hits"):
        seen["hits"] += 1
    elif name.endswith("/cache_misses"):
        seen["misses"] += 1
monitoring.register_event_listener(event)
atexit.register(lambda: print(f"CACHE hits={seen['hits']} misses={seen['misses']}"))
from hpfree.cli.train import main
main(sys.argv[1:])
"""


@pytest.mark.slow
def test_a_new_process_hits_the_persistent_cache_for_every_program(tmp_path):
    env = cli_env(tmp_path)
    env["HPFREE_JAX_CACHE"] = str(tmp_path / "jax-cache")
    env["HPFREE_JAX_CACHE_MIN_S"] = "0"  # store every program, however quick to compile

    def cli(args):
        proc = subprocess.run([sys.executable, "-c", COUNTER, *BASE, *args,
                               f"runs_dir={tmp_path / 'runs'}"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        line = [x for x in proc.stdout.splitlines() if x.startswith("CACHE ")][-1]
        return dict(kv.split("=") for kv in line.split()[1:])

    first = cli([])
    assert int(first["misses"]) > 0
    second = cli(POINT_B)
    assert int(second["misses"]) == 0 and int(second["hits"]) > 0, second
