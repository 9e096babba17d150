"""Provenance: file and JSON hashes, input records, time stamps, the command line, JSON-able values."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import shlex
import sys
from pathlib import Path
from typing import Any


_PREFETCH: dict[tuple, tuple[Any, dict]] = {}


def _identity(path: str | os.PathLike) -> tuple:
    st = os.stat(path)
    return (os.path.abspath(path), st.st_size, st.st_mtime_ns)


def prefetch_sha256(path: str | os.PathLike) -> None:
    """Start hashing ``path`` in a background thread (hashlib and file reads release the GIL, so it overlaps
    with importing torch); the next :func:`sha256_file` of the unchanged file takes the result instead of
    reading the file again. A missing file is left to the reader's own error."""
    import threading

    try:
        key = _identity(path)
    except OSError:
        return
    if key in _PREFETCH:
        return
    box: dict = {}

    def work() -> None:
        try:
            box["digest"] = _sha256_file(path, 1 << 20)
        except OSError:
            pass

    t = threading.Thread(target=work, name="zsl-sha256", daemon=True)
    t.start()
    _PREFETCH[key] = (t, box)


def _prefetched(path: str | os.PathLike) -> str | None:
    if not _PREFETCH:
        return None
    try:
        key = _identity(path)
    except OSError:
        return None
    entry = _PREFETCH.pop(key, None)
    if entry is None:
        return None
    entry[0].join()
    return entry[1].get("digest")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (once per run inside ``zsltool.runcache.run_cache()``; taken from
    :func:`prefetch_sha256` when that started it)."""
    from zsltool.runcache import cached

    return cached("sha256", path, lambda: _prefetched(path) or _sha256_file(path, chunk))


def _sha256_file(path: str | os.PathLike, chunk: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    """Hex sha256 of the canonical JSON form of ``obj`` (sorted keys, no whitespace)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def input_record(path: str | os.PathLike) -> dict:
    """Provenance record of one input file: its path and sha256."""
    p = Path(path)
    return {"path": str(p), "sha256": sha256_file(p) if p.is_file() else ""}


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def command_line() -> str:
    """The command line of this process, quoted so it can be pasted back into a shell."""
    argv = list(sys.argv)
    if argv:
        argv[0] = "zsl" if Path(argv[0]).name in ("__main__.py", "zsl") else Path(argv[0]).name
    return " ".join(shlex.quote(a) for a in argv)


def jsonable(obj: Any) -> Any:
    """numpy scalars/arrays -> Python; NaN/Inf -> None (JSON has no NaN)."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if np is not None and isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if np is not None and isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "__fspath__"):
        return str(obj)
    return obj
