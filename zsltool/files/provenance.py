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
    reading the file again. Nothing is started when :func:`cached_sha256` already knows the file. A missing
    file is left to the reader's own error."""
    import threading

    try:
        key = _identity(path)
    except OSError:
        return
    if key in _PREFETCH or known_sha256(path) is not None:
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
    """Hex sha256 of a file's bytes (once per run inside ``zsltool.files.runcache.run_cache()``; taken from
    :func:`prefetch_sha256` when that started it)."""
    from zsltool.files.runcache import cached

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


# -- the sha256 cache across runs (large files a command reads again and again: word vectors, weights) --------
SHA256_CACHE_ENTRIES = 512  # files remembered (the most recently hashed); files that are gone are dropped


def cache_dir() -> Path:
    """zsl's own cache folder: ``$ZSL_CACHE``, else ``$XDG_CACHE_HOME/zsltool``, else ``~/.cache/zsltool``."""
    if os.environ.get("ZSL_CACHE"):
        return Path(os.environ["ZSL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zsltool"


def _sha256_cache_file() -> Path:
    return cache_dir() / "sha256.json"


def _sha256_key(path: str | os.PathLike) -> tuple[Path, str]:
    p = Path(path).resolve()
    st = p.stat()
    return p, f"{p}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}"


def _read_sha256_cache() -> dict:
    try:
        cache = json.loads(_sha256_cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def known_sha256(path: str | os.PathLike) -> str | None:
    """The cached sha256 of ``path`` when :func:`cached_sha256` has seen the file as it is now, else None (the
    file is not read)."""
    try:
        _, key = _sha256_key(path)
    except OSError:
        return None
    hit = _read_sha256_cache().get(key)
    return hit if isinstance(hit, str) and len(hit) == 64 else None


def cached_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, remembered across runs in ``cache_dir()/sha256.json`` by (resolved path, size,
    mtime_ns, ctime_ns, inode): a file that is rewritten, replaced, or touched (even with its old modification
    time put back, which moves ctime) is hashed again. For the large files commands read at every call (word
    vectors, network weights); a read-only or damaged cache only costs the hashing."""
    from zsltool.errors import ZslError
    from zsltool.files.checks import atomic_write_text

    hit = known_sha256(path)
    if hit is not None:
        return hit
    p, key = _sha256_key(path)
    digest = sha256_file(p)
    cache = {k: v for k, v in _read_sha256_cache().items() if not k.startswith(f"{p}|") and _still_there(k)}
    cache[key] = digest
    cache = dict(list(cache.items())[-SHA256_CACHE_ENTRIES:])
    try:
        _sha256_cache_file().parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(_sha256_cache_file(), json.dumps(cache))
    except (OSError, ZslError):  # a read-only or full cache folder: no cache, still correct
        pass
    return digest


def _still_there(key: str) -> bool:
    return os.path.exists(key.rsplit("|", 4)[0])


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
