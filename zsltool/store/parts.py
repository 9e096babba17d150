"""Rows and parts of an embedding file being written: each row checked as it will be stored, committed rows
kept as numbered ``.npz`` part files in the output's partial folder (read back on resume and at assembly)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from zsltool.errors import ZslError


def labels_row(labels, n_classes: int) -> np.ndarray:
    """A multi-hot row from class indices, or from a 1-D bool/uint8 multi-hot vector of length n_classes."""
    row = np.zeros(n_classes, dtype=np.uint8)
    if labels is None:
        return row
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype in (np.bool_, np.uint8):
        if labels.shape[0] != n_classes:
            raise ZslError(f"multi-hot labels have {labels.shape[0]} entries but the file has {n_classes} classes")
        return (labels != 0).astype(np.uint8)
    for idx in np.atleast_1d(np.asarray(labels, dtype=np.int64)).tolist():
        if not (0 <= idx < n_classes):
            raise ZslError(f"label index {idx} is outside the file's {n_classes} classes")
        row[idx] = 1
    return row


def check_row(id: str, embedding, labels=None, valid: bool = True, reason: str = "", frames=None,
              count: int | None = None, *, dim: int, n_classes: int, frame_dim: int | None) -> tuple:
    """One row checked and as it will be stored: (id, vector, labels row, valid, reason, frames, count).

    A non-finite vector makes the row invalid; an invalid row stores zeros and no frames.
    """
    vec = np.asarray(embedding, dtype=np.float32).reshape(-1)
    if vec.size != dim:
        raise ZslError(f"row {id!r} has {vec.size} values but the file's dimension is {dim}")
    if not valid:
        vec = np.zeros(dim, dtype=np.float32)
    elif not np.all(np.isfinite(vec)):
        valid, reason, vec = False, "embedding is not finite (NaN or Inf)", np.zeros(dim, np.float32)
    fr = None
    if frame_dim:
        fr = np.zeros((0, frame_dim), np.float32)
        if frames is not None and valid:
            got = np.asarray(frames, dtype=np.float32)
            if got.ndim != 2 or got.shape[1] != frame_dim:
                raise ZslError(f"row {id!r} has frames of shape {got.shape} but the file's frames are "
                               f"(frames, {frame_dim})")
            fr = got
    return (id, vec, labels_row(labels, n_classes), bool(valid),
            "" if valid else (reason or "invalid"), fr, -1 if count is None else int(count))


def batch_rows(ids, embeddings, labels, valid, reasons, frames, counts) -> Iterator[dict]:
    """Per-row keyword arguments of :meth:`EmbeddingWriter.add` from whole-batch arrays and lists."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if isinstance(labels, np.ndarray) and labels.ndim == 2:
        labels = labels != 0  # multi-hot rows
    for i, id in enumerate(ids):
        yield dict(id=str(id), embedding=embeddings[i],
                   labels=None if labels is None else labels[i],
                   valid=True if valid is None else bool(valid[i]),
                   reason="" if reasons is None else reasons[i],
                   frames=None if frames is None else frames[i],
                   count=None if counts is None else counts[i])


def part_arrays(rows: Sequence[tuple], *, n_classes: int, frame_dim: int | None) -> dict:
    """The arrays of one part from checked rows (as ``EmbeddingWriter.flush`` writes it and ``write_h5`` reads
    it)."""
    ids, vecs, labs, valid, reasons, frames, counts = zip(*rows)
    arrays = {
        "ids": np.array(ids, dtype=str),
        "embeddings": np.stack(vecs),
        "labels": np.stack(labs) if n_classes else np.zeros((len(ids), 0), np.uint8),
        "valid": np.array(valid, dtype=bool),
        "reasons": np.array(reasons, dtype=str),
        "counts": np.array(counts, dtype=np.int64),
    }
    if frame_dim:
        arrays["frame_lengths"] = np.array([f.shape[0] for f in frames], dtype=np.int64)
        arrays["frames"] = (np.concatenate(frames) if sum(f.shape[0] for f in frames)
                            else np.zeros((0, frame_dim), np.float32))
    return arrays


def filter_part(part: dict, keep: np.ndarray, frame_dim: int | None) -> dict:
    """The part's rows where ``keep`` is true (frames follow their rows)."""
    out = {k: (v[keep] if k not in ("frames", "frame_lengths") else v) for k, v in part.items()}
    if frame_dim and "frame_lengths" in part:
        lens = part["frame_lengths"]
        offs = np.concatenate([[0], np.cumsum(lens)])
        out["frame_lengths"] = lens[keep]
        chunks = [part["frames"][offs[i]:offs[i + 1]] for i in np.nonzero(keep)[0]]
        out["frames"] = np.concatenate(chunks) if chunks else np.zeros((0, frame_dim), np.float32)
    return out


def part_files(partial: Path) -> list[Path]:
    """The committed part files of a partial folder, in order."""
    return sorted(partial.glob("part-*.npz"))


def iter_parts(partial: Path) -> Iterator[dict]:
    """The arrays of each committed part, in order."""
    for pf in part_files(partial):
        with np.load(pf, allow_pickle=False) as z:
            yield {k: z[k] for k in z.files}
