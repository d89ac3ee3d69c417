"""LibriSpeech as AlgoPerf's ``datasets/librispeech_preprocess.py`` leaves it, plus its tokenizer.

``<split>.csv`` (pandas' ``to_csv`` of an ``id`` column) and ``<split>/<id>_audio.npy`` (raw
16 kHz samples, ≤ 320,000) / ``<split>/<id>_targets.npy`` (SentencePiece ids with EOS, ≤ 256)
for the six splits AlgoPerf's pipelines read, and ``spm_model.vocab``: a 1,024-piece unigram
SentencePiece model (AlgoPerf's settings) trained on the generated transcripts.  The audio is
a seeded "speech" signal: each word of the transcript is a short tone burst whose pitches
derive from the word, with noise, so the audio carries the transcript.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpfree.algoperf_data import text

SPLITS = ("train-clean-100", "train-clean-360", "train-other-500", "dev-clean", "dev-other",
          "test-clean")
VOCAB_SIZE = 1024  # AlgoPerf's librispeech tokenizer and the models' output classes
TOKENIZER = "spm_model.vocab"
SAMPLE_RATE = 16_000


def _audio(words: list[str], rs: np.random.Generator) -> np.ndarray:
    chunks = []
    for w in words:
        n = int(SAMPLE_RATE * (0.12 + 0.03 * len(w)))
        t = np.arange(n) / SAMPLE_RATE
        f1 = 200 + 40 * (sum(map(ord, w)) % 40)
        f2 = 900 + 60 * (len(w) * 7 % 30)
        env = np.sin(np.pi * np.arange(n) / n)
        chunks.append(env * (np.sin(2 * np.pi * f1 * t) + 0.5 * np.sin(2 * np.pi * f2 * t)))
        chunks.append(np.zeros(int(SAMPLE_RATE * 0.05)))
    sig = np.concatenate(chunks)
    sig = 8000 * sig + rs.normal(0, 300, size=sig.shape)
    return np.clip(sig, -32768, 32767).astype(np.int16)


def write(root: Path, *, examples: dict[str, int] | None = None, seed: int = 0) -> None:
    """Write every split (``examples``: per-split counts) and the tokenizer under ``root``."""
    import sentencepiece as spm

    examples = examples or {}
    words = [w.upper() for w in text.lexicon(3000, seed)]
    corpus = text.sentences(words, 6000, 3, 25, seed + 1)
    root.mkdir(parents=True, exist_ok=True)
    model = text.train_sentencepiece(corpus, VOCAB_SIZE, root / TOKENIZER)
    sp = spm.SentencePieceProcessor(model_file=str(model))
    rs = np.random.default_rng(seed + 2)
    for k, split in enumerate(SPLITS):
        n = int(examples.get(split, 8))
        (root / split).mkdir(exist_ok=True)
        transcripts = text.sentences(words, n, 3, 12, seed + 10 + k)
        ids = []
        for i, tr in enumerate(transcripts):
            utt = f"{1000 + k}-{i // 50}-{i:04d}"
            audio = _audio(tr.split(), rs)[:320_000]
            targets = np.asarray(sp.encode(tr) + [sp.eos_id()], np.int32)[:256]
            np.save(root / split / f"{utt}_audio.npy", audio)
            np.save(root / split / f"{utt}_targets.npy", targets)
            ids.append(utt)
        lines = [",id"] + [f"{i},{u}" for i, u in enumerate(ids)]
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
