"""The sha256 cache across runs (zsltool.files.provenance.cached_sha256): large files a command reads at every call
(word vectors, network weights) are hashed once while they are unchanged, and again as soon as they change."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

import zsltool.files.provenance as U


@pytest.fixture
def reads(tmp_path, monkeypatch):
    """The paths actually read to hash them, in order (the cache in a folder of its own)."""
    monkeypatch.setenv("ZSL_CACHE", str(tmp_path / "zsl-cache"))
    seen: list[str] = []
    real = U._sha256_file
    monkeypatch.setattr(U, "_sha256_file", lambda p, c: seen.append(os.path.basename(p)) or real(p, c))
    return seen


def _ctime_moves(path, before_ns: int, mtime_ns: int) -> None:
    """Put ``path``'s modification time back to ``mtime_ns`` until its ctime differs from ``before_ns`` (a
    coarse file-system clock can give the same ctime within a few ms)."""
    for _ in range(200):
        os.utime(path, ns=(mtime_ns, mtime_ns))
        if os.stat(path).st_ctime_ns != before_ns:
            return
        time.sleep(0.01)
    pytest.skip("the file system's ctime did not move")


def test_a_file_is_read_once_until_it_changes(tmp_path, reads):
    f = tmp_path / "w.pth"
    f.write_bytes(b"abc")
    assert U.cached_sha256(f) == hashlib.sha256(b"abc").hexdigest()
    assert U.cached_sha256(f) == hashlib.sha256(b"abc").hexdigest() and U.cached_sha256(str(f))
    assert reads == ["w.pth"]
    assert U.known_sha256(f) == hashlib.sha256(b"abc").hexdigest()
    # same size, new modification time: hashed again
    st = os.stat(f)
    f.write_bytes(b"abd")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert U.cached_sha256(f) == hashlib.sha256(b"abd").hexdigest() and len(reads) == 2
    # same size, the old modification time put back: ctime moved, hashed again
    st = os.stat(f)
    f.write_bytes(b"abe")
    _ctime_moves(f, st.st_ctime_ns, st.st_mtime_ns)
    assert os.stat(f).st_mtime_ns == st.st_mtime_ns and os.stat(f).st_size == st.st_size
    assert U.known_sha256(f) is None
    assert U.cached_sha256(f) == hashlib.sha256(b"abe").hexdigest() and len(reads) == 3
    # replaced by another file (another inode) with the same size and times
    g = tmp_path / "g"
    g.write_bytes(b"abf")
    st = os.stat(f)
    os.utime(g, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(g, f)
    assert U.cached_sha256(f) == hashlib.sha256(b"abf").hexdigest() and len(reads) == 4
    doc = json.loads((tmp_path / "zsl-cache" / "sha256.json").read_text())
    assert list(doc.values()) == [hashlib.sha256(b"abf").hexdigest()]  # one entry per path: the latest


def test_where_the_cache_lives_and_a_broken_cache(tmp_path, monkeypatch, reads):
    f = tmp_path / "v.bin"
    f.write_bytes(b"xyz")
    monkeypatch.delenv("ZSL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    U.cached_sha256(f)
    assert (tmp_path / "xdg" / "zsltool" / "sha256.json").is_file()
    monkeypatch.setenv("ZSL_CACHE", str(tmp_path / "zc"))
    U.cached_sha256(f)
    assert (tmp_path / "zc" / "sha256.json").is_file() and len(reads) == 2
    for damaged in ("not json", "[1, 2]", '{"a": 3}'):
        (tmp_path / "zc" / "sha256.json").write_text(damaged)
        assert U.cached_sha256(f) == hashlib.sha256(b"xyz").hexdigest()
    assert len(reads) == 5 and U.known_sha256(f)  # each damaged cache: hashed, then the cache is whole again
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("ZSL_CACHE", str(tmp_path / "file"))  # a cache folder that cannot be made
    assert U.cached_sha256(f) == hashlib.sha256(b"xyz").hexdigest()
    assert U.cached_sha256(f) == hashlib.sha256(b"xyz").hexdigest() and len(reads) == 7


def test_files_that_are_gone_are_dropped_and_the_cache_is_bounded(tmp_path, monkeypatch, reads):
    monkeypatch.setattr(U, "SHA256_CACHE_ENTRIES", 3)
    files = []
    for k in range(5):
        files.append(tmp_path / f"f{k}")
        files[-1].write_bytes(bytes([k]))
        U.cached_sha256(files[-1])
    doc = json.loads((tmp_path / "zsl-cache" / "sha256.json").read_text())
    assert [k.rsplit("|", 4)[0] for k in doc] == [str(p.resolve()) for p in files[2:]]
    files[3].unlink()
    (tmp_path / "new").write_bytes(b"n")
    U.cached_sha256(tmp_path / "new")
    doc = json.loads((tmp_path / "zsl-cache" / "sha256.json").read_text())
    assert [os.path.basename(k.rsplit("|", 4)[0]) for k in doc] == ["f2", "f4", "new"]


def test_no_background_hash_of_a_file_the_cache_knows(tmp_path, reads):
    f = tmp_path / "w.pth"
    f.write_bytes(b"abc" * 1000)
    U.cached_sha256(f)
    U.prefetch_sha256(f)
    assert U._identity(f) not in U._PREFETCH and reads == ["w.pth"]


def test_the_extractors_hash_their_weights_once(tmp_path, reads):
    """VGGish (zsltool.extract.weights.fetch_file) and zsl's own image / video networks (tvweights): a second
    build of the same weights reads no file to hash it; a touched file is hashed again."""
    import torch

    from zsltool.extract.audio import vggish as V
    from zsltool.extract.audio.vggish import VGGish
    from zsltool.extract.video import build_video_model

    torch.manual_seed(0)
    torch.save(VGGish(width=1 / 16).state_dict(), tmp_path / "vggish.pth")
    digest = hashlib.sha256((tmp_path / "vggish.pth").read_bytes()).hexdigest()
    assert V.build(weights=str(tmp_path / "vggish.pth")).meta()["weights_sha256"] == digest
    assert V.build(weights=str(tmp_path / "vggish.pth")).meta()["weights_sha256"] == digest
    assert reads == ["vggish.pth"]
    st = os.stat(tmp_path / "vggish.pth")
    os.utime(tmp_path / "vggish.pth", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert V.build(weights=str(tmp_path / "vggish.pth")).meta()["weights_sha256"] == digest
    assert reads == ["vggish.pth"] * 2

    from zsltool.extract.video import Small3D

    torch.save(Small3D(3).state_dict(), tmp_path / "net.pth")
    infos = [build_video_model("small3d", str(tmp_path / "net.pth"))[2] for _ in range(2)]
    assert infos[0]["weights_sha256"] == infos[1]["weights_sha256"] == \
        hashlib.sha256((tmp_path / "net.pth").read_bytes()).hexdigest()
    assert reads == ["vggish.pth"] * 2 + ["net.pth"]
