"""TFDS-backed AlgoPerf data sets (ImageNet, ImageNet-v2, OGBG-molpcba, WMT) from TFDS's own
mock-data facility, :func:`tensorflow_datasets.testing.mock_data`.

Under ``mock_data(policy=USE_CODE)`` ``tfds.load``/``builder.as_dataset`` return
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

import numpy as np

from hpfree.algoperf_data import text

WMT_TOKENIZER = "wmt_sentencepiece_model"
WMT_VOCAB_SIZE = 32_000  # AlgoPerf's WmtWorkload._vocab_size


@contextlib.contextmanager
def mocked(num_examples: int, dataset: str = "") -> Iterator[None]:
    """TFDS returns ``num_examples`` generated examples per split inside this context
    (``dataset="ogbg"``: valid molecular graphs, see :func:`molecule_graphs`)."""
    import tensorflow_datasets as tfds

    kwargs = {}
    if dataset == "ogbg":
        def as_dataset(builder, split, decoders=None, read_config=None, **kw):
            # A function (not a partial): mock.patch installs it as a method.
            return _ogbg_as_dataset(num_examples, builder, split, decoders, read_config)

        kwargs["as_dataset_fn"] = as_dataset
    with tfds.testing.mock_data(num_examples=num_examples,
                                policy=tfds.testing.MockPolicy.USE_CODE, **kwargs):
        yield


def molecule_graphs(num: int, seed: int) -> Iterator[dict[str, np.ndarray]]:
    """``num`` molecule-like graphs in ogbg-molpcba's TFDS features (seeded).

    TFDS's random fill draws ``num_nodes``, ``node_feat`` and ``edge_index`` independently,
    which is no graph (jraph's batching refuses it), so OGBG gets its own ``as_dataset``
    through ``mock_data(as_dataset_fn=...)``, as TFDS documents.  Like the real molecules:
    8–30 atoms (AlgoPerf budgets 26 nodes and 56 edges per graph), a spanning tree plus a
    few ring bonds, 9 integer atom and 3 integer bond features, and 128 binary tasks of
    which most are missing (NaN) and few positive (about 2 %, as in molpcba, so a random
    model's mAP is far below AlgoPerf's target); positives depend on the atom features.
    """
    rs = np.random.default_rng(seed)
    w = rs.normal(size=(9, 128))
    for _ in range(num):
        n = int(rs.integers(8, 31))
        parents = [int(rs.integers(0, i)) for i in range(1, n)]
        edges = [(p, i) for i, p in zip(range(1, n), parents)]
        for _ in range(int(rs.integers(0, 4))):
            a, b = (int(x) for x in rs.choice(n, 2, replace=False))
            edges.append((a, b))
        node_feat = np.stack([rs.integers(0, k, size=n) for k in
                              (119, 4, 12, 12, 10, 6, 6, 2, 2)], 1).astype(np.float32)
        edge_feat = np.stack([rs.integers(0, k, size=len(edges)) for k in (5, 6, 2)],
                             1).astype(np.float32)
        score = np.tanh((node_feat / np.maximum(node_feat.max(0), 1)).mean(0) @ w)
        labels = (rs.random(128) < 0.02 * (1.0 + 2.0 * score)).astype(np.float32)
        labels[rs.random(128) < 0.85] = np.nan
        yield {"num_nodes": np.array([n], np.int64), "node_feat": node_feat,
               "num_edges": np.array([len(edges)], np.int64), "edge_feat": edge_feat,
               "edge_index": np.array(edges, np.int64), "labels": labels}


_OGBG_SPLIT_SEED = {"train": 0, "validation": 1, "test": 2}


def _ogbg_as_dataset(num_examples, builder, split, decoders, read_config):
    import tensorflow as tf

    del decoders
    name = str(split).split("[")[0]
    seed = _OGBG_SPLIT_SEED.get(name, 3)
    signature = {k: tf.TensorSpec(shape=v.shape, dtype=v.dtype)
                 for k, v in builder.info.features.get_tensor_info().items()}
    ds = tf.data.Dataset.from_generator(lambda: molecule_graphs(num_examples, seed),
                                        output_signature=signature)
    ds = ds.apply(tf.data.experimental.assert_cardinality(num_examples))
    if read_config is not None and read_config.add_tfds_id:
        ids = tf.data.Dataset.range(num_examples).map(
            lambda i: tf.strings.join([f"{builder.name}-{name}.tfrecord-00000-of-00001__",
                                       tf.strings.as_string(i)]))
        ds = tf.data.Dataset.zip((ds, ids)).map(lambda ex, i: {"tfds_id": i, **ex})
    return ds


def write_wmt_tokenizer(root: Path, seed: int = 0) -> None:
    root.mkdir(parents=True, exist_ok=True)
    words = text.lexicon(60_000, seed)
    corpus = text.sentences(words, 50_000, 5, 30, seed + 1)
    text.train_sentencepiece(corpus, WMT_VOCAB_SIZE, root / WMT_TOKENIZER)
