"""Word vectors for a few labels without loading the whole vectors file (``zsl classify``).

``extract-text`` loads every vector through gensim: right for a class list, wasteful for a handful of labels
(GoogleNews is 3 million words, 3.6 GB). Here the file is streamed once and only the vectors of the tokens
the labels could need are kept: the tokenizer (``text_tokenize.label_tokens``) is first run with a vocabulary
that knows nothing, which makes it ask for every string it could ever look up for those labels (a superset of
what it asks when some are found); those strings are collected, then the tokenizer runs again on what the
file holds. Same tokens, same float32 values, same mean as ``extract-text`` (tested). Word2vec binary and text
and GloVe files are streamed; gzip and gensim ``.kv`` files go through gensim.

The vectors file's sha256 (checked against the training text file's record) is remembered across runs
(:func:`zsltool.files.provenance.sha256_file`, as the audio network's weights' is), so a multi-GB file is
hashed once, not at every call.

:func:`label_rows` is the ``word2vec`` extractor's label embedder (its registration's ``labels``): how
``zsl classify`` embeds new labels as a word2vec text file's rows were made.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.extract.text_tokenize import label_tokens

log = logging.getLogger("zsltool.classify")
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


def _recorded_vectors_sha(rec: dict) -> str:
    em = rec.get("extractor_meta") or {}
    if em.get("vectors_sha256"):
        return em["vectors_sha256"]
    want = str(em.get("vectors") or "")
    for r in rec.get("inputs") or []:
        if isinstance(r, dict) and r.get("path") and (r["path"] == want or Path(r["path"]).name == Path(want).name):
            return r.get("sha256") or ""
    return ""


def label_rows(rec: dict, labels: list[str], *, vectors=None, allow_other_vectors: bool = False, anchor=None,
               examples: Sequence[str] = (), **_):
    """Label vectors as the training text file made them; ``examples`` (training classes) are embedded along to
    suggest a known label in an error; info ``partial``: {label: words left out} of labels embedded from part
    of their words."""
    from zsltool.classify.labels import label_hint
    from zsltool.extract.text_tokenize import RULES_VERSION, dropped_words
    from zsltool.files.checks import relocated
    from zsltool.files.provenance import sha256_file

    em = rec.get("extractor_meta") or {}
    recorded = em.get("vectors")
    path = Path(vectors).expanduser() if vectors else (Path(recorded) if recorded else None)
    if path is None:
        raise ZslError("the checkpoint's text file records no word-vectors path", hint="pass --vectors PATH")
    moved = relocated(path, anchor) if not vectors and not path.is_file() else None
    if moved is not None:
        log.info(f"word vectors {recorded} not found; using {moved} (found next to the checkpoint)")
        path = moved
    if not path.is_file():
        raise ZslError(f"word vectors not found: {path}" + ("" if vectors else " (recorded in the training text file)"),
                       hint="pass --vectors PATH to the same vectors file (checked by sha256)")
    want, notes = _recorded_vectors_sha(rec), []
    if want:
        got = sha256_file(path)
        if got != want:
            if not allow_other_vectors:
                raise ZslError(f"{path} has sha256 {got[:12]}, but the model was trained with vectors of sha256 "
                               f"{want[:12]}: the label embeddings would be in another space",
                               hint="give the vectors the model was trained with, or --allow-other-vectors")
            notes.append(f"{path} is not the vectors file the model was trained with (--allow-other-vectors)")
            log.warning(notes[-1])
    rules = em.get("tokenizer")
    if rules and rules != RULES_VERSION:
        log.warning(f"the training labels were tokenized with {rules!r}; new labels use {RULES_VERSION!r}")
    extra = [c for c in examples if c not in set(labels)][:20]
    every = label_vectors(path, labels + extra, em.get("format") or "auto", em.get("limit"))
    rows = every[:len(labels)]
    missing = [lab for lab, (v, _) in zip(labels, rows) if v is None]
    if missing:
        known = [lab for lab, (v, t) in zip(labels + extra, every) if v is not None and not dropped_words(lab, t)]
        raise ZslError(f"{len(missing)} of {len(labels)} labels have no known word: {'; '.join(missing[:10])}",
                       hint=label_hint(known))
    partial = {lab: dropped_words(lab, t) for lab, (_, t) in zip(labels, rows)}
    return np.stack([v for v, _ in rows]).astype(np.float32), {
        "tokens": {lab: t for lab, (_, t) in zip(labels, rows)}, "vectors": str(path),
        "partial": {lab: d for lab, d in partial.items() if d}, "warnings": notes}
