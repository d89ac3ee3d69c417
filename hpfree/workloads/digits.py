"""scikit-learn's handwritten digits (8×8, 10 classes): an MLP and a small CNN.

The data ships inside scikit-learn, so nothing is downloaded.  Splits are a fixed,
seeded permutation (train 1,197 / validation 300 / test 300).  The metric is the error rate
(lower is better), as for AlgoPerf's ImageNet workloads.  Both models support dropout and
label smoothing.
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
from hpfree.workloads.layers import Conv, Dropout, is_static_zero
from hpfree.workloads.registry import workload


def load_digits_splits(seed: int, image_shape: tuple[int, ...]) -> Splits:
    """Digits scaled to [0, 1], permuted with ``seed``, split 1197 / 300 / 300."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32).reshape((-1, *image_shape))
    y = data.target.astype(np.int32)
    perm = np.random.default_rng(seed).permutation(len(y))
    x, y = x[perm], y[perm]
    cut = {"train": (0, 1197), "validation": (1197, 1497), "test": (1497, 1797)}
    return {k: {"x": x[a:b], "y": y[a:b]} for k, (a, b) in cut.items()}


def smoothed_cross_entropy(logits, labels, num_classes: int, smoothing: float):
    onehot = jax.nn.one_hot(labels, num_classes)
    if not is_static_zero(smoothing):
        onehot = optax.smooth_labels(onehot, smoothing)
    return optax.softmax_cross_entropy(logits, onehot).mean()


class MLP(nn.Module):
    hidden: int
    depth: int
    dropout: float

    @nn.compact
    def __call__(self, x, train: bool):
        x = x.reshape((x.shape[0], -1))
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(self.hidden)(x))
            x = Dropout(self.dropout, deterministic=not train)(x)
        return nn.Dense(10)(x)


class CNN(nn.Module):
    channels: int
    dropout: float

    @nn.compact
    def __call__(self, x, train: bool):
        # layers.Conv = nn.Conv computed from slices: fast to train inside the runner's scan.
        x = nn.relu(Conv(self.channels, (3, 3))(x))
        x = nn.relu(Conv(self.channels * 2, (3, 3), strides=(2, 2))(x))
        x = x.reshape((x.shape[0], -1))
        x = nn.relu(nn.Dense(64)(x))
        x = Dropout(self.dropout, deterministic=not train)(x)
        return nn.Dense(10)(x)


class _DigitsClassifier(Workload):
    supports_dropout = True
    supports_label_smoothing = True
    image_shape: tuple[int, ...] = (64,)

    def model(self, dropout=0.0) -> nn.Module:
        raise NotImplementedError

    def make_data(self) -> Splits:
        return load_digits_splits(self.cfg.data_seed, self.image_shape)

    def init(self, rng):
        x = jnp.zeros((1, *self.image_shape), jnp.float32)
        params = self.model().init({"params": rng}, x, train=False)["params"]
        return params, {}

    def loss(self, params, model_state, batch, rng, train, reg=None):
        reg = self.regularizers(reg)
        logits = self.model(reg.dropout).apply({"params": params}, batch["x"], train=train,
                                    rngs={"dropout": rng})
        smoothing = reg.label_smoothing if train else 0.0
        return smoothed_cross_entropy(logits, batch["y"], 10, smoothing), model_state

    @partial(jax.jit, static_argnums=0)
    def _eval_sums(self, params, split):
        logits = self.model().apply({"params": params}, split["x"], train=False)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, split["y"]).mean()
        err = (jnp.argmax(logits, -1) != split["y"]).mean()
        return loss, err

    def evaluate(self, params, model_state, split):
        loss, err = self._eval_sums(params, split)
        return {"loss": float(loss), "error_rate": float(err)}


@dataclass
class DigitsMLPConfig(WorkloadConfig):
    name: str = "digits_mlp"
    max_steps: int = 800
    batch_size: int = 64
    eval_every: int = 50
    metric: str = "error_rate"
    target: float = 0.04
    direction: str = "min"
    hidden: int = 128
    depth: int = 2


@workload("digits_mlp", DigitsMLPConfig)
class DigitsMLP(_DigitsClassifier):
    image_shape = (64,)

    def model(self, dropout=0.0):
        return MLP(self.cfg.hidden, self.cfg.depth, dropout)


@dataclass
class DigitsCNNConfig(WorkloadConfig):
    name: str = "digits_cnn"
    max_steps: int = 600
    batch_size: int = 64
    eval_every: int = 50
    metric: str = "error_rate"
    target: float = 0.03
    direction: str = "min"
    channels: int = 16


@workload("digits_cnn", DigitsCNNConfig)
class DigitsCNN(_DigitsClassifier):
    image_shape = (8, 8, 1)

    def model(self, dropout=0.0):
        return CNN(self.cfg.channels, dropout)
