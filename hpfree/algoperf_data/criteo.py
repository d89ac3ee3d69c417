"""Criteo 1TB click logs in the TSV layout AlgoPerf's ``criteo1tb/input_pipeline.py`` reads.

One line per impression: ``label \\t 13 integer counts \\t 26 categorical 8-hex-digit ids``
(missing values as ``-1``/empty, as in the real logs).  Files as AlgoPerf expects them after
its preprocessing: ``day_<d>_<nn>`` for training (its glob ``day_{0..22}_*``) and
``day_23_00`` … ``day_23_35`` (test: files 0–18, validation: 19–35).  Clicks follow a fixed
seeded logistic model of the log-counts and a few categorical ids, so the loss can fall.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NUM_DENSE = 13
NUM_CATEGORICAL = 26
NUM_DAY_23_FILES = 36  # AlgoPerf's _NUM_DAY_23_FILES
NUM_TEST_FILES = NUM_DAY_23_FILES // 2 + 1  # 19, as AlgoPerf splits day 23


def _lines(rs: np.random.Generator, n: int, w: np.ndarray, cat_vocab: int) -> list[str]:
    dense = rs.poisson(rs.uniform(0.5, 20.0, size=NUM_DENSE), size=(n, NUM_DENSE))
    missing = rs.random((n, NUM_DENSE)) < 0.1
    cats = rs.zipf(1.3, size=(n, NUM_CATEGORICAL)) % cat_vocab
    logit = np.log1p(dense) @ w[:NUM_DENSE] - 2.5 + 0.8 * ((cats[:, 0] % 7) == 0)
    labels = rs.random(n) < 1.0 / (1.0 + np.exp(-logit))
    out = []
    for i in range(n):
        d = ["" if missing[i, j] else str(int(dense[i, j])) for j in range(NUM_DENSE)]
        c = [f"{(int(cats[i, j]) * 2654435761 + j) % (1 << 32):08x}"
             for j in range(NUM_CATEGORICAL)]
        out.append("\t".join([str(int(labels[i])), *d, *c]))
    return out


def write(root: Path, *, train_days: int = 4, rows_per_train_file: int = 512,
          rows_per_eval_file: int = 16, seed: int = 0, cat_vocab: int = 5000) -> None:
    """Write the files under ``root`` (deterministic in ``seed``)."""
    rs = np.random.default_rng(seed)
    w = rs.normal(0.0, 0.4, size=NUM_DENSE)
    root.mkdir(parents=True, exist_ok=True)
    for d in range(train_days):
        (root / f"day_{d}_00").write_text("\n".join(_lines(rs, rows_per_train_file, w,
                                                            cat_vocab)) + "\n")
    for s in range(NUM_DAY_23_FILES):
        (root / f"day_23_{s:02d}").write_text("\n".join(_lines(rs, rows_per_eval_file, w,
                                                               cat_vocab)) + "\n")


def sizes(rows_per_train_file: int = 512, train_days: int = 4,
          rows_per_eval_file: int = 16) -> dict[str, int]:
    return {"train": train_days * rows_per_train_file,
            "test": NUM_TEST_FILES * rows_per_eval_file,
            "validation": (NUM_DAY_23_FILES - NUM_TEST_FILES) * rows_per_eval_file}
