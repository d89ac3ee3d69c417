"""Fault injection: every state a crash, a full disk or a hand edit can leave gets one line,
the right exit code (0 all done, 1 a run failed or is corrupt, 2 bad input), no traceback,
and every complete record stays byte-identical (docs/faults.md).

Each fault is met by a real subprocess (``hpfree-*`` as a user runs it).  The full disk is a
file-size limit (``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored): the kernel refuses the write
(``EFBIG``) as a full disk does (``ENOSPC``), through the same code path.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FAST, cli_env, hpfree

SEARCH = ["-m", "search_space=auto", "optimizer=prodigy", "suite=smoke",
          "hydra.sweeper.num_points=2", "sweep_name=f", *FAST]
JOBS = ["t0000/digits_mlp-s0", "t0000/digits_cnn-s0", "t0001/digits_mlp-s0",
        "t0001/digits_cnn-s0"]


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ": error:" in ln]


def snapshot(sweep: Path, keys=JOBS) -> dict[str, bytes]:
    """The bytes of every record and curve of ``keys`` (what must never change)."""
    out = {}
    for key in keys:
        for name in ("record.json", "curve.csv"):
            p = sweep / key / name
            if p.exists():
                out[f"{key}/{name}"] = p.read_bytes()
    return out


@pytest.fixture(scope="module")
def made_sweep(tmp_path_factory) -> Path:
    """A finished 2-point smoke search (4 runs), made once; tests work on copies."""
    root = tmp_path_factory.mktemp("faults")
    hpfree([*SEARCH, "sweeps_dir=sweeps"], root, check=True)  # relative: copies relaunch
    return root / "sweeps" / "f"


@pytest.fixture
def sweep(made_sweep, tmp_path) -> Path:
    dst = tmp_path / "sweeps" / "f"
    shutil.copytree(made_sweep, dst, symlinks=True)
    # The manifest's command relaunches in its working directory: the copy's.
    manifest = json.loads((dst / "manifest.json").read_text())
    for command in manifest["commands"]:
        command["cwd"] = str(tmp_path)
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


# -- bad input: every knob's domain, before any work ------------------------------------------

BAD_KNOBS = [
    (["optimizer=adamw", "optimizer.eps=-1e-8"], "optimizer.eps=-1e-08 must be > 0"),
    (["optimizer=nadamw", "optimizer.eps=-1e-8"], "optimizer.eps=-1e-08 must be > 0"),
    (["regularization.weight_decay=inf"], "regularization.weight_decay=inf must be finite"),
    (["regularization.weight_decay=nan"], "regularization.weight_decay=nan must be finite"),
    (["optimizer=prodigy", "optimizer.d_coef=-1"], "optimizer.d_coef=-1.0 must be > 0"),
    (["schedule.warmup=1.0"], "schedule.warmup=1.0 is outside [0, 1)"),
    (["workload=mini_vit", "workload.width=0"], "workload.width=0 must be >= 1"),
    (["seed=-1"], "seed=-1 must be >= 0"),
    (["-m", "search_space=nadamw", "suite=smoke",
      "hydra.sweeper.search_space.dimensions.learning_rate.scale=linear",
      "hydra.sweeper.search_space.dimensions.learning_rate.low=-0.01"],
     "dimension learning_rate (range -0.01..0.05): optimizer.learning_rate=-0.01 must be > 0"),
    (["-m", "search_space=nadamw", "hydra.sweeper.num_points=4", "hydra.sweeper.trials=[1,7]"],
     "hydra.sweeper.trials has 7, beyond the search's hydra.sweeper.num_points=4"),
]


@pytest.mark.parametrize("args,needle", BAD_KNOBS, ids=[n for _, n in BAD_KNOBS])
def test_a_knob_outside_its_domain_is_refused_before_any_work(tmp_path, args, needle):
    proc = hpfree([*args, f"runs_dir={tmp_path}/runs", f"sweeps_dir={tmp_path}/sweeps"],
                  tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f"hpfree-train: error: {lines[0].split('error: ', 1)[1]}"], proc.stderr
    assert needle in lines[0], lines[0]
    no_traceback(proc)
    assert not list(tmp_path.iterdir())


def test_resubmit_without_a_sweep_dir_names_only_what_is_missing(tmp_path):
    proc = hpfree([], tmp_path, tool="resubmit")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "hpfree-resubmit: error: the following arguments are required: SWEEP_DIR "
        "(see hpfree-resubmit --help)"]


# -- corrupt records and curves -----------------------------------------------------------------

CORRUPT_RECORDS = {
    "empty object": ("{}\n", "no run_id"),
    "a list": ("[1, 2]\n", "a JSON list, not a record"),
    "missing field": (None, "no status"),
    "truncated": (None, "not valid JSON"),
    "unknown status": (None, "unknown status 'done'"),
}


def _corrupt_record(path: Path, kind: str) -> None:
    text, _ = CORRUPT_RECORDS[kind]
    if text is None:
        good = path.read_text()
        data = json.loads(good)
        if kind == "missing field":
            del data["status"]
            text = json.dumps(data)
        elif kind == "unknown status":
            data["status"] = "done"
            text = json.dumps(data)
        else:
            text = good[: len(good) // 2]
    path.write_text(text)


@pytest.mark.parametrize("kind", list(CORRUPT_RECORDS))
def test_status_and_score_name_a_corrupt_record_and_exit_1(sweep, tmp_path, kind):
    bad = sweep / JOBS[0] / "record.json"
    _corrupt_record(bad, kind)
    before = snapshot(sweep)

    status = hpfree([str(sweep)], tmp_path, tool="status")
    assert status.returncode == 1, status.stdout + status.stderr
    no_traceback(status)
    named = [ln for ln in status.stderr.splitlines() if str(bad.relative_to(tmp_path)) in ln
             or str(bad) in ln]
    assert len(named) == 1 and CORRUPT_RECORDS[kind][1] in named[0], status.stderr
    assert "corrupt    1" in status.stdout and "completed  3" in status.stdout

    score = hpfree([str(sweep), "--out", str(tmp_path / "scores"), "--no-plots"], tmp_path,
                   tool="score")
    assert score.returncode == 1, score.stdout + score.stderr
    no_traceback(score)
    assert "3 runs" in score.stdout  # the corrupt one is left out ...
    assert f"left out a corrupt run: {bad}" in score.stderr  # ... and said so
    assert f"left out a corrupt run: {bad}" in (tmp_path / "scores" / "notes.md").read_text()
    assert snapshot(sweep) == before  # readers never write


def test_resubmit_reruns_corrupt_runs_keeping_the_bad_files_aside(sweep, tmp_path):
    bad_record = sweep / JOBS[0] / "record.json"
    _corrupt_record(bad_record, "truncated")
    bad_bytes = bad_record.read_bytes()
    (sweep / JOBS[2] / "curve.csv").write_text("step,validation/error_rate\nxx,0.5\n")
    complete = [JOBS[1], JOBS[3]]
    before = snapshot(sweep, complete)

    proc = hpfree([str(sweep)], tmp_path, tool="resubmit")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    no_traceback(proc)
    out = proc.stdout + proc.stderr
    assert f"corrupt: {sweep / JOBS[0] / 'record.json'}" in out
    assert "curve.csv: line 2 is not numbers" in out
    assert "now: completed 4" in out
    kept = list((sweep / JOBS[0]).glob("record.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == bad_bytes  # aside, not deleted
    assert list((sweep / JOBS[2]).glob("curve.csv.corrupt-*"))
    assert snapshot(sweep, complete) == before  # complete runs untouched
    status = hpfree([str(sweep)], tmp_path, tool="status")
    assert status.returncode == 0 and "completed  4" in status.stdout


# -- checkpoints and temp files -------------------------------------------------------------

def _mark_failed(run_dir: Path) -> None:
    path = run_dir / "record.json"
    data = json.loads(path.read_text())
    data["status"] = "failed"
    path.write_text(json.dumps(data))


def test_unreadable_checkpoint_is_moved_aside_and_the_run_restarts(sweep, tmp_path):
    run_dir = sweep / JOBS[1]
    _mark_failed(run_dir)  # as after a crash: not final, resumable from its checkpoint
    ckpt = run_dir / "checkpoint.npz"
    ckpt.write_bytes(ckpt.read_bytes()[:500])  # truncated
    stale = run_dir / ".checkpoint.npz.k1ll3d_x.tmp"  # what a SIGKILL mid-write leaves
    stale.write_bytes(b"partial")
    complete = [JOBS[0], JOBS[2], JOBS[3]]
    before = snapshot(sweep, complete)

    proc = hpfree([str(sweep)], tmp_path, tool="resubmit")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    no_traceback(proc)
    warning = [ln for ln in (proc.stdout + proc.stderr).splitlines()
               if "warning: checkpoint" in ln]
    assert len(warning) == 1 and str(ckpt) in warning[0] and "step 0" in warning[0]
    assert list(run_dir.glob("checkpoint.npz.corrupt-*"))
    assert not stale.exists()
    assert json.loads((run_dir / "record.json").read_text())["status"] == "completed"
    assert snapshot(sweep, complete) == before
    again = hpfree([str(sweep)], tmp_path, tool="resubmit")  # never fails forever
    assert again.returncode == 0 and "nothing to relaunch" in again.stdout


@pytest.mark.slow
def test_a_killed_run_resumes_without_leaving_temp_files(tmp_path):
    """SIGKILL a real run that checkpoints at every evaluation (sometimes mid-write), resume."""
    runs = tmp_path / "runs"
    args = ["workload.max_steps=200", "workload.eval_every=10", "progress=false",
            "runner.checkpoint_every_s=0", f"runs_dir={runs}"]
    proc = subprocess.Popen([sys.executable, "-m", "hpfree.cli.train", *args], cwd=tmp_path,
                            env=cli_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    run_dir = None
    while time.time() < deadline and proc.poll() is None and run_dir is None:
        for curve in runs.rglob("curve.csv"):
            if len(curve.read_text().splitlines()) > 4 and (curve.parent / "checkpoint.npz").exists():
                run_dir = curve.parent
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert run_dir is not None, "the run ended before it could be killed"
    again = hpfree(args, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads((run_dir / "record.json").read_text())["status"] == "completed"
    assert not list(run_dir.glob(".*.tmp"))


# -- unwritable outputs and a full disk -----------------------------------------------------

def test_unwritable_run_directory_is_one_line_and_exit_1(tmp_path):
    (tmp_path / "afile").write_text("in the way")
    proc = hpfree([f"runs_dir={tmp_path}/afile/runs", *FAST], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    no_traceback(proc)
    lines = error_lines(proc)
    assert len(lines) == 1 and f"{tmp_path}/afile/runs" in lines[0]
    assert "Not a directory" in lines[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_runs_dir_is_one_line_and_exit_1(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        proc = hpfree([f"runs_dir={ro}/runs", *FAST], tmp_path)
    finally:
        ro.chmod(0o755)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    no_traceback(proc)
    lines = error_lines(proc)
    assert len(lines) == 1 and str(ro) in lines[0] and "Permission denied" in lines[0]


def test_score_into_an_unwritable_directory(sweep, tmp_path):
    (tmp_path / "afile").write_text("in the way")
    proc = hpfree([str(sweep), "--out", str(tmp_path / "afile" / "scores"), "--no-plots"],
                  tmp_path, tool="score")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    no_traceback(proc)
    assert error_lines(proc) == [f"hpfree-score: error: {tmp_path}/afile/scores: "
                                 "Not a directory"]
    debug = hpfree([str(sweep), "--out", str(tmp_path / "afile" / "scores"), "--no-plots",
                    "--debug"], tmp_path, tool="score")
    assert debug.returncode == 1 and "Traceback" in debug.stderr  # --debug shows it


def _full_disk(limit_bytes: int):
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return limit


def test_full_disk_fails_the_run_with_one_line_and_exit_1(tmp_path):
    runs = tmp_path / "runs"
    args = [f"runs_dir={runs}", *FAST, "runner.compilation_cache=false"]
    hpfree([*args, "seed=0"], tmp_path, check=True)  # a complete run that must stay as it is
    (done,) = runs.glob("*/*/record.json")
    before = {p: p.read_bytes() for p in done.parent.iterdir() if p.is_file()}

    cmd = [sys.executable, "-m", "hpfree.cli.train", *args, "seed=1"]
    # 64 kB: records and curves fit, the checkpoint (~300 kB) does not.
    proc = subprocess.run(cmd, cwd=tmp_path, env=cli_env(tmp_path), capture_output=True,
                          text=True, timeout=600, preexec_fn=_full_disk(64_000))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    no_traceback(proc)
    failed = [ln for ln in proc.stderr.splitlines() if "failed" in ln]
    assert len(failed) == 1 and "checkpoint.npz: File too large" in failed[0]
    assert "cannot write" in failed[0] and str(runs) in failed[0]
    (new,) = [p for p in runs.glob("*/*/record.json") if p != done]
    assert json.loads(new.read_text())["status"] == "failed"
    assert not list(new.parent.glob(".*.tmp"))  # the failed write left nothing behind
    assert {p: p.read_bytes() for p in done.parent.iterdir() if p.is_file()} == before
    # the same command with room again: resumes and completes
    again = hpfree([*args, "seed=1"], tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(new.read_text())["status"] == "completed"
