"""The paper's protocol in four resumable stages, at any scale.

1. **naive** — every learning-rate-free optimizer with its literature defaults, no schedule,
   no regularization, against AdamW/NadamW with evidence-based defaults (the paper's Table 4).
2. **search** — per (algorithm, horizon) a quasi-random search over the Table 3 space; one
   trial = one point on every workload of the suite.
3. **select** — rank each search's trials by geometric-mean time-to-target, re-run the top-k
   with ``seeds`` fresh seeds, score the pool of re-run candidates together and keep, per
   (algorithm, horizon), the one with the highest benchmark score (Tables 5 and 7).
4. **leaderboard** — the selected candidates (plus external ones, Appendix F) scored together:
   performance profiles, benchmark score, targets hit (Table 6, Figure 1).

Every training job goes through ``hpfree-train`` (so any launcher and runner work) and is
skipped when its record is final; a stage writes ``stage.json`` when all of its runs are
final and is skipped on the next invocation.  The report directory gets the tables
(Markdown/CSV/LaTeX), the plots and a README naming the command and versions.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import pandas as pd

from hpfree import records
from hpfree.io import atomic_write_json, atomic_write_text
from hpfree.scoring import report as scoring

STAGE_DONE = "stage.json"


@dataclass
class ReproduceConfig:
    """Scale knobs of one reproduction (``conf/experiment/*.yaml`` are presets of this)."""

    name: str = "laptop"
    root: str = "experiments/${name}"      # sweeps live here
    report: str = "${root}/report"         # tables, plots and README go here
    suite: str = "mini"
    naive: list[str] = field(default_factory=lambda: [
        "cocob", "dadapt_adamw", "dog", "dowg", "mechanic_adamw", "mechanic_nadamw",
        "momo", "momo_adam", "prodigy"])
    baselines: list[str] = field(default_factory=lambda: ["adamw", "nadamw"])
    algorithms: list[str] = field(default_factory=lambda: ["nadamw", "prodigy",
                                                           "mechanic_adamw"])
    horizons: list[str] = field(default_factory=lambda: ["h33", "h50", "h66"])
    num_points: int = 8
    top_k: int = 2
    seeds: int = 2
    sweep_seed: int = 0
    launcher: str = "local"
    runner: str = "embedded"
    # The search space of each algorithm: its optimizer spec's own (`search_space=auto`)
    # unless `search_spaces` names another for it.
    search_spaces: dict[str, str] = field(default_factory=dict)
    default_search_space: str = "auto"
    externals: list[str] = field(default_factory=list)
    baselines_in_leaderboard: bool = True  # stage-1 AdamW/NadamW defaults join the final pool
    overrides: list[str] = field(default_factory=list)  # added to every training job
    # Points of a search trained together in one vmapped scan (runner.trial_batch).
    trial_batch: int = 1
    stages: list[str] = field(default_factory=lambda: ["naive", "search", "select",
                                                       "leaderboard"])
    # Compose and validate every stage's commands (searches: their first points), train
    # nothing, write nothing.
    dry_run: bool = False

    def __post_init__(self) -> None:
        from hpfree.errors import ConfigError

        for knob in ("num_points", "top_k", "seeds", "trial_batch"):
            if getattr(self, knob) < 1:
                raise ConfigError(f"{knob}={getattr(self, knob)} must be >= 1")
        unknown = [s for s in self.stages if s not in ("naive", "search", "select",
                                                        "leaderboard")]
        if unknown:
            raise ConfigError(f"unknown stage(s) {unknown}; choose from naive, search, select, "
                              "leaderboard")


TrainFn = Callable[[Sequence[str]], None]


def cli_train(args: Sequence[str]) -> None:
    """Run ``hpfree-train ARGS`` in a subprocess.

    Exit code 1 (some run failed; it is recorded and re-run by the same command) lets the
    reproduction go on, and makes its own exit code 1; any other failure stops it.
    """
    from hpfree import outcome
    from hpfree.errors import ConfigError

    cmd = [sys.executable, "-m", "hpfree.cli.train", *args]
    shown = "hpfree-train " + " ".join(shlex.quote(a) for a in args)
    print("+ " + shown, flush=True)
    rc = subprocess.run(cmd).returncode
    if rc == outcome.FAILED:
        outcome.note("failed")
        print("[reproduce] some runs of that command failed; re-running this command retries "
              "them", flush=True)
    elif rc == outcome.BAD_INPUT:
        raise ConfigError(f"{shown} was refused (bad input, see above)")
    elif rc != outcome.OK:
        raise RuntimeError(f"{shown} stopped with exit code {rc}")


@functools.lru_cache(maxsize=None)
def workload_config(workload: str, overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    """The workload config ``hpfree-train workload=<workload> <overrides>`` runs today, as a
    dict (composed once per process; do not modify it)."""
    from hpfree.preflight import compose_config

    return dataclasses.asdict(compose_config([f"workload={workload}", *overrides]).workload)


def current_workload_configs(workloads: Sequence[str],
                             overrides: Sequence[str] = ()) -> dict[str, dict]:
    """Per workload, :func:`workload_config` less its target (a recalibrated target changes
    no curve: scores are recomputed from curves)."""
    return {w: {k: v for k, v in workload_config(w, tuple(overrides)).items() if k != "target"}
            for w in workloads}


def made_with(record_config: Optional[dict], now: dict) -> bool:
    """Whether a record's config holds the workload config ``now`` (every field equal; a field
    added since the run was made counts as different)."""
    rec = dict((record_config or {}).get("workload") or {})
    return all(k in rec and rec[k] == v for k, v in now.items())


def made_with_current_config(table: pd.DataFrame, overrides: Sequence[str] = ()) -> pd.Series:
    """Per record of ``table``, whether it was made with its workload's config as it is today
    (True for a record that names no workload, or a table without configs)."""
    if table.empty or "config" not in table:
        return pd.Series(True, index=table.index, dtype=bool)
    now = current_workload_configs(sorted(table.workload.dropna().unique()), overrides)
    return pd.Series([r["workload"] not in now or made_with(r["config"], now[r["workload"]])
                      for r in table.to_dict("records")], index=table.index, dtype=bool)


def stale_workloads(table: pd.DataFrame, overrides: Sequence[str] = ()) -> list[str]:
    """Workloads of ``table`` (records) with runs made under an older workload config."""
    if table.empty or "config" not in table:
        return []
    return sorted(set(table.workload[~made_with_current_config(table, overrides)]))


class Reproduction:
    def __init__(self, cfg: ReproduceConfig, command: str, train: TrainFn = cli_train):
        self.cfg = cfg
        self.root = Path(cfg.root)
        self.report = Path(cfg.report)
        self.command = command
        self.train = train

    # ------------------------------------------------------------------ helpers
    def common(self, sweep: str) -> list[str]:
        c = self.cfg
        return [f"suite={c.suite}", f"launcher={c.launcher}", f"runner={c.runner}",
                f"sweeps_dir={self.root.resolve()}", f"sweep_name={sweep}", "progress=false",
                *([f"runner.trial_batch={c.trial_batch}"] if c.trial_batch > 1 else []),
                *c.overrides]

    def search_args(self, algo: str, horizon: str) -> list[str]:
        c = self.cfg
        space = c.search_spaces.get(algo, c.default_search_space)
        return ["-m", "hydra/sweeper=quasirandom", f"search_space={space}",
                f"hydra.sweeper.num_points={c.num_points}", f"hydra.sweeper.seed={c.sweep_seed}",
                f"optimizer={algo}", f"horizon={horizon}",
                *self.common(self.search_name(algo, horizon))]

    @staticmethod
    def search_name(algo: str, horizon: str) -> str:
        return f"search-{algo}-{horizon}"

    def done(self, stage: str) -> Optional[dict]:
        path = self.root / stage / STAGE_DONE
        return json.loads(path.read_text()) if path.exists() else None

    def mark_done(self, stage: str, dirs: Sequence[Path], extra: Optional[dict] = None) -> None:
        """Mark ``stage`` finished once every run of a *current* workload config in ``dirs``
        is final.  A run left unfinished under an older config (killed, then the workload
        changed) is never resumed by today's commands, so it must not hold the stage open."""
        table = records.load_records(dirs)
        table = table[made_with_current_config(table, self.cfg.overrides)]
        unfinished = 0 if table.empty else int((~table.status.isin(records.FINAL_STATUSES)).sum())
        if table.empty or unfinished:
            print(f"[reproduce] stage {stage}: {unfinished} runs not final yet; "
                  "re-run this command to continue", flush=True)
            return
        atomic_write_json(self.root / stage / STAGE_DONE,
                          {"runs": len(table), "finished_at": records.now(), **(extra or {})})

    # ------------------------------------------------------------------ stages
    def naive_commands(self) -> list[list[str]]:
        """Stage 1: the naive optimizers (authors' defaults, no schedule, no regularization,
        full horizon) and the baselines with their evidence-based defaults."""
        c = self.cfg
        out = []
        if c.naive:
            out.append(["-m", f"optimizer={','.join(c.naive)}", "schedule=none",
                        "regularization=none", "horizon=h100", *self.common("naive")])
        if c.baselines:
            out.append(["-m", f"optimizer={','.join(c.baselines)}", "schedule=warmup_cosine",
                        "regularization=default", "horizon=h66", *self.common("naive")])
        return out

    def score(self, dirs: Sequence[Path], **kwargs) -> scoring.ScoreResult:
        """``scoring.score_sweeps`` against each workload's target as configured *today*: a
        recalibrated target changes no curve, and a search trial's run keeps its recorded
        (older) target, since its directory is named by trial, not by content."""
        from hpfree.scoring import ttt

        table = records.load_records([d for d in dirs if Path(d).is_dir()])
        workloads = sorted(set(table.workload[table.status.isin(ttt.SCORED_STATUSES)])) \
            if not table.empty else []
        targets = {w: workload_config(w, tuple(self.cfg.overrides))["target"]
                   for w in workloads}
        return scoring.score_sweeps(dirs, targets=targets or None, **kwargs)

    def stage_naive(self) -> None:
        c = self.cfg
        if not self.done("naive"):
            for args in self.naive_commands():
                self.train(args)
            self.mark_done("naive", [self.root / "naive"])
        result = self.score([self.root / "naive"], externals=c.externals)
        scoring.write_report(result, self.report / "naive")

    def stage_search(self) -> None:
        if self.done("search"):
            return
        dirs = []
        for algo in self.cfg.algorithms:
            for horizon in self.cfg.horizons:
                self.train(self.search_args(algo, horizon))
                dirs.append(self.root / self.search_name(algo, horizon))
        (self.root / "search").mkdir(parents=True, exist_ok=True)
        self.mark_done("search", dirs)

    def top_trials(self) -> dict[tuple[str, str], list[int]]:
        """Per (algorithm, horizon) the top-k trials of its search (seed index 0 only)."""
        out = {}
        for algo in self.cfg.algorithms:
            for horizon in self.cfg.horizons:
                d = self.root / self.search_name(algo, horizon)
                result = self.score([d], select=lambda t: t[t.seed_index == 0])
                ranked = result.ranking.head(self.cfg.top_k)
                out[(algo, horizon)] = [int(t) for t in result.meta.loc[ranked.index, "trial"]]
        return out

    def reruns(self) -> pd.DataFrame:
        return lambda t: t[t.seed_index >= 1]  # type: ignore[return-value]

    def select_commands(self, top: dict[tuple[str, str], list[int]]) -> list[list[str]]:
        """Stage 3: re-run each search's top trials with ``seeds`` fresh seeds."""
        c = self.cfg
        return [[*self.search_args(algo, horizon),
                 f"hydra.sweeper.trials=[{','.join(map(str, trials))}]",
                 "hydra.sweeper.seed_start=1", f"hydra.sweeper.seeds={c.seeds}"]
                for (algo, horizon), trials in top.items()]

    def stage_select(self) -> None:
        c = self.cfg
        chosen = self.done("select")
        if not chosen:
            top = self.top_trials()
            for args in self.select_commands(top):
                self.train(args)
            self.mark_done("select", self.search_dirs(),
                           {"top": {f"{a}/{h}": t for (a, h), t in top.items()}})
            chosen = self.done("select")
            if not chosen:
                return
        result = self.score(self.search_dirs(), select=self.reruns(), min_seeds=c.seeds)
        scoring.write_report(result, self.report / "select", top_k=c.top_k)

    def search_dirs(self) -> list[Path]:
        return [self.root / self.search_name(a, h)
                for a in self.cfg.algorithms for h in self.cfg.horizons]

    def stage_leaderboard(self) -> Optional[scoring.ScoreResult]:
        """Selected candidates, plus the stage-1 baselines (evidence-based AdamW/NadamW
        defaults) when ``baselines_in_leaderboard``, scored as one pool."""
        c = self.cfg
        pool = self.score(self.search_dirs(), select=self.reruns(), min_seeds=c.seeds)
        final = set(pool.selection.index)
        dirs = self.search_dirs()
        if c.baselines_in_leaderboard and c.baselines and (self.root / "naive").exists():
            naive = self.score([self.root / "naive"])
            final |= set(naive.meta.index[naive.meta.optimizer.isin(c.baselines)])
            dirs = [*dirs, self.root / "naive"]
        result = self.score(
            dirs, externals=c.externals,
            select=lambda t: t[(t.seed_index >= 1) | t.trial.isna()], only=final)
        scoring.write_report(result, self.report / "leaderboard")
        return result

    # ------------------------------------------------------------------ driver
    def dry_run(self, max_points: int = 2, log: Callable[[str], None] = print) -> int:
        """Compose and validate every stage's commands for every algorithm; train nothing.

        Naive and baseline multiruns: a covering set of their jobs (every optimizer and
        every workload composed and validated at least once).  Each algorithm's search is
        planned as the quasi-random sweeper plans it (space from the optimizer's spec,
        knobs, points, run directories) for its first ``max_points`` trials on every
        workload at its first horizon, on the first workload at the other horizons; the
        re-run stage likewise with trials ``0..top_k-1`` and its fresh seeds.  Returns the
        number of jobs composed and validated; raises :class:`ConfigError` naming the stage
        and the command.
        """
        from hpfree.errors import ConfigError
        from hpfree.preflight import check_command_line, check_search

        def checked(stage: str, args: list[str], fn) -> int:
            try:
                n = fn(args)
            except ConfigError as exc:
                raise ConfigError(f"stage {stage}: hpfree-train {' '.join(args)}: {exc}") from None
            log(f"[reproduce] dry run: stage {stage}: {n} jobs composed and valid: "
                f"hpfree-train {' '.join(args)}")
            return n

        stages, total = self.cfg.stages, 0
        if "naive" in stages:
            for args in self.naive_commands():
                total += checked("naive", args, lambda a: check_command_line(
                    [x for x in a if x != "-m"], True, cover=True))
        first = self.cfg.horizons[:1]
        searches = [(a, h) for a in self.cfg.algorithms for h in self.cfg.horizons]
        checked_lines: set[tuple[str, ...]] = set()

        def search(args: list[str], **caps) -> int:
            # What hpfree-train checks before the sweeper starts, then the sweeper's plan.
            # The select stage's command is its search's plus sweeper options only: the
            # command line (composed once per suite workload) is checked once for both.
            line = tuple(x for x in args if x != "-m" and not x.startswith("hydra.sweeper."))
            if line not in checked_lines:
                check_command_line([x for x in args if x != "-m"], True,
                                   limit=caps.get("workloads"))
                checked_lines.add(line)
            return check_search(args, **caps)

        if "search" in stages:
            for algo, horizon in searches:
                total += checked("search", self.search_args(algo, horizon),
                                 lambda a, h=horizon: search(
                                     a, max_points=max_points,
                                     workloads=None if h in first else 1))
        if "select" in stages:
            top = {key: list(range(self.cfg.top_k)) for key in searches}
            for args, (algo, horizon) in zip(self.select_commands(top), searches):
                total += checked("select", args, lambda a, h=horizon: search(
                    a, workloads=None if h in first else 1))
        return total

    def warn_stale(self) -> None:
        """One line per finished stage that holds runs of a workload changed since: the stage
        is not re-run by itself (its choices, e.g. the top trials, came from those runs)."""
        dirs = {"naive": [self.root / "naive"], "search": self.search_dirs(),
                "select": self.search_dirs()}
        for stage, stage_dirs in dirs.items():
            if stage not in self.cfg.stages or not self.done(stage):
                continue
            table = records.load_records([d for d in stage_dirs if d.exists()])
            stale = stale_workloads(table, self.cfg.overrides)
            if stale:
                print(f"[reproduce] stage {stage} is done but holds runs of an older config of "
                      f"{', '.join(stale)}: to re-run them, move their directories under "
                      f"{self.root} aside and delete {self.root / stage / STAGE_DONE}",
                      flush=True)

    def run(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        stages = self.cfg.stages
        self.warn_stale()
        if "naive" in stages:
            self.stage_naive()
        if "search" in stages:
            self.stage_search()
        if "select" in stages and self.done("search"):
            self.stage_select()
        board = None
        if "leaderboard" in stages and self.done("select"):
            board = self.stage_leaderboard()
        self.write_summary(board)
        return self.report

    def write_summary(self, board: Optional[scoring.ScoreResult]) -> None:
        from hpfree.records import versions

        lines = [f"# hpfree reproduction: {self.cfg.name}", "",
                 "Made by:", "", "```", self.command, "```", "",
                 "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()), "",
                 "Stages: " + ", ".join(
                     f"{s} {'done' if self.done(s) else 'pending'}"
                     for s in ("naive", "search", "select")), ""]
        sections = (("Naive defaults vs evidence-based baselines (Table 4)", "naive",
                     ("best_metrics", "leaderboard")),
                    ("Top-k candidates re-run with fresh seeds (Tables 5 and 7)", "select",
                     ("best_metrics", "leaderboard", "selection")),
                    ("Final leaderboard (Table 6, Figure 1)", "leaderboard",
                     ("leaderboard", "best_metrics")))
        for title, sub, tables in sections:
            d = self.report / sub
            if not d.exists():
                continue
            lines += [f"## {title}", ""]
            for stem in tables:
                md = d / f"{stem}.md"
                if md.exists():
                    lines += [f"### {stem.replace('_', ' ')}", "", md.read_text().strip(), ""]
            for png in ("profiles.png", "heatmap.png"):
                if (d / png).exists():
                    lines += [f"![{sub} {png[:-4]}]({sub}/{png})", ""]
            lines += [f"All tables (Markdown, CSV, LaTeX) and plots (PNG, PDF): `{sub}/`.", ""]
        atomic_write_text(self.report / "README.md", "\n".join(lines) + "\n")
