"""Dropout and label smoothing as values: traced rates give what Python rates give.

A search varies ``regularization.dropout`` and ``label_smoothing``; they reach the
workloads at call time (``loss(..., reg)``) so one compiled step serves every point.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hpfree.workloads import layers, registry
from hpfree.workloads.base import Regularizers
from hpfree.workloads.metrics import binary_cross_entropy, cross_entropy

X = jax.random.normal(jax.random.PRNGKey(3), (4, 6, 8))
KEY = jax.random.PRNGKey(7)


def apply_dropout(module_cls, rate, **kw):
    return module_cls(rate, **kw).apply({}, X, deterministic=False, rngs={"dropout": KEY})


@pytest.mark.parametrize("broadcast", [(), (1,)])
@pytest.mark.parametrize("rate", [0.0, 0.3])
def test_dropout_with_a_traced_rate_is_flax_dropout(rate, broadcast):
    traced = jax.jit(lambda r: apply_dropout(layers.Dropout, r, broadcast_dims=broadcast))
    out = traced(jnp.asarray(rate))
    ref = apply_dropout(nn.Dropout, rate, broadcast_dims=broadcast)
    # Same mask; the scale 1/(1 − rate) is computed in float32 from a traced rate (in
    # float64 from a Python one), so values agree to float32 rounding.
    np.testing.assert_array_equal(np.asarray(out) == 0, np.asarray(ref) == 0)
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-6)
    if rate == 0.0:  # a traced 0 keeps every element and divides by exactly 1
        np.testing.assert_array_equal(np.asarray(out), np.asarray(X))


def test_traced_smoothing_of_zero_is_no_smoothing():
    logits = jax.random.normal(KEY, (5, 4))
    labels = jnp.array([0, 1, 2, 3, 0])
    f = jax.jit(lambda s: cross_entropy(logits, labels, 4, s))
    assert float(f(jnp.asarray(0.0))) == float(cross_entropy(logits, labels, 4, 0.0))
    assert float(f(jnp.asarray(0.2))) == pytest.approx(float(cross_entropy(logits, labels, 4, 0.2)))
    b = (labels > 1).astype(jnp.float32)
    g = jax.jit(lambda s: binary_cross_entropy(logits[:, 0], b, s))
    assert float(g(jnp.asarray(0.0))) == float(binary_cross_entropy(logits[:, 0], b, 0.0))


SMALL = {"digits_mlp": {}, "mini_wmt": dict(num_train=96, num_validation=16, num_test=16,
                                            depth=1)}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_workload_loss_with_traced_regularizers_matches_python_floats(name):
    wl = registry.make(registry.get_config_class(name)(**SMALL[name]))
    params, state = wl.init(jax.random.PRNGKey(0))
    batch = jax.tree.map(lambda a: jnp.asarray(a[:8]), wl.make_data()["train"])

    def loss(reg):
        return wl.loss(params, state, batch, KEY, True, reg)[0]

    traced = jax.jit(lambda d, s: loss(Regularizers(d, s)))
    for d, s in [(0.0, 0.0), (0.3, 0.2)]:
        want = float(jax.jit(lambda: loss(Regularizers(d, s)))())
        got = float(traced(jnp.asarray(d), jnp.asarray(s)))
        assert got == pytest.approx(want, rel=1e-6), (d, s)
    # Dropout reaches the model: another rate gives another training loss.
    assert float(traced(jnp.asarray(0.5), jnp.asarray(0.0))) != float(
        traced(jnp.asarray(0.0), jnp.asarray(0.0)))


def test_regularizers_are_zeroed_where_the_workload_has_no_counterpart():
    resnet = registry.make(registry.get_config_class("mini_resnet")())
    assert resnet.regularizers(Regularizers(0.1, 0.2)) == Regularizers(0.0, 0.2)
    criteo = registry.make(registry.get_config_class("mini_criteo")())
    assert criteo.regularizers(Regularizers(0.1, 0.2)) == Regularizers(0.1, 0.0)
