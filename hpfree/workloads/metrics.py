"""Evaluation metrics of the built-in workloads, each the field's standard formulation.

One function per metric, so that a test can check each against a hand-computed case:

- ``ssim``: the SSIM of fastMRI as AlgoPerf computes it (skimage's formulation: 7×7 uniform
  window with symmetric padding, sample covariance, K1 = 0.01, K2 = 0.03, the border of
  width 3 left out of the mean; per-example data range).  In JAX, so it runs inside the
  jitted evaluation.
- ``mean_average_precision``: OGB's (and AlgoPerf's) mAP — ``sklearn.metrics.
  average_precision_score`` per task over the labelled examples, averaged over the tasks
  that have both a positive and a negative example.
- ``word_error_rate``: word-level edit distance (the ``editdistance`` package) summed over
  the corpus and divided by the number of reference words.
- ``bleu``: ``sacrebleu.corpus_bleu`` (13a tokenization), on the 0–100 scale AlgoPerf uses.
- ``ctc_greedy_decode``: best-path CTC decoding (argmax, merge repeats, drop blanks).
- ``binary_cross_entropy`` / ``cross_entropy``: mean log-losses with optional smoothing.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hpfree.workloads.layers import is_static_zero


# --- log-losses ---------------------------------------------------------------------------


def cross_entropy(logits: jax.Array, labels: jax.Array, num_classes: int,
                  smoothing: float = 0.0, weights: jax.Array | None = None) -> jax.Array:
    """Mean softmax cross entropy against integer ``labels``, with label smoothing.

    ``weights`` (same shape as ``labels``, 0/1) masks padded positions; the mean is over the
    weighted positions.
    """
    onehot = jax.nn.one_hot(labels, num_classes)
    if not is_static_zero(smoothing):
        onehot = optax.smooth_labels(onehot, smoothing)
    losses = optax.softmax_cross_entropy(logits, onehot)
    if weights is None:
        return losses.mean()
    return (losses * weights).sum() / jnp.maximum(weights.sum(), 1.0)


def binary_cross_entropy(logits: jax.Array, labels: jax.Array, smoothing: float = 0.0,
                         weights: jax.Array | None = None) -> jax.Array:
    """Mean sigmoid cross entropy; smoothing pulls 0/1 labels towards 0.5 (AlgoPerf's OGBG)."""
    labels = labels.astype(logits.dtype)
    if not is_static_zero(smoothing):
        labels = labels * (1.0 - smoothing) + 0.5 * smoothing
    losses = optax.sigmoid_binary_cross_entropy(logits, labels)
    if weights is None:
        return losses.mean()
    return (losses * weights).sum() / jnp.maximum(weights.sum(), 1.0)


# --- SSIM (fastMRI) -----------------------------------------------------------------------


def _uniform_filter(im: jax.Array, size: int) -> jax.Array:
    """Mean over a ``size × size`` window with symmetric padding (scipy's ``uniform_filter``)."""
    pad = size // 2
    im = jnp.pad(im, pad, mode="symmetric")
    # Separable box filter as two cumulative-sum differences (cheap, exact).
    c = jnp.cumsum(jnp.pad(im, ((1, 0), (0, 0))), axis=0)
    im = (c[size:] - c[:-size]) / size
    c = jnp.cumsum(jnp.pad(im, ((0, 0), (1, 0))), axis=1)
    return (c[:, size:] - c[:, :-size]) / size


def _ssim_one(x: jax.Array, y: jax.Array, data_range: jax.Array, win_size: int,
              k1: float, k2: float) -> jax.Array:
    n = win_size ** 2
    cov_norm = n / (n - 1)
    ux, uy = _uniform_filter(x, win_size), _uniform_filter(y, win_size)
    uxx, uyy = _uniform_filter(x * x, win_size), _uniform_filter(y * y, win_size)
    uxy = _uniform_filter(x * y, win_size)
    vx, vy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    pad = (win_size - 1) // 2
    return jnp.mean(s[pad:-pad, pad:-pad])


def ssim(pred: jax.Array, target: jax.Array, data_range: jax.Array | None = None,
         win_size: int = 7, k1: float = 0.01, k2: float = 0.03) -> jax.Array:
    """Per-example SSIM of ``[batch, H, W]`` images, clipped to [-1, 1] (as AlgoPerf does).

    ``data_range`` is per example (AlgoPerf passes each volume's maximum); default 1.
    """
    if data_range is None:
        data_range = jnp.ones(pred.shape[0], pred.dtype)
    data_range = jnp.where(data_range == 0, 1.0, data_range)
    values = jax.vmap(_ssim_one, in_axes=(0, 0, 0, None, None, None))(
        pred, target, data_range, win_size, k1, k2)
    return jnp.clip(values, -1.0, 1.0)


# --- mAP (OGBG) ---------------------------------------------------------------------------


def mean_average_precision(labels: np.ndarray, scores: np.ndarray,
                           mask: np.ndarray | None = None) -> float:
    """OGB's mAP: mean over tasks (columns) with both classes present of sklearn's AP.

    ``mask[i, t]`` marks labelled entries (unlabelled ones are left out of task ``t``).
    Returns NaN when no task has both classes.
    """
    from sklearn.metrics import average_precision_score

    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    mask = np.ones(labels.shape, bool) if mask is None else np.asarray(mask).astype(bool)
    aps = []
    for t in range(labels.shape[1]):
        y, s = labels[mask[:, t], t], scores[mask[:, t], t]
        if (y == 1).any() and (y == 0).any():
            aps.append(average_precision_score(y, s))
    return float(np.mean(aps)) if aps else float("nan")


# --- WER and CTC decoding (LibriSpeech) ---------------------------------------------------


def word_error_rate(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus WER: Σ word-level edit distance / Σ reference words (``editdistance``)."""
    import editdistance

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    errors = sum(editdistance.eval(h.split(), r.split())
                 for h, r in zip(hypotheses, references))
    words = sum(len(r.split()) for r in references)
    return errors / max(words, 1)


def ctc_greedy_decode(logits: np.ndarray, paddings: np.ndarray, blank: int = 0) -> list[list[int]]:
    """Best path: argmax per frame (unpadded frames only), merge repeats, drop blanks."""
    best = np.asarray(logits).argmax(-1)
    out = []
    for path, pad in zip(best, np.asarray(paddings)):
        path = path[pad < 0.5]
        keep = np.ones(len(path), bool)
        keep[1:] = path[1:] != path[:-1]
        out.append([int(t) for t in path[keep] if t != blank])
    return out


# --- BLEU (WMT) ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _bleu_against(references: tuple[str, ...]):
    """A ``sacrebleu.BLEU`` (``corpus_bleu``'s defaults) that has tokenized and counted the
    n-grams of ``references`` once: a workload scores every evaluation against the same
    validation references, and counting them was half the cost of each score."""
    import sacrebleu

    return sacrebleu.BLEU(references=[list(references)])


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0–100) from sacrebleu with its default 13a tokenization (the value of
    ``sacrebleu.corpus_bleu(hypotheses, [references])``)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    return float(_bleu_against(tuple(references)).corpus_score(list(hypotheses), None).score)
