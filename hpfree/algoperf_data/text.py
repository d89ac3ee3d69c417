"""A synthetic language and SentencePiece tokenizers trained on it (LibriSpeech, WMT).

AlgoPerf's LibriSpeech and WMT pipelines read a SentencePiece model (vocabulary 1,024 and
32,000, ``model_type=unigram``, ``character_coverage=1.0`` as AlgoPerf's own
``librispeech_tokenizer.py`` / ``wmt/tokenizer.py`` train them).  The model's output layer
has exactly that many classes, so the tokenizer must have exactly that many pieces: an id the
untrained model predicts is then always one the tokenizer can decode.  The corpus is a
seeded Zipf-distributed stream of pseudo-words built from syllables — enough distinct
substrings for a 32,000-piece unigram vocabulary.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

_ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t",
           "v", "w", "z", "br", "ch", "cr", "dr", "fl", "gr", "pl", "sh", "st", "th", "tr"]
_NUCLEI = ["a", "e", "i", "o", "u", "ai", "ea", "ee", "ie", "oa", "ou", "y"]
_CODAS = ["", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "rt", "st", "ck", "x"]


def lexicon(num_words: int, seed: int) -> list[str]:
    """``num_words`` distinct pseudo-words of one to four syllables (seeded)."""
    rs = np.random.default_rng(seed)
    words: set[str] = set()
    out: list[str] = []
    while len(out) < num_words:
        n = int(rs.integers(1, 5))
        w = "".join(_ONSETS[rs.integers(len(_ONSETS))] + _NUCLEI[rs.integers(len(_NUCLEI))]
                    + _CODAS[rs.integers(len(_CODAS))] for _ in range(n))
        if w not in words:
            words.add(w)
            out.append(w)
    return out


def sentences(words: list[str], num: int, min_len: int, max_len: int, seed: int,
              upper: bool = False) -> list[str]:
    """``num`` sentences of Zipf-distributed words (seeded)."""
    rs = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, len(words) + 1) ** 1.05
    p /= p.sum()
    lengths = rs.integers(min_len, max_len + 1, size=num)
    idx = rs.choice(len(words), size=int(lengths.sum()), p=p)
    ends = np.cumsum(lengths)
    out = [" ".join(words[i] for i in idx[e - n:e]) for n, e in zip(lengths, ends)]
    return [s.upper() for s in out] if upper else out


def train_sentencepiece(corpus: list[str], vocab_size: int, model_path: Path) -> Path:
    """A unigram SentencePiece model with exactly ``vocab_size`` pieces (AlgoPerf's
    trainer settings) written to ``model_path``."""
    import sentencepiece as spm

    model_path = Path(model_path)
    with tempfile.TemporaryDirectory() as tmp:
        txt = Path(tmp) / "corpus.txt"
        txt.write_text("\n".join(corpus) + "\n")
        spm.SentencePieceTrainer.Train(
            input=str(txt), vocab_size=vocab_size, character_coverage=1.0,
            model_prefix=str(Path(tmp) / "sp"), model_type="unigram",
            input_sentence_size=len(corpus), num_threads=1, minloglevel=2)
        model_path.write_bytes((Path(tmp) / "sp.model").read_bytes())
    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    if sp.get_piece_size() != vocab_size:
        raise RuntimeError(f"tokenizer has {sp.get_piece_size()} pieces, need {vocab_size}")
    return model_path
