"""Word vectors that carry the demo's attribute structure (a word2vec file written with gensim).

Each attribute word gets its own random direction plus a small share of its group's direction (pitch
words are a bit alike, as are pattern words and timbre words); its description synonyms sit close to
it. Each class phrase (``Rising_clicking_whistle``, the form word2vec uses for phrases) is the mean of
its three attribute words plus noise. So ``zsl extract-text`` gives class vectors whose geometry
follows the shared attributes, whether it finds the phrase or averages the words. A few hundred
unrelated filler words make the vocabulary look like one.
"""

from __future__ import annotations

import os

import numpy as np

from zsltool.testing.design import ATTRIBUTES, GROUPS, SoundClass, class_design

FUNCTION_WORDS = ("a", "an", "the", "with", "in", "and", "that", "up", "down", "held", "sound", "of")
N_FILLER = 200


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-12)


def build_word_vectors(classes: list[SoundClass], *, dim: int = 64, seed: int = 0, group_share: float = 0.3,
                       synonym_noise: float = 0.25, phrase_noise: float = 0.15,
                       norm: float = 2.5) -> dict[str, np.ndarray]:
    """word -> float32 vector. Deterministic for ``seed``; the same for any class subset of the design."""
    rng = np.random.default_rng([seed, 104729])
    vocab: dict[str, np.ndarray] = {}
    group_dir = {g: _unit(rng.standard_normal(dim)) for g in GROUPS}
    for g in GROUPS:
        for a in ATTRIBUTES[g]:
            own = _unit(rng.standard_normal(dim))
            vec = _unit(group_share * group_dir[g] + (1 - group_share) * own)
            vocab[a.word] = vec
            for syn in a.synonyms:
                vocab.setdefault(syn, _unit(vec + synonym_noise * _unit(rng.standard_normal(dim))))
    for w in FUNCTION_WORDS:
        vocab.setdefault(w, _unit(rng.standard_normal(dim)) * 0.3)
    for i in range(N_FILLER):
        vocab[f"word{i:03d}"] = _unit(rng.standard_normal(dim))
    # Phrases for every class of the full design, so the file does not depend on which subset is used.
    for c in class_design(small=False):
        prng = np.random.default_rng([seed, 15485863, *[ord(ch) for ch in c.name]])
        mean = _unit(np.mean([vocab[w] for w in c.words], axis=0))
        vocab[c.name.replace(" ", "_")] = _unit(mean + phrase_noise * _unit(prng.standard_normal(dim)))
    names = {c.name for c in classes}
    for n in [n for n in names if n.replace(" ", "_") not in vocab]:  # outside the design: mean of known words
        known = [vocab[w.lower()] for w in n.split() if w.lower() in vocab]
        if known:
            vocab[n.replace(" ", "_")] = _unit(np.mean(known, axis=0))
    return {w: (v * norm).astype(np.float32) for w, v in vocab.items()}


def write_word2vec(path: str | os.PathLike, vectors: dict[str, np.ndarray], binary: bool = True) -> None:
    """Write ``vectors`` as a word2vec file (binary by default) with gensim's KeyedVectors."""
    from gensim.models import KeyedVectors

    words = sorted(vectors)
    kv = KeyedVectors(vector_size=len(next(iter(vectors.values()))))
    kv.add_vectors(words, np.stack([vectors[w] for w in words]))
    for i, w in enumerate(words):  # word2vec files are sorted by frequency; any order will do here
        kv.set_vecattr(w, "count", len(words) - i)
    kv.save_word2vec_format(str(path), binary=binary)


def class_vector(vectors: dict[str, np.ndarray], name: str, phrase_first: bool = True) -> np.ndarray:
    """The class vector as the paper builds it: the phrase if known, else the mean of the label's words."""
    phrase = name.replace(" ", "_")
    if phrase_first and phrase in vectors:
        return vectors[phrase]
    words = [w for w in (t.lower() for t in name.split()) if w in vectors]
    return np.mean([vectors[w] for w in words], axis=0)
