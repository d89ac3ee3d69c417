"""Runs, preemptions and resubmissions through a real SLURM cluster (``launcher=slurm``).

These tests submit to the local single-node cluster that ``scripts/slurm_up.sh`` starts.
Without a working cluster they skip, saying why — except under CI (``CI=true``), where a
missing cluster is a failure.  Every job is tiny (digits MLP, CPU); the preemption tests
make runs long enough (~60 evaluations) to be interrupted in the middle.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import pandas as pd
import pytest

from conftest import cli_env, hpfree
from hpfree import records

SLURM = ["launcher=slurm", "hydra.launcher.timeout_min=20", "hydra.launcher.signal_delay_s=30"]
FAST = ["workload.max_steps=120", "workload.eval_every=40", "progress=false"]
# ~60 chunks: long enough to signal a job in the middle of its training loop.
LONG = ["workload.max_steps=30000", "workload.eval_every=500", "horizon=h100",
        "runner.checkpoint_every_s=0", "progress=false"]
CURVE_COLS = ["step", "train_loss", "lr", "validation/loss", "validation/error_rate"]


# ------------------------------------------------------------------------------ helpers
def _run(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def slurm_problem() -> Optional[str]:
    """Why SLURM cannot run the tests here (None when it can)."""
    for tool in ("sbatch", "squeue", "scontrol", "sacct", "srun"):
        if shutil.which(tool) is None:
            return f"SLURM is not installed ({tool} not on PATH)"
    try:
        ping = _run(["scontrol", "ping"], timeout=15)
        if "UP" not in ping.stdout:
            return f"slurmctld is not up (scontrol ping: {(ping.stdout + ping.stderr).strip()})"
        nodes = _run(["sinfo", "-h", "-o", "%T"], timeout=30).stdout.split()
        if not any(s.rstrip("*") in ("idle", "mixed", "allocated") for s in nodes):
            return f"no SLURM node is up (sinfo: {' '.join(nodes) or 'nothing'})"
        acct = _run(["sacct", "-n", "-X", "-S", "now-1minutes"], timeout=30)
        if acct.returncode != 0:
            return f"SLURM accounting does not work (sacct: {acct.stderr.strip()})"
    except subprocess.TimeoutExpired as exc:
        return f"SLURM does not answer ({exc.cmd[0]} timed out)"
    return None


@pytest.fixture(scope="module", autouse=True)
def slurm_cluster() -> None:
    problem = slurm_problem()
    if problem:
        msg = f"{problem}; start the local cluster with `scripts/slurm_up.sh` (as root)"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"CI needs SLURM: {msg}", pytrace=False)
        pytest.skip(msg)


def wait_until(pred: Callable[[], object], timeout: float, what: str, every: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(every)
    squeue = _run(["squeue", "-o", "%i %T %M %R"]).stdout
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\nsqueue:\n{squeue}")


def slurm_jobs(sweep_dir: Path) -> dict:
    return json.loads((sweep_dir / "slurm_jobs.json").read_text())["jobs"]


def status_of(run_dir: Path) -> Optional[str]:
    rec = records.load(run_dir)
    return None if rec is None else rec.status


def curve_rows(run_dir: Path) -> int:
    path = run_dir / records.CURVE
    return max(0, len(path.read_text().splitlines()) - 1) if path.exists() else 0


def accounting(job_id: str) -> list[str]:
    """Every state SLURM recorded for ``job_id``, one per attempt (``--duplicates``)."""
    out = _run(["sacct", "-X", "-n", "-P", "--duplicates", "-o", "State", "-j", job_id]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def submit(tmp_path: Path, name: str, args: list[str]) -> Path:
    """``hpfree-train -m launcher=slurm ARGS`` fire-and-forget; returns the sweep directory."""
    proc = hpfree(["-m", *SLURM, "hydra.launcher.wait=false", *args,
                   f"sweeps_dir={tmp_path}/sweeps", f"sweep_name={name}"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp_path / "sweeps" / name


def same_curve(a: Path, b: Path) -> None:
    ca = pd.read_csv(a / records.CURVE)[CURVE_COLS]
    cb = pd.read_csv(b / records.CURVE)[CURVE_COLS]
    pd.testing.assert_frame_equal(ca, cb, check_exact=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The LONG run, uninterrupted, in this process's machine (not through SLURM)."""
    root = tmp_path_factory.mktemp("slurm_reference")
    hpfree([*LONG, f"runs_dir={root}/runs"], root, check=True)
    return next((root / "runs").rglob(records.RECORD)).parent


# ------------------------------------------------------------------------------ tests
def test_multirun_through_slurm_writes_records(tmp_path):
    """A blocking multirun: two array tasks, results back, one record each."""
    t0 = time.time()
    proc = hpfree(["-m", *SLURM, *FAST, "seed=0,1", f"sweeps_dir={tmp_path}/sweeps",
                   "sweep_name=mr"], tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sweep = tmp_path / "sweeps" / "mr"
    table = records.load_records([sweep])
    assert len(table) == 2, table
    assert set(table["status"]) == {"completed"}
    assert sorted(table["seed"]) == [0, 1]
    assert set(table["steps"]) == {round(0.66 * 120)}  # the default 66 % horizon
    jobs = slurm_jobs(sweep)
    assert len(jobs) == 2
    for entry in jobs.values():
        assert "_" in entry["job_id"]  # one array job
        assert status_of(Path(entry["run_dir"])) == "completed"
        wait_until(lambda: accounting(entry["job_id"]) == ["COMPLETED"], 60,
                   f"sacct to show {entry['job_id']} completed")
    print(f"two-job SLURM multirun took {time.time() - t0:.1f}s")


def _interrupted_run(tmp_path: Path, name: str, interrupt: list[str]) -> tuple[Path, str]:
    sweep = submit(tmp_path, name, LONG)
    (entry,) = slurm_jobs(sweep).values()
    run_dir, job_id = Path(entry["run_dir"]), entry["job_id"]
    wait_until(lambda: curve_rows(run_dir) >= 3, 300, "the run's third evaluation", 0.1)
    rows_at_signal = curve_rows(run_dir)
    _run([*interrupt, job_id]).check_returncode()
    wait_until(lambda: status_of(run_dir) == "completed", 600, "the resumed run to complete")
    assert rows_at_signal < 30, "the run was not interrupted in the middle"
    return run_dir, job_id


@pytest.mark.slow
def test_usr2_preemption_checkpoints_requeues_and_resumes_bit_identically(tmp_path, reference):
    run_dir, job_id = _interrupted_run(tmp_path, "usr2", ["scancel", "--signal=USR2"])
    rec = records.load(run_dir)
    assert rec.preemptions == 1 and rec.steps == 30000
    same_curve(reference, run_dir)
    # One attempt requeued, the second completed — under the same job id.
    wait_until(lambda: accounting(job_id) == ["REQUEUED", "COMPLETED"], 60,
               f"sacct to show job {job_id} requeued then completed")
    log = "".join(p.read_text() for p in (run_dir.parents[1] / ".submitit").rglob("*_log.out"))
    assert "this job is preempted" in log and "Calling checkpoint method" in log
    assert f"Requeued job {job_id}" in log


@pytest.mark.slow
def test_requeue_without_signal_resumes_from_last_checkpoint(tmp_path, reference):
    """``scontrol requeue`` kills the job's processes (no USR2) and starts it again."""
    run_dir, job_id = _interrupted_run(tmp_path, "requeue", ["scontrol", "requeue"])
    rec = records.load(run_dir)
    assert rec.preemptions == 1 and rec.steps == 30000
    same_curve(reference, run_dir)
    wait_until(lambda: accounting(job_id) == ["REQUEUED", "COMPLETED"], 60,
               f"sacct to show job {job_id} requeued then completed")


@pytest.mark.slow
def test_cancelled_batch_of_a_search_is_the_only_one_resubmitted(tmp_path):
    """Fire-and-forget search of 3 points in trial batches of 2 (``runner.trial_batch=2``:
    one array task trains 2 points, another the third); the batch's task is cancelled
    mid-run and hpfree-resubmit reruns the points it carried, alone.

    Every point keeps its own run directory, record and curve.  (Trial 2 of this space
    diverges: final too, so it is not resubmitted either.)
    """
    args = ["search_space=nadamw", "optimizer=nadamw", "hydra.sweeper.num_points=3",
            "hydra.launcher.array_parallelism=1", "runner.trial_batch=2",
            "workload.max_steps=12000", "workload.eval_every=400", "horizon=h100",
            "runner.checkpoint_every_s=0", "progress=false"]
    t0 = time.time()
    sweep = submit(tmp_path, "search", args)
    queued_after = time.time() - t0
    keys = [f"t{t:04d}/digits_mlp-s0" for t in range(3)]
    points = [sweep / k for k in keys]
    jobs = slurm_jobs(sweep)
    assert sorted(jobs) == [keys[0], keys[2]]  # 2 array tasks for 3 points
    assert len({e["job_id"].split("_")[0] for e in jobs.values()}) == 1  # one array job
    # Fire and forget: hpfree-train returned while the jobs are queued (one runs at a time).
    assert sum(status_of(d) == "completed" for d in points) < 3
    victim = jobs[keys[0]]
    wait_until(lambda: min(curve_rows(d) for d in points[:2]) >= 2, 300,
               "the batch to train both its points", 0.1)
    _run(["scancel", victim["job_id"]]).check_returncode()
    wait_until(lambda: status_of(points[2]) in records.FINAL_STATUSES, 600,
               "the other task to finish")
    wait_until(lambda: accounting(victim["job_id"]) == ["CANCELLED"], 60,
               "sacct to show the cancelled task")
    # Both points of the batch stopped by SIGTERM after a checkpoint.
    assert [status_of(d) for d in points[:2]] == ["preempted", "preempted"]
    finished = records.load(points[2]).finished_at

    proc = hpfree([str(sweep)], tmp_path, tool="resubmit", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wait_until(lambda: all(status_of(d) == "completed" for d in points[:2]), 600,
               "the resubmitted batch")
    after = slurm_jobs(sweep)
    assert sorted(after) == [keys[0], keys[2]]  # the two points again in one task
    assert after[keys[0]]["history"] == [victim["job_id"]] and after[keys[2]]["history"] == []
    assert records.load(points[2]).finished_at == finished
    recs = [records.load(d) for d in points]
    assert [r.preemptions for r in recs[:2]] == [1, 1]  # resumed from the batch's checkpoints
    # One record and one curve per point, each with its own numbers.
    assert len({r.run_id for r in recs}) == 3
    assert len({r.config["optimizer"]["learning_rate"] for r in recs}) == 3
    assert [r.trial for r in recs] == [0, 1, 2]
    assert all(curve_rows(d) >= 1 for d in points)
    print(f"3-point search in 2 tasks queued in {queued_after:.1f}s; "
          f"all done after {time.time() - t0:.0f}s")


@pytest.mark.slow
def test_plain_multirun_resubmits_only_the_cancelled_job(tmp_path):
    """Without a search manifest, the launcher's own jobs table drives the resubmission."""
    sweep = submit(tmp_path, "plain", [*FAST, "seed=0,1", "hydra.launcher.array_parallelism=1"])
    jobs = sorted(slurm_jobs(sweep).values(), key=lambda e: e["idx"])
    _run(["scancel", jobs[1]["job_id"]]).check_returncode()  # still pending behind the first
    wait_until(lambda: status_of(Path(jobs[0]["run_dir"])) == "completed", 300, "the first job")
    wait_until(lambda: not _run(["squeue", "-h", "-j", jobs[0]["job_id"].split("_")[0]]).stdout,
               120, "the array to leave the queue")

    jobs_cli = [sys.executable, "-m", "hpfree.slurm.jobs"]
    status = subprocess.run([*jobs_cli, "status", str(sweep)], capture_output=True, text=True,
                            env=cli_env(tmp_path), cwd=tmp_path, check=True).stdout
    assert status.count("resubmit") == 1 and "done" in status, status
    out = subprocess.run([*jobs_cli, "resubmit", str(sweep)], capture_output=True, text=True,
                         env=cli_env(tmp_path), cwd=tmp_path, check=True).stdout
    assert out.count("resubmitted") == 1, out
    wait_until(lambda: status_of(Path(jobs[1]["run_dir"])) == "completed", 300,
               "the resubmitted job")
    after = slurm_jobs(sweep)
    by_idx = {e["idx"]: e for e in after.values()}
    assert by_idx[0]["history"] == [] and by_idx[1]["history"] == [jobs[1]["job_id"]]


def per_state(status_text: str) -> dict[str, int]:
    """The "per state" counts that ``hpfree-status`` prints."""
    block = status_text.split("per state\n")[1].split("\n\n")[0]
    return {state: int(n) for state, n in (line.split() for line in block.splitlines())}


@pytest.mark.slow
def test_fire_and_forget_multirun_followed_by_status_and_resubmit(tmp_path):
    """The user's flow on a plain multirun: ``hpfree-train -m launcher=slurm
    hydra.launcher.wait=false`` returns once queued, ``hpfree-status`` follows the jobs
    (queued, running, completed), and after a ``scancel`` ``hpfree-resubmit`` reruns that job
    alone — and not again while SLURM has it queued or running."""
    from hpfree.sweeps import multirun, status

    tiny = ["workload.max_steps=60", "workload.eval_every=30", "progress=false"]
    sweep = submit(tmp_path, "ff", [*tiny, "seed=0,1,2", "hydra.launcher.array_parallelism=1"])
    jobs = sorted(slurm_jobs(sweep).values(), key=lambda e: e["idx"])
    runs = [Path(e["run_dir"]) for e in jobs]
    first = per_state(hpfree([str(sweep)], tmp_path, tool="status", check=True).stdout)
    assert first["queued"] >= 1 and first["missing"] == first["failed"] == 0, first
    assert first["queued"] + first["running"] + first["completed"] == 3, first

    _run(["scancel", jobs[2]["job_id"]]).check_returncode()  # pending behind the other two

    def states() -> dict[str, str]:
        return status.job_states(sweep, multirun.load_any(sweep).jobs)

    wait_until(lambda: "running" in states().values(), 120, "hpfree-status to show a job running")
    wait_until(lambda: all(status_of(r) == "completed" for r in runs[:2]), 300, "two jobs")
    wait_until(lambda: not _run(["squeue", "-h", "-j", jobs[0]["job_id"].split("_")[0]]).stdout,
               120, "the array to leave the queue")
    done = per_state(hpfree([str(sweep)], tmp_path, tool="status", check=True).stdout)
    assert (done["completed"], done["missing"], done["queued"]) == (2, 1, 0), done
    kept = {r: (r / records.RECORD).stat().st_mtime_ns for r in runs[:2]}

    proc = hpfree([str(sweep)], tmp_path, tool="resubmit", check=True)
    assert proc.stdout.count("resubmitted") == 1 and jobs[2]["key"] in proc.stdout, proc.stdout
    again = hpfree([str(sweep)], tmp_path, tool="resubmit", check=True).stdout
    assert "nothing to relaunch" in again, again  # queued, running or already completed
    wait_until(lambda: status_of(runs[2]) == "completed", 300, "the resubmitted job")
    after = slurm_jobs(sweep)
    assert [after[e["key"]]["history"] for e in jobs] == [[], [], [jobs[2]["job_id"]]]
    assert {r: (r / records.RECORD).stat().st_mtime_ns for r in runs[:2]} == kept
    final = per_state(hpfree([str(sweep)], tmp_path, tool="status", check=True).stdout)
    assert final["completed"] == 3, final
