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


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (once per run inside ``zsltool.runcache.run_cache()``)."""
    from zsltool.runcache import cached

    return cached("sha256", path, lambda: _sha256_file(path, chunk))


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
