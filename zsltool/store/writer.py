"""Atomic, resumable writing of embedding files.

Rows are buffered and committed in numbered part files (``.npz``, each written atomically) inside a hidden
folder next to the output (``.NAME.partial/``). Only when the writer closes normally are the parts assembled
into an HDF5 file in the same folder, which is then renamed over the output name. So:

* a run killed at any point (even SIGKILL) leaves no file under the output name, and an existing output
  (with ``--overwrite``) is untouched until the very last rename;
* the next run with ``resume=True`` finds the committed rows (``writer.done_ids``) and skips them, and the
  final file holds the same rows in the same order as an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.files.safety import OutputLock, no_space
from zsltool.store.h5write import stamp, write_h5
from zsltool.store.parts import batch_rows, check_row, filter_part, iter_parts, part_arrays, part_files
from zsltool.store.schema import FORMAT_VERSION, KINDS, StoreMeta
from zsltool.files.checks import check_output
from zsltool.files.provenance import jsonable

log = logging.getLogger("zsltool.store")


def partial_dir_for(path: str | os.PathLike) -> Path:
    p = Path(path)
    return p.parent / f".{p.name}.partial"


def _remove_lock_and_folder(partial: Path) -> None:
    """Remove the (held) lock file, then the partial folder if nothing else is in it."""
    (partial / "lock").unlink(missing_ok=True)
    try:
        partial.rmdir()
    except OSError:
        pass


class EmbeddingWriter:
    """Write rows to an embedding file atomically, resuming a killed run.

    ``labels`` for a row may be a list of class indices (into ``classes``) or a multi-hot vector of
    length ``len(classes)``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        meta: StoreMeta,
        dim: int,
        classes: Sequence[str] = (),
        overwrite: bool = False,
        resume: bool = True,
        frame_dim: int | None = None,
        flush_every: int = 256,
    ):
        if meta.kind not in KINDS:
            raise ZslError(f"unknown embedding file kind {meta.kind!r}", hint=f"use one of {', '.join(KINDS)}")
        if int(dim) < 1:
            raise ZslError(f"embedding dimension must be positive, got {dim}")
        self.path = Path(path)
        self.meta = meta
        self.dim = int(dim)
        self.classes = [str(c) for c in classes]
        if len(set(self.classes)) != len(self.classes):
            raise ZslError("the class list has duplicate class ids")
        self.overwrite = overwrite
        self.resume = resume
        self.frame_dim = int(frame_dim) if frame_dim else None
        self.flush_every = max(1, int(flush_every))
        self.partial = partial_dir_for(self.path)
        self.done_ids: set[str] = set()
        self._n_parts = 0
        self._buf: list[tuple] = []
        self._keys: list[str] = []  # per buffered row: the key of its input (see keep_only)
        self._open = False
        self._lock = OutputLock(self.partial, self.path)

    # -- lifecycle ---------------------------------------------------------------------------------
    def _settings(self) -> dict:
        return {"format_version": FORMAT_VERSION, "fingerprint": self.meta.fingerprint(), "dim": self.dim,
                "classes": self.classes, "frame_dim": self.frame_dim}

    def open(self) -> "EmbeddingWriter":
        check_output(self.path, self.overwrite)
        # As it reads back from settings.json: tuples, numpy scalars and paths in extractor_meta would
        # otherwise never compare equal (resume refused forever) or not serialise at all.
        settings = json.loads(json.dumps(jsonable(self._settings())))
        sfile = self.partial / "settings.json"
        had_partial = self.partial.is_dir() and any(p.name != "lock" for p in self.partial.iterdir())
        # One writer per output: the lock lives in the partial folder for the life of the run (the kernel drops
        # it when a run dies, so a killed run never blocks a resume).
        self._lock.acquire()
        try:
            if had_partial:
                try:
                    old = json.loads(sfile.read_text())
                except (OSError, json.JSONDecodeError):
                    old = None
                if self.resume and old == settings:
                    self._load_done()
                    if self.done_ids:
                        log.info(f"resuming {self.path}: {len(self.done_ids)} rows already written")
                elif self.resume and old is not None and not self.overwrite:
                    raise ZslError(
                        f"a partial output from a run with other settings exists: {self.partial}",
                        hint="rerun with the same settings to resume, or pass --overwrite (or --no-resume) to start "
                             "over",
                    )
                else:
                    self._clear_partial()
            if not sfile.exists():
                with no_space(self.path):
                    tmp = self.partial / "settings.json.tmp"
                    tmp.write_text(json.dumps(settings))
                    os.replace(tmp, sfile)
        except BaseException:
            self._lock.release()
            raise
        self._open = True
        return self

    def _clear_partial(self) -> None:
        """Remove everything in the partial folder but the lock (which this run holds)."""
        for q in self.partial.iterdir():
            if q.name == "lock":
                continue
            if q.is_dir() and not q.is_symlink():
                shutil.rmtree(q, ignore_errors=True)
            else:
                q.unlink(missing_ok=True)
        self.done_ids.clear()
        self._n_parts = 0

    def _remove_partial(self) -> None:
        """Remove the partial folder (lock last, while still held) and release the lock."""
        try:
            self._clear_partial()
            _remove_lock_and_folder(self.partial)
        finally:
            self._lock.release()

    def __enter__(self) -> "EmbeddingWriter":
        return self.open()

    def __exit__(self, exc_type, _exc, _tb) -> None:
        if not self._open:
            return
        if exc_type is None:
            self.close()
        else:
            # Keep what was computed so that --resume picks it up; never write the output.
            try:
                self.flush()
            except Exception:  # pragma: no cover - best effort on the error path (a full disk, ...)
                pass
            self._keep_parts_or_clean()

    def _keep_parts_or_clean(self) -> None:
        """After a failure: the committed parts stay for a resume (the lock released); with none committed,
        nothing to resume and no partial folder left behind. The writer is closed."""
        self._open = False
        self._remove_temp_parts()
        if part_files(self.partial):
            self._lock.release()
        else:
            self._remove_partial()

    def _remove_temp_parts(self) -> None:
        for q in self.partial.glob(".part-*.tmp.npz"):
            q.unlink(missing_ok=True)

    def _load_done(self) -> None:
        parts = part_files(self.partial)
        for pf in parts:
            with np.load(pf, allow_pickle=False) as z:
                self.done_ids.update(z["ids"].tolist())
        self._n_parts = len(parts)
        self._remove_temp_parts()  # a part being written when the last run died

    def keep_only(self, keys: dict[str, str]) -> list[str]:
        """On resume: drop committed rows whose id is not in ``keys`` (id -> input key, e.g. a hash of the
        source and labels) or whose stored key differs (the input behind the id changed). Returns the dropped
        ids; the affected part files are rewritten atomically."""
        if not self._open:
            raise RuntimeError("EmbeddingWriter is not open")
        dropped: list[str] = []
        for pf in part_files(self.partial):
            with np.load(pf, allow_pickle=False) as z:
                part = {k: z[k] for k in z.files}
            ids = part["ids"].tolist()
            stored = part["keys"].tolist() if "keys" in part else None
            keep = np.array([i in keys and (stored is None or stored[n] == keys[i]) for n, i in enumerate(ids)],
                            dtype=bool)
            if keep.all():
                continue
            dropped += [i for i, k in zip(ids, keep) if not k]
            with no_space(self.path):
                if not keep.any():
                    pf.unlink()
                    continue
                new = filter_part(part, keep, self.frame_dim)
                tmp = pf.with_name(f".{pf.stem}.tmp.npz")
                np.savez(tmp, **new)
                os.replace(tmp, pf)
        self.done_ids.difference_update(dropped)
        return dropped

    # -- adding rows -------------------------------------------------------------------------------
    def _row(self, id: str, embedding, **kw) -> tuple:
        """One row checked and as it will be stored (:func:`zsltool.store.parts.check_row`)."""
        return check_row(id, embedding, dim=self.dim, n_classes=len(self.classes), frame_dim=self.frame_dim, **kw)

    def add(self, id: str, embedding, labels=None, valid: bool = True, reason: str = "", frames=None,
            count: int | None = None, key: str = "") -> tuple[bool, str]:
        """Add one row; returns ``(valid, reason)`` as stored (a non-finite embedding is stored as invalid)."""
        if not self._open:
            raise RuntimeError("EmbeddingWriter is not open; use it as a context manager")
        id = str(id)
        if id in self.done_ids:
            raise ZslError(f"duplicate id {id!r}: every row of an embedding file needs its own id",
                           hint="remove or rename the repeated id")
        row = self._row(id, embedding, labels=labels, valid=valid, reason=reason, frames=frames, count=count)
        self._buf.append(row)
        self._keys.append(str(key))
        self.done_ids.add(id)
        if len(self._buf) >= self.flush_every:
            self.flush()
        return row[3], row[4]

    def _part(self, rows: Sequence[tuple]) -> dict:
        return part_arrays(rows, n_classes=len(self.classes), frame_dim=self.frame_dim)

    def flush(self) -> None:
        """Commit buffered rows as one part file (atomic)."""
        if not self._buf:
            return
        arrays = self._part(self._buf)
        arrays["keys"] = np.array(self._keys, dtype=str)
        n = self._n_parts + 1
        final = self.partial / f"part-{n:06d}.npz"
        tmp = self.partial / f".part-{n:06d}.tmp.npz"
        try:
            with no_space(self.path):
                np.savez(tmp, **arrays)
                os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)  # never a half-written part
            raise
        self._n_parts = n
        self._buf.clear()
        self._keys.clear()

    # -- finishing ---------------------------------------------------------------------------------
    def discard(self) -> None:
        """Drop everything written so far (no output, no partial folder); the writer is closed."""
        self._buf.clear()
        self._keys.clear()
        self._remove_partial()
        self._open = False

    def close(self) -> Path:
        """Assemble the committed parts into the output file (atomic rename) and remove the parts."""
        if not self._open:
            raise RuntimeError("EmbeddingWriter is not open")
        try:
            self.flush()
            stamp(self.meta)
            write_h5(self.path, self.meta, self.dim, self.classes, iter_parts(self.partial), frame_dim=self.frame_dim)
        except BaseException:
            self._keep_parts_or_clean()
            raise
        self._remove_partial()
        self._open = False
        return self.path


def write_embeddings(path: str | os.PathLike, *, meta: StoreMeta, ids: Sequence[str], X, classes: Sequence[str] = (),
                     labels=None, valid=None, reasons=None, counts=None, frames: list | None = None,
                     frame_dim: int | None = None, overwrite: bool = False) -> Path:
    """One-shot atomic write of a whole (small) embedding file, e.g. a class-level file.

    ``labels``: an (N, C) multi-hot array, or a list of per-row class index lists; for class-level files
    with ``labels=None`` the identity (row i is class i) is written when ids == classes.
    ``frames``: optional list of per-row (F_i, Df) arrays.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ZslError(f"embeddings must be a 2-D matrix, got shape {X.shape}")
    if len(ids) != X.shape[0]:
        raise ZslError(f"{len(ids)} ids but {X.shape[0]} embedding rows")
    if labels is None and meta.kind == "class" and list(ids) == list(classes):
        labels = [[i] for i in range(len(ids))]
    if frames is not None and frame_dim is None:
        frame_dim = next((np.asarray(f).reshape(len(f), -1).shape[1] for f in frames if len(f)), 1)
    p = Path(path)
    check_output(p, overwrite)
    # A one-shot write never resumes: the rows are checked exactly as EmbeddingWriter.add checks them and
    # written as one part straight into the HDF5 file (atomic), with no partial folder.
    w = EmbeddingWriter(p, meta=meta, dim=X.shape[1], classes=classes, overwrite=True, resume=False,
                        frame_dim=frame_dim)
    rows, seen = [], set()
    for kw in batch_rows(list(ids), X, labels, valid, reasons, frames, counts):
        if kw["id"] in seen:
            raise ZslError(f"duplicate id {kw['id']!r}: every row of an embedding file needs its own id",
                           hint="remove or rename the repeated id")
        seen.add(kw["id"])
        rows.append(w._row(**kw))
    stamp(meta)
    partial = partial_dir_for(p)
    existed = partial.exists()  # a killed extraction's parts: left as they are
    with OutputLock(partial, p):  # one writer per output, as for EmbeddingWriter
        try:
            write_h5(p, meta, w.dim, w.classes, [w._part(rows)] if rows else [], frame_dim=w.frame_dim)
        finally:
            if not existed:
                _remove_lock_and_folder(partial)
    return p
