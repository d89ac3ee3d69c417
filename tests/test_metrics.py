"""Each workload metric against a case computed by hand (or by an independent formula)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from hpfree.workloads import metrics


def test_bleu_matches_hand_computed_precisions():
    # 1- to 4-gram precisions 5/6, 4/5, 3/4, 2/3; same length, so no brevity penalty.
    assert metrics.bleu(["a b c d e f"], ["a b c d e g"]) == pytest.approx(
        100 * (5 / 6 * 4 / 5 * 3 / 4 * 2 / 3) ** 0.25, abs=1e-6)
    # All precisions 1, hypothesis 5 words for 7 reference words: BP = exp(1 - 7/5).
    assert metrics.bleu(["a b c d e"], ["a b c d e f g"]) == pytest.approx(
        100 * math.exp(1 - 7 / 5), abs=1e-6)
    assert metrics.bleu(["x y z w"], ["x y z w"]) == pytest.approx(100.0)


def test_bleu_is_a_corpus_statistic():
    # Counts are pooled over the sentences before the precisions are taken.
    hyps, refs = ["a b c d", "e f g h"], ["a b c d", "e f g x"]
    # 1-grams 7/8, 2-grams 5/6, 3-grams 3/4, 4-grams 1/2.
    assert metrics.bleu(hyps, refs) == pytest.approx(
        100 * (7 / 8 * 5 / 6 * 3 / 4 * 1 / 2) ** 0.25, abs=1e-6)
    with pytest.raises(ValueError, match="1 hypotheses for 2 references"):
        metrics.bleu(["a"], ["a", "b"])


def test_bleu_against_cached_references_equals_sacrebleu_corpus_bleu():
    # The references' n-grams are counted once and reused: every later score, whatever the
    # hypotheses, is exactly corpus_bleu's.
    import sacrebleu

    rng = np.random.default_rng(0)
    words = ["le", "la", "chat", "chien", "noir", "voit", "mange", "les", "."]
    refs = [" ".join(rng.choice(words, rng.integers(3, 9))) for _ in range(40)]
    for trial in range(3):
        hyps = [" ".join(rng.choice(words, rng.integers(2, 10))) for _ in range(40)]
        hyps[: 10 * trial] = refs[: 10 * trial]
        assert metrics.bleu(hyps, refs) == sacrebleu.corpus_bleu(hyps, [refs]).score


def test_word_error_rate_counts_edits_over_reference_words():
    # "a b c" → "a c c d": one substitution + one insertion; "x y" exact; 6 reference words.
    assert metrics.word_error_rate(["a b c", "x y"], ["a c c d", "x y"]) == pytest.approx(2 / 6)
    assert metrics.word_error_rate(["", "x y"], ["p q r", "x y"]) == pytest.approx(3 / 5)
    assert metrics.word_error_rate(["p q r s"], ["p q r s"]) == 0.0


def test_mean_average_precision_over_tasks_with_both_classes():
    labels = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 0], [0, 0, 1]])
    scores = np.array([[0.9, 0.1, 0.8], [0.8, 0.2, 0.7], [0.3, 0.3, 0.6], [0.1, 0.4, 0.5]])
    mask = np.array([[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 0]])
    # Task 0: ranking pos, neg, pos, neg → AP = ½·1 + ½·⅔.  Task 1 has no positive: skipped.
    # Task 2 (last example unlabelled): pos ranked first among 1 pos, 2 neg → AP = 1.
    assert metrics.mean_average_precision(labels, scores, mask) == pytest.approx(
        ((0.5 + 0.5 * 2 / 3) + 1.0) / 2)
    assert math.isnan(metrics.mean_average_precision(np.zeros((3, 1)), np.ones((3, 1))))


def _ssim_by_formula(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """SSIM of one window: Wang et al. (2004) eq. 13 with sample (co)variances."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = x.mean(), y.mean()
    vx, vy = x.var(ddof=1), y.var(ddof=1)
    cov = ((x - mx) * (y - my)).sum() / (x.size - 1)
    return ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))


def test_ssim_of_a_single_window_matches_the_formula():
    # On a 7×7 image only the centre survives the border crop and its window is the image.
    rng = np.random.default_rng(0)
    x = rng.random((7, 7))
    y = np.clip(x + 0.2 * rng.normal(size=(7, 7)), 0, None)
    got = metrics.ssim(jnp.asarray(x[None], jnp.float32), jnp.asarray(y[None], jnp.float32),
                       jnp.asarray([2.0]))
    assert float(got[0]) == pytest.approx(_ssim_by_formula(x, y, 2.0), rel=1e-4)


def test_ssim_matches_scipy_uniform_filter_formulation_and_bounds():
    from scipy.ndimage import uniform_filter

    rng = np.random.default_rng(1)
    x = rng.random((2, 20, 20))
    y = x + 0.3 * rng.normal(size=x.shape)
    expected = []
    for a, b in zip(x, y):
        f = lambda im: uniform_filter(im, size=7, mode="reflect")  # noqa: E731
        ux, uy = f(a), f(b)
        n = 49 / 48
        vx, vy, vxy = n * (f(a * a) - ux ** 2), n * (f(b * b) - uy ** 2), n * (f(a * b) - ux * uy)
        c1, c2 = 0.01 ** 2, 0.03 ** 2
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
        expected.append(s[3:-3, 3:-3].mean())
    got = np.asarray(metrics.ssim(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)))
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    same = metrics.ssim(jnp.asarray(x, jnp.float32), jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(np.asarray(same), 1.0, rtol=1e-5)


def test_cross_entropies_with_smoothing_and_weights():
    logits = jnp.array([[0.0, math.log(3.0)]])
    assert float(metrics.cross_entropy(logits, jnp.array([1]), 2)) == pytest.approx(
        -math.log(3 / 4), rel=1e-5)
    # Smoothing 0.2 over 2 classes: targets (0.1, 0.9).
    assert float(metrics.cross_entropy(logits, jnp.array([1]), 2, smoothing=0.2)) == pytest.approx(
        -(0.1 * math.log(1 / 4) + 0.9 * math.log(3 / 4)), rel=1e-5)
    # Weights leave the padded position out of the mean.
    two = jnp.array([[0.0, math.log(3.0)], [5.0, -5.0]])
    assert float(metrics.cross_entropy(two, jnp.array([1, 1]), 2,
                                       weights=jnp.array([1.0, 0.0]))) == pytest.approx(
        -math.log(3 / 4), rel=1e-5)
    assert float(metrics.binary_cross_entropy(jnp.array([0.0]), jnp.array([1.0]))) == \
        pytest.approx(math.log(2.0), rel=1e-6)
    # Binary smoothing 0.2: label 1 → 0.9.
    x = 1.5
    p = 1 / (1 + math.exp(-x))
    assert float(metrics.binary_cross_entropy(jnp.array([x]), jnp.array([1.0]), 0.2)) == \
        pytest.approx(-(0.9 * math.log(p) + 0.1 * math.log(1 - p)), rel=1e-5)


def test_ctc_greedy_decode_merges_repeats_and_drops_blanks_and_padding():
    path = [0, 1, 1, 0, 1, 2, 2, 3]  # last frame is padding
    logits = np.eye(4)[path][None] * 5.0
    pad = np.array([[0, 0, 0, 0, 0, 0, 0, 1]])
    assert metrics.ctc_greedy_decode(logits, pad) == [[1, 1, 2]]
