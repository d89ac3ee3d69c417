"""Image classification with a ResNet and a ViT: the miniatures of AlgoPerf's ImageNet pair.

Data: scikit-learn's handwritten digits (shipped with the package), upscaled to 16×16 and
distorted deterministically from ``data_seed`` — a random affine map per image (rotation,
scale, shear, shift) plus pixel noise — so that the task is not solved in a few hundred
steps.  The 1,797 originals are split 1,197 / 300 / 300 as in :mod:`hpfree.workloads.digits`;
each training original appears in ``train_copies`` (8) distorted copies (a fixed,
precomputed augmentation), validation and test originals once.  Metric: error rate (lower is
better).

Models: a ResNet (basic blocks, batch norm, three stages of one block each) and a ViT
(4×4 patches, pre-LN encoder, global average pooling).  As in AlgoPerf, both take label
smoothing; only the ViT takes dropout (AlgoPerf's ResNet-50 has none).  As on ImageNet at
small scale, the ViT, which must learn the invariances the ResNet's convolutions build in,
ends well above the ResNet's error within the same budget and keeps improving to the end.
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
from hpfree.workloads.common import cached_data, rng_for
from hpfree.workloads.layers import Conv, Dropout
from hpfree.workloads.metrics import cross_entropy
from hpfree.workloads.registry import workload

NUM_CLASSES = 10


def distort(images: np.ndarray, rng: np.random.Generator, size: int, noise: float) -> np.ndarray:
    """Upscale 8×8 images in [0, 1] to ``size``² and apply a random affine map + noise each."""
    from scipy import ndimage

    n = len(images)
    out = np.empty((n, size, size), np.float32)
    angle = rng.uniform(-0.35, 0.35, n)
    scale = rng.uniform(0.8, 1.15, n)
    shear = rng.uniform(-0.25, 0.25, n)
    shift = rng.uniform(-2.0, 2.0, (n, 2))
    zoom = size / images.shape[1]
    centre = np.array([size - 1, size - 1]) / 2.0
    for i in range(n):
        big = ndimage.zoom(images[i], zoom, order=1)
        c, s = np.cos(angle[i]), np.sin(angle[i])
        mat = np.array([[c, -s], [s, c]]) @ np.array([[1.0, shear[i]], [0.0, 1.0]]) / scale[i]
        offset = centre - mat @ (centre + shift[i])
        out[i] = ndimage.affine_transform(big, mat, offset=offset, order=1, mode="constant")
    out += noise * rng.normal(size=out.shape).astype(np.float32)
    return out


@cached_data
def make_distorted_digits(data_seed: int, size: int, train_copies: int, noise: float) -> Splits:
    """``x`` [n, size, size, 1] float32 and ``y`` [n] int32 per split."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    labels = data.target.astype(np.int32)
    perm = rng_for(data_seed, "digits/split").permutation(len(labels))
    images, labels = images[perm], labels[perm]
    rng = rng_for(data_seed, "digits/distort")
    parts = {"train": (0, 1197, train_copies), "validation": (1197, 1497, 1),
             "test": (1497, 1797, 1)}
    out = {}
    for name, (lo, hi, copies) in parts.items():
        x = np.concatenate([distort(images[lo:hi], rng, size, noise) for _ in range(copies)])
        y = np.tile(labels[lo:hi], copies)
        order = rng.permutation(len(y))
        out[name] = {"x": x[order, ..., None], "y": y[order]}
    return out


class BasicBlock(nn.Module):
    channels: int
    strides: int

    @nn.compact
    def __call__(self, x, train: bool):
        norm = partial(nn.BatchNorm, use_running_average=not train, momentum=0.9)
        y = Conv(self.channels, (3, 3), (self.strides, self.strides), use_bias=False)(x)
        y = nn.relu(norm()(y))
        y = Conv(self.channels, (3, 3), use_bias=False)(y)
        y = norm(scale_init=nn.initializers.zeros)(y)
        if x.shape != y.shape:
            x = norm()(Conv(self.channels, (1, 1), (self.strides, self.strides),
                            use_bias=False)(x))
        return nn.relu(x + y)


class ResNet(nn.Module):
    widths: tuple[int, ...] = (16, 32, 64)

    @nn.compact
    def __call__(self, x, train: bool):
        x = Conv(self.widths[0], (3, 3), use_bias=False)(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(x))
        for i, width in enumerate(self.widths):
            x = BasicBlock(width, 1 if i == 0 else 2)(x, train)
        return nn.Dense(NUM_CLASSES)(x.mean(axis=(1, 2)))


class EncoderBlock(nn.Module):
    """Pre-LN transformer block (attention, MLP), dropout on both residual branches."""

    heads: int
    mlp_dim: int
    dropout: float

    @nn.compact
    def __call__(self, x, train: bool, mask=None):
        drop = partial(Dropout, self.dropout, deterministic=not train)
        y = nn.MultiHeadDotProductAttention(num_heads=self.heads)(nn.LayerNorm()(x), mask=mask)
        x = x + drop()(y)
        y = nn.Dense(self.mlp_dim)(nn.LayerNorm()(x))
        y = nn.Dense(x.shape[-1])(drop()(nn.gelu(y)))
        return x + drop()(y)


class ViT(nn.Module):
    patch: int
    width: int
    depth: int
    heads: int
    mlp_dim: int
    dropout: float

    @nn.compact
    def __call__(self, x, train: bool):
        x = Conv(self.width, (self.patch, self.patch), (self.patch, self.patch))(x)
        x = x.reshape((x.shape[0], -1, self.width))
        pos = self.param("pos_embedding", nn.initializers.normal(0.02), x.shape[1:])
        x = Dropout(self.dropout, deterministic=not train)(x + pos)
        for _ in range(self.depth):
            x = EncoderBlock(self.heads, self.mlp_dim, self.dropout)(x, train)
        x = nn.LayerNorm()(x).mean(axis=1)
        return nn.Dense(NUM_CLASSES, kernel_init=nn.initializers.zeros)(x)


@dataclass
class _ImageConfig(WorkloadConfig):
    metric: str = "error_rate"
    direction: str = "min"
    image_size: int = 16
    train_copies: int = 8
    pixel_noise: float = 0.2


class _ImageClassifier(Workload):
    supports_label_smoothing = True

    def model(self, dropout=0.0) -> nn.Module:
        raise NotImplementedError

    def make_data(self) -> Splits:
        c = self.cfg
        return make_distorted_digits(c.data_seed, c.image_size, c.train_copies, c.pixel_noise)

    def _apply(self, params, model_state, x, train, rng=None, dropout=0.0):
        raise NotImplementedError

    def loss(self, params, model_state, batch, rng, train, reg=None):
        reg = self.regularizers(reg)
        logits, model_state = self._apply(params, model_state, batch["x"], train, rng,
                                          reg.dropout)
        smoothing = reg.label_smoothing if train else 0.0
        return cross_entropy(logits, batch["y"], NUM_CLASSES, smoothing), model_state

    @partial(jax.jit, static_argnums=0)
    def _eval(self, params, model_state, split_):
        logits, _ = self._apply(params, model_state, split_["x"], False)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, split_["y"]).mean()
        return loss, (jnp.argmax(logits, -1) != split_["y"]).mean()

    def evaluate(self, params, model_state, split_):
        loss, err = self._eval(params, model_state, split_)
        return {"loss": float(loss), "error_rate": float(err)}


@dataclass
class MiniResNetConfig(_ImageConfig):
    name: str = "mini_resnet"
    max_steps: int = 1500
    batch_size: int = 32
    eval_every: int = 100
    target: float = 0.03667


@workload("mini_resnet", MiniResNetConfig)
class MiniResNet(_ImageClassifier):
    """ResNet with batch norm; the running statistics are the model state."""

    supports_dropout = False

    def model(self, dropout=0.0):
        return ResNet()

    def init(self, rng):
        x = jnp.zeros((1, self.cfg.image_size, self.cfg.image_size, 1), jnp.float32)
        # Jitted: one compilation is faster than initialising op by op (same values).
        variables = jax.jit(partial(self.model().init, train=False))({"params": rng}, x)
        return variables["params"], {"batch_stats": variables["batch_stats"]}

    def _apply(self, params, model_state, x, train, rng=None, dropout=0.0):
        variables = {"params": params, **model_state}
        if train:
            logits, new_state = self.model().apply(variables, x, train=True,
                                                   mutable=["batch_stats"])
            return logits, dict(new_state)
        return self.model().apply(variables, x, train=False), model_state


@dataclass
class MiniViTConfig(_ImageConfig):
    name: str = "mini_vit"
    max_steps: int = 1500
    batch_size: int = 32
    eval_every: int = 100
    target: float = 0.3967
    patch: int = 4
    width: int = 64
    depth: int = 4
    heads: int = 4


@workload("mini_vit", MiniViTConfig)
class MiniViT(_ImageClassifier):
    supports_dropout = True

    def model(self, dropout=0.0):
        c = self.cfg
        return ViT(c.patch, c.width, c.depth, c.heads, 2 * c.width, dropout)

    def init(self, rng):
        x = jnp.zeros((1, self.cfg.image_size, self.cfg.image_size, 1), jnp.float32)
        return self.model().init({"params": rng}, x, train=False)["params"], {}

    def _apply(self, params, model_state, x, train, rng=None, dropout=0.0):
        rngs = {"dropout": rng} if rng is not None else {}
        return self.model(dropout).apply({"params": params}, x, train=train,
                                         rngs=rngs), model_state
