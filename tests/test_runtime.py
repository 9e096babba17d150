"""zsltool.runtime.env.keep_heap: large allocations stay in glibc malloc's heap (docs/scaling.md), and it is a safe
no-op wherever it cannot do that."""

import ctypes
import json
import subprocess
import sys

import pytest

from zsltool.runtime.env import keep_heap

# Run in a fresh interpreter: the setting is process-wide and must not change the test process. Allocates
# 200 MiB with malloc (over glibc's largest dynamic mmap threshold, 32 MiB), frees it, and reports what
# mallinfo2 saw: chunks from mmap (hblks) and the main arena's size.
PROBE = r"""
import ctypes, json, sys
from zsltool.runtime.env import keep_heap

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
kept = keep_heap() if sys.argv[1] == "keep" else None
n = 200 << 20
m0 = libc.mallinfo2()
p = libc.malloc(n)
m1 = libc.mallinfo2()
libc.free(p)
m2 = libc.mallinfo2()
print(json.dumps({"kept": kept, "mmapped": m1.hblks - m0.hblks, "arena_grew": m1.arena - m0.arena,
                  "arena_after_free": m2.arena - m0.arena, "n": n}))
"""


def _glibc_with_mallinfo2() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None)
    return hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallinfo2")


def _probe(mode: str, extra: dict | None = None) -> dict:
    import os

    mine = ("GLIBC_TUNABLES", "ZSL_KEEP_HEAP")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k not in mine}
    env.update(extra or {})
    r = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout)


@pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="needs Linux with glibc >= 2.33 (mallinfo2)")
def test_a_large_allocation_stays_in_the_heap_and_is_kept_after_free():
    plain = _probe("plain")  # glibc's defaults: a fresh mapping, unmapped on free
    assert plain["mmapped"] == 1 and plain["arena_grew"] < plain["n"]
    kept = _probe("keep")
    assert kept["kept"] is True
    assert kept["mmapped"] == 0 and kept["arena_grew"] >= kept["n"]
    assert kept["arena_after_free"] >= kept["n"]  # not trimmed: the next call reuses the same pages
    # the user's own glibc settings win, and ZSL_KEEP_HEAP=0 turns it off: nothing is changed
    assert _probe("keep", {"MALLOC_MMAP_THRESHOLD_": "131072"})["kept"] is False
    off = _probe("keep", {"ZSL_KEEP_HEAP": "0"})
    assert off["kept"] is False and off["mmapped"] == 1


def test_a_no_op_where_it_cannot_apply(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_heap() is False
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("ZSL_KEEP_HEAP", "0")  # the documented opt-out
    assert keep_heap() is False
    monkeypatch.delenv("ZSL_KEEP_HEAP")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0")
    assert keep_heap() is False
    monkeypatch.delenv("GLIBC_TUNABLES")
    for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"):
        monkeypatch.delenv(k, raising=False)

    def broken(*a, **k):
        raise OSError("no C library")

    monkeypatch.setattr(ctypes, "CDLL", broken)
    assert keep_heap() is False  # never fails the command


def test_only_the_zsl_entry_point_keeps_the_heap(monkeypatch):
    """``zsl`` (the console script, zsltool.cli.app.main) calls keep_heap once, before the command runs; the
    library and the in-process CLI app never do (tests/extract/audio/test_audio_extract.py)."""
    import zsltool.cli.app as cli_app
    import zsltool.runtime.env

    calls = []
    monkeypatch.setattr(zsltool.runtime.env, "keep_heap", lambda *a: calls.append("keep_heap") or True)
    monkeypatch.setattr(cli_app, "app", lambda **kw: calls.append(kw["prog_name"]))
    cli_app.main()
    assert calls == ["keep_heap", "zsl"]
