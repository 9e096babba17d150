"""Turn precomputed features (a matrix plus an ids/labels CSV) into a zsl embedding file (``zsl import-embeddings``):
embeddings made outside zsl, beside the extractors' own (as ``audio/audioset_import.py`` for AudioSet's released
ones)."""

from __future__ import annotations

import csv
import io
import logging
import os
import zipfile
from pathlib import Path

import numpy as np

from zsltool.classes.classset import ClassSet
from zsltool.errors import ZslError
from zsltool.files.checks import read_text, require_file
from zsltool.files.provenance import command_line, input_record
from zsltool.store.schema import StoreMeta
from zsltool.store.writer import write_embeddings

log = logging.getLogger("zsltool.store")


def load_matrix(path: str | os.PathLike, key: str | None = None) -> np.ndarray:
    """A 2-D float matrix from .npy, .npz (``key`` or its only / 'embeddings' array) or a numeric .csv/.tsv."""
    p = require_file(path, "feature matrix")
    suffix = p.suffix.lower()
    with open(p, "rb") as fh:
        head = fh.read(8)
    magic = {".npy": (b"\x93NUMPY", "a .npy array file"), ".npz": (b"PK\x03\x04", "an .npz archive")}.get(suffix)
    if magic and not head.startswith(magic[0]):
        from zsltool.files.kinds import binary_kind

        raise ZslError(f"{p} is not {magic[1]}: it is {binary_kind(head) or 'another kind of file'}",
                       hint="save the matrix with numpy.save / numpy.savez, or give a numeric .csv")
    try:
        if suffix == ".npy":
            X = np.load(p, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                names = list(z.files)
                if key is None:
                    key = "embeddings" if "embeddings" in names else (names[0] if len(names) == 1 else None)
                if key is not None and key not in names:
                    raise ZslError(f"{p} has no array {key!r} (arrays: {', '.join(names)})", hint="fix --key")
                if key is None:
                    raise ZslError(f"{p} holds arrays {', '.join(names)}; which one is the matrix?",
                                   hint="name it with --key")
                X = z[key]
        elif suffix in (".csv", ".tsv", ".txt"):
            X = _read_numeric_csv(p, "\t" if suffix == ".tsv" else ",")
        else:
            raise ZslError(f"unsupported matrix format {suffix!r} for {p}", hint="use .npy, .npz or .csv")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ZslError(f"cannot read {p}: {e} (corrupt or truncated?)",
                       hint="a numeric matrix as .npy (no Python objects), .npz or .csv") from None
    if X.dtype == object:
        raise ZslError(f"{p} does not hold a numeric matrix")
    if X.ndim != 2:
        raise ZslError(f"{p} holds an array of shape {X.shape}; a 2-D matrix (rows x dimensions) is needed")
    try:
        return X.astype(np.float32)
    except (TypeError, ValueError):
        raise ZslError(f"{p} does not hold a numeric matrix") from None


def _read_numeric_csv(p: Path, delimiter: str) -> np.ndarray:
    rows = []
    text = read_text(p, "numeric CSV matrix", hint="a matrix CSV holds numbers only")
    for n, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)):
        if not row or all(not c.strip() for c in row):
            continue
        try:
            rows.append([float(c) for c in row])
        except ValueError:
            if n == 0 and not rows:
                continue  # a header line
            raise ZslError(f"{p}: line {n + 1} is not numeric", hint="a matrix CSV holds numbers only") from None
    if not rows:
        raise ZslError(f"{p} holds no rows", hint="one row per clip (or class), one column per dimension")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise ZslError(f"{p}: rows have different numbers of values ({sorted(widths)})")
    return np.array(rows, dtype=np.float32)


def read_ids_csv(path: str | os.PathLike, id_column: str = "id", labels_column: str | None = None,
                 sep: str = ";") -> tuple[list[str], list[list[str]] | None]:
    """Ids (and labels) of the matrix rows. ``labels_column`` None: the ``labels`` column when there is one;
    a named column must exist."""
    p = require_file(path, "ids CSV")
    text = read_text(p, "ids CSV", hint="one row per matrix row with an id column (and optionally labels)")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = reader.fieldnames or []
    if id_column not in fields:
        raise ZslError(f"{p} has no {id_column!r} column (columns: {', '.join(fields) or 'none'})",
                       hint="name the id column with --id-column")
    if labels_column is not None and labels_column not in fields:
        raise ZslError(f"{p} has no {labels_column!r} column (columns: {', '.join(fields)})",
                       hint="name the labels column with --labels-column, or leave it out for unlabelled rows")
    labels_column = labels_column or "labels"
    has_labels = labels_column in fields
    ids, labels = [], []
    for row in reader:
        ids.append((row[id_column] or "").strip())
        if has_labels:
            raw = row[labels_column] or ""
            labels.append([x.strip() for x in raw.split(sep) if x.strip()])
    if any(not i for i in ids):
        raise ZslError(f"{p} has rows with an empty id", hint="every row needs an id in the id column")
    return ids, (labels if has_labels else None)


def import_embeddings(matrix: str | os.PathLike, out: str | os.PathLike, *, ids_csv: str | os.PathLike | None = None,
                      classes: str | os.PathLike | None = None, kind: str = "instance", modality: str = "audio",
                      extractor: str = "imported", id_column: str = "id", labels_column: str | None = None,
                      label_sep: str = ";", key: str | None = None, overwrite: bool = False) -> dict:
    """Write ``matrix`` (+ ids and labels) as a zsl embedding file; see ``zsl import-embeddings --help``."""
    X = load_matrix(matrix, key)
    cs = ClassSet.load(classes) if classes else None
    labels = None
    if ids_csv is not None:
        ids, labels = read_ids_csv(ids_csv, id_column, labels_column, label_sep)
    elif kind == "class" and cs is not None:
        ids = cs.ids
    else:
        raise ZslError("no ids for the rows", hint="give --ids IDS.csv (or --classes for a class-level file)")
    if len(ids) != X.shape[0]:
        raise ZslError(f"the matrix has {X.shape[0]} rows but {len(ids)} ids were given",
                       hint="the ids CSV must have one row per matrix row, in the same order")
    if kind == "class":
        odd = [(i, labs) for i, labs in zip(ids, labels or []) if labs and labs != [i]]
        if odd:  # a class row's label is the class itself: another labels column is ignored, say so
            log.warning(f"--kind class ignores the {labels_column or 'labels'!r} column of {ids_csv} ({len(odd)} of {len(ids)} "
                        f"rows name other labels, e.g. {odd[0][0]!r}: {';'.join(odd[0][1])!r}); each row is the "
                        "class of its id (use --kind instance for labelled instances)")
        if cs is not None:
            ids = [cs.resolve(i) for i in ids]
        class_list = list(ids)
        label_idx = [[n] for n in range(len(ids))]
    else:  # the class set's classes (labels resolved in it), else the labels met, in order
        class_list = cs.ids if cs is not None else list(dict.fromkeys(lab for labs in labels or [] for lab in labs))
        resolve = cs.resolve if cs is not None else str
        index = {c: n for n, c in enumerate(class_list)}
        label_idx = []
        for row_id, labs in zip(ids, labels or [[] for _ in ids]):
            try:
                label_idx.append(sorted({index[resolve(lab)] for lab in labs}))
            except ZslError as e:
                raise ZslError(f"row {row_id!r}: {e.message}", hint=e.hint) from None
    inputs = [input_record(matrix)] + ([input_record(ids_csv)] if ids_csv else []) + \
             ([input_record(classes)] if classes else [])
    meta = StoreMeta(kind=kind, modality=modality, extractor=extractor,
                     extractor_meta={"source": "import-embeddings"},
                     inputs=inputs, class_set_sha256=cs.sha256 if cs else "", command=command_line())
    # The writer stores a non-finite row as invalid; the same test counts them for the summary.
    write_embeddings(out, meta=meta, ids=ids, X=X, classes=class_list, labels=label_idx, overwrite=overwrite)
    finite = np.all(np.isfinite(X), axis=1)
    return {"out": str(out), "rows": len(ids), "dim": int(X.shape[1]), "valid": int(finite.sum()),
            "invalid": int((~finite).sum()), "classes": len(class_list), "kind": kind, "modality": modality}
