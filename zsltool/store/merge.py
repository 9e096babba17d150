"""Merge shard outputs of one extraction into one file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.store.reader import read_embeddings
from zsltool.store.schema import StoreMeta
from zsltool.store.writer import write_embeddings
from zsltool.files.provenance import command_line


def _frame_dim(f) -> int | None:
    return None if f.frames is None else int(f.frames.shape[1])


def merge_embeddings(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, overwrite: bool = False) -> dict:
    """Concatenate files made by the same extractor with the same settings and disjoint ids.

    Rows keep the order of the inputs. Refuses files whose kind, modality, extractor, settings, class list,
    class set, dimension, frame layout or frame dimension differ, and ids present in more than one input.
    """
    if len(inputs) < 1:
        raise ZslError("nothing to merge", hint="give at least one input file")
    files = [read_embeddings(p) for p in inputs]
    ref = files[0]
    for f in files[1:]:
        for what, a, b in (
            ("kind", ref.meta.kind, f.meta.kind),
            ("modality", ref.meta.modality, f.meta.modality),
            ("extractor", ref.meta.extractor, f.meta.extractor),
            ("extractor settings", ref.meta.extractor_meta, f.meta.extractor_meta),
            ("class set", ref.meta.class_set_sha256, f.meta.class_set_sha256),
            ("class list", ref.classes, f.classes),
            ("dimension", ref.dim, f.dim),
            ("frame embeddings", ref.frames is not None, f.frames is not None),
            ("frame dimension", _frame_dim(ref), _frame_dim(f)),
        ):
            if a != b:
                detail = f" ({a} vs {b})" if isinstance(a, (str, int)) and len(f"{a}{b}") < 80 else ""
                raise ZslError(f"cannot merge {ref.path} and {f.path}: their {what} differs{detail}",
                               hint="only shards of one extraction run (same command and settings) can be merged")
    seen: dict[str, Path] = {}
    for f in files:
        for i in f.ids:
            if i in seen:
                raise ZslError(f"id {i!r} is in both {seen[i]} and {f.path}", hint="shards must have disjoint ids")
            seen[i] = f.path
    ids = [i for f in files for i in f.ids]
    X = np.concatenate([f.X for f in files])
    labels = np.concatenate([f.labels for f in files])
    valid = np.concatenate([f.valid for f in files])
    reasons = [r for f in files for r in f.reasons]
    counts = None
    if all(f.counts is not None for f in files):
        counts = np.concatenate([f.counts for f in files]).tolist()
    frames = None
    if ref.frames is not None:
        frames = [f.row_frames(i) for f in files for i in range(len(f))]
    inputs_rec: list = []
    for f in files:
        for rec in f.meta.inputs:
            if rec not in inputs_rec:
                inputs_rec.append(rec)
    meta = StoreMeta(kind=ref.meta.kind, modality=ref.meta.modality, extractor=ref.meta.extractor,
                     extractor_meta=ref.meta.extractor_meta, inputs=inputs_rec,
                     class_set_sha256=ref.meta.class_set_sha256, command=command_line())
    write_embeddings(out, meta=meta, ids=ids, X=X, classes=ref.classes, labels=labels, valid=valid,
                     reasons=reasons, counts=counts, frames=frames,
                     frame_dim=_frame_dim(ref), overwrite=overwrite)
    return {"out": str(out), "inputs": [str(p) for p in inputs], "rows": len(ids),
            "valid": int(valid.sum()), "dim": ref.dim}
