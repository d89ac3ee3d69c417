"""Figures: performance profiles, validation curves with the target, a heat map of times.

Uses matplotlib's object API (``Figure`` without ``pyplot``), so no display or backend
choice is involved and nothing is kept alive between calls.  Each figure is written as PNG
(for a quick look) and PDF (for a paper), atomically.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hpfree import records
from hpfree.io import atomic_write

FORMATS = ("png", "pdf")


def save(fig: Figure, stem: Path) -> list[Path]:
    """Write ``stem``.png and ``stem``.pdf; returns the paths."""
    out = []
    for ext in FORMATS:
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=150, bbox_inches="tight")
        out.append(atomic_write(stem.with_suffix(f".{ext}"), lambda f: f.write(buf.getvalue()),
                                mode="wb"))
    return out


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def profiles_figure(profiles: pd.DataFrame, labels: Mapping[str, str],
                    scores: pd.Series) -> Figure:
    """ρ(τ) per candidate (best score first in the legend), as in the study's Figure 1."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    taus = profiles.columns.to_numpy(dtype=float)
    order = scores.sort_values(ascending=False, kind="stable").index
    styles = ("-", "--", "-.", ":")
    for i, (color, cand) in enumerate(zip(_colors(len(order)), order)):
        # Line styles keep candidates with identical profiles (ties) visible.
        ax.step(taus, profiles.loc[cand].to_numpy(), where="post", color=color, lw=1.8,
                ls=styles[i % len(styles)],
                label=f"{labels.get(cand, cand)} ({scores[cand]:.3f})")
    ax.set_xlim(taus.min(), taus.max())
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("τ (ratio to the fastest candidate per workload)")
    ax.set_ylabel("ρ(τ): fraction of workloads")
    ax.grid(alpha=0.4)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), title="score")
    return fig


def curves_figure(runs: pd.DataFrame, candidates: Sequence[str], labels: Mapping[str, str],
                  workloads: Sequence[str], time: str = "steps") -> Figure:
    """Validation metric against time per workload, one colour per candidate (seeds: lines).

    The dashed line is the target the scores used.
    """
    n = len(workloads)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(4.2 * cols + 2.5, 3.2 * rows))
    xcol = "step" if time == "steps" else "train_seconds"
    colors = dict(zip(candidates, _colors(len(candidates))))
    for i, wl in enumerate(workloads):
        ax = fig.add_subplot(rows, cols, i + 1)
        mine = runs[runs.workload == wl]
        for cand in candidates:
            for run in mine[mine.candidate == cand].to_dict("records"):
                curve = records.load_curve(run["run_dir"])
                col = f"validation/{run['metric']}"
                if curve.empty or col not in curve or xcol not in curve:
                    continue
                ax.plot(curve[xcol], curve[col], color=colors[cand], lw=1.2, alpha=0.8,
                        label=labels.get(cand, cand))
        if not mine.empty:
            first = mine.iloc[0]
            ax.axhline(first["target"], color="k", ls="--", lw=1, label="target")
            ax.set_ylabel(f"validation {first['metric']}")
        ax.set_title(wl, fontsize=10)
        ax.set_xlabel("step" if time == "steps" else "training seconds")
        ax.grid(alpha=0.4)
    handles, names = [], []
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in names:
                handles.append(h)
                names.append(lab)
    fig.legend(handles, names, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def heatmap_figure(ratios: pd.DataFrame, times: pd.DataFrame,
                   labels: Mapping[str, str]) -> Figure:
    """Candidates × workloads time-to-target divided by the fastest (1 = fastest).

    Grey cells say why they have no ratio: ``miss`` (target missed or slower than 4× the
    fastest) or ``n/a`` (the candidate has no runs on that workload).
    """
    data = ratios.astype(float)
    raw = times.reindex(index=data.index, columns=data.columns).astype(float)
    fig = Figure(figsize=(1.1 * data.shape[1] + 3.5, 0.38 * data.shape[0] + 1.8))
    ax = fig.add_subplot()
    from matplotlib import colormaps

    cmap = colormaps["viridis_r"].with_extremes(bad="0.85")
    im = ax.imshow(np.ma.masked_invalid(data.to_numpy()), cmap=cmap, vmin=1.0, vmax=4.0,
                   aspect="auto")
    for (i, j), v in np.ndenumerate(data.to_numpy()):
        if math.isfinite(v):
            text = f"{v:.2f}"
        else:
            text = "n/a" if math.isnan(raw.iat[i, j]) else "miss"
        ax.text(j, i, text, ha="center", va="center", fontsize=7,
                color="white" if math.isfinite(v) and v > 2.5 else "black")
    ax.set_xticks(range(data.shape[1]), [str(c) for c in data.columns], rotation=30,
                  ha="right", fontsize=8)
    ax.set_yticks(range(data.shape[0]), [labels.get(c, c) for c in data.index], fontsize=8)
    fig.colorbar(im, ax=ax, label="time / fastest time")
    fig.tight_layout()
    return fig
