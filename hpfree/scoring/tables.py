"""The study's tables as data frames, and small Markdown / LaTeX / CSV writers for them.

* ``best_metrics`` — Tables 4 and 5: per candidate and workload the best validation metric
  (the median over seeds of each run's best evaluation), with each workload's metric and target.
* ``leaderboard`` — Table 6: benchmark score, targets hit, and per workload the normalized
  time-to-target (fraction of the budget, median over seeds; blank when missed).
* ``ranking`` — the search's geometric-mean cost, and ``selection`` — the pick per
  (algorithm, horizon).

CSV keeps full-precision numbers (``inf`` for a missed target); Markdown and LaTeX are
formatted for reading.  The writers are a few lines each rather than ``DataFrame.to_markdown``
/ ``to_latex``, which need the optional ``tabulate`` / ``jinja2`` packages.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from hpfree.io import atomic_write_text

MISSED = ""  # a missed target in the leaderboard, as blank as in the paper's Table 6
NO_RUNS = "n/a"


def best_metrics(agg: pd.DataFrame, order: Sequence[str], workloads: Sequence[str]) -> pd.DataFrame:
    """Rows: candidates (``order``), columns: workloads; values: median best metric."""
    mat = agg.pivot(index="candidate", columns="workload", values="best")
    mat = mat.reindex(index=list(order), columns=list(workloads))
    labels = agg.drop_duplicates("candidate").set_index("candidate")["label"]
    mat.index = [labels.get(c, c) for c in mat.index]
    mat.index.name = "candidate"
    return mat


def metric_header(agg: pd.DataFrame, workloads: Sequence[str]) -> dict[str, str]:
    """``workload -> "error_rate ≤ 0.04"``, the second header line of Tables 4–6."""
    first = agg.drop_duplicates("workload").set_index("workload")
    out = {}
    for w in workloads:
        if w in first.index:
            row = first.loc[w]
            op = "≤" if row["direction"] == "min" else "≥"
            out[w] = f"{row['metric']} {op} {row['target']:g}"
        else:
            out[w] = ""
    return out


def leaderboard(scores: pd.Series, times: pd.DataFrame, labels: pd.Series,
                workloads: Sequence[str]) -> pd.DataFrame:
    """Table 6: one row per candidate, best score first (``id`` is the candidate key)."""
    t = times.reindex(index=scores.index, columns=list(workloads)).astype(float)
    df = pd.DataFrame({"id": list(scores.index),
                       "candidate": [labels.get(c, c) for c in scores.index],
                       "score": scores.to_numpy(),
                       "targets_hit": np.isfinite(t).sum(axis=1).to_numpy()})
    df = pd.concat([df, t.reset_index(drop=True)], axis=1)
    df = df.sort_values(["score", "targets_hit", "candidate"], ascending=[False, False, True],
                        kind="stable").reset_index(drop=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    return df


# ---------------------------------------------------------------- formatting


def fmt_number(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return NO_RUNS
    if isinstance(x, (float, np.floating)):
        if math.isinf(x):
            return MISSED
        return f"{x:.{digits}f}" if abs(x) >= 10 ** -digits or x == 0 else f"{x:.2g}"
    return str(x)


def fmt_metric(x) -> str:
    """Validation metrics: 4 significant digits (0.1235, 0.722, 29.64)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return NO_RUNS
    return f"{x:.4g}"


def to_strings(df: pd.DataFrame, formatters: Optional[dict[str, Callable]] = None,
               default: Callable = fmt_number) -> pd.DataFrame:
    formatters = formatters or {}
    return pd.DataFrame({c: [formatters.get(c, default)(v) for v in df[c]] for c in df.columns},
                        index=df.index)


def markdown(df: pd.DataFrame, index: bool = False, subheader: Optional[list[str]] = None) -> str:
    """A GitHub-flavoured Markdown table of string cells (numbers right-aligned)."""
    if index:
        df = df.reset_index()
    cols = [str(c) for c in df.columns]
    rows = [[str(v).replace("|", "\\|") for v in r] for r in df.itertuples(index=False)]
    numeric = [bool(rows) and all(_looks_numeric(r[i]) for r in rows) for i in range(len(cols))]
    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    if subheader is not None:
        lines.append("| " + " | ".join(subheader) + " |")
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _looks_numeric(s: str) -> bool:
    if s in (MISSED, NO_RUNS):
        return True
    try:
        float(s)
        return True
    except ValueError:
        return False


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
        "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
        "≤": r"$\leq$", "≥": r"$\geq$"}


def tex_escape(s: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in str(s))


def latex(df: pd.DataFrame, index: bool = False, subheader: Optional[list[str]] = None,
          caption: Optional[str] = None) -> str:
    """A ``booktabs`` tabular of string cells (needs ``\\usepackage{booktabs}``)."""
    if index:
        df = df.reset_index()
    cols = [str(c) for c in df.columns]
    rows = [[str(v) for v in r] for r in df.itertuples(index=False)]
    align = "".join("r" if rows and all(_looks_numeric(r[i]) for r in rows) else "l"
                    for i in range(len(cols)))
    out = [r"\begin{table}[t]", r"\centering"] if caption else []
    out += [rf"\begin{{tabular}}{{{align}}}", r"\toprule",
            " & ".join(tex_escape(c) for c in cols) + r" \\"]
    if subheader is not None:
        out.append(" & ".join(tex_escape(c) for c in subheader) + r" \\")
    out.append(r"\midrule")
    out += [" & ".join(tex_escape(v) for v in r) + r" \\" for r in rows]
    out += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        out += [rf"\caption{{{tex_escape(caption)}}}", r"\end{table}"]
    return "\n".join(out) + "\n"


def write_all(df_numeric: pd.DataFrame, df_text: pd.DataFrame, stem: Path, index: bool = False,
              subheader: Optional[list[str]] = None, caption: Optional[str] = None) -> str:
    """Write ``stem``.csv (numbers), .md and .tex (formatted); returns the Markdown."""
    atomic_write_text(stem.with_suffix(".csv"), df_numeric.to_csv(index=index))
    md = markdown(df_text, index=index, subheader=subheader)
    atomic_write_text(stem.with_suffix(".md"), md)
    atomic_write_text(stem.with_suffix(".tex"),
                      latex(df_text, index=index, subheader=subheader, caption=caption))
    return md
