"""Bad input: one line on stderr, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import pytest

from conftest import hpfree

BAD = [
    (["optimizer=nosuchopt"], "optimizer/nosuchopt"),
    (["horizon.fraction=0"], "horizon.fraction=0.0"),
    (["horizon.fraction=1.5"], "horizon.fraction=1.5"),
    (["regularization.weight_decay=-0.1"], "weight_decay=-0.1"),
    (["regularization.dropout=1.2"], "dropout=1.2"),
    (["optimizer.bb2=0.99"], "bb2"),
    (["workload=nosuchworkload"], "workload/nosuchworkload"),
    (["horizon.fraction=abc"], "horizon.fraction"),
    (["workload=algoperf_ogbg"], "runner=algoperf"),
    (["experiment=smoke"], "hpfree-reproduce experiment=smoke"),
    (["logger=nosuchlogger"], "logger/nosuchlogger"),
    # In a multirun the bad job is the last one: still nothing runs.
    (["-m", "optimizer=adamw,nadamw", "horizon.fraction=0.5,1.5"], "horizon.fraction=1.5"),
]


@pytest.mark.parametrize("args,needle", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_writes_nothing(workdir, args, needle):
    proc = hpfree([*args, f"runs_dir={workdir}/runs", f"sweeps_dir={workdir}/sweeps"], workdir)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("hpfree-train: error:")
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert sorted(p.name for p in workdir.iterdir()) == []  # nothing written, not even dirs


def test_error_names_allowed_values(workdir):
    proc = hpfree(["optimizer=nosuchopt", f"runs_dir={workdir}/runs"], workdir)
    assert "adamw" in proc.stderr and "nadamw" in proc.stderr
    assert "base_" not in proc.stderr


def test_help_is_hpfrees_own_page(workdir):
    proc = hpfree(["--help"], workdir)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "powered by Hydra" not in out and "base_" not in out
    for group in ("optimizer", "workload", "suite", "horizon", "schedule", "regularization",
                  "runner", "launcher", "search_space", "logger"):
        assert f"\n  {group} " in out
    assert "[nadamw]" in out and "[digits_mlp]" in out and "prodigy" in out  # defaults marked
    for command in ("hpfree-score", "hpfree-status", "hpfree-resubmit", "hpfree-reproduce"):
        assert command in out
    assert "Examples:" in out and "optimizer.learning_rate" in out
    assert not list(workdir.iterdir())
    hydra_page = hpfree(["--hydra-help"], workdir)
    assert hydra_page.returncode == 0 and "Hydra" in hydra_page.stdout
