"""Speech recognition with CTC: the miniatures of AlgoPerf's LibriSpeech Conformer and DeepSpeech.

Data: "utterances" of 2–3 words from a fixed lexicon of 60 words over a 12-letter alphabet,
rendered as sequences of 16-dimensional feature frames.  Each letter has a prototype frame
(pairs of letters have close prototypes, so context must disambiguate them); an utterance
has its own speaking rate (each letter lasts 2–6 frames, varying letter by letter), speaker
(a per-feature gain and offset), silences of random length between words, smoothing between
neighbouring letters (coarticulation) and frame noise.  Frames are padded to 64 and labels
(letters and the word-separating space) to 16, with padding indicators as AlgoPerf's input
pipeline gives them.

Models: a Conformer (1-D convolutional subsampling by 2, sinusoidal positions, blocks of
½-FFN → self-attention → convolution module → ½-FFN) and a DeepSpeech-style model (the same
subsampling, then bidirectional LSTMs and a feed-forward layer).  Loss: CTC
(``optax.ctc_loss``, normalized per label token); metric: word error rate of greedy CTC
decoding (lower is better).  Both take dropout; neither takes label smoothing (as in AlgoPerf).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from hpfree.workloads.base import Splits, Workload, WorkloadConfig
from hpfree.workloads.common import cached_data, rng_for, split
from hpfree.workloads.layers import Conv, DepthwiseConv1D, Dropout
from hpfree.workloads.metrics import ctc_greedy_decode, word_error_rate
from hpfree.workloads.registry import workload

ALPHABET = "abcdefghijkl"
SPACE = len(ALPHABET) + 1  # token ids: 0 = CTC blank, 1..12 = letters, 13 = space
NUM_CLASSES = len(ALPHABET) + 2
FEATURES = 16
MAX_FRAMES = 64
MAX_LABELS = 16


def lexicon(data_seed: int, size: int = 60) -> list[str]:
    """``size`` distinct words of 2–4 letters, no letter doubled (part of the hidden task).

    Without doubled letters every letter (≥ 2 frames) keeps ≥ 1 frame after subsampling by 2,
    so every label sequence has a CTC alignment.
    """
    rng = rng_for(data_seed, "speech/lexicon")
    words: list[str] = []
    while len(words) < size:
        w = "".join(rng.choice(list(ALPHABET), size=int(rng.integers(2, 5))))
        if w not in words and all(a != b for a, b in zip(w, w[1:])):
            words.append(w)
    return words


def tokens_to_text(tokens) -> str:
    """Token ids (blank-free) → text; consecutive spaces collapse, as word splitting does."""
    return "".join(" " if t == SPACE else ALPHABET[t - 1] for t in tokens if 0 < t <= SPACE)


@cached_data
def make_utterances(data_seed: int, sizes: tuple[int, int, int], noise: float) -> Splits:
    """``frames`` [n, 64, 16], ``frame_pad`` [n, 64], ``labels`` [n, 16], ``label_pad`` [n, 16]."""
    hid = rng_for(data_seed, "speech/prototypes")
    proto = hid.normal(0.0, 1.0, (NUM_CLASSES, FEATURES))
    for a in range(1, len(ALPHABET), 2):  # letters 1&2, 3&4, ...: confusable pairs
        proto[a + 1] = proto[a] + 0.45 * hid.normal(0.0, 1.0, FEATURES)
    proto[SPACE] = 0.1 * hid.normal(0.0, 1.0, FEATURES)  # silence: low energy
    base_len = hid.uniform(2.0, 3.5, NUM_CLASSES)
    words = lexicon(data_seed)

    rng = rng_for(data_seed, "speech/utterances")
    n = sum(sizes)
    frames = np.zeros((n, MAX_FRAMES, FEATURES), np.float32)
    frame_pad = np.ones((n, MAX_FRAMES), np.float32)
    labels = np.zeros((n, MAX_LABELS), np.int32)
    label_pad = np.ones((n, MAX_LABELS), np.float32)
    kernel = np.array([0.25, 0.5, 0.25])
    from scipy import ndimage

    for i in range(n):
        while True:
            rate = rng.uniform(0.7, 1.3)
            chosen = rng.choice(len(words), size=int(rng.integers(2, 4)))
            text = " ".join(words[j] for j in chosen)
            toks = [SPACE if ch == " " else ALPHABET.index(ch) + 1 for ch in text]
            durs = [max(2, int(round(rate * base_len[t] * rng.uniform(0.75, 1.3)))) for t in toks]
            durs = [d + int(rng.integers(0, 4)) if t == SPACE else d for t, d in zip(toks, durs)]
            if len(toks) <= MAX_LABELS and sum(durs) <= MAX_FRAMES:
                break
        seq = np.repeat(proto[toks], durs, axis=0)
        seq = ndimage.convolve1d(seq, kernel, axis=0, mode="nearest")
        gain = np.exp(rng.normal(0.0, 0.25, FEATURES))
        seq = seq * gain + rng.normal(0.0, 0.3, FEATURES)
        seq += noise * rng.normal(size=seq.shape)
        t = len(seq)
        frames[i, :t], frame_pad[i, :t] = seq, 0.0
        labels[i, :len(toks)], label_pad[i, :len(toks)] = toks, 0.0
    return split({"frames": frames, "frame_pad": frame_pad, "labels": labels,
                  "label_pad": label_pad}, sizes)


def subsample(x, pad, width: int):
    """Strided 1-D convolution halving the frame rate (AlgoPerf subsamples by 4 with 2-D convs)."""
    x = nn.relu(Conv(width, (3,), strides=(2,))(x))
    return x, pad[:, ::2]


def sinusoids(length: int, width: int) -> np.ndarray:
    pos = np.arange(length)[:, None]
    freq = np.exp(-np.log(10000.0) * np.arange(0, width, 2) / width)
    out = np.zeros((length, width), np.float32)
    out[:, 0::2], out[:, 1::2] = np.sin(pos * freq), np.cos(pos * freq)
    return out


class FeedForward(nn.Module):
    width: int
    dropout: float

    @nn.compact
    def __call__(self, x, train: bool):
        y = nn.Dense(4 * self.width)(nn.LayerNorm()(x))
        y = Dropout(self.dropout, deterministic=not train)(nn.swish(y))
        return Dropout(self.dropout, deterministic=not train)(nn.Dense(self.width)(y))


class ConformerBlock(nn.Module):
    width: int
    heads: int
    kernel: int
    dropout: float

    @nn.compact
    def __call__(self, x, pad, train: bool):
        drop = partial(Dropout, self.dropout, deterministic=not train)
        x = x + 0.5 * FeedForward(self.width, self.dropout)(x, train)
        mask = nn.make_attention_mask(pad < 0.5, pad < 0.5)
        y = nn.MultiHeadDotProductAttention(num_heads=self.heads)(nn.LayerNorm()(x), mask=mask)
        x = x + drop()(y)
        # Convolution module: pointwise + GLU, depthwise, norm, swish, pointwise.
        y = nn.glu(nn.Dense(2 * self.width)(nn.LayerNorm()(x)))
        y = y * (1.0 - pad)[..., None]
        y = DepthwiseConv1D(self.kernel)(y)
        y = nn.Dense(self.width)(nn.swish(nn.LayerNorm()(y)))
        x = x + drop()(y)
        x = x + 0.5 * FeedForward(self.width, self.dropout)(x, train)
        return nn.LayerNorm()(x)


class Conformer(nn.Module):
    width: int
    depth: int
    heads: int
    dropout: float

    @nn.compact
    def __call__(self, frames, pad, train: bool):
        x, pad = subsample(frames, pad, self.width)
        x = nn.Dense(self.width)(x) + sinusoids(x.shape[1], self.width)
        x = Dropout(self.dropout, deterministic=not train)(x)
        for _ in range(self.depth):
            x = ConformerBlock(self.width, self.heads, 7, self.dropout)(x, pad, train)
        return nn.Dense(NUM_CLASSES)(x), pad


class DeepSpeech(nn.Module):
    width: int
    depth: int
    dropout: float

    @nn.compact
    def __call__(self, frames, pad, train: bool):
        x, pad = subsample(frames, pad, self.width)
        lengths = jnp.sum(1.0 - pad, axis=1).astype(jnp.int32)
        for _ in range(self.depth):
            x = Dropout(self.dropout, deterministic=not train)(nn.LayerNorm()(x))
            x = nn.Bidirectional(nn.RNN(nn.OptimizedLSTMCell(self.width)),
                                 nn.RNN(nn.OptimizedLSTMCell(self.width)))(
                x, seq_lengths=lengths)
        x = nn.relu(nn.Dense(2 * self.width)(nn.LayerNorm()(x)))
        x = Dropout(self.dropout, deterministic=not train)(x)
        return nn.Dense(NUM_CLASSES)(x), pad


@dataclass
class _SpeechConfig(WorkloadConfig):
    metric: str = "wer"
    direction: str = "min"
    num_train: int = 6000
    # 2,000 utterances (was 300: a WER standard error of 15-25 % of the target, and seed
    # bests 0.09-0.12 apart; docs/fidelity.md, change 10). AlgoPerf: 5,348 (dev-clean+other).
    num_validation: int = 2000
    num_test: int = 300
    frame_noise: float = 0.6
    width: int = 64
    depth: int = 2


class _CTCWorkload(Workload):
    supports_dropout = True
    supports_label_smoothing = False

    def model(self, dropout=0.0) -> nn.Module:
        raise NotImplementedError

    def make_data(self) -> Splits:
        c = self.cfg
        return make_utterances(c.data_seed, (c.num_train, c.num_validation, c.num_test),
                               c.frame_noise)

    def init(self, rng):
        frames = jnp.zeros((1, MAX_FRAMES, FEATURES), jnp.float32)
        pad = jnp.zeros((1, MAX_FRAMES), jnp.float32)
        # Jitted: one compilation is faster than initialising op by op (same values).
        init = jax.jit(partial(self.model().init, train=False))
        return init({"params": rng}, frames, pad)["params"], {}

    def _ctc(self, params, batch, train, rng=None, dropout=0.0):
        rngs = {"dropout": rng} if rng is not None else {}
        logits, pad = self.model(dropout).apply({"params": params}, batch["frames"],
                                         batch["frame_pad"], train=train, rngs=rngs)
        per_seq = optax.ctc_loss(logits, pad, batch["labels"], batch["label_pad"])
        # Normalized per label token, so the scale does not depend on utterance length.
        loss = per_seq.sum() / jnp.maximum((1.0 - batch["label_pad"]).sum(), 1.0)
        return loss, logits, pad

    def loss(self, params, model_state, batch, rng, train, reg=None):
        reg = self.regularizers(reg)
        return self._ctc(params, batch, train, rng, reg.dropout)[0], model_state

    @partial(jax.jit, static_argnums=0)
    def _eval(self, params, split_):
        return self._ctc(params, split_, False)

    def evaluate(self, params, model_state, split_):
        loss, logits, pad = self._eval(params, split_)
        hyps = [tokens_to_text(t) for t in ctc_greedy_decode(np.asarray(logits), np.asarray(pad))]
        labels, label_pad = np.asarray(split_["labels"]), np.asarray(split_["label_pad"])
        refs = [tokens_to_text(row[p < 0.5]) for row, p in zip(labels, label_pad)]
        return {"loss": float(loss), "wer": word_error_rate(hyps, refs)}


@dataclass
class MiniConformerConfig(_SpeechConfig):
    name: str = "mini_conformer"
    max_steps: int = 1500
    batch_size: int = 16
    eval_every: int = 100
    target: float = 0.09815
    width: int = 48
    heads: int = 4


@workload("mini_conformer", MiniConformerConfig)
class MiniConformer(_CTCWorkload):
    def model(self, dropout=0.0):
        c = self.cfg
        return Conformer(c.width, c.depth, c.heads, dropout)


@dataclass
class MiniDeepSpeechConfig(_SpeechConfig):
    name: str = "mini_deepspeech"
    max_steps: int = 1500
    batch_size: int = 16
    eval_every: int = 100
    target: float = 0.05069


@workload("mini_deepspeech", MiniDeepSpeechConfig)
class MiniDeepSpeech(_CTCWorkload):
    def model(self, dropout=0.0):
        c = self.cfg
        return DeepSpeech(c.width, c.depth, dropout)
