"""The sweeper's schema, registered as ``hydra/sweeper=quasirandom``.

(No ``from __future__ import annotations`` here: Hydra's plugin scanner executes this module
before it is in ``sys.modules``, and dataclasses cannot resolve string annotations then.)
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class QuasiRandomSweeperConf:
    """Knobs of a search (``hydra.sweeper.<knob>=...`` on the command line).

    search_space: filled by ``search_space=<name>`` (``conf/search_space/``).
    num_points: trials 0..num_points-1; null = 200 (the paper) or the whole grid.
    seed: the sweep seed; points and training seeds derive from it.
    seeds: how many seed indices each trial runs (independent derived seeds).
    seed_start: first seed index (``seed_start=1 seeds=3`` adds three new seeds).
    trials: run only these trial ids (e.g. ``[3,17]`` to re-run the best ones).
    max_batch_size: jobs per launcher call; null = 1 for the local (basic) launcher, so
        progress shows after every job, and all at once for cluster launchers.
    dry_run: validate and print the jobs (overrides, run directories); launch and write nothing.
    params: ``params.workload`` as written by suite configs for Hydra's basic sweeper; the
        quasi-random sweeper takes its workloads from ``suite.workloads``.
    """

    _target_: str = "hydra_plugins.hpfree_quasirandom_sweeper.sweeper.QuasiRandomSweeper"
    search_space: Optional[Dict[str, Any]] = None
    num_points: Optional[int] = None
    seed: int = 0
    seeds: int = 1
    seed_start: int = 0
    trials: Optional[List[int]] = None
    max_batch_size: Optional[int] = None
    dry_run: bool = False
    params: Optional[Dict[str, Any]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="quasirandom",
                             node=QuasiRandomSweeperConf, provider="hpfree")
