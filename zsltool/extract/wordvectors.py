"""Word-vector files (word2vec binary / text, GloVe, gensim .kv): format detection, the checks that turn a
wrong file into one clear error, and loading through gensim ``KeyedVectors``.

    kv, fmt = load_keyed_vectors("GoogleNews-vectors-negative300.bin")       # format detected
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from zsltool.errors import ZslError
from zsltool.files.kinds import binary_kind

log = logging.getLogger("zsltool.extract.text")

VECTOR_FORMATS = ("auto", "word2vec-bin", "word2vec-text", "glove", "kv")


KV_HINT = ("convert it once, in Python, with gensim: KeyedVectors.load(PATH).save_word2vec_format(OUT, binary=True), "
           "then pass --vectors OUT; or pass --trust-pickle if you made the file yourself")


def _head(path: Path) -> tuple[bytes, bytes]:
    """The first line (up to 4 KiB) and the next 64 KiB of a (possibly gzipped) word-vector file."""
    try:
        with _open_maybe_gz(path) as fh:
            return fh.readline(4096), fh.read(65536)
    except OSError as e:
        raise ZslError(f"cannot read word vectors {path}: {e}") from None


def detect_vector_format(path: Path) -> str:
    """``kv`` by name or by pickle content; else from the content: a ``N DIM`` header then text numbers
    (word2vec-text) or raw float32s (word2vec-bin, whatever the file is called); no header: GloVe text."""
    if path.name.lower().endswith(".kv"):
        return "kv"
    first, sample = _head(path)
    if len(first) >= 2 and first[0] == 0x80 and 2 <= first[1] <= 5:  # a pickle stream (protocol 2-5): .kv
        return "kv"
    m = re.fullmatch(rb"\s*(\d+)\s+(\d+)\s*", first)
    if m:
        # text numbers after the word: text, also when their count is not the header's dimension (mixed
        # dimensions are reported when reading), never binary
        n = _first_line_numbers(sample)
        text = n == int(m.group(2)) or (b"\0" not in sample[:4096] and (n or 0) >= 1)
        return "word2vec-text" if text else "word2vec-bin"
    if b"\0" in first:
        return "word2vec-bin"
    return "glove"


def _first_line_numbers(sample: bytes) -> int | None:
    """How many numbers follow the word on ``sample``'s first line (None: not ``word`` + numbers)."""
    first = sample.split(b"\n", 1)[0].split()
    try:
        [float(x) for x in first[1:]]
    except ValueError:
        return None
    return len(first) - 1 if first else None


def _first_row_of_other_dimension(path: Path, header: bool) -> tuple[int, int, int] | None:
    """(line number, values on it, dimension) of the first text row whose number of values differs from the
    header's dimension (or, without a header, from the first row's); None when every row agrees."""
    dim = None
    with _open_maybe_gz(path) as fh:
        for n, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts:
                continue
            if header and n == 1:
                try:
                    dim = int(parts[1])
                except (IndexError, ValueError):
                    return None
                continue
            k = len(parts) - 1
            if dim is None:
                dim = k
            elif k != dim:
                return n, k, dim
    return None


def _open_maybe_gz(path: Path):
    import gzip

    return (gzip.open if path.name.lower().endswith(".gz") else open)(path, "rb")


def check_word2vec_binary(path: Path) -> None:
    """ZslError when a file to be read as binary word2vec is a text one (gensim would read its digits as
    garbage floats without complaint): the header ``N DIM`` must be followed by raw float32s, not by a line
    ``word x1 ... xDIM`` of text numbers."""
    hint = "it looks like a text word2vec file: pass --format word2vec-text (or --format auto)"
    header, sample = _head(path)
    m = re.fullmatch(rb"\s*(\d+)\s+(\d+)\s*", header)
    if not m:
        raise ZslError(f"{path} is not a binary word2vec file: its first line is not the header 'WORDS DIM'",
                       hint="GloVe text files have no header: pass --format glove (or --format auto)")
    if _first_line_numbers(sample) == int(m.group(2)):  # a line ``word x1 ... xDIM`` of text numbers
        raise ZslError(f"{path} is not a binary word2vec file: its first vector is a line of "
                       f"{int(m.group(2))} text numbers", hint=hint)


def _check_vector_values(kv, path: Path, fmt: str, n: int = 1000) -> None:
    """Garbage guard on the first ``n`` vectors: non-finite values or magnitudes no embedding has."""
    import numpy as np

    X = np.asarray(kv.vectors[:n], dtype=np.float64)
    if not np.isfinite(X).all():
        raise ZslError(f"{path} read as {fmt} gives non-finite word vectors (NaN or Inf) among its first {len(X)}",
                       hint="the file is corrupt or in another format: try --format auto, word2vec-text or glove")
    top = np.abs(X).max(axis=1)
    bad = int(((top > 1e6) | (top < 1e-6)).sum())
    if bad > len(X) // 2:
        raise ZslError(f"{path} read as {fmt} gives absurd word vectors ({bad} of the first {len(X)} have no "
                       "value between 1e-6 and 1e6 in magnitude)",
                       hint="the file is in another format: try --format auto, word2vec-text or glove")


def load_keyed_vectors(path: str | os.PathLike, fmt: str = "auto", limit: int | None = None,
                       trust_pickle: bool = False):
    """``(KeyedVectors, format)``; ``limit`` keeps the first N words.

    ``.kv`` files (pickles) are refused unless ``trust_pickle`` (then memory-mapped, with a warning)."""
    from gensim.models import KeyedVectors

    p = Path(path)
    if not p.is_file():
        raise ZslError(f"word vectors not found: {p}",
                       hint="e.g. GoogleNews-vectors-negative300.bin (word2vec) or glove.6B.300d.txt")
    if fmt not in VECTOR_FORMATS:
        raise ZslError(f"unknown vector format {fmt!r}", hint=f"choose one of {', '.join(VECTOR_FORMATS)}")
    with open(p, "rb") as fh:
        kind = binary_kind(fh.read(8))
    if kind:
        raise ZslError(f"{p} is {kind}, not a word-vector file",
                       hint="e.g. GoogleNews-vectors-negative300.bin (word2vec) or glove.6B.300d.txt")
    if fmt == "auto":
        fmt = detect_vector_format(p)
    if fmt == "kv":
        if not trust_pickle:
            raise ZslError(f"{p} is a gensim .kv file, a Python pickle that can run code when loaded; "
                           "zsl does not load it by default", hint=KV_HINT)
        log.warning(f"warning: loading {p} with --trust-pickle: a .kv file is a Python pickle, and loading it "
                    "runs whatever code it holds; do this only for files you made yourself")
    if fmt == "word2vec-bin":
        check_word2vec_binary(p)
    try:
        if fmt == "kv":
            kv = KeyedVectors.load(str(p), mmap="r")
        else:
            kv = KeyedVectors.load_word2vec_format(str(p), binary=fmt == "word2vec-bin", limit=limit,
                                                   no_header=fmt == "glove")
    except Exception as e:  # noqa: BLE001 - gensim raises ValueError, UnicodeDecodeError, EOFError, ...
        bad = None
        if fmt in ("word2vec-text", "glove") and isinstance(e, ValueError):
            try:
                bad = _first_row_of_other_dimension(p, header=fmt == "word2vec-text")
            except (OSError, UnicodeDecodeError):
                bad = None
        if bad:
            raise ZslError(f"{p} has rows of mixed dimensions: line {bad[0]} has {bad[1]} values, but the vectors "
                           f"have {bad[2]} dimensions", hint="every row must be a word followed by the same number "
                           "of values; fix or regenerate the file") from None
        raise ZslError(f"cannot read {p} as {fmt} word vectors ({type(e).__name__}: {e})",
                       hint="pass --format word2vec-bin|word2vec-text|glove|kv") from None
    if not len(kv.key_to_index) or kv.vector_size < 1:
        raise ZslError(f"{p} holds no word vectors (read as {fmt}: {len(kv.key_to_index)} words of dimension "
                       f"{kv.vector_size})", hint="pass --format word2vec-bin|word2vec-text|glove|kv")
    _check_vector_values(kv, p, fmt)
    log.info(f"loaded {len(kv.key_to_index)} word vectors of dimension {kv.vector_size} from {p} ({fmt})")
    return kv, fmt


