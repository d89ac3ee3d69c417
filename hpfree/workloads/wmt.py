"""Translation with an encoder–decoder Transformer: the miniature of AlgoPerf's WMT.

Data: sentence pairs from a small synthetic grammar.  A source sentence is
``NP verb NP [adverb] [preposition NP]`` with ``NP = determiner adjective{0,2} noun``
(determiners mark definiteness and number).  The target language has its own words (a
deterministic dictionary; a quarter of the nouns have two synonyms chosen at random, which
keeps BLEU below 100 as real translation does), its own order — subject, prepositional
phrase, object, verb, adverb; nouns before their adjectives, in reverse order — and
agreement: determiners inflect for the noun's gender and number, adjectives for gender,
nouns and verbs for number.  Words are pseudo-words of random syllables, one joint
vocabulary, padded to 16 tokens (EOS included).

Model: a pre-LN encoder–decoder Transformer (as AlgoPerf's), shared input/output embeddings,
learned positions, dropout on embeddings, residual branches and attention weights.
Loss: cross entropy with label smoothing on non-pad target tokens; metric: BLEU of greedy
decoding (sacrebleu, higher is better).  Decoding uses Flax's attention cache, so one
evaluation costs about one forward pass per output position of one token.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from hpfree.workloads.base import Splits, Workload, WorkloadConfig
from hpfree.workloads.common import cached_data, rng_for, split
from hpfree.workloads.layers import Dropout, attention_dropout, is_static_zero
from hpfree.workloads.metrics import bleu, cross_entropy
from hpfree.workloads.registry import workload

PAD, BOS, EOS = 0, 1, 2
MAX_LEN = 16
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


class Grammar:
    """The hidden language pair of one ``data_seed``: dictionaries, genders, vocabulary."""

    def __init__(self, data_seed: int):
        rng = rng_for(data_seed, "wmt/grammar")
        used: set[str] = set()

        def words(k: int, syllables: tuple[int, int] = (2, 3)) -> list[str]:
            out = []
            while len(out) < k:
                n = int(rng.integers(syllables[0], syllables[1] + 1))
                w = "".join(rng.choice(list(_CONSONANTS)) + rng.choice(list(_VOWELS))
                            for _ in range(n))
                if w not in used:
                    used.add(w)
                    out.append(w)
            return out

        self.src = {"det": words(4, (1, 1)), "noun": words(40), "adj": words(24),
                    "verb": words(24), "adv": words(8), "prep": words(8, (1, 2))}
        self.gender = rng.integers(0, 2, 40)
        # Target forms: det[definite, plural, gender]; noun[i][synonym][plural];
        # adj[i][gender]; verb[i][plural].
        self.tgt_det = np.array(words(8, (1, 1))).reshape(2, 2, 2)
        self.tgt_noun = [[words(2) for _ in range(1 + (rng.random() < 0.25))] for _ in range(40)]
        self.tgt_adj = [words(2) for _ in range(24)]
        self.tgt_verb = [words(2) for _ in range(24)]
        self.tgt_adv = words(8)
        self.tgt_prep = words(8, (1, 2))
        self.vocab = ["<pad>", "<s>", "</s>", *sorted(used)]
        self.index = {w: i for i, w in enumerate(self.vocab)}

    def _np(self, rng: np.random.Generator) -> tuple[list[str], list[str], int]:
        definite, plural = int(rng.integers(0, 2)), int(rng.integers(0, 2))
        noun = int(rng.integers(0, 40))
        adjs = [int(a) for a in rng.choice(24, size=int(rng.integers(0, 3)), replace=False)]
        src = [self.src["det"][2 * definite + plural]] + [self.src["adj"][a] for a in adjs]
        src.append(self.src["noun"][noun])
        g = int(self.gender[noun])
        synonyms = self.tgt_noun[noun]
        tgt = [str(self.tgt_det[definite, plural, g]),
               synonyms[int(rng.integers(0, len(synonyms)))][plural]]
        tgt += [self.tgt_adj[a][g] for a in reversed(adjs)]
        return src, tgt, plural

    def sentence(self, rng: np.random.Generator) -> tuple[list[str], list[str]]:
        """One (source, target) pair of words."""
        subj_s, subj_t, plural = self._np(rng)
        obj_s, obj_t, _ = self._np(rng)
        verb = int(rng.integers(0, 24))
        src = subj_s + [self.src["verb"][verb]] + obj_s
        tgt_tail = [self.tgt_verb[verb][plural]]
        if rng.random() < 0.4:
            adv = int(rng.integers(0, 8))
            src.append(self.src["adv"][adv])
            tgt_tail.append(self.tgt_adv[adv])
        pp_t: list[str] = []
        if rng.random() < 0.4:
            prep = int(rng.integers(0, 8))
            pp_s, pp_np, _ = self._np(rng)
            src += [self.src["prep"][prep]] + pp_s
            pp_t = [self.tgt_prep[prep]] + pp_np
        return src, subj_t + pp_t + obj_t + tgt_tail

    def encode(self, words: list[str]) -> np.ndarray:
        ids = np.zeros(MAX_LEN, np.int32)
        seq = [self.index[w] for w in words][:MAX_LEN - 1] + [EOS]
        ids[:len(seq)] = seq
        return ids

    def decode(self, ids) -> str:
        out = []
        for t in ids:
            if t == EOS or t == PAD:
                break
            if t != BOS:
                out.append(self.vocab[int(t)])
        return " ".join(out)


@cached_data
def make_pairs(data_seed: int, sizes: tuple[int, int, int]) -> Splits:
    """``src`` and ``tgt`` [n, 16] int32 token ids (EOS-terminated, 0-padded)."""
    grammar = Grammar(data_seed)
    rng = rng_for(data_seed, "wmt/sentences")
    src, tgt = [], []
    for _ in range(sum(sizes)):
        s, t = grammar.sentence(rng)
        src.append(grammar.encode(s))
        tgt.append(grammar.encode(t))
    return split({"src": np.stack(src), "tgt": np.stack(tgt)}, sizes)


class Block(nn.Module):
    """Pre-LN block: self-attention (causal/cached in the decoder), cross-attention, MLP."""

    width: int
    heads: int
    mlp_dim: int
    dropout: float
    decoder: bool = False
    decode: bool = False

    @nn.compact
    def __call__(self, x, mask, train: bool, encoded=None, cross_mask=None):
        drop = partial(Dropout, self.dropout, deterministic=not train)

        def attn(**kw):  # dropout on the attention weights at a possibly traced rate
            use = train and not is_static_zero(self.dropout)
            rng = self.make_rng("dropout") if use else None
            return nn.MultiHeadDotProductAttention(
                num_heads=self.heads, attention_fn=attention_dropout(self.dropout, rng), **kw)

        x = x + drop()(attn(decode=self.decode)(nn.LayerNorm()(x), mask=mask))
        if self.decoder:
            x = x + drop()(attn()(nn.LayerNorm()(x), encoded, mask=cross_mask))
        y = nn.Dense(self.mlp_dim)(nn.LayerNorm()(x))
        return x + drop()(nn.Dense(self.width)(drop()(nn.relu(y))))


class Transformer(nn.Module):
    vocab: int
    width: int
    depth: int
    heads: int
    mlp_dim: int
    dropout: float
    decode: bool = False

    def setup(self):
        self.embed = nn.Embed(self.vocab, self.width,
                              embedding_init=nn.initializers.normal(self.width ** -0.5))
        self.src_pos = self.param("src_pos", nn.initializers.normal(0.02), (MAX_LEN, self.width))
        self.tgt_pos = self.param("tgt_pos", nn.initializers.normal(0.02), (MAX_LEN, self.width))
        self.encoder = [Block(self.width, self.heads, self.mlp_dim, self.dropout)
                        for _ in range(self.depth)]
        self.decoder = [Block(self.width, self.heads, self.mlp_dim, self.dropout, decoder=True,
                              decode=self.decode) for _ in range(self.depth)]
        self.enc_norm = nn.LayerNorm()
        self.dec_norm = nn.LayerNorm()
        self.drop = Dropout(self.dropout)

    def encode(self, src, train: bool):
        x = self.embed(src) * np.sqrt(self.width) + self.src_pos[:src.shape[1]]
        x = self.drop(x, deterministic=not train)
        mask = nn.make_attention_mask(src != PAD, src != PAD)
        for block in self.encoder:
            x = block(x, mask, train)
        return self.enc_norm(x)

    def decode_step(self, encoded, src, tgt_in, train: bool, position=None):
        """Logits for ``tgt_in`` (teacher forcing), or for one token at ``position`` (cache)."""
        if self.decode and position is not None:
            x = self.embed(tgt_in) * np.sqrt(self.width) + self.tgt_pos[position][None, None]
            mask = None  # the cache masks positions not yet written
        else:
            x = self.embed(tgt_in) * np.sqrt(self.width) + self.tgt_pos[:tgt_in.shape[1]]
            mask = nn.combine_masks(nn.make_causal_mask(tgt_in),
                                    nn.make_attention_mask(tgt_in != PAD, tgt_in != PAD))
        x = self.drop(x, deterministic=not train)
        cross = nn.make_attention_mask(jnp.ones(tgt_in.shape, bool), src != PAD)
        for block in self.decoder:
            x = block(x, mask, train, encoded, cross)
        return self.embed.attend(self.dec_norm(x))

    def __call__(self, src, tgt_in, train: bool):
        return self.decode_step(self.encode(src, train), src, tgt_in, train)


def shift_right(tgt):
    """Decoder input: BOS followed by the target without its last position."""
    return jnp.concatenate([jnp.full((tgt.shape[0], 1), BOS, tgt.dtype), tgt[:, :-1]], axis=1)


@dataclass
class MiniWMTConfig(WorkloadConfig):
    name: str = "mini_wmt"
    max_steps: int = 1500
    batch_size: int = 32
    eval_every: int = 100
    metric: str = "bleu"
    target: float = 85.11
    direction: str = "max"
    num_train: int = 20_000
    num_validation: int = 300
    num_test: int = 300
    width: int = 64
    depth: int = 2
    heads: int = 4


@workload("mini_wmt", MiniWMTConfig)
class MiniWMT(Workload):
    supports_dropout = True
    supports_label_smoothing = True

    @cached_property
    def grammar(self) -> Grammar:
        return Grammar(self.cfg.data_seed)

    def model(self, decode: bool = False, dropout=0.0) -> Transformer:
        c = self.cfg
        return Transformer(len(self.grammar.vocab), c.width, c.depth, c.heads, 2 * c.width,
                           dropout, decode=decode)

    def make_data(self) -> Splits:
        c = self.cfg
        return make_pairs(c.data_seed, (c.num_train, c.num_validation, c.num_test))

    def init(self, rng):
        tokens = jnp.zeros((1, MAX_LEN), jnp.int32)
        return self.model().init({"params": rng}, tokens, tokens, train=False)["params"], {}

    def _loss(self, params, batch, train, smoothing, rng=None, dropout=0.0):
        rngs = {"dropout": rng} if rng is not None else {}
        logits = self.model(dropout=dropout).apply({"params": params}, batch["src"], shift_right(batch["tgt"]),
                                    train=train, rngs=rngs)
        weights = (batch["tgt"] != PAD).astype(jnp.float32)
        return cross_entropy(logits, batch["tgt"], logits.shape[-1], smoothing, weights)

    def loss(self, params, model_state, batch, rng, train, reg=None):
        reg = self.regularizers(reg)
        smoothing = reg.label_smoothing if train else 0.0
        return self._loss(params, batch, train, smoothing, rng, reg.dropout), model_state

    @partial(jax.jit, static_argnums=0)
    def _eval(self, params, split_):
        loss = self._loss(params, split_, False, 0.0)
        src = split_["src"]
        model = self.model(decode=True)
        encoded = self.model().apply({"params": params}, src, False,
                                     method=Transformer.encode)
        first = jnp.full((src.shape[0], 1), BOS, jnp.int32)
        shapes = jax.eval_shape(
            lambda: model.init(jax.random.PRNGKey(0), src, jnp.zeros_like(src), False))
        cache = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes["cache"])

        def step(carry, position):
            cache, token = carry
            logits, mutated = model.apply(
                {"params": params, "cache": cache}, encoded, src, token, False, position,
                method=Transformer.decode_step, mutable=["cache"])
            token = jnp.argmax(logits[:, -1], axis=-1).astype(jnp.int32)[:, None]
            return (mutated["cache"], token), token[:, 0]

        _, tokens = jax.lax.scan(step, (cache, first), jnp.arange(MAX_LEN))
        return loss, tokens.T

    def evaluate(self, params, model_state, split_):
        loss, tokens = self._eval(params, split_)
        hyps = [self.grammar.decode(row) for row in np.asarray(tokens)]
        return {"loss": float(loss), "bleu": bleu(hyps, self._references(split_["tgt"]))}

    def _references(self, tgt) -> list[str]:
        """The split's reference sentences, decoded once: every evaluation of a run scores
        against the same split (the runner keeps it on the device, one array object)."""
        kept = getattr(self, "_kept_references", None)
        if kept is None or kept[0] is not tgt:
            refs = [self.grammar.decode(row) for row in np.asarray(tgt)]
            kept = self._kept_references = (tgt, refs)
        return kept[1]
