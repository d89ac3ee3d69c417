"""The AlgoPerf workloads as hpfree workload configs (for ``runner=algoperf`` only).

This module never imports algoperf: it only declares names, budgets and batch sizes so that
configs compose and validate in any environment.  What AlgoPerf itself defines — the
validation target, the target metric's name and direction, the step hint and the runtime
budget — is read from the *installed* algoperf when a run starts
(:func:`hpfree.runners.algoperf.workload_info`), never copied here; ``target: null`` in
``conf/workload/algoperf_*.yaml`` means "AlgoPerf's validation target".

``max_steps`` is the step budget of the paper's Table 2 (larger than AlgoPerf's
``step_hint``: it was measured from AdamW's steps within the time budget on the competition
hardware); the schedule horizon is ``round(horizon.fraction × max_steps)`` as for the
embedded workloads, and ``batch_size`` is the global batch size the submission asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from hpfree.errors import ConfigError
from hpfree.workloads.base import Workload, WorkloadConfig
from hpfree.workloads.registry import WorkloadSpec


@dataclass(frozen=True)
class AlgoPerfSpec:
    """One AlgoPerf workload: its name in AlgoPerf's registry, budget and batch size.

    ``metric``/``direction`` are the names we expect (a fallback and documentation); the
    runner checks them against the installed algoperf and uses algoperf's where they differ.
    """

    algoperf_name: str
    max_steps: int
    batch_size: int
    metric: str
    direction: str
    needs_download: bool = True
    workload_class: Optional[str] = None


# The paper's Table 2 (step budget, batch size) for AlgoPerf's eight base workloads.
BASE_WORKLOADS: dict[str, AlgoPerfSpec] = {
    "criteo1tb": AlgoPerfSpec("criteo1tb", 31_998, 262_144, "loss", "min"),
    "fastmri": AlgoPerfSpec("fastmri", 108_567, 32, "ssim", "max"),
    "imagenet_resnet": AlgoPerfSpec("imagenet_resnet", 559_998, 1024, "accuracy", "max"),
    "imagenet_vit": AlgoPerfSpec("imagenet_vit", 559_998, 1024, "accuracy", "max"),
    "librispeech_conformer": AlgoPerfSpec("librispeech_conformer", 240_000, 256, "wer", "min"),
    "librispeech_deepspeech": AlgoPerfSpec("librispeech_deepspeech", 144_000, 256, "wer", "min"),
    "ogbg": AlgoPerfSpec("ogbg", 240_000, 512, "mean_average_precision", "max"),
    "wmt": AlgoPerfSpec("wmt", 399_999, 128, "bleu", "max"),
}

# Small workloads for checking the plumbing: AlgoPerf's MNIST (downloads MNIST through
# tensorflow_datasets) and the same MNIST workload fed from scikit-learn's digits (no
# download; what the CPU end-to-end test runs).
DEV_WORKLOADS: dict[str, AlgoPerfSpec] = {
    "mnist": AlgoPerfSpec("mnist", 7_813, 16, "accuracy", "max"),
    "mnist_digits": AlgoPerfSpec(
        "mnist", 400, 64, "accuracy", "max", needs_download=False,
        workload_class="hpfree.runners.algoperf_workloads:DigitsMnistWorkload"),
}

# The eight base workloads on generated data (no download; hpfree.algoperf_data): AlgoPerf's
# own workload classes with generated files (or TFDS mock data) and small split sizes.  The
# step budgets and batch sizes keep one run on 2 CPU cores within a few minutes (the
# submission's get_batch_size returns batch_size); docs/algoperf.md has the measured times.
_GEN = "hpfree.algoperf_data.workloads:"
GENERATED_WORKLOADS: dict[str, AlgoPerfSpec] = {
    f"{key}_generated": AlgoPerfSpec(BASE_WORKLOADS[key].algoperf_name, steps, batch,
                                     BASE_WORKLOADS[key].metric, BASE_WORKLOADS[key].direction,
                                     needs_download=False, workload_class=_GEN + cls)
    for key, steps, batch, cls in [
        ("criteo1tb", 40, 64, "Criteo1TbGenerated"),
        ("fastmri", 6, 2, "FastMriGenerated"),
        ("imagenet_resnet", 6, 2, "ImagenetResNetGenerated"),
        ("imagenet_vit", 6, 2, "ImagenetVitGenerated"),
        ("librispeech_conformer", 3, 2, "LibriSpeechConformerGenerated"),
        ("librispeech_deepspeech", 3, 2, "LibriSpeechDeepSpeechGenerated"),
        ("ogbg", 40, 16, "OgbgGenerated"),
        ("wmt", 3, 2, "WmtGenerated"),
    ]
}

ALL_WORKLOADS: dict[str, AlgoPerfSpec] = {**BASE_WORKLOADS, **DEV_WORKLOADS,
                                          **GENERATED_WORKLOADS}
PREFIX = "algoperf_"


@dataclass
class AlgoPerfWorkloadConfig(WorkloadConfig):
    """A workload run by AlgoPerf's submission runner.

    ``target: null`` takes AlgoPerf's validation target from the installed algoperf.
    ``eval_every`` is unused: AlgoPerf evaluates every ``eval_period_time_sec`` seconds.
    ``workload_class`` (``"module:Class"``) replaces the class AlgoPerf's registry names,
    with ``init_kwargs`` passed to its constructor.
    """

    name: str = MISSING
    target: Optional[float] = None
    algoperf_name: str = MISSING
    workload_class: Optional[str] = None
    init_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.workload_class is not None and ":" not in self.workload_class:
            raise ConfigError(
                f"workload.workload_class={self.workload_class!r} must be 'module:Class'")


class AlgoPerfWorkload(Workload):
    """Placeholder: AlgoPerf workloads have no embedded implementation."""

    runner = "algoperf"

    def __init__(self, cfg: AlgoPerfWorkloadConfig, regularization=None):  # noqa: D401
        raise ConfigError(
            f"workload {cfg.name!r} is an AlgoPerf workload; run it with runner=algoperf")

    def make_data(self):  # pragma: no cover - never instantiated
        raise NotImplementedError

    def init(self, rng):  # pragma: no cover
        raise NotImplementedError

    def loss(self, params, model_state, batch, rng, train):  # pragma: no cover
        raise NotImplementedError

    def evaluate(self, params, model_state, split):  # pragma: no cover
        raise NotImplementedError


def _spec(key: str) -> WorkloadSpec:
    """``workload=algoperf_<key>``: the config AlgoPerf's ``key`` runs with (Table 2 budget)."""
    s = ALL_WORKLOADS[key]
    defaults: dict[str, Any] = {"algoperf_name": s.algoperf_name, "max_steps": s.max_steps,
                                "batch_size": s.batch_size, "metric": s.metric,
                                "direction": s.direction}
    if s.workload_class:
        defaults["workload_class"] = s.workload_class
    return WorkloadSpec(PREFIX + key, AlgoPerfWorkloadConfig, AlgoPerfWorkload, defaults)


# One spec per AlgoPerf workload (the entry points name these).
ALGOPERF_CRITEO1TB = _spec("criteo1tb")
ALGOPERF_FASTMRI = _spec("fastmri")
ALGOPERF_IMAGENET_RESNET = _spec("imagenet_resnet")
ALGOPERF_IMAGENET_VIT = _spec("imagenet_vit")
ALGOPERF_LIBRISPEECH_CONFORMER = _spec("librispeech_conformer")
ALGOPERF_LIBRISPEECH_DEEPSPEECH = _spec("librispeech_deepspeech")
ALGOPERF_OGBG = _spec("ogbg")
ALGOPERF_WMT = _spec("wmt")
ALGOPERF_MNIST = _spec("mnist")
ALGOPERF_MNIST_DIGITS = _spec("mnist_digits")
ALGOPERF_CRITEO1TB_GENERATED = _spec("criteo1tb_generated")
ALGOPERF_FASTMRI_GENERATED = _spec("fastmri_generated")
ALGOPERF_IMAGENET_RESNET_GENERATED = _spec("imagenet_resnet_generated")
ALGOPERF_IMAGENET_VIT_GENERATED = _spec("imagenet_vit_generated")
ALGOPERF_LIBRISPEECH_CONFORMER_GENERATED = _spec("librispeech_conformer_generated")
ALGOPERF_LIBRISPEECH_DEEPSPEECH_GENERATED = _spec("librispeech_deepspeech_generated")
ALGOPERF_OGBG_GENERATED = _spec("ogbg_generated")
ALGOPERF_WMT_GENERATED = _spec("wmt_generated")


def is_algoperf_workload(name: Optional[str]) -> bool:
    return bool(name) and name.startswith(PREFIX) and name[len(PREFIX):] in ALL_WORKLOADS
