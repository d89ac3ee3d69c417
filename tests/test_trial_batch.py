"""Trial batches (``runner.trial_batch``): K points of one workload in one vmapped scan.

Per point, a batch gives what a run of that point alone gives (to float tolerance), records a
diverging point ``diverged`` while the others complete, resumes each point bit-identically
after a real SIGKILL, and a resubmission relaunches only the points that need it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import cli_env, hpfree
from hpfree import records
from hpfree.optimizers import registry as optimizer_registry
from hpfree.preflight import compose_config
from hpfree.runners import embedded
from hpfree.sweeps import batches, manifest
from hpfree.sweeps.plan import Job
from hpfree.train import new_record

BASE = ["workload=digits_mlp", "workload.max_steps=40", "workload.eval_every=20",
        "progress=false", "horizon=h100"]
CURVE = ["step", "train_loss", "lr", "validation/loss", "validation/error_rate"]
# Batched and single runs differ only in how XLA orders float32 reductions under vmap;
# measured worst relative difference over every optimizer: 2.1e-5 (schedule_free_adamw),
# the others <= 3.4e-7.
RTOL = 1e-4


def run_batch(cfgs, dirs, **kw):
    return embedded.run_batch(cfgs, dirs, [new_record(c, d) for c, d in zip(cfgs, dirs)],
                              handle_signals=False, **kw)


@pytest.mark.parametrize("name", sorted(optimizer_registry.all_specs()))
def test_each_point_of_a_batch_equals_its_run_alone(name, tmp_path):
    points = [compose_config([*BASE, f"optimizer={name}", "seed=1"]),
              compose_config([*BASE, f"optimizer={name}", "seed=2", "schedule.warmup=0.1",
                              "regularization.weight_decay=0.01", "horizon=h50"])]
    dirs = [tmp_path / "a", tmp_path / "b"]
    recs = run_batch(points, dirs)
    assert [r.steps for r in recs] == [40, 20]  # each point stops at its own horizon
    for cfg, d in zip(points, dirs):
        alone = tmp_path / f"{d.name}-alone"
        embedded.run(cfg, alone, new_record(cfg, alone), handle_signals=False)
        got, want = (pd.read_csv(p / "curve.csv")[CURVE] for p in (d, alone))
        assert list(got["step"]) == list(want["step"])
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=RTOL, atol=1e-7)


def test_a_diverging_point_is_frozen_and_recorded_while_the_others_complete(tmp_path):
    lrs = [0.001, 1e6, 0.003]  # the second one blows up within its first chunk
    cfgs = [compose_config([*BASE, "optimizer=adamw", f"optimizer.learning_rate={lr}"])
            for lr in lrs]
    dirs = [tmp_path / f"p{i}" for i in range(3)]
    done = []
    recs = run_batch(cfgs, dirs, on_done=lambda i, r: done.append((i, r.status)))
    assert [r.status for r in recs] == ["completed", "diverged", "completed"]
    assert recs[1].steps == 20 and recs[0].steps == recs[2].steps == 40
    assert done[0] == (1, "diverged")  # reported when it happened, not when the batch ended
    # The others are unaffected by their frozen neighbour.
    alone = tmp_path / "alone"
    embedded.run(cfgs[2], alone, new_record(cfgs[2], alone), handle_signals=False)
    np.testing.assert_allclose(pd.read_csv(dirs[2] / "curve.csv")[CURVE].to_numpy(),
                               pd.read_csv(alone / "curve.csv")[CURVE].to_numpy(), rtol=RTOL)


def _job(key: str, workload: str, trial: int) -> Job:
    return Job(key=key, trial=trial, seed_index=0, seed=trial, workload=workload, point={},
               knobs={}, overrides=[f"workload={workload}", f"trial={trial}"])


def test_jobs_are_grouped_per_workload_and_the_queue_state_reaches_every_point():
    jobs = [_job(f"t{t:04d}/{w}-s0", w, t) for t in range(5) for w in ("a", "b")]
    units = batches.group(jobs, 2)
    assert [[j.key for j in u] for u in units] == [
        ["t0000/a-s0", "t0001/a-s0"], ["t0002/a-s0", "t0003/a-s0"], ["t0004/a-s0"],
        ["t0000/b-s0", "t0001/b-s0"], ["t0002/b-s0", "t0003/b-s0"], ["t0004/b-s0"]]
    first = batches.overrides(units[0])
    assert first[:-1] == jobs[0].overrides and batches.members(first) == ["t0001/a-s0"]
    assert batches.overrides(units[2]) == units[2][0].overrides  # one point: a plain job
    # A queue (SLURM) knows a job by its first point; the points it carries share its state.
    live = batches.spread({"t0000/a-s0": "queued"}, {"t0000/a-s0": first})
    assert live == {"t0000/a-s0": "queued", "t0001/a-s0": "queued"}


# ------------------------------------------------------------------------- end to end

SWEEP = ["-m", "hydra/sweeper=quasirandom", "search_space=nadamw", "workload=digits_mlp",
         "progress=false", "runner.trial_batch=4", "hydra.sweeper.num_points=4"]


def _sweep_cmd(workdir: Path, name: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hpfree.cli.train", *SWEEP, f"sweeps_dir={workdir}/sweeps",
            f"sweep_name={name}", *extra]


def _curves(sweep: Path) -> dict[str, pd.DataFrame]:
    return {str(p.parent.relative_to(sweep)): pd.read_csv(p)[CURVE]
            for p in sorted(sweep.glob("t*/*/curve.csv"))}


@pytest.mark.slow
def test_a_batch_killed_by_sigkill_resumes_every_point_bit_identically(workdir):
    budget = ["workload.max_steps=600", "workload.eval_every=20", "runner.checkpoint_every_s=0",
              "horizon=h100"]
    env = cli_env(workdir)
    ref = subprocess.run(_sweep_cmd(workdir, "ref", *budget), cwd=workdir, env=env,
                         capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stdout + ref.stderr
    sweep = workdir / "sweeps" / "cut"
    proc = subprocess.Popen(_sweep_cmd(workdir, "cut", *budget), cwd=workdir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while (len(list(sweep.glob("t*/*/checkpoint.npz"))) < 4 and proc.poll() is None
           and time.monotonic() < deadline):
        time.sleep(0.02)
    time.sleep(0.3)  # a few chunks into training
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    cut = {str(p.parent.relative_to(sweep)): records.load(p.parent)
           for p in sweep.glob("t*/*/record.json")}
    assert not any(r.status == "completed" for r in cut.values()), "the kill came too late"
    # One of the four points diverges at step 160; if it did so before the kill it is final
    # and must be left alone, the others must resume from their checkpoints.
    final = {k for k, r in cut.items() if r.status == "diverged"}
    assert len(final) <= 1
    again = subprocess.run(_sweep_cmd(workdir, "cut", *budget), cwd=workdir, env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    got, want = _curves(sweep), _curves(workdir / "sweeps" / "ref")
    assert sorted(got) == sorted(want) and len(got) == 4
    for key in want:
        if key in final:
            assert records.load(sweep / key) == cut[key], key  # not run again
        else:
            assert records.load(sweep / key).preemptions >= 1, key
        pd.testing.assert_frame_equal(got[key], want[key], check_exact=True)


@pytest.mark.slow
def test_resubmitting_a_partly_failed_batch_relaunches_only_its_failed_points(workdir):
    tiny = ["workload.max_steps=40", "workload.eval_every=20"]
    first = subprocess.run(_sweep_cmd(workdir, "part", *tiny), cwd=workdir,
                           env=cli_env(workdir), capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "trial batches of up to 4 points: 1 jobs" in first.stdout
    sweep = workdir / "sweeps" / "part"
    keys = [j.key for j in manifest.load(sweep).jobs]
    failed = keys[1:3]
    for key in failed:  # as a crash inside the batch leaves them
        rec = records.load(sweep / key)
        rec.status, rec.error = "failed", "RuntimeError: injected"
        records.write(sweep / key, rec)
    kept = {k: (sweep / k / records.RECORD).stat().st_mtime_ns for k in keys if k not in failed}

    proc = hpfree([str(sweep)], workdir, tool="resubmit", check=True)
    out = proc.stdout + proc.stderr
    assert "launching 2 " in out and "trial batches of up to 4 points: 1 jobs" in out, out
    assert f"batch_with=['{failed[1]}']" in out, out  # the two failed points, one batch
    for key in failed:
        assert records.load(sweep / key).status == "completed"
    for key, mtime in kept.items():
        assert (sweep / key / records.RECORD).stat().st_mtime_ns == mtime, key
    status = hpfree([str(sweep)], workdir, tool="status", check=True).stdout
    assert "completed  4" in status
    # The batch job itself, run again as a TPU slice runs it (one run, hydra.run.dir set):
    # every point is final, so each is skipped and nothing is rewritten.
    m = manifest.load(sweep)
    lead = m.job(keys[0])
    others = ",".join(f"'{k}'" for k in keys[1:])
    stamps = {k: (sweep / k / records.RECORD).stat().st_mtime_ns for k in keys}
    proc = hpfree([*lead.overrides, "progress=false", f"sweeps_dir={workdir}/sweeps",
                   f"batch_with=[{others}]", f"hydra.run.dir={sweep / keys[0]}"], workdir,
                  check=True)
    assert proc.stdout.count("[hpfree] already completed") == 4, proc.stdout
    assert stamps == {k: (sweep / k / records.RECORD).stat().st_mtime_ns for k in keys}
