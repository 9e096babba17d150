"""A run-scoped memo for reading input files: inside ``with run_cache():`` every embedding file is read once; a
file whose size, inode, modification or change time changed is read again. Outside the block nothing is cached. ``zsl
experiment`` wraps its run in it, so each input is read once per run however many trials use it (hashes have
their own cache across runs: ``zsltool.files.provenance.sha256_file``).

Cached objects are shared: callers must treat what they get as read-only (the readers do).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable

_STACK: list[dict] = []


@contextlib.contextmanager
def run_cache():
    """Memoize file reads inside the block (nested blocks share the outer cache)."""
    if _STACK:
        yield _STACK[-1]
        return
    _STACK.append({})
    try:
        yield _STACK[-1]
    finally:
        _STACK.pop()


def active() -> bool:
    return bool(_STACK)


def cached(kind: str, path: str | os.PathLike, make: Callable[[], Any], *extra) -> Any:
    """``make()`` once per (kind, file identity, extra) while a run cache is active; else ``make()``."""
    if not _STACK:
        return make()
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return make()  # let the reader raise its own clear error
    key = (kind, str(p.absolute()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, *extra)
    cache = _STACK[-1]
    if key not in cache:
        cache[key] = make()
    return cache[key]
