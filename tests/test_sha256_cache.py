"""file_digest (sha256_file) and its one cache (zsltool.files.provenance): a large file a command reads at every call (word
vectors, network weights) is hashed once while it is unchanged, and again as soon as it changes, even when it
is rewritten with the same size and times within one timestamp tick of the file system."""

from __future__ import annotations

import hashlib
import json
import os
import time
import types

import pytest

import zsltool.files.provenance as P


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entries(folder) -> dict:
    return json.loads((folder / "digests.json").read_text())


def _ctime_moves(path, before_ns: int, mtime_ns: int) -> None:
    """Put ``path``'s mtime back to ``mtime_ns`` until its ctime differs from ``before_ns`` (a coarse file-system
    clock can give the same ctime within a few ms; the next test covers that case)."""
    for _ in range(200):
        os.utime(path, ns=(mtime_ns, mtime_ns))
        if os.stat(path).st_ctime_ns != before_ns:
            return
        time.sleep(0.01)
    pytest.skip("the file system's ctime did not move")


def test_a_file_is_read_once_until_it_changes(tmp_path, sha256_reads):
    f = tmp_path / "w.pth"
    f.write_bytes(b"abc")
    assert P.sha256_file(f) == P.sha256_file(str(f)) == sha(b"abc") and sha256_reads == ["w.pth"]
    st = os.stat(f)  # same size, another modification time: hashed again
    f.write_bytes(b"abd")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert P.sha256_file(f) == sha(b"abd") and len(sha256_reads) == 2
    st = os.stat(f)  # same size, the old modification time put back: ctime moved, hashed again
    f.write_bytes(b"abe")
    _ctime_moves(f, st.st_ctime_ns, st.st_mtime_ns)
    assert os.stat(f).st_mtime_ns == st.st_mtime_ns
    assert P.sha256_file(f) == sha(b"abe") and len(sha256_reads) == 3
    g = tmp_path / "g"  # replaced by another file (another inode) with the same size and times
    g.write_bytes(b"abf")
    st = os.stat(f)
    os.utime(g, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(g, f)
    assert P.sha256_file(f) == sha(b"abf") and len(sha256_reads) == 4
    assert list(entries(tmp_path / "zsl-cache").values()) == [{"sha256": sha(b"abf")}]  # one entry per path


def test_a_file_rewritten_within_one_timestamp_tick_is_hashed_again(tmp_path, sha256_reads, monkeypatch):
    """On a file system whose clock does not tick between two writes, a rewrite with the same size keeps every
    field of the key (path, device, inode, size, mtime, ctime). Such a file was changed less than SETTLED_NS
    before its hash began: it is not remembered, so the rewrite is read again (remembered, the digest of the
    first bytes would come back)."""
    monkeypatch.setattr(P, "SETTLED_NS", 2 * 10**9)  # the real rule (the fixture counts every file as settled)
    real, tick = os.stat, time.time_ns()

    def clock_stood_still(*a, **k):
        st = real(*a, **k)
        fields = {n: getattr(st, n) for n in dir(st) if n.startswith("st_")}
        return types.SimpleNamespace(**{**fields, "st_mtime_ns": tick, "st_ctime_ns": tick})

    f = tmp_path / "v.bin"
    f.write_bytes(b"abc")
    with monkeypatch.context() as m:
        m.setattr(os, "stat", clock_stood_still)
        before = os.stat(f)
        assert P.sha256_file(f) == sha(b"abc")
        f.write_bytes(b"abd")
        after = os.stat(f)
        assert P.sha256_file(f) == sha(b"abd") and sha256_reads == ["v.bin", "v.bin"]
    assert [getattr(after, n) for n in ("st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns")] == \
        [getattr(before, n) for n in ("st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns")]
    assert not (tmp_path / "zsl-cache" / "digests.json").exists()


def test_small_files_are_hashed_each_time(tmp_path, sha256_reads, monkeypatch):
    monkeypatch.setattr(P, "DIGEST_CACHE_FROM", 1 << 20)
    (tmp_path / "small").write_bytes(b"x" * ((1 << 20) - 1))
    (tmp_path / "large").write_bytes(b"x" * (1 << 20))
    for _ in range(2):
        assert P.sha256_file(tmp_path / "small") == sha(b"x" * ((1 << 20) - 1))
        assert P.sha256_file(tmp_path / "large") == sha(b"x" * (1 << 20))
    assert sha256_reads == ["small", "large", "small"]
    assert [os.path.basename(k.rsplit("|", 5)[0]) for k in entries(tmp_path / "zsl-cache")] == ["large"]


def test_where_the_cache_lives_and_a_broken_cache(tmp_path, monkeypatch, sha256_reads):
    f = tmp_path / "v.bin"
    f.write_bytes(b"xyz")
    monkeypatch.delenv("ZSL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    P.sha256_file(f)
    assert (tmp_path / "xdg" / "zsltool" / "digests.json").is_file()
    monkeypatch.setenv("ZSL_CACHE", str(tmp_path / "zc"))
    P.sha256_file(f)
    assert (tmp_path / "zc" / "digests.json").is_file() and len(sha256_reads) == 2
    for damaged in ("not json", "[1, 2]", '{"a": 3}'):
        (tmp_path / "zc" / "digests.json").write_text(damaged)
        assert P.sha256_file(f) == sha(b"xyz")
    assert len(sha256_reads) == 5 and list(entries(tmp_path / "zc").values()) == [{"sha256": sha(b"xyz")}]
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("ZSL_CACHE", str(tmp_path / "file"))  # a cache folder that cannot be made
    assert P.sha256_file(f) == P.sha256_file(f) == sha(b"xyz") and len(sha256_reads) == 7


def test_files_that_are_gone_are_dropped_and_the_cache_is_bounded(tmp_path, monkeypatch, sha256_reads):
    monkeypatch.setattr(P, "DIGEST_CACHE_ENTRIES", 3)
    files = []
    for k in range(5):
        files.append(tmp_path / f"f{k}")
        files[-1].write_bytes(bytes([k]))
        P.sha256_file(files[-1])
    assert [k.rsplit("|", 5)[0] for k in entries(tmp_path / "zsl-cache")] == [str(p.resolve()) for p in files[2:]]
    files[3].unlink()
    (tmp_path / "new").write_bytes(b"n")
    P.sha256_file(tmp_path / "new")
    assert [os.path.basename(k.rsplit("|", 5)[0]) for k in entries(tmp_path / "zsl-cache")] == ["f2", "f4", "new"]


def test_the_extractors_hash_their_weights_once(tmp_path, sha256_reads):
    """VGGish (zsltool.extract.weights.fetch_file) and zsl's own image / video networks (tvweights): a second
    build of the same weights reads no file to hash it; a touched file is hashed again."""
    import torch

    from zsltool.extract.audio import vggish as V
    from zsltool.extract.audio.vggish import VGGish
    from zsltool.extract.video import Small3D, build_video_model

    torch.manual_seed(0)
    w = tmp_path / "vggish.pth"
    torch.save(VGGish(width=1 / 16).state_dict(), w)
    for _ in range(2):
        assert V.build(weights=str(w)).meta()["weights_sha256"] == sha(w.read_bytes())
    assert sha256_reads == ["vggish.pth"]
    st = os.stat(w)
    os.utime(w, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert V.build(weights=str(w)).meta()["weights_sha256"] == sha(w.read_bytes())
    assert sha256_reads == ["vggish.pth"] * 2
    torch.save(Small3D(3).state_dict(), tmp_path / "net.pth")
    infos = [build_video_model("small3d", str(tmp_path / "net.pth"))[2] for _ in range(2)]
    assert infos[0]["weights_sha256"] == infos[1]["weights_sha256"] == sha((tmp_path / "net.pth").read_bytes())
    assert sha256_reads == ["vggish.pth"] * 2 + ["net.pth"]


def test_a_published_md5_is_checked_and_remembered_with_the_sha256(tmp_path, sha256_reads, monkeypatch):
    """CNN14's weights have only a published md5 (zsltool.extract.weights.fetch_file): it goes through the same
    cache, so a second use reads the file for neither digest; a wrong md5 is refused."""
    import torch

    from zsltool.errors import ZslError
    from zsltool.extract.weights import fetch_file

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    f = tmp_path / "hub" / "checkpoints" / "net.pth"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"weights")
    for _ in range(2):
        assert fetch_file("https://example.invalid/net.pth", md5=hashlib.md5(b"weights").hexdigest()) == \
            (f, sha(b"weights"))
    assert sha256_reads == ["net.pth", "net.pth"]  # sha256, then md5, at the first use only
    assert list(entries(tmp_path / "zsl-cache").values()) == \
        [{"sha256": sha(b"weights"), "md5": hashlib.md5(b"weights").hexdigest()}]
    with pytest.raises(ZslError, match="do not match the published md5"):
        fetch_file("https://example.invalid/net.pth", md5="0" * 32)


def test_the_run_cache_reads_a_replaced_file_again(tmp_path):
    """zsltool.files.runcache (reads memoized for one run) keys on the same identity: another file moved into
    place with the same size and times is read again."""
    from zsltool.files.runcache import cached, run_cache

    f, g = tmp_path / "a.bin", tmp_path / "b.bin"
    f.write_bytes(b"abc")
    g.write_bytes(b"abd")
    st = os.stat(f)
    os.utime(g, ns=(st.st_atime_ns, st.st_mtime_ns))
    with run_cache():
        assert cached("bytes", f, f.read_bytes) == b"abc" == cached("bytes", f, lambda: b"not read again")
        os.replace(g, f)
        assert cached("bytes", f, f.read_bytes) == b"abd"
