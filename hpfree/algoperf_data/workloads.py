"""AlgoPerf's eight base workloads on generated data (imports algoperf).

Each class here is AlgoPerf's own JAX workload class — its model, loss, input pipeline and
evaluation code — with only what the generated data sets require changed:

* ``_build_input_queue`` first makes sure the generated files exist (written once per
  parameter set, atomically, under ``data_root``; see :mod:`hpfree.algoperf_data`) and points
  AlgoPerf's pipeline at them; the TFDS-backed ones (ImageNet, OGBG, WMT) run the pipeline
  under TFDS's mock-data facility.
* Split sizes (``num_train/validation/test/eval_train_examples``) and ``eval_batch_size`` are
  those of the generated files, so AlgoPerf's evaluation loops read each split once.
* ``eval_period_time_sec`` (``eval_period_s``, default 300: on 2 CPU cores a smoke run
  evaluates at its end only), ``max_allowed_runtime_sec`` (``max_runtime_s``) and
  ``step_hint`` are constructor arguments: the real ones are hours of GPU time.
* WMT's beam-search BLEU decodes at most ``max_predict_length`` tokens (default 32; AlgoPerf
  256, its pipeline's maximum length; the generated targets have at most 18 tokens).
* Criteo's embedding table has 65,536 rows instead of 4,194,304 (the size AlgoPerf's own
  ``Criteo1TbDlrmSmallTestWorkload`` uses): the full table alone is 2 GiB of float32.

Validation targets, metric names and target logic stay AlgoPerf's (random data will not reach
them; that is not what these workloads are for).  Construct with keyword arguments through
``workload.init_kwargs`` (e.g. ``+workload.init_kwargs.eval_period_s=5``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, Optional

from algoperf.workloads.criteo1tb.criteo1tb_jax.workload import Criteo1TbDlrmSmallWorkload
from algoperf.workloads.fastmri.fastmri_jax.workload import FastMRIWorkload
from algoperf.workloads.imagenet_resnet.imagenet_jax.workload import ImagenetResNetWorkload
from algoperf.workloads.imagenet_vit.imagenet_jax.workload import ImagenetVitWorkload
from algoperf.workloads.librispeech_conformer.librispeech_jax.workload import (
    LibriSpeechConformerWorkload)
from algoperf.workloads.librispeech_deepspeech.librispeech_jax.workload import (
    LibriSpeechDeepSpeechWorkload)
from algoperf.workloads.ogbg.ogbg_jax.workload import OgbgWorkload
from algoperf.workloads.wmt.wmt_jax.workload import WmtWorkload

from hpfree.algoperf_data import criteo, fastmri, librispeech, tfds_mock
from hpfree.algoperf_data._files import default_root, ensure

GENERATOR_VERSION = 1


class _Generated:
    """What every generated workload changes (see the module docstring)."""

    dataset: str = ""  # folder name under data_root
    split_sizes: Dict[str, int] = {}
    default_eval_batch: int = 8

    def __init__(self, *, eval_period_s: float = 300.0, max_runtime_s: int = 3600,
                 step_hint: int = 100, eval_batch_size: Optional[int] = None,
                 data_root: Optional[str] = None, data_seed: int = 0, **kwargs: Any) -> None:
        self._gen_eval_period_s = float(eval_period_s)
        self._gen_max_runtime_s = int(max_runtime_s)
        self._gen_step_hint = int(step_hint)
        self._gen_eval_batch = int(eval_batch_size or self.default_eval_batch)
        self._gen_data_seed = int(data_seed)
        self._gen_data_root = Path(data_root).expanduser() if data_root else default_root()
        super().__init__(**self.algoperf_init_kwargs(kwargs))

    def algoperf_init_kwargs(self, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """Constructor arguments of AlgoPerf's class (a subclass may add data paths)."""
        return kwargs

    # What the generated data is --------------------------------------------------------
    def generator_params(self) -> Dict[str, Any]:
        return {}

    def write_data(self, path: Path) -> None:  # pragma: no cover - per subclass
        raise NotImplementedError

    def data_path(self) -> Path:
        """The generated data set's directory (written on first use)."""
        meta = {"dataset": self.dataset, "version": GENERATOR_VERSION,
                "seed": self._gen_data_seed, **self.generator_params()}
        return ensure(self._gen_data_root / f"{self.dataset}-seed{self._gen_data_seed}", meta,
                      self.write_data)

    def _build_input_queue(self, data_rng, split, data_dir, global_batch_size, *args,
                           **kwargs):
        del data_dir
        return super()._build_input_queue(data_rng, split, str(self.data_path()),
                                          global_batch_size, *args, **kwargs)

    # Budget and cadence ----------------------------------------------------------------
    @property
    def eval_period_time_sec(self) -> float:
        return self._gen_eval_period_s

    @property
    def max_allowed_runtime_sec(self) -> int:
        return self._gen_max_runtime_s

    @property
    def step_hint(self) -> int:
        return self._gen_step_hint

    # Split sizes -------------------------------------------------------------------------
    @property
    def eval_batch_size(self) -> int:
        return self._gen_eval_batch

    @property
    def num_train_examples(self) -> int:
        return self.split_sizes["train"]

    @property
    def num_eval_train_examples(self) -> int:
        return self.num_validation_examples

    @property
    def num_validation_examples(self) -> int:
        return self.split_sizes["validation"]

    @property
    def num_test_examples(self) -> int:
        return self.split_sizes["test"]


class _TfdsMocked(_Generated):
    """Runs AlgoPerf's TFDS pipeline under :func:`tfds_mock.mocked` (``num_examples`` per
    split); the pipeline's datasets are built on the iterator's first ``next``."""

    mock_examples: int = 16

    @property
    def split_sizes(self) -> Dict[str, int]:  # type: ignore[override]
        n = self.mock_examples
        return {"train": n, "validation": n, "test": n}

    def write_data(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)  # TFDS's data_dir (no files: mocked)

    def _build_input_queue(self, data_rng, split, data_dir, global_batch_size, *args,
                           **kwargs):
        path = str(self.data_path())
        parent = super(_Generated, self)._build_input_queue

        def gen():
            with tfds_mock.mocked(self.mock_examples, self.dataset):
                it = iter(parent(data_rng, split, path, global_batch_size, *args, **kwargs))
                first = next(it)
            yield first
            yield from it

        return gen()


# ----------------------------------------------------------------------------------------


class Criteo1TbGenerated(_Generated, Criteo1TbDlrmSmallWorkload):
    """AlgoPerf's Criteo 1TB DLRM-small on generated click logs (:mod:`.criteo`)."""

    dataset = "criteo1tb"
    vocab_size: int = 32 * 128 * 16  # AlgoPerf's Criteo1TbDlrmSmallTestWorkload size
    default_eval_batch = 64
    split_sizes = criteo.sizes()

    @property
    def num_eval_train_examples(self) -> int:
        # AlgoPerf's rounding: a multiple of the eval batch (its eval_train has no padding).
        return math.ceil(self.num_validation_examples / self.eval_batch_size) * \
            self.eval_batch_size

    def write_data(self, path: Path) -> None:
        criteo.write(path, seed=self._gen_data_seed)


class FastMriGenerated(_Generated, FastMRIWorkload):
    """AlgoPerf's fastMRI U-Net on generated k-space volumes (:mod:`.fastmri`)."""

    dataset = "fastmri"
    default_eval_batch = 4
    split_sizes = {"train": 16, "validation": 4, "test": 2}

    def write_data(self, path: Path) -> None:
        fastmri.write(path, train_files=4, slices_per_train_file=4, test_files=2,
                      seed=self._gen_data_seed)


class ImagenetResNetGenerated(_TfdsMocked, ImagenetResNetWorkload):
    """AlgoPerf's ResNet-50 on TFDS-mocked ImageNet / ImageNet-v2 (:mod:`.tfds_mock`)."""

    dataset = "imagenet"
    default_eval_batch = 8
    mock_examples = 16


class ImagenetVitGenerated(_TfdsMocked, ImagenetVitWorkload):
    """AlgoPerf's ViT-S/16 on TFDS-mocked ImageNet / ImageNet-v2 (:mod:`.tfds_mock`)."""

    dataset = "imagenet"
    default_eval_batch = 8
    mock_examples = 16


class OgbgGenerated(_TfdsMocked, OgbgWorkload):
    """AlgoPerf's GNN on TFDS-mocked ogbg-molpcba (:mod:`.tfds_mock`)."""

    dataset = "ogbg"
    default_eval_batch = 64
    # Enough graphs that an untrained model's mAP is near the positive rate (with 64, a few
    # tasks with one positive each made it cross AlgoPerf's 0.28 target, which ends the run).
    mock_examples = 512


class WmtGenerated(_TfdsMocked, WmtWorkload):
    """AlgoPerf's Transformer on TFDS-mocked WMT14/17 de-en and a generated 32k
    SentencePiece model (:mod:`.tfds_mock`)."""

    dataset = "wmt"
    default_eval_batch = 2
    mock_examples = 4

    def __init__(self, *, max_predict_length: int = 32, **kwargs: Any) -> None:
        # AlgoPerf decodes (beam 4) up to 256 tokens, its pipeline's max_length; the generated
        # targets are TFDS mock strings of 10-19 characters, at most 18 tokens with EOS
        # (measured over 2,000 of them with the generated tokenizer), so 32 bounds them.
        # An untrained model never emits EOS, so the decode always runs to the bound: 256
        # steps per eval batch did not finish an evaluation in 900 s on 2 cores.
        self._gen_max_predict_length = int(max_predict_length)
        super().__init__(**kwargs)

    def translate_and_calculate_bleu(self, params, ds_iter, num_batches,
                                     max_predict_length):
        """AlgoPerf's beam-search BLEU, with the decode bounded by ``max_predict_length``."""
        return super().translate_and_calculate_bleu(
            params, ds_iter, num_batches,
            min(max_predict_length, self._gen_max_predict_length))

    def initialize_cache(self, inputs, max_decode_len: int = 256):
        """AlgoPerf's decoder cache, as long as the bounded decode (not 256)."""
        return super().initialize_cache(inputs,
                                        min(max_decode_len, self._gen_max_predict_length))

    def generator_params(self) -> Dict[str, Any]:
        return {"tokenizer_vocab": tfds_mock.WMT_VOCAB_SIZE}

    def write_data(self, path: Path) -> None:
        tfds_mock.write_wmt_tokenizer(path, seed=self._gen_data_seed)


class _LibriSpeechGenerated(_Generated):
    dataset = "librispeech"
    default_eval_batch = 2
    split_sizes = {"train": 8 * 3, "validation": 4, "test": 2}
    _per_split = {"train-clean-100": 8, "train-clean-360": 8, "train-other-500": 8,
                  "dev-clean": 2, "dev-other": 2, "test-clean": 2}

    def algoperf_init_kwargs(self, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        # The generated tokenizer, unless one is named (runner.extra_flags'
        # librispeech_tokenizer_vocab_path reaches the constructor the same way).
        if kwargs.get("tokenizer_vocab_path"):
            return kwargs
        return {**kwargs, "tokenizer_vocab_path": str(self.data_path() / librispeech.TOKENIZER)}

    def generator_params(self) -> Dict[str, Any]:
        return {"examples": dict(self._per_split)}

    def write_data(self, path: Path) -> None:
        librispeech.write(path, examples=self._per_split, seed=self._gen_data_seed)


class LibriSpeechConformerGenerated(_LibriSpeechGenerated, LibriSpeechConformerWorkload):
    """AlgoPerf's Conformer on generated preprocessed LibriSpeech (:mod:`.librispeech`)."""


class LibriSpeechDeepSpeechGenerated(_LibriSpeechGenerated, LibriSpeechDeepSpeechWorkload):
    """AlgoPerf's DeepSpeech on generated preprocessed LibriSpeech (:mod:`.librispeech`)."""


WORKLOADS = {
    "criteo1tb": Criteo1TbGenerated,
    "fastmri": FastMriGenerated,
    "imagenet_resnet": ImagenetResNetGenerated,
    "imagenet_vit": ImagenetVitGenerated,
    "librispeech_conformer": LibriSpeechConformerGenerated,
    "librispeech_deepspeech": LibriSpeechDeepSpeechGenerated,
    "ogbg": OgbgGenerated,
    "wmt": WmtGenerated,
}
