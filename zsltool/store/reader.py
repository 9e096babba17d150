"""Reading and validating embedding files."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.files.checks import missing_entries
from zsltool.store.schema import ATTRS, FORMAT, FORMAT_VERSION, HDF5_SIGNATURE, JSON_ATTRS, KINDS, StoreMeta

REQUIRED = ("ids", "embeddings", "classes", "labels", "valid", "invalid_reason")


@dataclass
class Embeddings:
    """The content of one embedding file, in memory."""

    ids: list[str]
    X: np.ndarray
    classes: list[str]
    labels: np.ndarray
    valid: np.ndarray
    reasons: list[str]
    meta: StoreMeta
    path: Path | None = None
    frames: np.ndarray | None = None
    offsets: np.ndarray | None = None
    counts: np.ndarray | None = None
    _index: dict = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        n_invalid = int((~np.asarray(self.valid, dtype=bool)).sum()) if len(self.ids) else 0
        where = f", path={str(self.path)!r}" if self.path else ""
        return (f"Embeddings({self.meta.kind} {self.meta.modality}, extractor={self.meta.extractor!r}, "
                f"{len(self.ids)} rows × {self.X.shape[1] if self.X.ndim == 2 else 0}, {len(self.classes)} classes, "
                f"{n_invalid} invalid{where})")

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    @property
    def embeddings(self) -> np.ndarray:
        """The N × D matrix, named as in the file (``/embeddings``); the same array as ``X``."""
        return self.X

    def to_pandas(self, *, vectors: str = "columns"):
        """A pandas DataFrame indexed by id: ``labels`` (class names joined by ";", as str), ``valid``,
        ``invalid_reason`` (str), then the embedding as columns ``e0 … e{D-1}`` (``vectors="columns"``) or as one
        column ``embedding`` holding each row's vector (``vectors="column"``).

        pandas is an optional dependency (``pip install 'zsltool[pandas]'``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ZslError("Embeddings.to_pandas needs pandas, which is not installed",
                           hint="pip install 'zsltool[pandas]' (or pip install pandas)") from None
        if vectors not in ("columns", "column"):
            raise ValueError(f"vectors must be 'columns' or 'column', got {vectors!r}")

        classes = _decode(self.classes)
        lab = np.asarray(self.labels, dtype=bool)
        data = {"labels": [";".join(classes[j] for j in np.flatnonzero(lab[i])) if lab.shape[1] else ""
                           for i in range(len(self.ids))],
                "valid": np.asarray(self.valid, dtype=bool),
                "invalid_reason": _decode(self.reasons)}
        index = pd.Index(_decode(self.ids), name="id", dtype=object)
        df = pd.DataFrame(data, index=index)
        X = np.asarray(self.X)
        if vectors == "column":
            df["embedding"] = list(X)
            return df
        emb = pd.DataFrame(X, index=index, columns=[f"e{j}" for j in range(X.shape[1])])
        return pd.concat([df, emb], axis=1)

    def id_index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {i: n for n, i in enumerate(self.ids)}
        return self._index

    def label_index(self) -> np.ndarray:
        """Per row: the index of its single class, or -1 when it has none or several."""
        if self.labels.shape[1] == 0:
            return np.full(len(self.ids), -1, dtype=np.int64)
        single = self.labels.sum(axis=1) == 1
        return np.where(single, self.labels.argmax(axis=1), -1).astype(np.int64)

    def row_frames(self, i: int) -> np.ndarray | None:
        if self.frames is None:
            return None
        return self.frames[self.offsets[i]:self.offsets[i + 1]]

    def subset(self, ids: Sequence[str]) -> "Embeddings":
        """Rows for ``ids`` in that order; unknown ids are a ZslError naming the file."""
        idx = self.id_index()
        missing = [i for i in ids if i not in idx]
        if missing:
            raise ZslError(f"{len(missing)} ids are not in {self.path}: {', '.join(missing[:5])}"
                           + (" ..." if len(missing) > 5 else ""))
        rows = np.array([idx[i] for i in ids], dtype=np.int64)
        return self.take(rows)

    def take(self, rows: np.ndarray) -> "Embeddings":
        rows = np.asarray(rows, dtype=np.int64)
        frames = offsets = None
        if self.frames is not None:
            chunks = [self.frames[self.offsets[r]:self.offsets[r + 1]] for r in rows]
            lens = [len(c) for c in chunks]
            offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
            frames = np.concatenate(chunks) if chunks else self.frames[:0]
        return replace(
            self, ids=[self.ids[r] for r in rows], X=self.X[rows], labels=self.labels[rows],
            valid=self.valid[rows], reasons=[self.reasons[r] for r in rows],
            counts=None if self.counts is None else self.counts[rows], frames=frames, offsets=offsets,
            _index=None)

    def class_embeddings(self, class_ids: Sequence[str]) -> np.ndarray:
        """For a class-level file: the rows of ``class_ids`` in that order (ZslError for unknown classes)."""
        return self.subset([str(c) for c in class_ids]).X


def _decode(arr) -> list[str]:
    return [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in arr]


def is_hdf5(path: str | os.PathLike) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == HDF5_SIGNATURE
    except OSError:
        return False


def collect_violations(f, check_values: bool = True) -> list[str]:
    """Every way an open h5py file breaks the schema (empty list when valid)."""
    out: list[str] = []
    fmt = f.attrs.get("format", None)
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    if fmt != FORMAT:
        return [f"not a zsl embedding file (format attribute is {fmt!r}, expected {FORMAT!r})"]
    ver = int(f.attrs.get("format_version", 0))
    if ver < 1 or ver > FORMAT_VERSION:
        out.append(f"format version {ver} is not supported (this zsl reads versions 1 to {FORMAT_VERSION}; "
                   "upgrade zsl)")
        return out
    kind = f.attrs.get("kind", "")
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind not in KINDS:
        out.append(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    for key in ATTRS[1:]:  # (kind: above) provenance is JSON text, never anything to unpickle or evaluate
        v = f.attrs.get(key, "")
        if not isinstance(v, (str, bytes)):
            out.append(f"attribute {key} is not text (found {type(v).__name__})")
        elif key in JSON_ATTRS and v:
            try:
                json.loads(v)
            except (ValueError, UnicodeDecodeError):
                out.append(f"attribute {key} is not valid JSON")
    if lacking := missing_entries(REQUIRED, f, "datasets"):
        return out + [lacking]
    emb = f["embeddings"]
    if emb.ndim != 2:
        out.append(f"embeddings must be 2-D, found shape {emb.shape}")
        return out
    n, d = emb.shape
    if emb.dtype != np.float32:
        out.append(f"embeddings must be float32, found {emb.dtype}")
    dim = f.attrs.get("dim", d)
    if int(dim) != d:
        out.append(f"dim attribute {int(dim)} does not match embeddings width {d}")
    c = f["classes"].shape[0]
    for name, shape in (("ids", (n,)), ("valid", (n,)), ("invalid_reason", (n,)), ("labels", (n, c))):
        if f[name].shape != shape:
            out.append(f"{name} has shape {f[name].shape}, expected {shape}")
    if "counts" in f and f["counts"].shape != (n,):
        out.append(f"counts has shape {f['counts'].shape}, expected {(n,)}")
    if out:
        return out
    ids = _decode(f["ids"][:])
    if len(set(ids)) != len(ids):
        seen, dups = set(), []
        for i in ids:
            if i in seen and i not in dups:
                dups.append(i)
            seen.add(i)
        out.append(f"duplicate ids: {', '.join(dups[:5])}" + (" ..." if len(dups) > 5 else ""))
    classes = _decode(f["classes"][:])
    if len(set(classes)) != len(classes):
        out.append("duplicate class ids in /classes")
    if "frames" in f:
        g = f["frames"]
        if "embeddings" not in g or "offsets" not in g:
            out.append("frames group needs datasets embeddings and offsets")
        else:
            off = g["offsets"][:]
            if off.shape != (n + 1,) or off[0] != 0 or np.any(np.diff(off) < 0) or off[-1] != g["embeddings"].shape[0]:
                out.append("frame offsets are inconsistent with the frame embeddings")
    if check_values and n:
        valid = f["valid"][:]
        bad = []
        for start in range(0, n, 65536):
            block = emb[start:start + 65536]
            rows = ~np.all(np.isfinite(block), axis=1) & valid[start:start + 65536]
            bad.extend((np.nonzero(rows)[0] + start).tolist())
        if bad:
            out.append(f"{len(bad)} valid rows contain NaN or Inf (first: {ids[bad[0]]!r})")
    return out


def _open_h5(path: Path):
    import h5py

    if not path.exists():
        raise ZslError(f"embedding file not found: {path}", hint="check the path")
    if path.is_dir():
        raise ZslError(f"{path} is a directory, not an embedding file", hint="give an .h5 file made by zsl extract-* "
                       "or zsl import-embeddings")
    if not is_hdf5(path):
        raise ZslError(f"{path} is not an HDF5 file (corrupt or another format)",
                       hint="zsl embedding files are made by zsl extract-* or zsl import-embeddings")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise ZslError(f"cannot read {path}: the HDF5 file is corrupt or truncated ({e})",
                       hint="make it again (an interrupted copy or download?)") from None


def validate_embeddings(path: str | os.PathLike) -> list[str]:
    """Violations of the schema in the file at ``path`` (raises ZslError when it cannot be opened)."""
    with _open_h5(Path(path)) as f:
        return collect_violations(f)


def read_meta(path: str | os.PathLike) -> StoreMeta:
    p = Path(path)
    with _open_h5(p) as f:
        v = collect_violations(f, check_values=False)
        if v:
            raise ZslError(f"{p}: {v[0]}")
        return StoreMeta.from_attrs(f.attrs)


def read_embeddings(path: str | os.PathLike, *, kind: str | None = None, validate: bool = True) -> Embeddings:
    """Load and validate an embedding file; ``kind`` ("instance"/"class") is checked when given. Inside
    ``zsltool.files.runcache.run_cache()`` a file is read once (the result is shared: treat it as read-only)."""
    from zsltool.files.runcache import cached

    p = Path(path)
    emb = cached("embeddings", p, lambda: _read_embeddings(p, validate), validate)
    meta = emb.meta
    if kind is not None and meta.kind != kind:
        def a(word: str) -> str:
            return f"an {word}" if word[:1] in "aeiou" else f"a {word}"
        raise ZslError(f"{p} is {a(meta.kind or 'unknown')}-level embedding file, but {a(kind)}-level file is needed",
                       hint="instance files come from extract-*, class files from extract-text, prototypes, combine")
    return emb


def _read_embeddings(p: Path, validate: bool) -> Embeddings:
    with _open_h5(p) as f:
        if validate:
            v = collect_violations(f)
            if v:
                raise ZslError(f"{p}: {v[0]}", hint=f"run `zsl inspect --check {p}` for every problem")
        meta = StoreMeta.from_attrs(f.attrs)
        emb = Embeddings(
            ids=_decode(f["ids"][:]),
            X=np.asarray(f["embeddings"][:], dtype=np.float32),
            classes=_decode(f["classes"][:]),
            labels=np.asarray(f["labels"][:], dtype=np.uint8),
            valid=np.asarray(f["valid"][:], dtype=bool),
            reasons=_decode(f["invalid_reason"][:]),
            meta=meta,
            path=p,
            counts=np.asarray(f["counts"][:]) if "counts" in f else None,
        )
        if "frames" in f:
            emb.frames = np.asarray(f["frames/embeddings"][:], dtype=np.float32)
            emb.offsets = np.asarray(f["frames/offsets"][:], dtype=np.int64)
    return emb


def check_same_class_set(files: Sequence[Embeddings], expected: str | None = None,
                         expected_name: str = "the class set") -> None:
    """Refuse files built from different class sets (files without a class-set hash are not compared)."""
    ref = None
    for e in files:
        h = e.meta.class_set_sha256
        if not h:
            continue
        if expected and h != expected:
            raise ZslError(f"{e.path} was built from class set {h[:12]}, but {expected_name} is {expected[:12]}",
                           hint="rebuild the file with the same class set")
        if ref is None:
            ref = e
        elif h != ref.meta.class_set_sha256:
            raise ZslError(
                f"{ref.path} and {e.path} were built from different class sets "
                f"({ref.meta.class_set_sha256[:12]} vs {h[:12]})",
                hint="rebuild both files from the same class-set file")
