"""The paper's selection: rank search trials, keep the top-k, re-run them, pick one per pair.

Section 3.2 of the study: the points of a search are ranked by "a cost function based on the
geometric mean of a time-to-target metric"; the top configurations per (algorithm, horizon)
are re-trained with independent seeds; for each (algorithm, horizon) the configuration with
the highest AlgoPerf benchmark score — computed over all candidates together — is kept.

How a missed target enters the geometric mean (the paper does not say): a workload whose
target was missed, or that the candidate has no runs on, costs ``miss_penalty`` × the
workload's budget (default 2, i.e. twice the budget; a hit costs at most 1).  Times are budget
fractions, so every workload weighs the same.  Hence a candidate that hits one more target
always ranks above one that hits fewer as long as its hits are not much slower, and among
candidates hitting nothing the cost ties at ``miss_penalty`` (ties are broken by more targets
hit, then by name).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd

MISS_PENALTY = 2.0
# Overrides that a re-run replaces (seed, workload list) or must not copy (bookkeeping).
_DROP_KEYS = ("seed", "seed_index", "trial", "workload", "force", "hydra.mode",
              "hydra.sweeper.trials", "hydra.sweeper.seeds", "hydra.sweeper.seed_start",
              "hydra.sweeper.dry_run")


def geomean_cost(times: pd.DataFrame, workloads: Optional[Sequence[str]] = None,
                 miss_penalty: float = MISS_PENALTY) -> pd.Series:
    """Geometric mean over the suite of each candidate's budget fraction (misses penalised)."""
    if miss_penalty <= 0:
        raise ValueError(f"miss_penalty={miss_penalty} must be > 0 (a fraction of the budget)")
    df = times.astype(float)
    if workloads is not None:
        df = df.reindex(columns=list(workloads))
    df = df.where(np.isfinite(df), miss_penalty)
    return pd.Series(np.exp(np.log(df).mean(axis=1)), index=df.index, name="cost")


def rank(times: pd.DataFrame, meta: pd.DataFrame, workloads: Optional[Sequence[str]] = None,
         miss_penalty: float = MISS_PENALTY) -> pd.DataFrame:
    """Candidates sorted by geometric-mean cost (lowest first).

    ``meta`` is indexed by candidate with ``label, optimizer, horizon`` columns.  Returns
    ``candidate`` (index) with ``label, optimizer, horizon, cost, hits``.
    """
    cost = geomean_cost(times, workloads, miss_penalty)
    cols = list(workloads) if workloads is not None else list(times.columns)
    hits = np.isfinite(times.reindex(columns=cols).astype(float)).sum(axis=1).rename("hits")
    out = meta.reindex(cost.index)[["label", "optimizer", "horizon"]].join(cost).join(hits)
    out = out.rename_axis("candidate").reset_index()
    out = out.sort_values(["cost", "hits", "label"], ascending=[True, False, True],
                          kind="stable")
    return out.set_index("candidate")


def top_k(ranking: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` best-ranked candidates of each (optimizer, horizon) search."""
    if k <= 0:
        raise ValueError(f"--top-k {k}: k must be a positive integer")
    return ranking.groupby(["optimizer", "horizon"], sort=True, group_keys=False).head(k)


def select_final(scores: pd.Series, meta: pd.DataFrame) -> pd.DataFrame:
    """Per (optimizer, horizon) the candidate with the highest benchmark score.

    Ties go to the candidate with more targets hit (``meta['hits']`` if present), then by label.
    """
    df = meta.reindex(scores.index).assign(score=scores).rename_axis("candidate").reset_index()
    if "hits" not in df:
        df["hits"] = 0
    df = df.sort_values(["score", "hits", "label"], ascending=[False, False, True],
                        kind="stable")
    best = df.groupby(["optimizer", "horizon"], sort=True).head(1)
    return best.sort_values(["optimizer", "horizon"]).set_index("candidate")


# ----------------------------------------------------------------- re-run commands


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _load_overrides(run_dir: Path) -> list[str]:
    import yaml

    path = Path(run_dir) / ".hydra" / "overrides.yaml"
    if not path.exists():
        return []
    return [str(o) for o in (yaml.safe_load(path.read_text()) or [])]


def _search_argv(run_dir: Path, trial: int) -> Optional[tuple[Path, list[str]]]:
    """(sweep directory, the ``hpfree-train -m`` arguments of the search that ran ``trial``).

    The quasi-random sweeper keeps every launching command in the sweep's ``manifest.json``
    (``hpfree.sweeps.manifest``); a sweep made by another non-basic Hydra sweeper is read
    back from Hydra's ``multirun.yaml``.  None for plain multiruns (basic sweeper).
    """
    import yaml

    from hpfree.errors import ConfigError
    from hpfree.sweeps import manifest

    for parent in Path(run_dir).parents:
        if manifest.path(parent).exists():
            try:
                found = manifest.load(parent)
            except ConfigError:
                return None
            index = next((j.command for j in found.jobs if j.trial == trial), 0)
            if index >= len(found.commands):
                return None
            return parent, [str(a) for a in found.commands[index].get("argv", [])]
        if (parent / "multirun.yaml").exists():
            hydra_cfg = (yaml.safe_load((parent / "multirun.yaml").read_text()) or {}).get(
                "hydra", {})
            choice = hydra_cfg.get("runtime", {}).get("choices", {}).get("hydra/sweeper")
            if not choice or choice == "basic":
                return None
            over = hydra_cfg.get("overrides", {})
            args = [str(o) for o in over.get("hydra", []) + over.get("task", [])]
            if not any(_key(o) == "hydra/sweeper" for o in args):
                args.insert(0, f"hydra/sweeper={choice}")
            return parent, args
    return None


def _sweeper_command(argv: Sequence[str], trials: Iterable[int], seeds: int) -> str:
    """The search's own command restricted to ``trials``, with seed indices 0..seeds-1.

    The sweeper launches only jobs that are not already ``completed``/``diverged``, so the
    search's seed-0 runs are reused and ``seeds - 1`` new ones run per trial and workload.
    """
    args = [a for a in argv if _key(a) not in _DROP_KEYS]
    trial_list = ",".join(str(int(t)) for t in sorted(set(trials)))
    args += [f"hydra.sweeper.trials=[{trial_list}]", f"hydra.sweeper.seeds={seeds}"]
    return "hpfree-train -m " + " ".join(shlex.quote(a) for a in args)


def _plain_command(mine: pd.DataFrame, seeds: int) -> str:
    first = mine.iloc[0]
    over = [o for o in _load_overrides(Path(first["run_dir"])) if _key(o) not in _DROP_KEYS]
    point = first.get("point")
    keys = {_key(o) for o in over}
    if isinstance(point, dict):
        over += [f"{k}={v}" for k, v in sorted(point.items()) if k not in keys]
    wls = ",".join(sorted(mine["workload"].unique()))
    args = [*over, f"workload={wls}", "seed=" + ",".join(str(s) for s in range(seeds))]
    return f"# {first['label']}\nhpfree-train -m " + " ".join(shlex.quote(a) for a in args)


def rerun_commands(chosen: pd.DataFrame, runs: pd.DataFrame, seeds: int) -> list[str]:
    """Shell commands that re-run the ``chosen`` candidates with ``seeds`` seeds each.

    Trials of a search (quasi-random sweeper) become one command per search that repeats its
    command line with ``hydra.sweeper.trials=[...] hydra.sweeper.seeds=N``.  Any other
    candidate becomes a plain multirun of the overrides its runs were launched with
    (``.hydra/overrides.yaml``, plus the record's ``point``), over all its workloads, with
    ``seed=0,...,N-1``: run directories are named by content, so the existing seed-0 run is
    found and reused rather than recomputed.
    """
    if seeds <= 0:
        raise ValueError(f"--seeds {seeds}: the number of seeds must be a positive integer")
    searches: dict[tuple[Path, tuple[str, ...]], list[int]] = {}
    plain: list[str] = []
    for cand in chosen.index:
        mine = runs[runs.candidate == cand]
        if mine.empty:
            continue
        first = mine.iloc[0]
        trial = first.get("trial")
        found = None
        if trial is not None and not pd.isna(trial):
            found = _search_argv(Path(first["run_dir"]), int(trial))
        if found is not None:
            searches.setdefault((found[0], tuple(found[1])), []).append(int(trial))
        else:
            plain.append(_plain_command(mine, seeds))
    cmds = [f"# trials {sorted(trials)} of {sweep}\n{_sweeper_command(argv, trials, seeds)}"
            for (sweep, argv), trials in searches.items()]
    return cmds + plain
