"""The TPU launcher through a real transport: sshd servers on this machine stand in for slices.

``scripts/sshd_slices.sh`` starts one sshd per fake slice (a throwaway host key, one
authorized key); the launcher reaches them with plain ssh, exactly as it would reach TPU VM
workers with ``hydra.launcher.transport=ssh``.  The tests that need sshd skip with the reason
when it cannot be started, except under CI (``CI=true``), where they fail instead.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, cli_env
from hpfree import records
from hpfree.errors import ConfigError
from hpfree.tpu import remote
from hpfree.tpu.pool import classify
from hpfree.tpu.slices import parse_slices
from hpfree.tpu.transport import GcloudTransport

SCRIPT = REPO / "scripts" / "sshd_slices.sh"
FAST = ["workload.max_steps=60", "workload.eval_every=30", "progress=true"]


# --------------------------------------------------------------------------- helpers
def free_ports(n: int) -> list[int]:
    """``n`` distinct ports nothing listens on now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port_pair() -> int:
    """A port p such that p and p + 1 are free (coordinator ports of two slices)."""
    for _ in range(100):
        (p,) = free_ports(1)
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


class Slices:
    """Three sshd 'slices' on 127.0.0.1; the third is started, then stopped (a dead slice)."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "sshd"
        self.ports = free_ports(3)
        self.live, self.dead = self.ports[:2], self.ports[2]

    def script(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                              timeout=600)

    def launcher_args(self, slices: dict[str, list[int]], work: Path) -> list[str]:
        spec = ",".join("{name:%s,hosts:[%s]}" % (name, ",".join(f"'127.0.0.1:{p}'" for p in ports))
                        for name, ports in slices.items())
        bin_dir = Path(sys.executable).parent  # the venv running the tests, not resolved
        cache = cli_env(work)["HPFREE_JAX_CACHE"]
        return [
            "launcher=tpu", "hydra.launcher.transport=ssh", f"hydra.launcher.slices=[{spec}]",
            f"hydra.launcher.ssh.identity_file={self.dir}/id_ed25519",
            f"+hydra.launcher.ssh.options.UserKnownHostsFile={self.dir}/known_hosts",
            "+hydra.launcher.ssh.options.StrictHostKeyChecking=no",
            "+hydra.launcher.ssh.options.LogLevel=ERROR",
            f"hydra.launcher.setup=['cd {REPO}','export PATH={bin_dir}:$PATH']",
            "+hydra.launcher.env.JAX_PLATFORMS=cpu",
            f"+hydra.launcher.env.HPFREE_JAX_CACHE={cache}",
            f"+hydra.launcher.env.HPFREE_WORKER_SCRATCH={work}/scratch",
            f"hydra.launcher.remote_tmp={work}/remote_tmp",
            f"hydra.launcher.coordinator_port={free_port_pair()}",
            "hydra.launcher.stop_grace_s=60", "hydra.launcher.init_timeout_s=120",
            f"sweeps_dir={work}/sweeps",
        ]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    slices = Slices(tmp_path_factory.mktemp("tpu"))
    up = slices.script("up", str(slices.dir), *map(str, slices.ports))
    if up.returncode == 0:
        down = slices.script("down", str(slices.dir), str(slices.dead))
        assert down.returncode == 0, down.stderr
    if up.returncode != 0:
        reason = f"cannot start sshd for fake TPU slices: {up.stderr.strip()[-300:]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    yield slices
    slices.script("down", str(slices.dir))


def sweep(args: list[str], work: Path, timeout: float = 500) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "hpfree.cli.train", "-m", *args]
    proc = subprocess.run(cmd, cwd=work, env=cli_env(work), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def journal(work: Path) -> list[dict]:
    path = work / "sweeps" / "sweep" / "tpu_launcher.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def processes_of(run_dir: Path) -> list[int]:
    """Pids of live processes whose command line names ``run_dir`` as their Hydra run dir."""
    marker = f"hydra.run.dir={run_dir}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().split(b"\0"):
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


# --------------------------------------------------------------------------- through real ssh
@pytest.mark.slow
def test_two_run_sweep_over_two_slices(sshd, tmp_path):
    """Two runs, two slices (one of two workers): each run on its own slice, records written."""
    args = ["optimizer=adamw,nadamw", *FAST,
            *sshd.launcher_args({"pod": [sshd.live[0], sshd.live[0]], "vm": [sshd.live[1]]},
                                tmp_path)]
    out = sweep(args, tmp_path)
    table = records.load_records([tmp_path / "sweeps"])
    assert sorted(table["optimizer"]) == ["adamw", "nadamw"], out.stdout + out.stderr
    assert set(table["status"]) == {"completed"}
    assert set(table["steps"]) == {40}  # h66 of 60 steps

    attempts = journal(tmp_path)
    assert sorted(a["slice"] for a in attempts) == ["pod", "vm"]  # one run per slice
    assert all(a["outcome"] == "completed" for a in attempts)
    pod = next(a for a in attempts if a["slice"] == "pod")
    assert pod["returncodes"] == [0, 0]
    # The pod slice's run was started on both workers, as one 2-process JAX program.
    logs = Path(pod["run_dir"]) / "launcher"
    assert "process 0 of 2" in (logs / "a1-pod-w0.log").read_text()
    assert "process 1 of 2" in (logs / "a1-pod-w1.log").read_text()
    # Only process 0 wrote the shared run directory; process 1's local copy is gone.
    assert len(pd.read_csv(Path(pod["run_dir"]) / "curve.csv")) == 2
    assert (tmp_path / "scratch" / "hpfree-workers").is_dir()  # process 1 ran there...
    assert not any((tmp_path / "scratch").rglob("record.json"))  # ...and cleaned up


@pytest.mark.slow
def test_run_leaves_a_failed_slice_for_another(sshd, tmp_path):
    """A slice whose second worker's sshd is down: the run is stopped there and finishes on
    the other slice; the broken slice leaves the pool and no process is left behind."""
    args = ["seed=3", *FAST,
            *sshd.launcher_args({"broken": [sshd.live[0], sshd.dead], "good": [sshd.live[1]]},
                                tmp_path)]
    out = sweep(args, tmp_path)
    first, second = journal(tmp_path)
    assert (first["slice"], first["outcome"]) == ("broken", "lost")
    assert f"127.0.0.1:{sshd.dead}" in first["slice_problem"]
    assert (second["slice"], second["outcome"]) == ("good", "completed")
    assert "slice broken leaves the pool" in out.stdout + out.stderr
    run_dir = Path(second["run_dir"])
    assert records.load(run_dir).status == "completed"
    assert processes_of(run_dir) == []


@pytest.mark.slow
def test_preempted_run_resumes_on_another_slice(sshd, tmp_path):
    """SIGTERM to the run on its slice (what a preemption does): it checkpoints, and the
    launcher re-runs it on the other slice, where it resumes and completes."""
    # A checkpoint (and the curve) at every evaluation: once the curve has rows, the run is
    # inside its training loop, where SIGTERM means "checkpoint and stop".
    args = ["seed=5", "horizon=h100", "workload.max_steps=6000", "workload.eval_every=100",
            "runner.checkpoint_every_s=0",
            *sshd.launcher_args({"first": [sshd.live[0]], "second": [sshd.live[1]]}, tmp_path)]
    cmd = [sys.executable, "-m", "hpfree.cli.train", "-m", *args]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=cli_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 300
        run_dir = None
        while time.time() < deadline and run_dir is None:
            for curve in (tmp_path / "sweeps").rglob("curve.csv"):
                if len(curve.read_text().splitlines()) >= 3:
                    run_dir = curve.parent
            assert proc.poll() is None, f"sweep ended before the preemption:\n{proc.stdout.read()}"
            time.sleep(0.05)
        assert run_dir is not None, "the run made no progress"
        pidfile = tmp_path / "remote_tmp" / f"{remote.job_key(str(run_dir))}-w0.pid"
        pid = int(pidfile.read_text())
        assert pid in processes_of(run_dir)
        os.kill(pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    first, second = journal(tmp_path)
    assert (first["slice"], first["outcome"]) == ("first", "preempted"), output
    assert (second["slice"], second["outcome"]) == ("second", "completed"), output
    rec = records.load(run_dir)
    assert (rec.status, rec.steps, rec.preemptions) == ("completed", 6000, 1)
    steps = pd.read_csv(run_dir / "curve.csv")["step"].tolist()
    assert steps == list(range(100, 6001, 100))  # resumed where it stopped: no gap, no repeat


# --------------------------------------------------------------------------- no sshd needed
def test_slice_config_errors_are_one_line():
    with pytest.raises(ConfigError, match="slices is empty"):
        parse_slices([], "gcloud")
    with pytest.raises(ConfigError, match="unknown; choose gcloud or ssh"):
        parse_slices([{"name": "a"}], "scp")
    with pytest.raises(ConfigError, match=r"slices\[0\] \(a\) lists no hosts"):
        parse_slices([{"name": "a"}], "ssh")
    with pytest.raises(ConfigError, match="workers=3 but 2 hosts"):
        parse_slices([{"name": "a", "hosts": ["h1", "h2"], "workers": 3}], "ssh")
    with pytest.raises(ConfigError, match="port 70000 outside"):
        parse_slices([{"name": "a", "hosts": ["h1:70000"]}], "ssh")
    with pytest.raises(ConfigError, match="names a more than once"):
        parse_slices([{"name": "a"}, {"name": "a"}], "gcloud")
    a, b = parse_slices([{"name": "a", "hosts": ["me@h1:2222", "h2"]}, {"name": "b", "hosts": ["h1"]}],
                        "ssh", coordinator_port=9000)
    assert (a.workers, a.hosts[0].target(), a.hosts[0].port, a.coordinator) == (2, "me@h1", 2222,
                                                                                 "h1:9000")
    assert b.coordinator == "h1:9001"  # slices sharing a worker-0 host get distinct ports


def test_gcloud_commands():
    (slc,) = parse_slices([{"name": "hp-a", "zone": "us-central2-b", "project": "p",
                            "workers": 4}], "gcloud")
    t = GcloudTransport(extra_args=["--quiet"])
    argv = t.ssh_argv(slc, "bash -c 'hpfree-train'")
    assert argv == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "hp-a", "--zone=us-central2-b",
                    "--project=p", "--worker=all", "--command=bash -c 'hpfree-train'", "--quiet"]
    assert t.describe_argv(slc)[4:] == ["describe", "hp-a", "--zone=us-central2-b",
                                        "--project=p", "--format=value(state)"]
    assert t.worker_env(slc) == {"HPFREE_MULTIHOST": "1"}  # JAX finds the rest on TPU VMs


def test_classify_attempts():
    def rec(status, error=None):
        return records.RunRecord(run_id="r", status=status, runner="embedded", workload="w",
                                 optimizer="o", horizon=1.0, seed=0, metric="m", target=0.0,
                                 direction="min", max_steps=1, error=error)

    assert classify([0, 0], rec("completed"))[0] == "completed"
    assert classify([0], rec("diverged"))[0] == "diverged"
    assert classify([0], rec("preempted"))[0] == "preempted"
    assert classify([0, 255], rec("completed"))[0] == "lost"
    assert classify([0, 1], rec("completed"))[0] == "failed"
    assert classify([0], rec("failed", "ValueError: boom")) == ("failed", "ValueError: boom")
    assert classify([0], None)[0] == "failed"


def test_remote_scripts_quote_and_stop_only_their_run(tmp_path):
    """The run script passes overrides through the shell intact; the stop script signals the
    process named in a pid file only if it is that run's process."""
    odd = ["a='x y'", "b=$HOME", 'c="q"', "d=[1,2]"]
    script = remote.run_script(command="printf '%s\\n'", overrides=odd, run_dir=str(tmp_path / "r"),
                               setup=["cd /"], env={"V": "1 2"}, remote_tmp=str(tmp_path / "t"),
                               worker_tag="w0")
    out = subprocess.run(["bash", "-c", remote.wrap(script)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == [*odd, f"hydra.run.dir={tmp_path / 'r'}"]

    run_dir = str(tmp_path / "run")
    tmp = tmp_path / "t"
    key = remote.job_key(run_dir)
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)",
                             f"hydra.run.dir={run_dir}"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (tmp / f"{key}-w0.pid").write_text(f"{ours.pid}\n")
        (tmp / f"{key}-w1.pid").write_text(f"{other.pid}\n")  # stale: a reused pid
        subprocess.run(["bash", "-c", remote.wrap(remote.stop_script(run_dir=run_dir,
                                                                      remote_tmp=str(tmp)))],
                       check=True, timeout=30)
        assert ours.wait(timeout=30) == -signal.SIGTERM
        assert other.poll() is None
    finally:
        for p in (ours, other):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_the_tpu_backend_lists_the_jobs_its_journal_names(tmp_path):
    import json

    from hpfree.sweeps import backends
    from hpfree.tpu.backend import JOURNAL

    assert "tpu" not in [b.name for b in backends.owning(tmp_path)]
    lines = [json.dumps({"run_dir": str((tmp_path / "digits_mlp" / f"r{i}").resolve()),
                         "overrides": [f"seed={i}"], "outcome": "completed"}) for i in (0, 1)]
    (tmp_path / JOURNAL).write_text("\n".join(lines) + '\n{"run_dir": "cut by a ki')
    assert "tpu" in [b.name for b in backends.owning(tmp_path)]
    assert backends.submitted(tmp_path) == {"digits_mlp/r0": ["seed=0"],
                                           "digits_mlp/r1": ["seed=1"]}
    assert backends.live(tmp_path) == {}  # nothing queued: jobs run while the sweep waits


def test_a_trial_batch_reaches_its_slice_as_one_run_naming_its_points(tmp_path):
    """``runner.trial_batch=2`` on a 3-point search: the sweeper gives the TPU launcher 2 jobs
    (a batch's first point's overrides plus ``batch_with=[...]``); a slice runs exactly that,
    minus the launcher choice, through the remote shell intact — the run it starts trains
    every point it names (the remote side: test_trial_batch's resubmission test)."""
    from hydra_plugins.hpfree_tpu_launcher.launcher import remote_overrides
    from omegaconf import OmegaConf

    import hpfree.conf
    from hpfree.sweeps import batches, plan
    from hpfree.sweeps.space import SearchSpace

    node = OmegaConf.load(Path(hpfree.conf.__file__).parent / "search_space" / "nadamw.yaml")
    space = SearchSpace.from_config(node.hydra.sweeper.search_space)
    jobs = plan.make_jobs(space, plan.SweepSettings(num_points=3), ["digits_mlp"],
                          ["launcher=tpu", "runner.trial_batch=2"], "tb")
    units = batches.group(jobs, 2)
    assert [[j.key for j in u] for u in units] == [[jobs[0].key, jobs[1].key], [jobs[2].key]]
    sent = [remote_overrides(batches.overrides(u)) for u in units]
    assert not any(o.startswith("launcher=") for o in sent[0] + sent[1])
    assert batches.members(sent[0]) == [jobs[1].key] and batches.members(sent[1]) == []
    assert sent[0][:-1] == remote_overrides(jobs[0].overrides)  # the first point's own

    run_dir = str(tmp_path / "tb" / jobs[0].key)
    script = remote.run_script(command="printf '%s\\n'", overrides=sent[0], run_dir=run_dir,
                               setup=[], env={}, remote_tmp=str(tmp_path / "t"),
                               worker_tag="w0")
    out = subprocess.run(["bash", "-c", remote.wrap(script)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == [*sent[0], f"hydra.run.dir={run_dir}"]
    assert batches.members(out) == [jobs[1].key]
