"""Word vectors for a few labels without loading the whole vectors file (``zsl classify``).

``extract-text`` loads every vector through gensim: right for a class list, wasteful for a handful of labels
(GoogleNews is 3 million words, 3.6 GB). Here the file is streamed once and only the vectors of the tokens
the labels could need are kept: the tokenizer (``text_tokenize.label_tokens``) is first run with a vocabulary
that knows nothing, which makes it ask for every string it could ever look up for those labels (a superset of
what it asks when some are found); those strings are collected, then the tokenizer runs again on what the
file holds. Same tokens, same float32 values, same mean as ``extract-text`` (tested). Word2vec binary and text
and GloVe files are streamed; gzip and gensim ``.kv`` files go through gensim.

The vectors file's sha256 (checked against the training text file's record) is cached across runs
(:func:`zsltool.provenance.cached_sha256`, as the audio network's weights are), so a multi-GB file is hashed
once, not at every call.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np

from zsltool.errors import ZslError
from zsltool.extract.text_tokenize import label_tokens

CHUNK = 1 << 24


def candidate_tokens(labels: Iterable[str]) -> set[str]:
    """Every string the tokenizer could look up for ``labels``."""
    asked: set[str] = set()

    def has(tok: str) -> bool:
        asked.add(tok)
        return False

    for lab in labels:
        label_tokens(lab, has)
    return asked


def _scan_binary(path: Path, wanted: dict[bytes, str], limit: int | None) -> tuple[dict, int]:
    found: dict[str, np.ndarray] = {}
    with open(path, "rb") as f:
        header = f.readline()
        try:
            n, dim = (int(x) for x in header.split())
        except ValueError:
            raise ZslError(f"{path} is not a binary word2vec file (header {header[:40]!r})") from None
        n = min(n, limit) if limit else n
        rec = dim * 4
        buf, pos = f.read(CHUNK), 0
        for _ in range(n):
            while True:
                sp = buf.find(b" ", pos)
                if sp != -1 and len(buf) - sp - 1 >= rec:
                    break
                more = f.read(CHUNK)
                if not more:
                    raise ZslError(f"{path} ends early: the header promises {n} vectors")
                buf, pos = buf[pos:] + more, 0
            word = buf[pos:sp].lstrip(b"\n")
            if word in wanted and wanted[word] not in found:
                found[wanted[word]] = np.frombuffer(buf, dtype="<f4", count=dim, offset=sp + 1).copy()
            pos = sp + 1 + rec
    return found, dim


def _scan_text(path: Path, wanted: dict[bytes, str], limit: int | None, header: bool) -> tuple[dict, int]:
    found: dict[str, np.ndarray] = {}
    dim = 0
    with open(path, "rb") as f:
        if header:
            f.readline()
        for k, line in enumerate(f):
            if limit and k >= limit:
                break
            word, _, rest = line.rstrip(b"\r\n").partition(b" ")
            if not dim:
                dim = len(rest.split())
            if word in wanted and wanted[word] not in found:
                found[wanted[word]] = np.array([np.float32(x.decode()) for x in rest.split()], dtype=np.float32)
    return found, dim


def label_vectors(path: str | os.PathLike, labels: list[str], fmt: str = "auto", limit: int | None = None):
    """Per label ``(vector or None, tokens)`` exactly as ``extract-text`` would make them."""
    from zsltool.extract.text import TextEntry, detect_vector_format

    p = Path(path)
    if fmt == "auto":
        fmt = detect_vector_format(p)
    if fmt == "kv" or p.name.lower().endswith(".gz"):
        from zsltool.extract.registry import build_extractor

        w2v = build_extractor("word2vec", vectors=str(p), fmt=fmt, limit=limit)
        return w2v.rows([TextEntry(id=lab, name=lab) for lab in labels])
    wanted = {t.encode("utf-8"): t for t in candidate_tokens(labels)}
    if fmt == "word2vec-bin":
        found, _ = _scan_binary(p, wanted, limit)
    else:
        found, _ = _scan_text(p, wanted, limit, header=fmt == "word2vec-text")
    out = []
    for lab in labels:
        toks = label_tokens(lab, found.__contains__)
        vec = None
        if toks:
            vec = np.mean(np.stack([found[t].astype(np.float64) for t in toks]), axis=0).astype(np.float32)
        out.append((vec, toks))
    return out
