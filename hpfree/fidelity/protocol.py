"""The runs behind a fidelity report, all resumable (a finished run is never re-run).

1. the study's naive protocol (``hpfree-reproduce``'s naive stage: authors' defaults,
   ``schedule=none regularization=none horizon=h100``) for the methods of Table 4, into
   ``ROOT/naive``;
2. the calibrated NadamW baseline (the point and horizon fraction that
   ``scripts/calibrate_targets.py`` recorded in ``hpfree/workloads/calibration.json``; the
   NadamW defaults at 3/4 of the budget for a workload it never calibrated) with ``seeds``
   seeds per workload, into ``ROOT/nadamw-seeds``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from hpfree import records
from hpfree.reproduce import (ReproduceConfig, Reproduction, TrainFn, cli_train,
                              made_with_current_config)

SEEDS_SWEEP = "nadamw-seeds"
CALIBRATION_JSON = Path(__file__).resolve().parents[1] / "workloads" / "calibration.json"
DEFAULT_FRACTION = 0.75


@dataclass
class FidelityConfig:
    """Knobs of ``hpfree-fidelity`` (``key=value`` on its command line)."""

    suite: str = "mini"
    root: str = "experiments/fidelity-${suite}"   # the runs
    report: str = "docs/fidelity.md"               # + CSV and PNG in <stem>/ next to it
    naive: list[str] = field(default_factory=lambda: [
        "cocob", "dadapt_adamw", "dog", "dowg", "mechanic_adamw", "mechanic_nadamw",
        "momo", "momo_adam", "prodigy"])
    seeds: int = 3
    launcher: str = "local"
    runner: str = "embedded"
    overrides: list[str] = field(default_factory=list)   # added to every training job
    # Suite workload → the study's workload (Table 2 names) it stands for; the mini suite's
    # counterparts (table2.csv's `mini` column) unless given.
    # As `WORKLOAD:STUDY_WORKLOAD` strings (`'counterparts=["digits_cnn:imagenet_resnet"]'`).
    counterparts: list[str] = field(default_factory=list)
    # Which parts to run: `runs` trains what is missing, `report` writes the report from
    # whatever is final.
    stages: list[str] = field(default_factory=lambda: ["runs", "report"])

    def __post_init__(self) -> None:
        from hpfree.errors import ConfigError
        from hpfree.fidelity import study

        if self.seeds < 1:
            raise ConfigError(f"seeds={self.seeds} must be >= 1")
        bad = [s for s in self.stages if s not in ("runs", "report")]
        if bad:
            raise ConfigError(f"unknown stage(s) {bad}; choose from runs, report")
        known = set(study.table4().index)
        missing = [o for o in self.naive if o not in known]
        if missing:
            raise ConfigError(f"naive={missing}: not in the study's Table 4 (known: "
                              f"{', '.join(sorted(known))})")
        bad = [p for p in self.counterparts if p.count(":") != 1]
        if bad:
            raise ConfigError(f"counterparts={bad}: write each as WORKLOAD:STUDY_WORKLOAD")
        unknown = sorted(set(self.pairs().values()) - set(study.table2().index))
        if unknown:
            raise ConfigError(f"counterparts: {unknown} are not workloads of the study "
                              f"(choose from {', '.join(study.table2().index)})")

    def pairs(self) -> dict[str, str]:
        return dict(p.split(":") for p in self.counterparts)


def calibrated_point(workload: str) -> tuple[list[str], float]:
    """The calibrated NadamW's overrides and schedule fraction for ``workload``."""
    cal = json.loads(CALIBRATION_JSON.read_text()) if CALIBRATION_JSON.exists() else {}
    entry = cal.get(workload, {})
    point = [f"{k}={v}" for k, v in sorted(entry.get("best_point", {}).items())]
    return point, float(entry.get("fraction", DEFAULT_FRACTION))


def at_calibrated_point(row: dict) -> bool:
    """Whether a record is the calibrated NadamW of its workload as ``calibration.json`` says
    today (a recalibration that moves the point leaves the old seed runs out)."""
    cfg = row.get("config") or {}
    if row.get("optimizer") != "nadamw":
        return False
    point, fraction = calibrated_point(row["workload"])
    wanted = [("horizon.fraction", fraction), *(tuple(p.split("=", 1)) for p in point)]
    cfg = OmegaConf.create(cfg)
    for key, value in wanted:
        node = OmegaConf.select(cfg, key)
        try:
            if node is None or not math.isclose(float(node), float(value), rel_tol=1e-9):
                return False
        except (TypeError, ValueError):
            if str(node) != str(value):
                return False
    return True


class Fidelity:
    def __init__(self, cfg: FidelityConfig, command: str, train: TrainFn = cli_train):
        self.cfg = cfg
        self.root = Path(cfg.root)
        self.command = command
        self.train = train

    def workloads(self) -> list[str]:
        from hpfree.errors import ConfigError
        from hpfree.preflight import compose_config, one_line

        try:
            return list(compose_config([f"suite={self.cfg.suite}"]).suite.workloads)
        except ConfigError:
            raise
        except Exception as exc:  # Hydra's "could not find suite/x" and its list of options
            raise ConfigError(f"suite={self.cfg.suite}: {one_line(exc)}") from None

    def counterparts(self) -> dict[str, str]:
        from hpfree.fidelity import study

        if self.cfg.counterparts:
            return self.cfg.pairs()
        return {w: s for w, s in study.counterparts().items() if w in self.workloads()}

    def reproduction(self) -> Reproduction:
        c = self.cfg
        rcfg = ReproduceConfig(name=f"fidelity-{c.suite}", root=str(self.root),
                               report=str(self.root / "report"), suite=c.suite,
                               naive=list(c.naive), baselines=[], launcher=c.launcher,
                               runner=c.runner, overrides=list(c.overrides), stages=["naive"])
        return Reproduction(rcfg, self.command, train=self.train)

    def seed_commands(self) -> list[list[str]]:
        c = self.cfg
        out = []
        for w in self.counterparts():
            point, fraction = calibrated_point(w)
            out.append(["-m", "optimizer=nadamw", f"workload={w}",
                        f"horizon.fraction={fraction}", f"horizon.name=h{round(fraction * 100)}",
                        *point, f"seed={','.join(str(s) for s in range(c.seeds))}",
                        f"launcher={c.launcher}", f"runner={c.runner}",
                        f"sweeps_dir={self.root.resolve()}", f"sweep_name={SEEDS_SWEEP}",
                        "progress=false", *c.overrides])
        return out

    def run(self) -> None:
        """Train whatever is missing (the naive stage first, then the baseline's seeds).

        A stage's done marker is trusted only while every cell of it has a final run made
        with its workload's *current* config: after a workload is reworked (the point of
        this tool), re-running the command trains that workload's cells again — the sweeps
        skip every run that is already final, so nothing else is re-run."""
        self.root.mkdir(parents=True, exist_ok=True)
        rep = self.reproduction()
        naive_missing, seeds_missing = self.missing()
        if rep.done("naive") and naive_missing:
            print(f"[fidelity] naive: {naive_missing} cells have no run with their workload's "
                  "current config; training them", flush=True)
            for args in rep.naive_commands():
                self.train(args)
            rep.mark_done("naive", [self.root / "naive"])
        rep.stage_naive()
        if not rep.done(SEEDS_SWEEP) or seeds_missing:
            for args in self.seed_commands():
                self.train(args)
            rep.mark_done(SEEDS_SWEEP, [self.root / SEEDS_SWEEP])

    def missing(self) -> tuple[int, int]:
        """(naive cells, seed runs) without a final run of their workload's current config."""
        if not self.root.exists():
            return 0, 0
        naive, seeds = self.results()
        pairs = self.counterparts()
        have = set(zip(naive["workload"], naive["optimizer"]))
        cells = sum((w, m) not in have for w in pairs for m in self.cfg.naive)
        counts = seeds.groupby("workload").size() if len(seeds) else pd.Series(dtype=int)
        runs = sum(max(self.cfg.seeds - int(counts.get(w, 0)), 0) for w in pairs)
        return cells, runs

    def current(self, table: pd.DataFrame) -> pd.DataFrame:
        """The runs made with each workload's *current* config (a workload changed since an
        earlier run, e.g. a larger validation set, leaves that run out; a changed target
        alone does not), the newest per (workload, optimizer, seed)."""
        if table.empty:
            return table
        table = table[made_with_current_config(table, self.cfg.overrides)]
        return (table.sort_values("finished_at")
                .drop_duplicates(["workload", "optimizer", "seed"], keep="last"))

    def results(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(naive runs, seed runs): final runs of this suite with ``best``/``ttt_steps``
        recomputed from their curves against the workloads' *current* targets."""
        from hpfree.fidelity.compare import targets_of
        from hpfree.scoring import ttt

        wl = self.workloads()
        targets = {w: t for w, t in targets_of(wl).items()}
        out = []
        for sub, keep in (("naive", lambda t: t[t.optimizer.isin(self.cfg.naive)]),
                          (SEEDS_SWEEP, lambda t: t[[at_calibrated_point(r) for r in
                                                      t.to_dict("records")]])):
            table = records.load_records([self.root / sub]) if (self.root / sub).exists() \
                else pd.DataFrame()
            if not table.empty:
                table = table[table.status.isin(records.FINAL_STATUSES)
                              & table.workload.isin(wl)]
                table = keep(table)
                table = self.current(table)
            if table.empty:
                out.append(pd.DataFrame(columns=["workload", "optimizer", "best", "ttt_steps",
                                                 "max_steps", "seed", "status"]))
                continue
            out.append(ttt.run_times(table, targets=targets))
        return out[0], out[1]

