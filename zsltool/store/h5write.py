"""The final HDF5 embedding file: committed parts assembled into one file, written atomically through
:class:`zsltool.files.safety.GuardedFile` (a full disk never reaches the HDF5 library)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from zsltool import __version__
from zsltool.files.safety import GuardedFile, check_not_input, is_no_space, no_space, no_space_error, remove_stale_temps
from zsltool.store.schema import StoreMeta
from zsltool.files.checks import temp_path_for
from zsltool.files.provenance import command_line, utc_now


def stamp(meta: StoreMeta) -> None:
    """Fill in the provenance every file gets when it is written: zsl version, time, command line."""
    meta.zsl_version = meta.zsl_version or __version__
    meta.created_utc = utc_now()
    meta.command = meta.command or command_line()


def write_h5(path: Path, meta: StoreMeta, dim: int, classes: Sequence[str], parts: Iterable[dict],
             frame_dim: int | None = None) -> None:
    """Write parts (dicts as in :meth:`EmbeddingWriter.flush`) into a new HDF5 file, atomically.

    HDF5 writes through :class:`zsltool.files.safety.GuardedFile`, so a full disk never reaches the HDF5 library (which
    cannot recover from it): the temporary file is removed and ``ZslError("no space left writing PATH")``
    raised. Callers hold the output's lock; stale temporary files of killed runs are removed at the end.
    """
    import h5py

    check_not_input(path)
    with no_space(path):
        tmp = temp_path_for(path)
    guard = None
    try:
        guard = GuardedFile(tmp)
        with h5py.File(guard, "w") as f:
            _write_parts(f, _create_datasets(f, meta, dim, classes), parts, frame_dim)
        guard.close()
        if guard.error is not None:
            if is_no_space(guard.error):
                raise no_space_error(path, guard.error)
            raise guard.error
        with no_space(path):
            os.replace(tmp, path)
    except BaseException:
        if guard is not None:
            guard.close()
        tmp.unlink(missing_ok=True)
        raise
    remove_stale_temps(path)


def _create_datasets(f, meta: StoreMeta, dim: int, classes: Sequence[str]) -> dict:
    """The file's attributes, its classes, and its empty row datasets, which grow as parts are written."""
    import h5py

    for k, v in meta.to_attrs().items():
        f.attrs[k] = v
    f.attrs["dim"] = int(dim)
    s = h5py.string_dtype("utf-8")
    C = len(classes)
    f.create_dataset("classes", data=np.array(list(classes), dtype=object), dtype=s)
    return {"ids": _growing(f, "ids", (), s, (1024,)),
            "embeddings": _growing(f, "embeddings", (dim,), "f4", (256, dim)),
            "labels": _growing(f, "labels", (C,), "u1", (1024, max(C, 1)) if C else None),
            "valid": _growing(f, "valid", (), bool, (1024,)),
            "invalid_reason": _growing(f, "invalid_reason", (), s, (1024,))}


def _growing(group, name: str, row: tuple, dtype, chunks):
    """An empty dataset of rows of shape ``row``, resizable along its first axis."""
    return group.create_dataset(name, shape=(0, *row), maxshape=(None, *row), dtype=dtype, chunks=chunks)


def _append(d, rows) -> None:
    start = d.shape[0]
    d.resize(start + len(rows), axis=0)
    if len(rows):
        d[start:] = rows


def _write_parts(f, ds: dict, parts: Iterable[dict], frame_dim: int | None) -> None:
    """Append each part's rows to the datasets ``ds``, then the counts (when every row has one) and, with
    ``frame_dim``, every row's frames with their offsets."""
    counts_all: list[np.ndarray] = []
    if frame_dim:
        fds = _growing(f.create_group("frames"), "embeddings", (frame_dim,), "f4", (1024, frame_dim))
        offsets = [0]
    for part in parts:
        for name, key in (("ids", "ids"), ("embeddings", "embeddings"), ("labels", "labels"),
                          ("valid", "valid"), ("invalid_reason", "reasons")):
            text = name in ("ids", "invalid_reason")
            _append(ds[name], np.array(part[key].tolist(), dtype=object) if text else part[key])
        counts_all.append(part["counts"])
        if frame_dim:
            _append(fds, part["frames"])
            offsets += (offsets[-1] + np.cumsum(part["frame_lengths"], dtype=np.int64)).tolist()
    counts = np.concatenate(counts_all) if counts_all else np.zeros(0, np.int64)
    if counts.size and np.all(counts >= 0):
        f.create_dataset("counts", data=counts.astype(np.int64))
    if frame_dim:
        f["frames"].create_dataset("offsets", data=np.array(offsets, dtype=np.int64))
