"""End to end: a 4-point search on suite=smoke, killed halfway (SIGKILL), then finished by two
``hpfree-resubmit`` processes at once — only the missing runs are run, each exactly once,
and the records that were complete are untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cli_env, hpfree
from hpfree import records
from hpfree.sweeps import manifest

# Tiny budgets: each job is a second or two of training (plus compilation).
TINY = ["workload.max_steps=40", "workload.eval_every=20", "progress=false"]


def record_paths(sweep: Path) -> list[Path]:
    return sorted(sweep.glob("t*/*/record.json"))


@pytest.mark.slow
def test_killed_sweep_is_finished_by_concurrent_resubmits(workdir):
    sweep = workdir / "sweeps" / "e2e"
    cmd = [sys.executable, "-m", "hpfree.cli.train", "-m", "search_space=nadamw",
           "hydra.sweeper.num_points=4", "suite=smoke", "sweep_name=e2e",
           f"sweeps_dir={workdir}/sweeps", *TINY]
    proc = subprocess.Popen(cmd, cwd=workdir, env=cli_env(workdir), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while len(record_paths(sweep)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    m = manifest.load(sweep)
    n_jobs = len(m.jobs)
    workloads = sorted({j.workload for j in m.jobs})
    assert sorted({j.trial for j in m.jobs}) == [0, 1, 2, 3]
    assert n_jobs == 4 * len(workloads)
    done = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in record_paths(sweep)}
    assert 2 <= len(done) < n_jobs, "the kill should land halfway through the sweep"
    assert all(records.load(p.parent).status == "completed" for p in done)

    before = hpfree([str(sweep)], workdir, tool="status", check=True).stdout
    assert f"missing    {n_jobs - len(done)}" in before

    # Two resubmissions at once: every missing job runs exactly once, between them.
    resubmit = [sys.executable, "-m", "hpfree.cli.resubmit", str(sweep)]
    procs = [subprocess.Popen(resubmit, cwd=workdir, env=cli_env(workdir),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(outs)
    text = "\n".join(outs)
    finished = text.count("[hpfree] completed:") - text.count("[hpfree] already completed")
    assert finished == n_jobs - len(done), text

    for p, (content, mtime) in done.items():
        assert p.read_bytes() == content and p.stat().st_mtime_ns == mtime
    recs = [records.load(p.parent) for p in record_paths(sweep)]
    assert len(recs) == n_jobs and {r.status for r in recs} == {"completed"}
    for job in m.jobs:  # each record is the job the manifest says
        rec = records.load(sweep / job.key)
        assert (rec.trial, rec.workload, rec.seed, rec.sweep) == (job.trial, job.workload,
                                                                 job.seed, "e2e")
        assert rec.config["optimizer"]["learning_rate"] == job.knobs["optimizer.learning_rate"]

    after = hpfree([str(sweep)], workdir, tool="status", check=True).stdout
    assert f"completed  {n_jobs}" in after and "missing    0" in after
    for w in workloads:
        assert w in after.split("per workload")[1]
    again = hpfree([str(sweep)], workdir, tool="resubmit", check=True).stdout
    assert "nothing to relaunch" in again
