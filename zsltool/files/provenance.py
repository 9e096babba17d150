"""Provenance: file and JSON hashes, input records, time stamps, the command line, JSON-able values."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any


# -- digests of files: one function, one cache (across runs, for the large files commands read again and again) --
DIGEST_CACHE_ENTRIES = 512  # files remembered (the most recently hashed); files that are gone are dropped
DIGEST_CACHE_FROM = 1 << 20  # bytes: a smaller file is hashed each time (quicker than reading the cache)
SETTLED_NS = 2 * 10**9  # a file changed less than this before its hash began is hashed but not remembered


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (:func:`file_digest`)."""
    return file_digest(path, "sha256")


def file_digest(path: str | os.PathLike, algo: str = "sha256") -> str:
    """Hex digest of a file's bytes (``algo``: a hashlib name). A file of ``DIGEST_CACHE_FROM`` bytes or more
    is remembered in ``cache_dir()/digests.json`` by (resolved path, device, inode, size, mtime_ns, ctime_ns),
    and only when its ctime is ``SETTLED_NS`` older than the hash's start. The kernel sets ctime from its clock
    at every write, truncation, rename or chmod, and nothing (``utime`` included) puts it back: a file changed
    after its digest was remembered no longer matches the entry, even one rewritten with the same size and mtime
    within one timestamp tick (the reason a just-changed file is not remembered). That holds on a local POSIX
    file system while the clock does not go back (docs/DESIGN.md). A read-only or damaged cache only costs the
    hashing."""
    st = os.stat(path)
    if st.st_size < DIGEST_CACHE_FROM:
        return _hash_file(path, algo)
    p = Path(path).resolve()
    key = f"{p}|{st.st_dev}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"
    entry, start = _read_digest_cache().get(key), time.time_ns()
    if isinstance(entry, dict) and isinstance(entry.get(algo), str):
        return entry[algo]
    digest = _hash_file(p, algo)
    if st.st_ctime_ns < start - SETTLED_NS:
        _remember(key, algo, digest)
    return digest


def _hash_file(path: str | os.PathLike, algo: str) -> str:
    h = hashlib.new(algo, usedforsecurity=False)  # md5: a publisher's checksum, not a security check
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_dir() -> Path:
    """zsl's own cache folder: ``$ZSL_CACHE``, else ``$XDG_CACHE_HOME/zsltool``, else ``~/.cache/zsltool``."""
    if os.environ.get("ZSL_CACHE"):
        return Path(os.environ["ZSL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zsltool"


def _read_digest_cache() -> dict:
    try:
        cache = json.loads((cache_dir() / "digests.json").read_text())
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def _remember(key: str, algo: str, digest: str) -> None:
    """Add ``algo``'s digest to ``key``'s entry (the cache read again: another process may have added to it);
    drop the path's entries of other identities and the files that are gone; keep the newest entries."""
    from zsltool.errors import ZslError
    from zsltool.files.checks import atomic_write_text

    cache, path = _read_digest_cache(), key.rsplit("|", 5)[0]
    entry = cache.get(key) if isinstance(cache.get(key), dict) else {}
    cache = {k: v for k, v in cache.items() if k.rsplit("|", 5)[0] != path and os.path.exists(k.rsplit("|", 5)[0])}
    cache[key] = {**entry, algo: digest}
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        atomic_write_text(cache_dir() / "digests.json", json.dumps(dict(list(cache.items())[-DIGEST_CACHE_ENTRIES:])))
    except (OSError, ZslError):  # a read-only or full cache folder: no cache, still correct
        pass


def stamp() -> dict:
    """What every file zsl writes records about its making: ``zsl_version``, ``created_utc``, ``command``."""
    from zsltool import __version__

    return {"zsl_version": __version__, "created_utc": utc_now(), "command": command_line()}


def stamp_of(data: dict) -> dict:
    """The stamp and ``inputs`` a file recorded (those of the keys it has)."""
    return {k: data[k] for k in ("zsl_version", "created_utc", "command", "inputs") if k in data}


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
