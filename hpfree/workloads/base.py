"""The workload protocol: what a runner needs from a task, and nothing more.

Modelled on AlgoPerf's ``spec.Workload`` minus its many-argument ``update_params``: a workload
owns its data (generated deterministically from ``data_seed`` or shipped in a PyPI package),
its Flax model, its loss and its evaluation metric, and declares its budget (``max_steps``),
batch size, evaluation cadence and target.  The algorithm never sees any of this except
through ``loss`` (for gradients) and the step count.

Dropout and label smoothing are *values passed at call time* (``loss(..., reg)`` with a
:class:`Regularizers`), as AlgoPerf passes ``dropout_rate`` to ``model_fn`` and
``label_smoothing`` to ``loss_fn``: they may be traced arrays, so one compiled train step
serves every point of a search (``hpfree.hparams``).  Models apply dropout with
``hpfree.workloads.layers.Dropout``, which accepts a traced rate (a rate of 0 returns its
input exactly).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from omegaconf import MISSING

from hpfree.config import RegularizationConfig
from hpfree.knobs import FINITE, NON_NEGATIVE, at_least, knob, one_of
from hpfree.knobs import check as check_knobs
from hpfree.records import reached  # noqa: F401  (re-exported: workloads compare with it)

Arrays = dict[str, np.ndarray]
Splits = dict[str, Arrays]  # "train" / "validation" / "test" → named arrays


@dataclass
class WorkloadConfig:
    """Budget, target and data seed of a workload (the fields every workload has)."""

    name: str = MISSING
    max_steps: int = knob(MISSING, at_least(1))
    batch_size: int = knob(64, at_least(1))
    eval_every: int = knob(50, at_least(1))
    metric: str = MISSING  # key of the validation metric in ``evaluate``'s dict
    target: float = knob(MISSING, FINITE)
    # "min": lower is better (error rate, WER, CE); "max": SSIM, mAP, BLEU
    direction: str = knob("min", one_of("min", "max"))
    data_seed: int = knob(0, at_least(0))

    # Domains of the knobs a workload adds without declaring one: sizes and counts are
    # integers >= 1, noise levels and other floats finite and >= 0 (``hpfree.knobs``).
    KNOB_DEFAULTS = {int: at_least(1), float: NON_NEGATIVE}

    def __post_init__(self) -> None:
        check_knobs(self, "workload")


class Regularizers(NamedTuple):
    """The regularizers one training step applies (Python floats or traced scalars).

    A workload zeroes those it has no counterpart for (:meth:`Workload.regularizers`).
    """

    dropout: Any = 0.0
    label_smoothing: Any = 0.0


class Workload(abc.ABC):
    """One task.  Subclasses set the class flags and implement the four abstract methods."""

    supports_dropout: ClassVar[bool] = False
    supports_label_smoothing: ClassVar[bool] = False
    # The runner that can execute this workload (checked before anything runs).
    runner: ClassVar[str] = "embedded"
    # Examples per slice of a jitted evaluation (``map_batches``; AlgoPerf's
    # ``eval_batch_size``); ``None``: a split in one call.
    eval_batch_size: ClassVar[Optional[int]] = None

    def __init__(self, cfg: WorkloadConfig, regularization: RegularizationConfig | None = None):
        reg = regularization or RegularizationConfig()
        self.cfg = cfg
        self.eval_batch_size = type(self).eval_batch_size if _EVAL_IN_BATCHES else None
        # Regularizers the workload has no counterpart for are ignored (as in AlgoPerf, whose
        # tied dropout and label smoothing only reach the workloads that support them).
        self.dropout = reg.dropout if self.supports_dropout else 0.0
        self.label_smoothing = reg.label_smoothing if self.supports_label_smoothing else 0.0

    def regularizers(self, reg: Any = None) -> Regularizers:
        """The regularizers to train with: ``reg`` (a :class:`Regularizers`, a
        ``RegularizationConfig`` or anything with ``dropout``/``label_smoothing``; values may
        be traced) restricted to what this workload supports; ``None`` = the ones given to
        the constructor."""
        if reg is None:
            return Regularizers(self.dropout, self.label_smoothing)
        return Regularizers(reg.dropout if self.supports_dropout else 0.0,
                            reg.label_smoothing if self.supports_label_smoothing else 0.0)

    @property
    def name(self) -> str:
        return self.cfg.name

    @abc.abstractmethod
    def make_data(self) -> Splits:
        """Deterministic train/validation/test arrays from ``cfg.data_seed``."""

    @abc.abstractmethod
    def init(self, rng: jax.Array) -> tuple[Any, Any]:
        """(params, model_state); model_state holds e.g. batch-norm statistics, or {}."""

    @abc.abstractmethod
    def loss(self, params: Any, model_state: Any, batch: Any, rng: jax.Array,
             train: bool, reg: Optional[Regularizers] = None) -> tuple[jax.Array, Any]:
        """Mean training loss and new state; with ``train``, dropout and label smoothing
        from ``self.regularizers(reg)`` (values may be traced)."""

    @abc.abstractmethod
    def evaluate(self, params: Any, model_state: Any, split: Any) -> dict[str, float]:
        """Metrics on a whole split; must contain ``"loss"`` and ``cfg.metric``."""

    def sample_batch(self, train: Any, key: jax.Array) -> Any:
        """A batch for one step: ``batch_size`` examples drawn uniformly (jit-traceable).

        Drawing from ``(seed, step)`` rather than an epoch iterator makes a resumed run see
        exactly the batches an uninterrupted one would.
        """
        n = jax.tree.leaves(train)[0].shape[0]
        idx = jax.random.randint(key, (self.cfg.batch_size,), 0, n)
        return jax.tree.map(lambda a: jnp.take(a, idx, axis=0), train)

    def param_count(self, params: Any) -> int:
        return int(sum(np.prod(p.shape) for p in jax.tree.leaves(params)))


_EVAL_IN_BATCHES = True


def set_eval_batching(enabled: bool) -> None:
    """Whether workloads built from now on evaluate in ``eval_batch_size`` slices (the
    default) or a whole split in one call, as before batched evaluation existed (a switch
    for ``scripts/bench_search.py``'s old cost; the metrics agree to float rounding)."""
    global _EVAL_IN_BATCHES
    _EVAL_IN_BATCHES = bool(enabled)


def map_batches(fn, arrays: Any, batch_size: Optional[int]) -> Any:
    """``fn`` on consecutive slices of ``batch_size`` examples of ``arrays``, outputs
    concatenated along the first axis — traceable, for use inside a jitted evaluation.

    One ``lax.map`` over the full slices (one compiled body, no Python loop, no host sync)
    and one call on the remainder, if any.  ``None`` (or a size ≥ the split): one call on
    everything.  On a CPU, slices that fit in cache are several times faster than one
    call on thousands of examples (docs/speed.md); the values are the same up to float
    rounding (XLA fuses a slice and a whole split differently).
    """
    n = jax.tree.leaves(arrays)[0].shape[0]
    if batch_size is None or batch_size >= n:
        return fn(arrays)
    full = n // batch_size * batch_size
    head = jax.tree.map(
        lambda a: a[:full].reshape((n // batch_size, batch_size) + a.shape[1:]), arrays)
    out = jax.tree.map(lambda o: o.reshape((full,) + o.shape[2:]), jax.lax.map(fn, head))
    if full < n:
        tail = fn(jax.tree.map(lambda a: a[full:], arrays))
        out = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), out, tail)
    return out
