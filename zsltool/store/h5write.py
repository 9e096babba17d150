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
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    remove_stale_temps(path)


def _create_datasets(f, meta: StoreMeta, dim: int, classes: Sequence[str]) -> dict:
    """The file's attributes, its classes, and its empty row datasets (ids, embeddings, labels, valid,
    invalid_reason), which grow as parts are written."""
    import h5py

    for k, v in meta.to_attrs().items():
        f.attrs[k] = v
    f.attrs["dim"] = int(dim)
    s = h5py.string_dtype("utf-8")
    C = len(classes)
    f.create_dataset("classes", data=np.array(list(classes), dtype=object), dtype=s)
    return {
        "ids": f.create_dataset("ids", shape=(0,), maxshape=(None,), dtype=s, chunks=(1024,)),
        "embeddings": f.create_dataset("embeddings", shape=(0, dim), maxshape=(None, dim), dtype="f4",
                                       chunks=(256, dim)),
        "labels": f.create_dataset("labels", shape=(0, C), maxshape=(None, C), dtype="u1",
                                   chunks=(1024, max(C, 1)) if C else None),
        "valid": f.create_dataset("valid", shape=(0,), maxshape=(None,), dtype=bool, chunks=(1024,)),
        "invalid_reason": f.create_dataset("invalid_reason", shape=(0,), maxshape=(None,), dtype=s, chunks=(1024,)),
    }


def _write_parts(f, ds: dict, parts: Iterable[dict], frame_dim: int | None) -> None:
    """Append each part's rows to the datasets ``ds``, then the counts (when every row has one) and, with
    ``frame_dim``, every row's frames with their offsets."""
    counts_all: list[np.ndarray] = []
    if frame_dim:
        fds = f.create_group("frames").create_dataset("embeddings", shape=(0, frame_dim), maxshape=(None, frame_dim),
                                                      dtype="f4", chunks=(1024, frame_dim))
        offsets = [0]
    n = 0
    for part in parts:
        m = len(part["ids"])
        for name, key in (("ids", "ids"), ("embeddings", "embeddings"), ("labels", "labels"),
                          ("valid", "valid"), ("invalid_reason", "reasons")):
            d = ds[name]
            d.resize(n + m, axis=0)
            data = part[key]
            if name in ("ids", "invalid_reason"):
                data = np.array(data.tolist(), dtype=object)
            d[n:n + m] = data
        counts_all.append(part["counts"])
        if frame_dim:
            fr = part["frames"]
            start = fds.shape[0]
            fds.resize(start + fr.shape[0], axis=0)
            if fr.shape[0]:
                fds[start:] = fr
            for L in part["frame_lengths"].tolist():
                offsets.append(offsets[-1] + int(L))
        n += m
    counts = np.concatenate(counts_all) if counts_all else np.zeros(0, np.int64)
    if counts.size and np.all(counts >= 0):
        f.create_dataset("counts", data=counts.astype(np.int64))
    if frame_dim:
        f["frames"].create_dataset("offsets", data=np.array(offsets, dtype=np.int64))
