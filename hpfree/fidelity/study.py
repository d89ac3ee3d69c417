"""The study's numbers, read from the package's data files (sources in their headers).

``table4.csv``: best validation metric of every method of the study's Table 4 on the eight
AlgoPerf workloads; ``table2.csv``: each workload's metric, direction, AlgoPerf target, step
budget, batch size, and the name of hpfree's mini counterpart.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd


def _read(name: str) -> pd.DataFrame:
    with resources.files("hpfree.fidelity").joinpath(name).open() as fh:
        return pd.read_csv(fh, comment="#")


@lru_cache(maxsize=None)
def table2() -> pd.DataFrame:
    """One row per AlgoPerf workload (index: the study's workload name)."""
    return _read("table2.csv").set_index("workload")


@lru_cache(maxsize=None)
def table4_all() -> pd.DataFrame:
    """Every row of Table 4 as printed (index: the study's label; ``optimizer`` column)."""
    return _read("table4.csv").set_index("method")


def table4(optimizers: list[str] | None = None) -> pd.DataFrame:
    """Methods × workloads of Table 4 for the rows that have an hpfree optimizer (index: its
    name), restricted to ``optimizers`` in that order when given."""
    t = table4_all()
    t = t[t["optimizer"].notna()].set_index("optimizer")
    t = t[list(table2().index)]
    if optimizers is not None:
        missing = [o for o in optimizers if o not in t.index]
        if missing:
            raise KeyError(f"not in the study's Table 4: {', '.join(missing)}")
        t = t.loc[optimizers]
    return t.astype(float)


def counterparts() -> dict[str, str]:
    """hpfree mini workload → the study's workload it stands for."""
    return {mini: study for study, mini in table2()["mini"].items()}
