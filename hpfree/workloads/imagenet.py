"""Image classification with a ResNet and a ViT: the miniatures of AlgoPerf's ImageNet pair.

Data: cluttered digits, rendered deterministically from ``data_seed`` out of scikit-learn's
1,797 handwritten 8×8 digits (shipped with the package; nothing is downloaded) onto a
``image_size``² canvas (24): per image a random affine map (rotation, scale, shear, shift),
an elastic displacement, a random stroke weight and contrast, a smooth uneven background,
fragments of two other digits at the edges (clutter, partial occlusion) and pixel noise of a
random level.  What this mirrors in ImageNet: objects vary in pose, size, lighting and
background and share the frame with other objects; the validation set is large (50,000)
and made of *other* photographs than the training set.  So the 1,797 source digits are
split once (:func:`source_partition`: 1,197 training / 400 validation / 200 test sources),
and every split is rendered from its own sources only, clutter included: ``train_copies``
(8) fixed renderings of each training source (a fixed, precomputed augmentation, which a
model can overfit, as AlgoPerf's ImageNet models overfit without augmentation or
regularization), ``num_validation`` (2,000) and ``num_test`` (1,000) renderings cycling
over the held-out sources.  Metric: error rate (lower is better).

The renderings of one source are not independent draws: the standard error of the
validation error lies between the binomial one on 2,000 images and the one on 400 sources.

Models: a ResNet (a stride-2 stem as ResNet-50's, basic blocks, batch norm, three stages of
one block each) and a ViT
(4×4 patches, fixed 2-D sin-cos positions as AlgoPerf's ViT, pre-LN encoder, global average
pooling).  As in AlgoPerf, both take label
smoothing; only the ViT takes dropout (AlgoPerf's ResNet-50 has none).  As on ImageNet at
small scale, the ViT, which must learn the invariances the ResNet's convolutions build in,
ends above the ResNet's error within the same budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from hpfree.workloads.base import Splits, Workload, WorkloadConfig, map_batches
from hpfree.workloads.common import cached_data, rng_for
from hpfree.workloads.layers import Conv, Dropout
from hpfree.workloads.metrics import cross_entropy
from hpfree.workloads.registry import workload

NUM_CLASSES = 10


SOURCES = {"train": 1197, "validation": 400, "test": 200}   # of the 1,797 digits, disjoint


def source_partition(data_seed: int) -> dict[str, np.ndarray]:
    """Indices into scikit-learn's 1,797 digits per split: no source digit is in two splits."""
    perm = rng_for(data_seed, "digits/split").permutation(sum(SOURCES.values()))
    bounds = np.cumsum([0, *SOURCES.values()])
    return {name: perm[lo:hi] for name, lo, hi in zip(SOURCES, bounds[:-1], bounds[1:])}


def _smooth_field(rng: np.random.Generator, n: int, channels: int, size: int,
                  grid: int) -> np.ndarray:
    """[n, channels, size, size] smooth random fields: N(0, 1) on a grid², cubic upsampling."""
    from scipy import ndimage

    up = ndimage.zoom(np.eye(grid), (size / grid, 1), order=3, mode="nearest")  # [size, grid]
    coarse = rng.normal(size=(n, channels, grid, grid))
    return np.einsum("hi,ncij,wj->nchw", up, coarse, up)


def warp(sources: np.ndarray, rng: np.random.Generator, size: int, centre: np.ndarray,
         digit_frac: float = 0.7, elastic: float = 0.5) -> np.ndarray:
    """Render 8×8 sources onto a size² canvas: random affine map + elastic displacement.

    Each output pixel samples the source (bilinearly) at ``M (p - centre - t) / zoom + c``,
    ``M`` a random rotation · shear / scale, ``t = centre`` ([n, 2], pixels; the digit spans
    ``digit_frac`` of the canvas at scale 1), plus a
    smooth random displacement (Simard et al. 2003) of ``elastic`` source pixels; vectorised
    over the whole stack.
    """
    n = len(sources)
    angle = rng.uniform(-0.4, 0.4, n)
    scale = rng.uniform(0.8, 1.2, n)
    shear = rng.uniform(-0.3, 0.3, n)
    t = centre
    c, s = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)       # [n, 2, 2]
    she = np.zeros((n, 2, 2))
    she[:, 0, 0] = she[:, 1, 1] = 1.0
    she[:, 0, 1] = shear
    mat = rot @ she / scale[:, None, None] / (digit_frac * size / 8.0)
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij"), -1)
    q = grid[None] - (size - 1) / 2.0 - t[:, None, None, :]                  # [n, s, s, 2]
    src = np.einsum("nij,nhwj->nihw", mat, q) + 3.5                          # [n, 2, s, s]
    src += elastic * _smooth_field(rng, n, 2, size, 4)
    return bilinear(sources, src[:, 0], src[:, 1])


def bilinear(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``images`` [n, h, w] sampled at (``rows``, ``cols``) [n, ...], zero outside."""
    n, h, w = images.shape
    padded = np.zeros((n, h + 2, w + 2), images.dtype)
    padded[:, 1:-1, 1:-1] = images       # the zero border answers every point outside
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = rows - r0, cols - c0
    r0 = r0.astype(np.int64) + 1
    c0 = c0.astype(np.int64) + 1
    at = np.arange(n).reshape((n,) + (1,) * (rows.ndim - 1))

    def px(r, c):
        return padded[at, np.clip(r, 0, h + 1), np.clip(c, 0, w + 1)]

    return ((1 - fr) * ((1 - fc) * px(r0, c0) + fc * px(r0, c0 + 1))
            + fr * ((1 - fc) * px(r0 + 1, c0) + fc * px(r0 + 1, c0 + 1)))


def render(sources: np.ndarray, pool: np.ndarray, rng: np.random.Generator, size: int,
           noise: float) -> np.ndarray:
    """Cluttered images of ``sources`` ([n, 8, 8] in [0, 1]): the labelled digit, centred
    up to a shift, with varied stroke weight and contrast, over a smooth uneven background,
    partly hidden behind fragments of two other digits from ``pool`` (the same split's
    sources) pushed towards the edges, plus pixel noise of a random level."""
    n = len(sources)
    fg = warp(sources, rng, size, rng.uniform(-0.1, 0.1, (n, 2)) * size)
    fg = fg ** np.exp(rng.uniform(-0.7, 0.7, (n, 1, 1)))                    # stroke weight
    fg *= rng.uniform(0.6, 1.0, (n, 1, 1))                                   # contrast
    img = rng.uniform(0.0, 0.3, (n, 1, 1)) * (0.5 + 0.5 * np.tanh(
        _smooth_field(rng, n, 1, size, 3)[:, 0]))                           # background
    for _ in range(2):
        # A fragment: another digit centred 0.45-0.65 canvas widths away, partly in view.
        other = pool[rng.integers(0, len(pool), n)]
        phi = rng.uniform(0, 2 * np.pi, n)
        dist = rng.uniform(0.45, 0.65, n) * size
        frag = warp(other, rng, size, np.stack([np.cos(phi), np.sin(phi)], -1) * dist[:, None])
        img = np.maximum(img, frag * rng.uniform(0.2, 0.6, (n, 1, 1)))
    img = np.maximum(img, fg)
    img += rng.uniform(0.05, noise, (n, 1, 1)) * rng.normal(size=img.shape)
    return img.astype(np.float32)


@cached_data
def make_cluttered_digits(data_seed: int, size: int, train_copies: int, num_validation: int,
                          num_test: int, noise: float) -> Splits:
    """``x`` [n, size, size, 1] float32 and ``y`` [n] int32 per split.

    Training: ``train_copies`` renderings of each of the 1,197 training sources; validation
    and test: ``num_validation`` / ``num_test`` renderings cycling over their own held-out
    sources (400 and 200), with clutter drawn from the same split's sources only.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    labels = data.target.astype(np.int32)
    counts = {"train": train_copies * SOURCES["train"], "validation": num_validation,
              "test": num_test}
    out = {}
    for name, idx in source_partition(data_seed).items():
        rng = rng_for(data_seed, f"digits/render/{name}")
        pick = idx[np.arange(counts[name]) % len(idx)]
        x = render(images[pick], images[idx], rng, size, noise)
        order = rng.permutation(len(pick))
        out[name] = {"x": x[order, ..., None], "y": labels[pick][order]}
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
    # ResNet-50's stem (7×7 stride-2 convolution, 3×3 stride-2 max pooling) hands its first
    # stage a quarter of the resolution; here a 3×3 convolution of this stride.
    stem_stride: int = 2

    @nn.compact
    def __call__(self, x, train: bool):
        x = Conv(self.widths[0], (3, 3), (self.stem_stride,) * 2, use_bias=False)(x)
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


def posemb_sincos_2d(h: int, w: int, width: int, temperature: float = 10_000.0) -> np.ndarray:
    """[h·w, width] fixed 2-D sine-cosine positions (MoCo v3), AlgoPerf's ViT default
    (``posemb='sincos2d'``): a quarter of the channels each for sin/cos of the column and of
    the row, at ``width/4`` frequencies from 1 down to ``1/temperature``."""
    if width % 4:
        raise ValueError(f"width {width} must be a multiple of 4 for 2-D sincos positions")
    rows, cols = np.mgrid[:h, :w]
    omega = 1.0 / temperature ** (np.arange(width // 4) / max(width // 4 - 1, 1))
    x = cols.reshape(-1, 1) * omega
    y = rows.reshape(-1, 1) * omega
    return np.concatenate([np.sin(x), np.cos(x), np.sin(y), np.cos(y)], 1).astype(np.float32)


class ViT(nn.Module):
    patch: int
    width: int
    depth: int
    heads: int
    mlp_dim: int
    dropout: float
    posemb: str = "sincos2d"     # AlgoPerf's names: "sincos2d" (its default) or "learn"

    @nn.compact
    def __call__(self, x, train: bool):
        x = Conv(self.width, (self.patch, self.patch), (self.patch, self.patch))(x)
        h, w = x.shape[1:3]
        x = x.reshape((x.shape[0], -1, self.width))
        if self.posemb == "sincos2d":
            pos = jnp.asarray(posemb_sincos_2d(h, w, self.width))
        elif self.posemb == "learn":
            pos = self.param("pos_embedding", nn.initializers.normal(0.02), x.shape[1:])
        else:
            raise ValueError(f"posemb {self.posemb!r}: 'sincos2d' or 'learn'")
        x = Dropout(self.dropout, deterministic=not train)(x + pos)
        for _ in range(self.depth):
            x = EncoderBlock(self.heads, self.mlp_dim, self.dropout)(x, train)
        x = nn.LayerNorm()(x).mean(axis=1)
        return nn.Dense(NUM_CLASSES, kernel_init=nn.initializers.zeros)(x)


@dataclass
class _ImageConfig(WorkloadConfig):
    metric: str = "error_rate"
    direction: str = "min"
    image_size: int = 24
    train_copies: int = 8
    num_validation: int = 2000
    num_test: int = 1000
    pixel_noise: float = 0.25


class _ImageClassifier(Workload):
    supports_label_smoothing = True
    eval_batch_size = 250     # 2,000 validation images in 8 slices (docs/speed.md)

    def model(self, dropout=0.0) -> nn.Module:
        raise NotImplementedError

    def make_data(self) -> Splits:
        c = self.cfg
        return make_cluttered_digits(c.data_seed, c.image_size, c.train_copies,
                                     c.num_validation, c.num_test, c.pixel_noise)

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
        logits = map_batches(lambda x: self._apply(params, model_state, x, False)[0],
                             split_["x"], self.eval_batch_size)
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
    target: float = 0.1976
    # 2: the first stage at half resolution, as ResNet-50's stem (change 6 of
    # docs/fidelity.md); 1: full resolution (3.4× the cost, before change 6).
    stem_stride: int = 2


@workload("mini_resnet", MiniResNetConfig)
class MiniResNet(_ImageClassifier):
    """ResNet with batch norm; the running statistics are the model state."""

    supports_dropout = False

    def model(self, dropout=0.0):
        return ResNet(stem_stride=self.cfg.stem_stride)

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
    target: float = 0.6536
    patch: int = 4
    width: int = 64
    depth: int = 4
    heads: int = 4
    # Fixed 2-D sin-cos positions, AlgoPerf's ViT default; "learn": learned, N(0, 0.02²) at
    # init (this workload before change 6 of docs/fidelity.md).
    posemb: str = "sincos2d"


@workload("mini_vit", MiniViTConfig)
class MiniViT(_ImageClassifier):
    supports_dropout = True

    def model(self, dropout=0.0):
        c = self.cfg
        return ViT(c.patch, c.width, c.depth, c.heads, 2 * c.width, dropout, c.posemb)

    def init(self, rng):
        x = jnp.zeros((1, self.cfg.image_size, self.cfg.image_size, 1), jnp.float32)
        return self.model().init({"params": rng}, x, train=False)["params"], {}

    def _apply(self, params, model_state, x, train, rng=None, dropout=0.0):
        rngs = {"dropout": rng} if rng is not None else {}
        return self.model(dropout).apply({"params": params}, x, train=train,
                                         rngs=rngs), model_state
