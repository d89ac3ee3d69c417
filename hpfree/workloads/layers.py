"""Convolutions written as shifted slices × matmul, so that they train fast inside a scan.

The embedded runner trains inside ``lax.scan`` (an XLA while loop).  On XLA:CPU (jax 0.10)
the gradient of ``nn.Conv`` there is very slow: a 3×3, 16→16 convolution on 32×16×16 images
takes ~110 ms per step instead of ~5 ms, ``nn.ConvTranspose`` and depthwise convolutions
likewise, which made a small ResNet 20× slower in the runner than in a plain ``jit``.
These layers compute the same functions (and hold the same parameters, reshaped) from
padded, strided slices concatenated along the channels and one ``nn.Dense``: their
gradients are slices, pads and ``dot``s, which XLA:CPU runs at full speed anywhere.
``scripts/bench_workloads.py --conv-check`` measures both forms in the same run.

:class:`Dropout` and :func:`attention_dropout` take a *traced* rate (Flax's ``nn.Dropout``
and attention branch in Python on ``rate == 0``), so a search's dropout rate is a value of
the compiled step rather than a constant of it.
"""

from __future__ import annotations

import itertools
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """(output size, pad before, pad after) of XLA's 'SAME' padding."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


class Conv(nn.Module):
    """``nn.Conv(features, kernel_size, strides, padding='SAME')`` on channels-last input.

    The ``Dense`` kernel is ``nn.Conv``'s kernel reshaped to ``[prod(kernel_size) × C, F]``.
    """

    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] | None = None
    use_bias: bool = True

    @nn.compact
    def __call__(self, x):
        ndim = len(self.kernel_size)
        strides = tuple(self.strides or (1,) * ndim)
        spatial = x.shape[1:1 + ndim]
        geometry = [_same_padding(n, k, s) for n, k, s in zip(spatial, self.kernel_size, strides)]
        pads = [(0, 0)] + [(lo, hi) for _, lo, hi in geometry] + [(0, 0)]
        padded = jnp.pad(x, pads)
        cols = []
        for offsets in itertools.product(*(range(k) for k in self.kernel_size)):
            index = tuple(slice(o, o + (out - 1) * s + 1, s)
                          for o, (out, _, _), s in zip(offsets, geometry, strides))
            cols.append(padded[(slice(None), *index)])
        return nn.Dense(self.features, use_bias=self.use_bias)(jnp.concatenate(cols, axis=-1))


class DepthwiseConv1D(nn.Module):
    """Per-channel 1-D convolution ('SAME') along axis 1, as a sum of shifted copies."""

    kernel_size: int

    @nn.compact
    def __call__(self, x):
        k = self.kernel_size
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, 1, x.shape[-1]))
        bias = self.param("bias", nn.initializers.zeros, (x.shape[-1],))
        _, lo, hi = _same_padding(x.shape[1], k, 1)
        padded = jnp.pad(x, ((0, 0), (lo, hi), (0, 0)))
        t = x.shape[1]
        return sum(padded[:, i:i + t] * kernel[i, 0] for i in range(k)) + bias


class UpConv2x(nn.Module):
    """``nn.ConvTranspose(features, (2, 2), strides=(2, 2))``, kernel flipped: dense layer, then
    depth-to-space."""

    features: int
    use_bias: bool = True

    @nn.compact
    def __call__(self, x):
        b, h, w, _ = x.shape
        y = nn.Dense(4 * self.features, use_bias=self.use_bias)(x)
        y = y.reshape(b, h, w, 2, 2, self.features).transpose(0, 1, 3, 2, 4, 5)
        return y.reshape(b, 2 * h, 2 * w, self.features)


def is_static_zero(value: Any) -> bool:
    """True for a Python number equal to 0 (a traced value is never statically zero)."""
    return isinstance(value, (int, float)) and value == 0


class Dropout(nn.Module):
    """``nn.Dropout`` whose ``rate`` may be a traced scalar.

    Same arithmetic, rng stream and module names as ``nn.Dropout``: keep with probability
    ``1 − rate`` and scale by ``1/(1 − rate)``.  A Python rate of 0 returns the input without
    drawing a mask; a traced rate of 0 keeps every element (``uniform < 1``) and divides by
    1, so it also returns the input exactly.
    """

    rate: Any
    broadcast_dims: Sequence[int] = ()
    deterministic: Optional[bool] = None
    rng_collection: str = "dropout"

    @nn.compact
    def __call__(self, inputs, deterministic: Optional[bool] = None, rng=None):
        deterministic = nn.merge_param("deterministic", self.deterministic, deterministic)
        if deterministic or is_static_zero(self.rate):
            return inputs
        keep_prob = 1.0 - self.rate
        if rng is None:
            rng = self.make_rng(self.rng_collection)
        shape = list(inputs.shape)
        for dim in self.broadcast_dims:
            shape[dim] = 1
        mask = jax.random.bernoulli(rng, p=keep_prob, shape=shape)
        mask = jnp.broadcast_to(mask, inputs.shape)
        return lax.select(mask, inputs / keep_prob, jnp.zeros_like(inputs))


def attention_dropout(rate: Any, rng: Optional[jax.Array]):
    """An ``attention_fn`` for ``nn.MultiHeadDotProductAttention`` (given ``dropout_rate=0``)
    that drops attention weights at a possibly traced ``rate`` with the key ``rng``.

    ``rng=None`` (evaluation, or a Python rate of 0) is plain ``nn.dot_product_attention``.
    The mask is broadcast over batch and heads, as Flax's default ``broadcast_dropout``.
    """

    def fn(query, key, value, bias=None, mask=None, dtype=None, precision=None):
        weights = nn.dot_product_attention_weights(query, key, bias, mask, dtype=dtype,
                                                   precision=precision)
        if rng is not None and not is_static_zero(rate):
            keep_prob = 1.0 - rate
            shape = (1,) * (key.ndim - 2) + weights.shape[-2:]
            keep = jax.random.bernoulli(rng, keep_prob, shape)
            weights = weights * (keep.astype(weights.dtype)
                                 / jnp.asarray(keep_prob, dtype=weights.dtype))
        return jnp.einsum("...hqk,...khd->...qhd", weights, value, precision=precision)

    return fn
