"""Semantic composition: class prototypes from instance files, and concatenation of class-level files.

    prototypes("audio.h5", "audio_proto.h5")                  # mean per class (Dogan et al.'s choice)
    prototypes("image.h5", "image_one.h5", sample="random", seed=3)   # one random instance per class
    combine(["image_proto.h5", "text.h5"], "hybrid.h5")               # image || text = hybrid

Hybrid class embeddings are built one way, :func:`concat_parts`: ``zsl combine`` writes them to a file, and
``train`` / ``experiment`` build the same matrix in memory from ``--image`` and ``--text``
(``zsltool.train.data.load_semantic``). The parts are concatenated as they are, as Dogan et al. do ("we
concatenated the image and textual embeddings"); ``l2`` (``zsl combine --l2``) is the opt-in per-part
normalisation. Scaling of the whole class embedding is a method setting (``l2_classes``), not part of the file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.files.checks import check_output
from zsltool.files.provenance import command_line, input_record
from zsltool.store.reader import check_same_class_set, read_embeddings
from zsltool.store.schema import StoreMeta
from zsltool.store.writer import write_embeddings

log = logging.getLogger("zsltool.store.compose")

SAMPLES = ("mean", "random")


def prototypes(inp: str | os.PathLike, out: str | os.PathLike, *, sample: str = "mean", seed: int = 0,
               overwrite: bool = False) -> dict:
    """Class-level file from an instance file: per class, the mean of its valid single-label rows
    (``sample="mean"``) or one of them drawn at random with ``seed`` (``sample="random"``).

    Classes without any valid single-label row are written as invalid zero rows (count 0).
    """
    if sample not in SAMPLES:
        raise ZslError(f"unknown --sample {sample!r}", hint=f"choose one of {', '.join(SAMPLES)}")
    check_output(out, overwrite)
    emb = read_embeddings(inp, kind="instance")
    if not emb.classes:
        raise ZslError(f"{inp} has no class labels, so no class prototypes can be made",
                       hint="extract from a manifest with labels (a clip or crop manifest and a class set)")
    lab = emb.label_index()
    usable = emb.valid & (lab >= 0)
    C = len(emb.classes)
    X = np.zeros((C, emb.dim), dtype=np.float32)
    counts = np.zeros(C, dtype=np.int64)
    candidates = np.zeros(C, dtype=np.int64)
    picked: dict[str, str] = {}
    rng = np.random.default_rng(seed)
    for c in range(C):
        rows = np.nonzero(usable & (lab == c))[0]
        candidates[c] = len(rows)
        if not len(rows):
            continue
        if sample == "mean":
            X[c] = emb.X[rows].astype(np.float64).mean(axis=0).astype(np.float32)
            counts[c] = len(rows)
        else:
            r = int(rows[rng.integers(len(rows))])
            X[c] = emb.X[r]
            counts[c] = 1
            picked[emb.classes[c]] = emb.ids[r]
    valid = candidates > 0
    reasons = ["" if v else "no valid single-label instance of this class" for v in valid]
    n_multi = int(np.sum(emb.valid & (emb.labels.sum(axis=1) > 1)))
    pmeta = {"prototype": sample, "source_extractor_meta": emb.meta.extractor_meta,
             "skipped_multi_label_rows": n_multi, "skipped_invalid_rows": int(np.sum(~emb.valid))}
    if sample == "random":
        pmeta.update(seed=seed, picked=picked)
    meta = StoreMeta(kind="class", modality=emb.meta.modality, extractor=emb.meta.extractor, extractor_meta=pmeta,
                     inputs=[input_record(inp)], class_set_sha256=emb.meta.class_set_sha256, command=command_line())
    write_embeddings(out, meta=meta, ids=emb.classes, X=X, classes=emb.classes, valid=valid, reasons=reasons,
                     counts=counts, overwrite=overwrite)
    if not valid.all():
        log.warning(f"{int((~valid).sum())} classes have no valid single-label instance (written as invalid rows)")
    return {"out": str(out), "sample": sample, "classes": C, "valid": int(valid.sum()), "dim": emb.dim,
            "instances_used": int(counts.sum()), "empty_classes": [emb.classes[c] for c in np.nonzero(~valid)[0]],
            "skipped_multi_label_rows": n_multi}


def _l2(X: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
    return np.where(n > 0, X / np.where(n > 0, n, 1.0), 0.0).astype(np.float32)


def concat_parts(parts: Sequence, ids: Sequence[str], *, l2: bool = False):
    """The rows ``ids`` of every class-level part (``Embeddings``) side by side (``A || B || ...``), each part
    L2-normalised per row first with ``l2``; a row is valid when it is valid in every part (invalid rows are
    zeros). Returns ``(X float32 (len(ids), sum of dims), valid, subsets)``, ``subsets`` the parts' rows."""
    subs = [e.subset(list(ids)) for e in parts]
    X = np.concatenate([_l2(s.X) if l2 else s.X for s in subs], axis=1).astype(np.float32)
    valid = np.logical_and.reduce([np.asarray(s.valid, dtype=bool) for s in subs])
    X[~valid] = 0.0
    return X, valid, subs


def combine(paths: Sequence[str | os.PathLike], out: str | os.PathLike, *, l2: bool = False,
            intersect: bool = False, overwrite: bool = False) -> dict:
    """Concatenate class-level files column-wise (``A || B || ...``) on their class ids.

    The files must come from the same class set (``check_same_class_set``) and list the same classes;
    with ``intersect`` the classes common to all files are kept (in the first file's order). ``l2``
    normalises each part's rows to unit length before concatenation. A row is valid when it is valid in
    every part.
    """
    if len(paths) < 2:
        raise ZslError("combine needs at least two class-level files")
    check_output(out, overwrite)
    parts = [read_embeddings(p, kind="class") for p in paths]
    check_same_class_set(parts)
    first = parts[0]
    common = set.intersection(*(set(e.ids) for e in parts))
    differs = [e for e in parts if set(e.ids) != common]
    if differs and not intersect:
        e = differs[0] if differs[0] is not first else next((d for d in parts if set(d.ids) != set(first.ids)), first)
        only_first = sorted(set(first.ids) - set(e.ids))
        only_e = sorted(set(e.ids) - set(first.ids))
        raise ZslError(f"{first.path} and {e.path} list different classes "
                       f"({len(only_first)} only in the first: {', '.join(only_first[:5])}; "
                       f"{len(only_e)} only in the second: {', '.join(only_e[:5])})",
                       hint="pass --intersect to keep the classes common to all files")
    ids = [i for i in first.ids if i in common]
    if not ids:
        raise ZslError("the files have no class in common")
    X, valid, subs = concat_parts(parts, ids, l2=l2)
    reasons: list[list[str]] = [[] for _ in ids]
    part_meta, start = [], 0
    for k, (e, sub) in enumerate(zip(parts, subs)):
        for r, why in enumerate(sub.reasons):
            if not sub.valid[r]:
                reasons[r].append(f"part {k + 1} ({Path(e.path).name}): {why or 'invalid'}")
        part_meta.append({"path": str(e.path), "modality": e.meta.modality, "extractor": e.meta.extractor,
                          "dim": e.dim, "columns": [start, start + e.dim], "extractor_meta": e.meta.extractor_meta})
        start += e.dim
    modality = "+".join(dict.fromkeys(e.meta.modality for e in parts))
    hashes = [e.meta.class_set_sha256 for e in parts if e.meta.class_set_sha256]
    meta = StoreMeta(kind="class", modality=modality, extractor="combine",
                     extractor_meta={"parts": part_meta, "l2": l2, "intersect": intersect},
                     inputs=[input_record(p) for p in paths], class_set_sha256=hashes[0] if hashes else "",
                     command=command_line())
    write_embeddings(out, meta=meta, ids=ids, X=X, classes=ids, valid=valid,
                     reasons=["; ".join(r) for r in reasons], overwrite=overwrite)
    dropped = sorted(set().union(*[set(e.ids) for e in parts]) - common)
    return {"out": str(out), "classes": len(ids), "valid": int(valid.sum()), "dim": int(X.shape[1]),
            "parts": [{"path": p["path"], "modality": p["modality"], "dim": p["dim"]} for p in part_meta],
            "l2": l2, "dropped_classes": dropped}
