"""Sweep bookkeeping: jobs per trial, derived seeds, manifest, states, locks, sweeper errors."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import FAST, REPO, hpfree
from hpfree import records
from hpfree.errors import ConfigError
from hpfree.sweeps import locking, manifest, plan, status
from hpfree.sweeps.space import SearchSpace

SPACE = SearchSpace.from_config({"name": "t", "dimensions": {
    "lr": {"knob": "optimizer.learning_rate", "scale": "log", "low": 1e-4, "high": 1e-1},
    "dropout": {"knob": "regularization.dropout", "values": [0.0, 0.1]},
}})


def smoke_workloads() -> list[str]:
    cfg = OmegaConf.load(REPO / "conf" / "suite" / "smoke.yaml")
    return list(OmegaConf.select(cfg, "suite.workloads") or cfg.workloads)


def jobs(settings: plan.SweepSettings, workloads=("a", "b"), args=("suite=x",)):
    return plan.make_jobs(SPACE, settings, list(workloads), list(args), "sw")


def test_a_trial_covers_every_workload_for_every_seed():
    js = jobs(plan.SweepSettings(num_points=3, seeds=2))
    assert len(js) == 3 * 2 * 2
    for trial in range(3):
        mine = [j for j in js if j.trial == trial]
        assert {(j.workload, j.seed_index) for j in mine} == {(w, k) for w in "ab" for k in (0, 1)}
        assert len({tuple(sorted(j.point.items())) for j in mine}) == 1  # one point per trial
    # trial-major: a trial's jobs are launched together
    assert [j.trial for j in js] == sorted(j.trial for j in js)
    job = js[0]
    assert job.key == "t0000/a-s0"
    for needed in ("workload=a", "trial=0", "seed_index=0", f"seed={job.seed}",
                   "sweep_name=sw", "suite=x"):
        assert needed in job.overrides
    assert any(o.startswith("optimizer.learning_rate=") for o in job.overrides)


def test_seeds_are_derived_reproducible_and_independent():
    a = jobs(plan.SweepSettings(num_points=4, seeds=3))
    assert [j.seed for j in a] == [j.seed for j in jobs(plan.SweepSettings(num_points=4, seeds=3))]
    per = {(j.trial, j.seed_index): j.seed for j in a}
    assert len(set(per.values())) == len(per)  # distinct across trials and seed indices
    assert all(0 <= s < 2**31 for s in per.values())
    # all workloads of a (trial, seed index) share the seed
    assert {(j.trial, j.seed_index, j.seed) for j in a} == {(t, k, s) for (t, k), s in per.items()}
    # re-evaluating chosen trials with more seeds reuses the same derivation
    top = jobs(plan.SweepSettings(trials=[3, 1], seeds=3, seed_start=1))
    assert sorted({j.trial for j in top}) == [1, 3]
    assert {j.seed_index for j in top} == {1, 2, 3}
    assert all(j.seed == plan.derive_seed(0, j.trial, j.seed_index) for j in top)
    assert {(j.trial, j.seed_index): j.seed for j in top if j.seed_index < 3}.items() <= per.items()
    assert plan.derive_seed(1, 0, 0) != plan.derive_seed(0, 0, 0)


def test_trial_ids_and_settings():
    assert plan.trial_ids(SPACE, plan.SweepSettings()) == list(range(plan.DEFAULT_POINTS))
    assert plan.trial_ids(SPACE, plan.SweepSettings(num_points=5, trials=[7, 2, 7])) == [2, 7]
    for bad, needle in [(dict(num_points=0), "num_points=0"), (dict(seeds=0), "seeds=0"),
                        (dict(trials=[]), "trials=[]"), (dict(trials=[-1]), "-1"),
                        (dict(seed=-3), "seed=-3")]:
        with pytest.raises(ConfigError, match=re.escape(needle)):
            plan.SweepSettings(**bad).check()


def test_user_overrides_the_sweeper_owns_are_rejected_or_replaced():
    assert plan.split_user_args(["suite=smoke", "workload=digits_mlp", "sweep_name=x",
                                 "horizon=h50"], SPACE) == ["suite=smoke", "horizon=h50"]
    with pytest.raises(ConfigError, match="conflicts with search space t .dimension lr"):
        plan.split_user_args(["optimizer.learning_rate=0.1"], SPACE)
    with pytest.raises(ConfigError, match="seed is set per job"):
        plan.split_user_args(["seed=3"], SPACE)


def test_sweep_name_is_content_derived():
    cfg = OmegaConf.create({"optimizer": {"name": "nadamw"}, "horizon": {"name": "h50"},
                            "suite": {"name": "smoke"}})
    name = plan.sweep_name(SPACE, plan.SweepSettings(), cfg, ["suite=smoke", "horizon=h50"])
    assert name.startswith("t-nadamw-h50-smoke-")
    # order of overrides, num_points, trials, seeds and bookkeeping keys do not matter ...
    same = plan.sweep_name(SPACE, plan.SweepSettings(num_points=9, trials=[1], seeds=3), cfg,
                           ["horizon=h50", "suite=smoke", "progress=false"])
    assert same == name
    # ... what changes the runs does
    assert plan.sweep_name(SPACE, plan.SweepSettings(seed=1), cfg, ["suite=smoke"]) != name
    assert plan.sweep_name(SPACE, plan.SweepSettings(), cfg,
                           ["suite=smoke", "horizon=h50", "workload.max_steps=9"]) != name


def command(argv=("a=1",)):
    return {"argv": list(argv), "cwd": "/", "launcher": {}}


def test_manifest_add_merge_and_conflicts(tmp_path):
    first = jobs(plan.SweepSettings(num_points=2))
    manifest.add(tmp_path, "sw", SPACE.to_dict(), 0, command(), first)
    grown = jobs(plan.SweepSettings(num_points=3))
    manifest.add(tmp_path, "sw", SPACE.to_dict(), 0, command(["a=1", "n=3"]), grown)
    m = manifest.load(tmp_path)
    assert [j.key for j in m.jobs] == [j.key for j in grown]  # no duplicates, in trial order
    assert [c["argv"] for c in m.commands] == [["a=1"], ["a=1", "n=3"]]
    assert {j.command for j in m.jobs if j.trial < 2} == {0}
    assert {j.command for j in m.jobs if j.trial == 2} == {1}
    assert m.jobs[0].point and m.jobs[0].seed == first[0].seed
    assert list(manifest.points_frame(m)["trial"]) == [0, 1, 2]
    before = manifest.path(tmp_path).read_bytes()
    other = SearchSpace.from_config({"name": "o", "dimensions": {
        "wd": {"knob": "regularization.weight_decay", "values": [0.1]}}})
    with pytest.raises(ConfigError, match="different space or seed"):
        manifest.add(tmp_path, "sw", other.to_dict(), 0, command(), first)
    with pytest.raises(ConfigError, match="different space or seed"):
        manifest.add(tmp_path, "sw", SPACE.to_dict(), 1, command(), first)
    changed = jobs(plan.SweepSettings(num_points=2), args=("suite=y",))
    with pytest.raises(ConfigError, match="already exists with other overrides"):
        manifest.add(tmp_path, "sw", SPACE.to_dict(), 0, command(), changed)
    assert manifest.path(tmp_path).read_bytes() == before  # refused ⇒ nothing written
    # another launcher (hpfree-resubmit DIR launcher=local) runs the same jobs
    manifest.add(tmp_path, "sw", SPACE.to_dict(), 0, command(),
                 jobs(plan.SweepSettings(num_points=2), args=("suite=x", "launcher=local")))
    manifest.update_states(tmp_path, {"t0000/a-s0": "completed"})
    assert manifest.load(tmp_path).job("t0000/a-s0").state == "completed"
    with pytest.raises(ConfigError, match="not a sweep directory"):
        manifest.load(tmp_path / "nope")


def write_record(run_dir: Path, state: str) -> None:
    records.write(run_dir, records.RunRecord(
        run_id=run_dir.name, status=state, runner="embedded", workload="digits_mlp",
        optimizer="nadamw", horizon=0.5, seed=0, metric="error_rate", target=0.1,
        direction="min", max_steps=10))


def hold_lock(run_dir: Path) -> subprocess.Popen:
    """Another process holding ``run_dir``'s lock (as a running job does)."""
    code = ("import sys, time; from hpfree.sweeps.locking import run_lock\n"
            "with run_lock(sys.argv[1]) as held:\n"
            "    print(held, flush=True); time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "True"
    return proc


def test_states_come_from_records_and_locks(tmp_path):
    for state in ("completed", "diverged", "failed", "preempted"):
        write_record(tmp_path / state, state)
        assert status.job_state(tmp_path / state) == state
    assert status.job_state(tmp_path / "never-started") == "missing"
    (tmp_path / "killed").mkdir()  # killed before its first record: a checkpoint at most
    assert status.job_state(tmp_path / "killed") == "missing"
    write_record(tmp_path / "stale", "running")  # says running, but nobody holds its lock
    assert status.job_state(tmp_path / "stale") == "preempted"
    holder = hold_lock(tmp_path / "live")
    try:
        assert status.job_state(tmp_path / "live") == "running"
        write_record(tmp_path / "live", "failed")
        assert status.job_state(tmp_path / "live") == "running"  # being resumed right now
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert status.job_state(tmp_path / "live") == "failed"  # the kernel dropped the lock
    assert set(status.RESUBMITTABLE) == {"missing", "failed", "preempted", "corrupt"}


def test_a_locked_run_is_skipped_never_run_twice(tmp_path):
    calls = []
    holder = hold_lock(tmp_path)
    try:
        assert locking.run_locked(tmp_path, calls.append, "x") is None
        assert calls == []
    finally:
        holder.kill()
        holder.wait()
    assert locking.run_locked(tmp_path, lambda v: calls.append(v) or v, "y") == "y"
    assert calls == ["y"] and not locking.is_locked(tmp_path)
    # re-entrant within a process (a lock in train.run may nest in the sweeper's)
    with locking.run_lock(tmp_path) as outer:
        with locking.run_lock(tmp_path) as inner:
            assert outer and inner
        assert locking.is_locked(tmp_path)  # still held by the outer block
    assert not locking.is_locked(tmp_path)


def test_status_summary_counts_per_state_workload_and_trial(tmp_path):
    js = jobs(plan.SweepSettings(num_points=2))
    manifest.add(tmp_path, "sw", SPACE.to_dict(), 0, command(), js)
    write_record(tmp_path / "t0000/a-s0", "completed")
    write_record(tmp_path / "t0000/b-s0", "diverged")
    write_record(tmp_path / "t0001/a-s0", "failed")
    m = manifest.load(tmp_path)
    states = status.job_states(tmp_path, m.jobs)
    assert states == {"t0000/a-s0": "completed", "t0000/b-s0": "diverged",
                      "t0001/a-s0": "failed", "t0001/b-s0": "missing"}
    text = status.summary(m, states, tmp_path)
    assert "4 jobs: 2 trials × 2 workloads" in text
    per_state = dict(line.split() for line in text.split("per state\n")[1].split("\n\n")[0]
                     .splitlines())
    assert per_state == {"completed": "1", "diverged": "1", "running": "0", "queued": "0",
                         "failed": "1", "preempted": "0", "missing": "1", "corrupt": "0"}
    assert "per workload" in text and "per trial" in text
    assert "2 jobs can be relaunched" in text


def test_jobs_slurm_has_queued_or_running_are_never_relaunched(tmp_path, monkeypatch):
    from hpfree.slurm import backend as slurm_backend
    from hpfree.slurm import jobs as slurm_jobs

    write_record(tmp_path / "requeued", "preempted")
    write_record(tmp_path / "done", "completed")
    # The SLURM back-end turns SLURM's states into the sweep tools' running / queued.
    monkeypatch.setattr(slurm_jobs, "live_jobs", lambda d: {
        "pending": "PENDING", "requeued": "REQUEUED", "starting": "RUNNING",
        "done": "COMPLETING"})
    live = slurm_backend.live(tmp_path)
    assert live == {"pending": "queued", "requeued": "queued", "starting": "running",
                    "done": "running"}
    assert status.job_state(tmp_path / "pending", live["pending"]) == "queued"
    assert status.job_state(tmp_path / "requeued", live["requeued"]) == "queued"
    assert status.job_state(tmp_path / "starting", live["starting"]) == "running"
    assert status.job_state(tmp_path / "done", live["done"]) == "completed"  # record wins
    js = [plan.Job(k, 0, 0, 0, "a", {}, {}, []) for k in ("pending", "requeued", "gone")]
    states = status.job_states(tmp_path, js, live={"pending": "queued", "requeued": "queued"})
    assert states == {"pending": "queued", "requeued": "queued", "gone": "missing"}
    assert status.live_jobs(tmp_path) == {}  # no slurm_jobs.json: SLURM is not asked


def plain_multirun(sweep: Path) -> None:
    """What a local ``hpfree-train -m launcher=slurm seed=0,1,2 ...`` leaves (no search)."""
    task = ["launcher=slurm", "seed=0,1,2", "workload.max_steps=9", "sweep_name=p"]
    OmegaConf.save(OmegaConf.create({
        "seed": 0, "sweep_name": "p", "workload": {"name": "digits_mlp"},
        "hydra": {"overrides": {"hydra": ["hydra.launcher.timeout_min=20",
                                          "hydra.mode=MULTIRUN"], "task": task},
                  "runtime": {"cwd": str(sweep)}, "sweeper": {"params": None}}}),
        sweep / "multirun.yaml")
    for seed, state in ((0, "completed"), (1, "failed")):
        run = sweep / "digits_mlp" / f"nadamw-s{seed}"
        write_record(run, state)
        (run / ".hydra").mkdir()
        OmegaConf.save(OmegaConf.create(["launcher=slurm", f"seed={seed}",
                                         "workload.max_steps=9", "sweep_name=p"]),
                       run / ".hydra" / "overrides.yaml")


def test_a_plain_multirun_is_a_sweep_too(tmp_path, capsys):
    from hpfree.cli import status as status_cli
    from hpfree.sweeps import multirun, resubmit

    plain_multirun(tmp_path)
    m = multirun.load_any(tmp_path)
    assert multirun.is_plain(m)
    states = status.job_states(tmp_path, m.jobs)
    # the seed=2 job has not started: only multirun.yaml knows it
    assert states == {"#0": "missing", "digits_mlp/nadamw-s0": "completed",
                      "digits_mlp/nadamw-s1": "failed"}
    assert m.job("#0").overrides == ["launcher=slurm", "seed=2", "workload.max_steps=9",
                                      "sweep_name=p"]
    assert {j.workload for j in m.jobs} == {"digits_mlp"}
    with pytest.raises(SystemExit) as info:
        status_cli.main([str(tmp_path), "--jobs"])
    assert info.value.code == 1  # a failed job (docs/faults.md)
    out = capsys.readouterr().out
    assert "3 jobs: a multirun over 1 workload(s)" in out and "per trial" not in out
    assert "seed=2" in out and "2 jobs can be relaunched" in out
    # relaunch = the multirun's own command; launcher=local replaces the SLURM settings
    logs: list[str] = []
    assert resubmit.resubmit(tmp_path, ["launcher=local"], dry_run=True, log=logs.append) == 0
    shown = "\n".join(logs)
    assert "relaunching 2 jobs (#0, digits_mlp/nadamw-s1)" in shown
    assert ("hpfree-train -m hydra.mode=MULTIRUN seed=0,1,2 workload.max_steps=9 sweep_name=p "
            "launcher=local") in shown


def test_status_cli_rejects_a_non_sweep_dir(tmp_path, capsys):
    from hpfree.cli import status as status_cli

    with pytest.raises(SystemExit) as info:
        status_cli.main([str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hpfree-status: error:") and "manifest.json" in err[0]


# -- through hpfree-train (real Hydra composition) ------------------------------------------

BAD = [
    (["search_space=nadamw", "hydra.sweeper.search_space.dimensions.learning_rate.low=0"],
     "log scale needs low > 0"),
    (["search_space=lr_free", "optimizer=dog"], "knob optimizer.b1 does not exist"),
    (["search_space=nadamw", "hydra.sweeper.search_space.dimensions.dropout.values=[0.0,1.5]"],
     "regularization.dropout=1.5 is outside [0, 1)"),
]


@pytest.mark.parametrize("args,needle", BAD, ids=[n for _, n in BAD])
def test_bad_search_is_one_line_exit_2_and_writes_nothing(workdir, args, needle):
    proc = hpfree(["-m", *args, "suite=smoke", f"sweeps_dir={workdir}/sweeps"], workdir)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("hpfree-train: error:"), proc.stderr
    assert needle in lines[0]
    assert list(workdir.iterdir()) == []


def dry_run(workdir: Path, *args: str) -> list[list[str]]:
    proc = hpfree(["-m", "search_space=nadamw", "suite=smoke", "hydra.sweeper.dry_run=true",
                   f"sweeps_dir={workdir}/sweeps", *args], workdir, check=True)
    rows = [ln.split() for ln in proc.stdout.splitlines() if ln.startswith("  t")]
    assert list(workdir.iterdir()) == []  # a dry run writes nothing
    return rows


def test_dry_run_plans_every_suite_workload_and_grows_by_prefix(workdir):
    wls = smoke_workloads()
    two = dry_run(workdir, "hydra.sweeper.num_points=2", *FAST)
    three = dry_run(workdir, "hydra.sweeper.num_points=3", *FAST)
    assert len(two) == 2 * len(wls) and len(three) == 3 * len(wls)
    assert three[:len(two)] == two  # same points, seeds and run directories
    for trial in range(3):
        assert sorted(r[0] for r in three if r[0].startswith(f"t{trial:04d}/")) == \
            sorted(f"t{trial:04d}/{w}-s0" for w in wls)
        overrides = [r[2:] for r in three if r[0].startswith(f"t{trial:04d}/")]
        points = {tuple(o for o in ov if o.split("=")[0].startswith(("optimizer.", "schedule.",
                                                                   "regularization.")))
                  for ov in overrides}
        assert len(points) == 1  # every workload of a trial gets the same point
