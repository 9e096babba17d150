"""Turn precomputed features (a matrix plus an ids/labels CSV) into a zsl embedding file."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from zsltool.errors import ZslError
from zsltool.store.schema import StoreMeta
from zsltool.store.writer import write_embeddings
from zsltool.utils import command_line, input_record, require_file


def load_matrix(path: str | os.PathLike, key: str | None = None) -> np.ndarray:
    """A 2-D float matrix from .npy, .npz (``key`` or its only / 'embeddings' array) or a numeric .csv/.tsv."""
    p = require_file(path, "feature matrix")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            X = np.load(p, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                names = list(z.files)
                if key is None:
                    key = "embeddings" if "embeddings" in names else (names[0] if len(names) == 1 else None)
                if key is None or key not in names:
                    raise ZslError(f"{p} holds arrays {', '.join(names)}; which one is the matrix?",
                                   hint="name it with --key")
                X = z[key]
        elif suffix in (".csv", ".tsv", ".txt"):
            X = _read_numeric_csv(p, "\t" if suffix == ".tsv" else ",")
        else:
            raise ZslError(f"unsupported matrix format {suffix!r} for {p}", hint="use .npy, .npz or .csv")
    except ValueError as e:
        raise ZslError(f"cannot read {p}: {e}") from None
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
    with open(p, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.reader(fh, delimiter=delimiter)):
            if not row or all(not c.strip() for c in row):
                continue
            try:
                rows.append([float(c) for c in row])
            except ValueError:
                if n == 0 and not rows:
                    continue  # a header line
                raise ZslError(f"{p}: line {n + 1} is not numeric", hint="a matrix CSV holds numbers only") from None
    if not rows:
        raise ZslError(f"{p} holds no rows")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise ZslError(f"{p}: rows have different numbers of values ({sorted(widths)})")
    return np.array(rows, dtype=np.float32)


def read_ids_csv(path: str | os.PathLike, id_column: str = "id", labels_column: str | None = "labels",
                 sep: str = ";") -> tuple[list[str], list[list[str]] | None]:
    p = require_file(path, "ids CSV")
    with open(p, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        if id_column not in fields:
            raise ZslError(f"{p} has no {id_column!r} column (columns: {', '.join(fields) or 'none'})",
                           hint="name the id column with --id-column")
        has_labels = labels_column is not None and labels_column in fields
        ids, labels = [], []
        for row in reader:
            ids.append((row[id_column] or "").strip())
            if has_labels:
                raw = row[labels_column] or ""
                labels.append([x.strip() for x in raw.split(sep) if x.strip()])
    if any(not i for i in ids):
        raise ZslError(f"{p} has rows with an empty id")
    return ids, (labels if has_labels else None)


def import_embeddings(matrix: str | os.PathLike, out: str | os.PathLike, *, ids_csv: str | os.PathLike | None = None,
                      classes: str | os.PathLike | None = None, kind: str = "instance", modality: str = "audio",
                      extractor: str = "imported", id_column: str = "id", labels_column: str = "labels",
                      label_sep: str = ";", key: str | None = None, overwrite: bool = False) -> dict:
    """Write ``matrix`` (+ ids and labels) as a zsl embedding file; see ``zsl import-embeddings --help``."""
    from zsltool.classes.classset import ClassSet

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
        if cs is not None:
            ids = [cs.resolve(i) for i in ids]
        class_list = list(ids)
        label_idx = [[n] for n in range(len(ids))]
    else:
        if cs is not None:
            class_list = cs.ids
            index = {c: n for n, c in enumerate(class_list)}
            label_idx = []
            for row_id, labs in zip(ids, labels or [[] for _ in ids]):
                try:
                    label_idx.append(sorted({index[cs.resolve(lab)] for lab in labs}))
                except ZslError as e:
                    raise ZslError(f"row {row_id!r}: {e.message}", hint=e.hint) from None
        else:
            class_list = []
            for labs in labels or []:
                for lab in labs:
                    if lab not in class_list:
                        class_list.append(lab)
            index = {c: n for n, c in enumerate(class_list)}
            label_idx = [sorted({index[lab] for lab in labs}) for labs in (labels or [[] for _ in ids])]
    inputs = [input_record(matrix)] + ([input_record(ids_csv)] if ids_csv else []) + \
             ([input_record(classes)] if classes else [])
    meta = StoreMeta(kind=kind, modality=modality, extractor=extractor,
                     extractor_meta={"source": "import-embeddings"},
                     inputs=inputs, class_set_sha256=cs.sha256 if cs else "", command=command_line())
    finite = np.all(np.isfinite(X), axis=1)
    reasons = ["" if ok else "embedding is not finite (NaN or Inf)" for ok in finite]
    write_embeddings(out, meta=meta, ids=ids, X=np.where(finite[:, None], X, 0), classes=class_list,
                     labels=label_idx, valid=finite, reasons=reasons, overwrite=overwrite)
    return {"output": str(out), "rows": len(ids), "dim": int(X.shape[1]), "valid": int(finite.sum()),
            "invalid": int((~finite).sum()), "classes": len(class_list), "kind": kind, "modality": modality}
