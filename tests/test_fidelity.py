"""hpfree-fidelity (issue 13): the study's data, the comparison measures, the CLI end to end."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import cli_env
from hpfree.fidelity import compare, study
from hpfree.scoring import ttt

NAIVE = ["cocob", "dadapt_adamw", "dog", "dowg", "mechanic_adamw", "mechanic_nadamw", "momo",
         "momo_adam", "prodigy"]


def test_table4_matches_the_study():
    # Values read in the study's Table 4 (shared/paper.txt, Section 4.1), row by column.
    t = study.table4_all()
    assert t.shape == (12, 9)  # 12 methods; optimizer + 8 workloads
    assert t.loc["D-Adapt (w. Adam)", "criteo1tb"] == 0.1236
    assert t.loc["DoWG", "imagenet_vit"] == 0.998
    assert t.loc["MoMo (w. Adam)", "imagenet_vit"] == 0.999
    assert t.loc["DoWG", "librispeech_conformer"] == 0.844
    assert t.loc["Prodigy", "wmt"] == 0.57
    assert t.loc["Mechanic (w. Nadam)", "wmt"] == 4.50
    assert t.loc["Mechanic", "ogbg"] == 0.045
    assert t.loc["NadamW", "fastmri"] == 0.723
    assert t.loc["COCOB", "librispeech_deepspeech"] == 0.149
    assert t.loc["DoG", "wmt"] == 26.34
    assert list(study.table4(NAIVE).index) == NAIVE
    # Table 2 (Section 3.1): targets and budgets.
    t2 = study.table2()
    assert t2.loc["wmt", "target"] == 30.85 and t2.loc["criteo1tb", "target"] == 0.1236
    assert t2.loc["librispeech_conformer", "target"] == 0.086
    assert t2.loc["imagenet_resnet", "max_steps"] == 559_998
    assert t2.loc["ogbg", "metric"] == "mAP"
    assert set(study.counterparts()) == {"mini_criteo", "mini_fastmri", "mini_resnet",
                                         "mini_vit", "mini_conformer", "mini_deepspeech",
                                         "mini_ogbg", "mini_wmt"}


def _study_against_itself():
    t4, t2 = study.table4(NAIVE), study.table2()
    return [compare.compare_workload(s, s, t4[s], t4[s], t2.loc[s, "metric"],
                                     t2.loc[s, "direction"], t2.loc[s, "target"],
                                     t2.loc[s, "target"], t2.loc[s, "chance"],
                                     t2.loc[s, "chance"]) for s in t2.index]


def test_collapse_rules_give_the_studys_nine_collapses_and_one_hit():
    comps = _study_against_itself()
    got = {(c.workload, m) for c in comps for m in c.study_collapsed}
    assert got == {("imagenet_vit", "dowg"), ("librispeech_conformer", "dowg"),
                   ("librispeech_deepspeech", "dowg"), ("wmt", "dowg"),
                   ("imagenet_vit", "momo_adam"), ("wmt", "momo_adam"), ("wmt", "prodigy"),
                   ("wmt", "mechanic_adamw"), ("wmt", "mechanic_nadamw")}
    tot = compare.totals(comps, cells=72)
    assert (tot.study_collapses, tot.reproduced, tot.extra) == (9, 9, 0)
    assert tot.study_hits == 1 and tot.mean_rho == pytest.approx(1.0)
    assert [c.study_hits for c in comps if c.study_hits] == [["dadapt_adamw"]]
    # Criteo: 0.1240 x2 (mechanic_adamw, momo_adam), 0.1241 x2 (mechanic_nadamw, prodigy).
    assert comps[0].study_ties == pytest.approx(2 / 36)


def test_collapse_thresholds_on_hand_values():
    # Error rate / WER: at or past the midpoint between the target and chance.
    assert compare.collapsed(0.55, "Error Rate", 0.2, 0.9)
    assert not compare.collapsed(0.54, "Error Rate", 0.2, 0.9)
    assert compare.collapsed(0.55, "WER", 0.1, 1.0) and not compare.collapsed(0.54, "WER", 0.1, 1.0)
    # A mini whose tuned target is 0.6 error: 0.7 is a model, 0.76 is nearer chance.
    assert not compare.collapsed(0.7, "Error Rate", 0.6, 0.9)
    assert compare.collapsed(0.76, "Error Rate", 0.6, 0.9)
    # No chance level known: only a run with no value collapses.
    assert not compare.collapsed(0.99, "Error Rate", 0.2)
    assert compare.collapsed(7.5, "BLEU", 30.0) and not compare.collapsed(7.6, "BLEU", 30.0)
    assert compare.collapsed(0.05, "mAP", 0.28) and not compare.collapsed(0.08, "mAP", 0.28)
    assert compare.collapsed(0.3, "SSIM", 0.8) and not compare.collapsed(0.5, "SSIM", 0.8)
    assert compare.collapsed(0.61, "CE", 0.4) and not compare.collapsed(0.59, "CE", 0.4)
    assert compare.collapsed(math.nan, "SSIM", 0.8) and compare.collapsed(None, "WER", 0.1, 1.0)
    # A missing target: only a run with no value at all collapses on a relative rule.
    assert not compare.collapsed(1.0, "BLEU", math.nan)
    with pytest.raises(KeyError):
        compare.collapse_threshold("perplexity", 1.0)


def test_spearman_and_counts_on_a_hand_made_table():
    methods = ["a", "b", "c", "d"]
    study_v = pd.Series([0.1, 0.2, 0.3, 0.9], index=methods)
    same = compare.compare_workload("w", "s", study_v, pd.Series([0.15, 0.25, 0.35, 0.65],
                                    index=methods), "Error Rate", "min", 0.2, 0.3, 0.9, 0.9)
    assert same.rho == pytest.approx(1.0)
    # study collapses d (0.9 >= (0.2 + 0.9) / 2); the mini collapses a (nan: ranks last) and
    # c (0.6 >= (0.15 + 0.9) / 2).
    other = compare.compare_workload("w", "s", study_v, pd.Series(
        [math.nan, 0.1, 0.6, 0.2], index=methods), "Error Rate", "min", 0.2, 0.15, 0.9, 0.9)
    # ranks: study 1,2,3,4; mini 4,1,3,2 -> rho = 1 - 6*(9+1+0+4)/(4*15) = -0.4
    assert other.rho == pytest.approx(-0.4)
    assert other.study_collapsed == ["d"] and other.mini_collapsed == ["a", "c"]
    assert other.reproduced == [] and other.extra == ["a", "c"]
    assert other.study_hits == ["a", "b"] and other.mini_hits == ["b"]
    tot = compare.totals([same, other], cells=8)
    assert (tot.study_collapses, tot.reproduced, tot.extra) == (2, 1, 2)
    assert tot.mean_rho == pytest.approx(0.3) and tot.mini_hits == 2 + 1
    # Ties everywhere on one side: no rank correlation.
    flat = pd.Series([0.3] * 4, index=methods)
    assert math.isnan(compare.spearman(study_v, flat, "min"))
    # A NaN target: nothing hits, nothing crashes.
    nan_t = compare.compare_workload("w", "s", study_v, study_v, "BLEU", "max", math.nan,
                                     math.nan)
    assert nan_t.mini_hits == [] and nan_t.mini_collapsed == []


def test_seed_noise():
    n = compare.seed_noise([100, 110, 120], 200)
    assert n.hits == 3 and n.spread == pytest.approx(20 / 110)
    assert n.fractions == [0.5, 0.55, 0.6]
    missed = compare.seed_noise([100, math.inf, 120], 200)
    assert missed.hits == 2 and math.isnan(missed.spread)


def test_scoring_a_run_whose_target_is_missing(tmp_path):
    # Regression: run_times raised TypeError (float(None)) on a record with target null.
    from hpfree import records

    run = tmp_path / "run"
    run.mkdir()
    records.write_curve(run, [{"step": 10, "train_seconds": 1.0, "validation/bleu": 5.0},
                              {"step": 20, "train_seconds": 2.0, "validation/bleu": 9.0}])
    base = {"workload": "w", "metric": "bleu", "direction": "max", "max_steps": 20,
            "steps": 20, "train_seconds": 2.0, "ttt_steps": None, "ttt_seconds": None,
            "best_metric": 9.0}
    table = pd.DataFrame([{**base, "target": None, "run_dir": str(run)},
                          {**base, "target": math.nan, "run_dir": str(run)},
                          {**base, "target": None, "run_dir": str(tmp_path / "no-curve")}])
    out = ttt.run_times(table)
    assert not out["hit"].any() and out["best"].tolist()[:2] == [9.0, 9.0]
    # Every record without a target (an object column of None), or a None in `targets`.
    only_none = table[table.target.isna()].astype({"target": object})
    only_none["target"] = None
    assert not ttt.run_times(only_none)["hit"].any()
    assert not ttt.run_times(table, targets={"w": None})["hit"].any()
    assert ttt.run_times(table, targets={"w": 8.0})["hit"].tolist() == [True, True, False]


def _fidelity(args, cwd, timeout=600):
    return subprocess.run([sys.executable, "-m", "hpfree.fidelity.cli", *args], cwd=cwd,
                          env=cli_env(cwd), capture_output=True, text=True, timeout=timeout)


def test_bad_method_is_one_line(tmp_path):
    proc = _fidelity(["suite=smoke", f"root={tmp_path}/exp", "naive=[adamx]"], tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("hpfree-fidelity: error: naive=['adamx']")
    assert not (tmp_path / "exp" / "naive").exists()
    bad_suite = _fidelity(["suite=nosuch", f"root={tmp_path}/exp"], tmp_path)
    assert bad_suite.returncode == 2 and len(bad_suite.stderr.strip().splitlines()) == 1
    assert "suite=nosuch" in bad_suite.stderr and "mini, single, smoke" in bad_suite.stderr
    page = _fidelity(["--help"], tmp_path)
    assert page.returncode == 0 and "Knobs (key=value)" in page.stdout
    assert "counterparts" in page.stdout


@pytest.mark.slow
def test_smoke_fidelity_end_to_end_and_resume(tmp_path):
    args = ["suite=smoke", f"root={tmp_path}/exp", f"report={tmp_path}/fidelity.md",
            "naive=[prodigy,dog,dowg]", "seeds=2",
            '\'counterparts=["digits_mlp:imagenet_vit","digits_cnn:imagenet_resnet"]\''[1:-1],
            'overrides=["workload.max_steps=20","workload.eval_every=10"]']
    proc = _fidelity(args, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = (tmp_path / "fidelity.md").read_text()
    assert "hpfree-fidelity suite=smoke" in report and "| digits_cnn | imagenet_resnet |" in report
    cells = pd.read_csv(tmp_path / "fidelity" / "cells.csv")
    assert len(cells) == 2 * 3 and cells["mini"].notna().all()
    assert set(cells.method) == {"prodigy", "dog", "dowg"}
    per = pd.read_csv(tmp_path / "fidelity" / "workloads.csv")
    assert per.loc[per.workload == "digits_cnn", "study_collapsed"].isna().all()  # none on ResNet
    assert (tmp_path / "fidelity" / "ranks.png").stat().st_size > 0
    seeds = list((tmp_path / "exp" / "nadamw-seeds").rglob("record.json"))
    assert len(seeds) == 2 * 2
    # A hand-written section survives a rewrite; nothing is re-run.
    (tmp_path / "fidelity.md").write_text(report + "notes kept\n")
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "exp").rglob("record.json")}
    again = _fidelity(args, tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "hpfree-train" not in again.stdout
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "exp").rglob("record.json")} == mtimes
    assert (tmp_path / "fidelity.md").read_text().endswith("notes kept\n")
    # A cell without a current run (here removed; likewise after its workload changed) is
    # trained again although the naive stage is marked done; nothing else is re-run.
    gone = next(p for p in mtimes if "/naive/" in str(p) and p.parent.name.startswith("dog-"))
    shutil.rmtree(gone.parent)
    third = _fidelity(args, tmp_path)
    assert third.returncode == 0, third.stderr[-2000:]
    assert "naive: 1 cells have no run" in third.stdout and gone.exists()
    assert {p: p.stat().st_mtime_ns for p in mtimes if p != gone} == \
        {p: m for p, m in mtimes.items() if p != gone}


def test_only_runs_of_the_current_workload_config_are_scored():
    import dataclasses

    from hpfree.fidelity.protocol import Fidelity, FidelityConfig
    from hpfree.workloads import registry

    now = dataclasses.asdict(registry.get_config_class("digits_cnn")())
    old_target = {**now, "target": 0.5}          # only the target changed: still current
    other_data = {**now, "max_steps": now["max_steps"] + 1}

    def row(wl_cfg, finished, best):
        return {"workload": "digits_cnn", "optimizer": "dog", "seed": 0, "best": best,
                "finished_at": finished, "config": {"workload": wl_cfg}}

    # A run made before a field was added to the workload (e.g. mini_resnet's stem_stride).
    older_code = {k: v for k, v in now.items() if k != "data_seed"}
    table = pd.DataFrame([row(old_target, "2026-01-01T00:00:00", 0.1),
                          row(other_data, "2026-01-03T00:00:00", 0.2),
                          row(older_code, "2026-01-04T00:00:00", 0.4),
                          row(now, "2026-01-02T00:00:00", 0.3)])
    kept = Fidelity(FidelityConfig(suite="smoke"), "test").current(table)
    assert kept["best"].tolist() == [0.3]


def test_seed_runs_count_only_at_the_calibrated_point():
    """After a recalibration moves the NadamW point, the old point's seed runs are left out."""
    from hpfree.fidelity.protocol import at_calibrated_point, calibrated_point

    point, fraction = calibrated_point("mini_criteo")
    knobs = {k: float(v) for k, v in (p.split("=") for p in point)}
    lr = knobs["optimizer.learning_rate"]

    def row(lr_, fraction_=fraction, optimizer="nadamw"):
        config = {"horizon": {"fraction": fraction_}}
        for key, value in {**knobs, "optimizer.learning_rate": lr_}.items():
            group, name = key.split(".")
            config.setdefault(group, {})[name] = value
        return {"workload": "mini_criteo", "optimizer": optimizer, "config": config}

    assert at_calibrated_point(row(lr))
    assert not at_calibrated_point(row(lr / 3))
    assert not at_calibrated_point(row(lr, fraction_=0.66))
    assert not at_calibrated_point(row(lr, optimizer="adamw"))


def test_metric_noise_reads_a_finished_run_back(tmp_path):
    """scripts/metric_noise.py rebuilds a finished run's final state from its checkpoint: its
    per-slice SSIM averages to the runner's own last evaluation."""
    import json

    from conftest import hpfree

    hpfree(["-m", "workload=mini_fastmri", "optimizer=nadamw", "horizon=h100",
            "workload.max_steps=20", "workload.eval_every=10", f"sweeps_dir={tmp_path}/exp",
            "sweep_name=one", "progress=false"], tmp_path, check=True)
    (run_dir,) = [p.parent for p in (tmp_path / "exp").rglob("record.json")]
    final = json.loads((run_dir / "record.json").read_text())["final_metric"]
    proc = subprocess.run([sys.executable, "scripts/metric_noise.py", "--workloads",
                           "mini_fastmri", "--run-dir", str(run_dir), "--resamples", "50"],
                          cwd=Path(__file__).resolve().parents[1], env=cli_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = next(l for l in proc.stdout.splitlines() if l.startswith("| mini_fastmri |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "20" and cells[3] == "200" and cells[4] == "ssim"
    assert float(cells[5]) == pytest.approx(final, abs=1e-4)
    assert 0 < float(cells[6]) < 0.05


def test_median_seed_target_and_its_hits():
    naive = pd.Series([0.30, 0.25, 0.21, math.nan], index=["a", "b", "c", "d"])
    # seeds' bests 0.20, 0.24, 0.22: AlgoPerf's median rule gives 0.22 (worst seed: 0.24)
    assert compare.median_seed_hits(naive, [0.20, 0.24, 0.22], "min") == (0.22, 1)
    assert compare.median_seed_hits(pd.Series([30.0, 29.0]), [28.0, 31.0, 30.0], "max") == (30.0, 1)
    target, hits = compare.median_seed_hits(naive, [], "min")
    assert math.isnan(target) and hits == 0
