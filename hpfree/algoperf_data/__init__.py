"""Generated data for AlgoPerf's eight base workloads, in the formats their pipelines read.

No download: deterministic generators write Criteo TSV (:mod:`.criteo`), fastMRI HDF5
(:mod:`.fastmri`), preprocessed LibriSpeech arrays and a SentencePiece tokenizer
(:mod:`.librispeech`); ImageNet, ImageNet-v2, OGBG and WMT come from TFDS's mock-data
facility (:mod:`.tfds_mock`).  :mod:`.workloads` (imports algoperf) holds AlgoPerf's own
workload classes pointed at them, exposed to hpfree as ``workload=algoperf_<name>_generated``
and ``suite=algoperf_generated`` (docs/algoperf.md).  Files go under
``$HPFREE_ALGOPERF_DATA`` (default ``~/.cache/hpfree/algoperf_generated``), written once,
atomically (:mod:`._files`).

This package's generators import only numpy, h5py and sentencepiece; nothing here is imported
by hpfree's core.
"""
