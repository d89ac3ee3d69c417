"""TFDS-backed AlgoPerf data sets (ImageNet, ImageNet-v2, OGBG-molpcba, WMT) from TFDS's own
mock-data facility, :func:`tensorflow_datasets.testing.mock_data`.

Under ``mock_data(policy=USING_CODE)`` ``tfds.load``/``builder.as_dataset`` return
deterministic random examples shaped by the data set's *feature spec in TFDS's code*
(JPEG-encoded images, molecular graphs with variable node/edge counts, German/English text
pairs), and nothing is downloaded or prepared.  AlgoPerf's input pipelines then run
unchanged on top (decoding, cropping, mixup, graph batching, tokenising and packing).

WMT additionally reads a SentencePiece model, ``<data_dir>/wmt_sentencepiece_model``: a
32,000-piece unigram model (AlgoPerf's vocabulary size and trainer settings) trained on a
synthetic corpus (:mod:`hpfree.algoperf_data.text`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from hpfree.algoperf_data import text

WMT_TOKENIZER = "wmt_sentencepiece_model"
WMT_VOCAB_SIZE = 32_000  # AlgoPerf's WmtWorkload._vocab_size


@contextlib.contextmanager
def mocked(num_examples: int) -> Iterator[None]:
    """TFDS returns ``num_examples`` generated examples per split inside this context."""
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=num_examples,
                                policy=tfds.testing.MockPolicy.USING_CODE):
        yield


def write_wmt_tokenizer(root: Path, seed: int = 0) -> None:
    root.mkdir(parents=True, exist_ok=True)
    words = text.lexicon(60_000, seed)
    corpus = text.sentences(words, 50_000, 5, 30, seed + 1)
    text.train_sentencepiece(corpus, WMT_VOCAB_SIZE, root / WMT_TOKENIZER)
