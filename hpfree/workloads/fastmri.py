"""MRI reconstruction with a U-Net: the miniature of AlgoPerf's fastMRI knee single-coil.

Data: random phantoms (a bright "head" ellipse with smaller ellipses of either sign inside,
plus a smooth texture), 32×32, in [0, 1].  Their k-space (2-D FFT, with complex measurement
noise) is undersampled as fastMRI does — full columns, 4× acceleration, the central 8 % (here 3
of 32 columns) always kept, 5 more drawn at random per image — and the zero-filled inverse FFT
magnitude is the input.  As in AlgoPerf, input and target are normalized by the input's mean
and standard deviation; the SSIM is computed after undoing that, with each image's maximum
as data range.

Model: fastMRI's U-Net (conv 3×3 → instance norm → leaky ReLU(0.2) → dropout, twice per block;
average-pool down, transposed-conv up, skip connections), two pooling levels and 8 base
channels.  Loss: L1; metric: SSIM (higher is better).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from hpfree.workloads.base import Splits, Workload, WorkloadConfig
from hpfree.workloads.common import cached_data, rng_for, split
from hpfree.workloads.layers import Conv, Dropout, UpConv2x
from hpfree.workloads.metrics import ssim
from hpfree.workloads.registry import workload


def phantoms(rng: np.random.Generator, n: int, size: int, ellipses: int = 8) -> np.ndarray:
    """``n`` random ellipse phantoms ``[n, size, size]`` scaled to max 1."""
    coords = np.linspace(-1.0, 1.0, size)
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    img = np.zeros((n, size, size))
    # A large "head" ellipse, then smaller inner structures of random sign.
    cx = np.concatenate([rng.uniform(-0.1, 0.1, (n, 1)), rng.uniform(-0.5, 0.5, (n, ellipses))], 1)
    cy = np.concatenate([rng.uniform(-0.1, 0.1, (n, 1)), rng.uniform(-0.5, 0.5, (n, ellipses))], 1)
    ax = np.concatenate([rng.uniform(0.6, 0.9, (n, 1)), rng.uniform(0.05, 0.4, (n, ellipses))], 1)
    ay = np.concatenate([rng.uniform(0.6, 0.9, (n, 1)), rng.uniform(0.05, 0.4, (n, ellipses))], 1)
    th = rng.uniform(0.0, np.pi, (n, ellipses + 1))
    amp = np.concatenate([rng.uniform(0.6, 1.0, (n, 1)), rng.uniform(-0.4, 0.5, (n, ellipses))], 1)
    for e in range(ellipses + 1):
        c, s = np.cos(th[:, e])[:, None, None], np.sin(th[:, e])[:, None, None]
        dx, dy = xx[None] - cx[:, e, None, None], yy[None] - cy[:, e, None, None]
        u, v = (c * dx + s * dy) / ax[:, e, None, None], (-s * dx + c * dy) / ay[:, e, None, None]
        img += amp[:, e, None, None] * (u ** 2 + v ** 2 <= 1.0)
    head = img > 0
    # Smooth texture inside the head: a few random low-frequency cosines.
    freq = rng.uniform(1.0, 4.0, (n, 3, 2))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 3))
    tex = sum(np.cos(np.pi * (freq[:, i, 0, None, None] * xx + freq[:, i, 1, None, None] * yy)
                     + phase[:, i, None, None]) for i in range(3))
    img = np.clip(img + 0.08 * tex * head, 0.0, None)
    return img / np.maximum(img.max(axis=(1, 2), keepdims=True), 1e-6)


def column_masks(rng: np.random.Generator, n: int, size: int, acceleration: int,
                 center_fraction: float) -> np.ndarray:
    """fastMRI's random Cartesian masks ``[n, size]``: the centre plus random columns."""
    num_center = max(1, int(round(size * center_fraction)))
    num_keep = size // acceleration
    center = np.zeros(size, bool)
    lo = (size - num_center + 1) // 2
    center[lo:lo + num_center] = True
    masks = np.tile(center, (n, 1))
    others = np.flatnonzero(~center)
    # A random subset of the other columns per image: the first k of a random permutation.
    chosen = np.argsort(rng.random((n, len(others))), axis=1)[:, :max(0, num_keep - num_center)]
    masks[np.arange(n)[:, None], others[chosen]] = True
    return masks


@cached_data
def make_mri(data_seed: int, sizes: tuple[int, int, int], size: int, acceleration: int,
             noise: float) -> Splits:
    """``x`` zero-filled input and ``y`` target, normalized; ``mean``, ``std``, ``max``."""
    rng = rng_for(data_seed, "fastmri")
    n = sum(sizes)
    target = phantoms(rng, n, size)
    kspace = np.fft.fftshift(np.fft.fft2(target), axes=(1, 2))
    scale = noise * np.abs(kspace).mean()
    kspace = kspace + scale * (rng.normal(size=kspace.shape) + 1j * rng.normal(size=kspace.shape))
    mask = column_masks(rng, n, size, acceleration, 0.08)
    zero_filled = np.abs(np.fft.ifft2(np.fft.ifftshift(kspace * mask[:, None, :], axes=(1, 2))))
    mean = zero_filled.mean(axis=(1, 2))
    std = zero_filled.std(axis=(1, 2)) + 1e-6
    x = (zero_filled - mean[:, None, None]) / std[:, None, None]
    y = (target - mean[:, None, None]) / std[:, None, None]
    arrays = {"x": x[..., None], "y": y, "mean": mean, "std": std, "max": target.max(axis=(1, 2))}
    return split({k: v.astype(np.float32) for k, v in arrays.items()}, sizes)


class ConvBlock(nn.Module):
    channels: int
    dropout: float

    @nn.compact
    def __call__(self, x, train: bool):
        for _ in range(2):
            x = Conv(self.channels, (3, 3), use_bias=False)(x)
            x = nn.InstanceNorm(use_bias=False, use_scale=False)(x)
            x = nn.leaky_relu(x, 0.2)
            # Dropout2d: whole channels, as in the fastMRI U-Net.
            x = Dropout(self.dropout, broadcast_dims=(1, 2), deterministic=not train)(x)
        return x


class UNet(nn.Module):
    channels: int
    pools: int
    dropout: float

    @nn.compact
    def __call__(self, x, train: bool):
        skips = []
        ch = self.channels
        for _ in range(self.pools):
            x = ConvBlock(ch, self.dropout)(x, train)
            skips.append(x)
            x = nn.avg_pool(x, (2, 2), (2, 2))
            ch *= 2
        x = ConvBlock(ch, self.dropout)(x, train)
        for skip in reversed(skips):
            ch //= 2
            x = UpConv2x(ch, use_bias=False)(x)
            x = nn.leaky_relu(nn.InstanceNorm(use_bias=False, use_scale=False)(x), 0.2)
            x = ConvBlock(ch, self.dropout)(jnp.concatenate([x, skip], axis=-1), train)
        return nn.Dense(1)(x)[..., 0]  # the 1×1 output convolution


@dataclass
class MiniFastMRIConfig(WorkloadConfig):
    name: str = "mini_fastmri"
    max_steps: int = 1200
    batch_size: int = 8
    eval_every: int = 100
    metric: str = "ssim"
    target: float = 0.8375
    direction: str = "max"
    num_train: int = 3000
    num_validation: int = 200
    num_test: int = 200
    image_size: int = 32
    acceleration: int = 4
    kspace_noise: float = 0.02
    channels: int = 8


@workload("mini_fastmri", MiniFastMRIConfig)
class MiniFastMRI(Workload):
    supports_dropout = True
    supports_label_smoothing = False

    def model(self, dropout=0.0) -> UNet:
        return UNet(self.cfg.channels, 2, dropout)

    def make_data(self) -> Splits:
        c = self.cfg
        return make_mri(c.data_seed, (c.num_train, c.num_validation, c.num_test), c.image_size,
                        c.acceleration, c.kspace_noise)

    def init(self, rng):
        x = jnp.zeros((1, self.cfg.image_size, self.cfg.image_size, 1), jnp.float32)
        # Jitted: one compilation is faster than initialising op by op (same values).
        return jax.jit(partial(self.model().init, train=False))({"params": rng}, x)["params"], {}

    def loss(self, params, model_state, batch, rng, train, reg=None):
        reg = self.regularizers(reg)
        out = self.model(reg.dropout).apply({"params": params}, batch["x"], train=train,
                                 rngs={"dropout": rng})
        return jnp.abs(out - batch["y"]).mean(), model_state

    @partial(jax.jit, static_argnums=0)
    def _eval(self, params, split_):
        out = self.model().apply({"params": params}, split_["x"], train=False)
        l1 = jnp.abs(out - split_["y"]).mean()
        m, s = split_["mean"][:, None, None], split_["std"][:, None, None]
        values = ssim(out * s + m, split_["y"] * s + m, split_["max"])
        return l1, values.mean()

    def evaluate(self, params, model_state, split_):
        l1, value = self._eval(params, split_)
        return {"loss": float(l1), "ssim": float(value)}
