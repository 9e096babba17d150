"""Files users give and files zsl writes: existence and kind checks, safe torch loading, output checks,
atomic writes (unique temporary file, fsync, rename)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from zsltool.errors import ZslError


def require_file(path: str | os.PathLike, what: str = "file") -> Path:
    """Return ``path`` as a Path, or raise a ZslError when it is missing or a directory."""
    p = Path(path)
    if not p.exists():
        raise ZslError(f"{what} not found: {p}", hint="check the path")
    if p.is_dir():
        inside = p / "results.json"
        raise ZslError(f"{what} is a directory, not a file: {p}",
                       hint=f"give {inside}, the results of zsl experiment" if inside.is_file() else
                       "give a file inside it")
    return p


def missing_entries(required, container, what: str) -> str | None:
    """The problem of a file that lacks some of its ``required`` entries (HDF5 datasets, checkpoint keys), or None."""
    absent = [k for k in required if k not in container]
    return f"missing {what}: {', '.join(absent)}" if absent else None


def relocated(recorded: str | os.PathLike, anchor: str | os.PathLike | None) -> Path | None:
    """A file whose recorded path is gone (a folder moved, a command run from another directory), looked for
    next to ``anchor`` (a file that moved with it, e.g. the checkpoint that recorded the path): the recorded
    path's trailing parts, longest first, under the anchor's folder and each folder above it. ``recorded`` itself
    when it exists; None when nothing is found. Callers check what they find (sha256) as they check the
    recorded file."""
    p = Path(recorded).expanduser()
    if p.is_file():
        return p
    if anchor is None:
        return None
    parts = [x for x in p.parts if x not in (p.anchor, ".", "..")]
    folders = list(Path(os.path.abspath(anchor)).parents)
    for k in range(len(parts), 0, -1):
        tail = Path(*parts[-k:])
        for folder in folders:
            if (folder / tail).is_file():
                return folder / tail
    return None


def read_text(path: str | os.PathLike, what: str = "text file", hint: str | None = None) -> str:
    """The text of a user's file (UTF-8, BOM dropped); a ZslError when it is missing, a folder or binary."""
    p = require_file(path, what)
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        from zsltool.files.kinds import binary_kind

        with open(p, "rb") as fh:
            kind = binary_kind(fh.read(8)) or "a binary file"
        article = "an" if what[:1].lower() in "aeiou" else "a"
        raise ZslError(f"{p} is {kind}, not {article} {what}", hint=hint) from None


def torch_load(path: str | os.PathLike, what: str = "torch file", hint: str | None = None,
               numpy_arrays: bool = False, mmap: bool = False):
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one short ZslError for every way a user's
    file can be wrong: missing, a folder, not a torch file at all (JSON, HDF5, text), truncated, or holding
    Python objects that are not tensors and plain data (never unpickled).

    ``numpy_arrays=True`` (weight and parameter files) also allows numeric numpy arrays, through exactly numpy's
    array reconstruction (zsltool.files.safety.numpy_array_globals); any other object is still refused.
    ``mmap=True``: tensors of a zip-format file are mapped, not copied (large weights files; the legacy format
    has no mapping and is read as usual)."""
    p = require_file(path, what)
    with open(p, "rb") as fh:
        head = fh.read(8)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        from zsltool.files.kinds import binary_kind

        kind = binary_kind(head) or ("an empty file" if not head else "not a file saved with torch.save")
        raise ZslError(f"{p} is not a {what}: it is {kind}", hint=hint)
    import warnings

    import torch

    import contextlib

    from zsltool.files.safety import non_numeric_arrays, numpy_array_globals

    allow = torch.serialization.safe_globals(numpy_array_globals()) if numpy_arrays else contextlib.nullcontext()
    try:
        with warnings.catch_warnings(), allow:
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True, mmap=mmap and head.startswith(b"PK"))
    except Exception as e:  # noqa: BLE001 - any unreadable or unsafe file is the user's file problem
        text = str(e)
        if "Weights only load failed" in text:
            reason = "it holds Python objects other than tensors and plain data, which zsl never unpickles"
        else:
            reason = f"{type(e).__name__}: {(text.splitlines() or [''])[0][:200]} (corrupt or truncated?)"
        raise ZslError(f"cannot load {what} {p}: {reason}", hint=hint) from None
    bad = non_numeric_arrays(obj) if numpy_arrays else []
    if bad:
        raise ZslError(f"cannot load {what} {p}: it holds numpy arrays that are not numeric ({', '.join(bad[:3])}), "
                       "which zsl never unpickles", hint=hint)
    return obj


def check_output(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse to replace an existing output unless ``overwrite``; make its folder and check it is writable."""
    from zsltool.files.safety import check_not_input

    p = Path(path)
    check_not_input(p)  # never one of the running command's inputs, even with --overwrite
    if p.exists() and p.is_dir():
        raise ZslError(f"output is a directory: {p}", hint="give a file name inside it")
    if p.exists() and not overwrite:
        raise ZslError(f"output already exists: {p}", hint="pass --overwrite to replace it")
    ensure_writable_folder(p.parent)
    return p


def ensure_writable_folder(folder: Path) -> None:
    """Create ``folder`` (and parents) and make sure a file can be created in it; ZslError otherwise."""
    for q in [folder, *folder.parents]:
        if q.exists():
            if not q.is_dir():
                raise ZslError(f"cannot write into {folder}: {q} is a file, not a folder",
                               hint="choose another output path")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".zsl-write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ZslError(f"cannot write into output folder {folder}: {e.strerror or e}",
                       hint="choose a writable output path") from None


def output_folder(path: str | os.PathLike, command: str) -> Path:
    """Create the output folder of a command that writes a folder; a ZslError when ``path`` is a file."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ZslError(f"{p} is a file; {command} writes a folder", hint="give a folder path (new or existing) to -o")
    ensure_writable_folder(p)
    return p


def _default_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give (0o666 minus the umask); mkstemp gives 0o600.

    The umask is read from ``/proc/self/status`` where the kernel shows it (Linux 4.7+): setting it to read it
    back would change it for every thread of the process for that moment. Elsewhere, that is the only way."""
    try:
        with open("/proc/self/status") as fh:
            mask = next(int(line.split()[1], 8) for line in fh if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0)
        os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same folder, fsync, then rename over ``path``.

    On any failure the old file is untouched and the temporary file removed; a full disk is
    ``ZslError("no space left writing PATH")``."""
    from zsltool.files.safety import check_not_input, hold_lock, no_space, remove_stale_temps

    p = Path(path)
    check_not_input(p)
    with no_space(p):
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        lock = os.dup(fd)  # held until the rename: a live writer's temporary file is never taken for a stale one
        hold_lock(lock)
        try:
            os.chmod(tmp, _default_file_mode())
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        finally:
            os.close(lock)
    remove_stale_temps(p)  # of runs killed while writing this file


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def temp_path_for(path: str | os.PathLike) -> Path:
    """A unique temporary path in the same folder as ``path`` (for writers that need a file name)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    os.chmod(tmp, _default_file_mode())
    return Path(tmp)
