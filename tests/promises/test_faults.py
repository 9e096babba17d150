"""Faults: a full disk anywhere (part files, the final HDF5 assembly, JSON outputs), an experiment folder that is a
file, stale temporary files of killed runs, and smaller input checks (duplicate class names, manifest times,
word-vector rows of mixed dimensions)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from zsltool.errors import ZslError
from zsltool.store import EmbeddingWriter, StoreMeta, partial_dir_for, read_embeddings


@pytest.fixture
def clips(tmp_path, tiny_weights):
    """Three short WAV clips, a manifest and tiny VGGish weights (tiny_weights, in the same folder)."""
    import soundfile as sf

    rows = []
    for i in range(3):
        t = np.arange(16000) / 16000
        sf.write(tmp_path / f"c{i}.wav", (0.3 * np.sin(2 * np.pi * (200 + 300 * i) * t)).astype(np.float32), 16000)
        rows.append(f"c{i},c{i}.wav,,,\n")
    (tmp_path / "m.csv").write_text("id,path,labels,start,end\n" + "".join(rows))
    return tmp_path


def _extract(cli, d, out, *extra):
    return cli("extract-audio", d / "m.csv", "-o", out, "--weights", d / "tiny_vggish.pth", "--workers", "0",
               "--batch-size", "1", *extra)


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name)


# -- a full disk --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS])
def test_disk_full_writing_a_part_then_resume(clips, cli, check_user_error, monkeypatch, code):
    out = clips / "o.h5"
    real = np.savez

    def full(path, **arrays):  # half a part file written, then the disk is full
        with open(path, "wb") as fh:
            fh.write(b"PK\x03\x04half")
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(np, "savez", full)
    err = check_user_error(_extract(cli, clips, out), f"no space left writing {out}")
    assert "internal error" not in err
    assert not out.exists() and _leftovers(clips) == []  # the half-written part is gone
    monkeypatch.setattr(np, "savez", real)
    res = _extract(cli, clips, out, "--json")
    assert res.exit_code == 0, res.stderr
    assert sorted(read_embeddings(out).ids) == ["c0", "c1", "c2"]


def test_disk_full_in_the_final_hdf5_assembly_keeps_parts_for_resume(clips, cli, check_user_error, monkeypatch):
    out = clips / "o.h5"
    import zsltool.files.safety as safety

    real = os.pwrite
    written = {"n": 0}

    def pwrite(fd, data, offset):
        written["n"] += 1
        if written["n"] > 3:  # a few HDF5 blocks, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data, offset)

    monkeypatch.setattr(safety.os, "pwrite", pwrite)
    check_user_error(_extract(cli, clips, out), f"no space left writing {out}")
    assert written["n"] > 3 and not out.exists() and _leftovers(clips) == []
    parts = sorted(p.name for p in partial_dir_for(out).iterdir())
    assert "part-000001.npz" in parts  # the computed rows wait for the resume
    monkeypatch.setattr(safety.os, "pwrite", real)
    res = _extract(cli, clips, out, "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["skipped_already_done"] == 3 and len(read_embeddings(out)) == 3
    assert not partial_dir_for(out).exists()


def test_disk_full_inside_the_hdf5_library_is_an_error_not_a_segfault(tmp_path):
    """A real write failure under HDF5's C library (the file size limit gives EFBIG exactly where ENOSPC would
    come): one error line and exit 1; it was `Can't decrement id ref count` then a segmentation fault (139)."""
    np.save(tmp_path / "X.npy", np.random.default_rng(0).standard_normal((4000, 64)).astype(np.float32))
    (tmp_path / "ids.csv").write_text("id\n" + "".join(f"r{i}\n" for i in range(4000)))
    code = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
        sys.argv = ["zsl", "import-embeddings", {str(tmp_path / "X.npy")!r}, "--ids", {str(tmp_path / "ids.csv")!r},
                    "-o", {str(tmp_path / "o.h5")!r}]
        from zsltool.cli.app import main
        main()
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, (r.returncode, r.stderr)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "no space left writing" in errors[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "o.h5").exists() and _leftovers(tmp_path) == []


def test_disk_full_writing_json_keeps_the_old_file(tmp_path, cli, check_user_error, monkeypatch, qa):
    import shutil

    shutil.copy(qa.tones, tmp_path / "C.json")
    assert cli("split", tmp_path / "C.json", "-p", "random", "-o", tmp_path / "s.json").exit_code == 0
    old = (tmp_path / "s.json").read_bytes()
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    check_user_error(cli("split", tmp_path / "C.json", "-p", "random", "-o", tmp_path / "s.json", "--seed", "3",
                         "--overwrite"), "no space left writing")
    assert (tmp_path / "s.json").read_bytes() == old and _leftovers(tmp_path) == []


def test_no_space_messages():
    from zsltool.files.safety import is_no_space, no_space_error

    assert no_space_error("o.h5", OSError(errno.ENOSPC, "x")).message == "no space left writing o.h5"
    assert "quota" in no_space_error("o.h5", OSError(errno.EDQUOT, "x")).message
    assert "read-only" in no_space_error("o.h5", OSError(errno.EROFS, "x")).message
    wrapped = RuntimeError("Unable to flush raw data (file write failed: errno = 28, error message = 'No space')")
    assert is_no_space(wrapped) and not is_no_space(OSError(errno.ENOENT, "x"))


# -- experiment -o FILE, stale temporary files ----------------------------------------------------------------------
def test_experiment_out_is_a_file(qa, tmp_path, cli, check_user_error):
    (tmp_path / "res").write_text("x")
    check_user_error(cli("experiment", "--audio", qa.syn.audio, "--split", qa.syn.split, "--text", qa.syn.text,
                         "-o", tmp_path / "res"), "is a file; experiment writes a folder")
    assert (tmp_path / "res").read_text() == "x"


def test_finished_run_removes_stale_temp_files_of_its_output(tmp_path):
    out = tmp_path / "o.h5"
    stale = tmp_path / ".o.h5.k3j_x9a2.tmp"  # left by a kill -9 during the final write
    other = tmp_path / ".p.h5.k3j_x9a2.tmp"  # another output's: not ours to remove
    stale.write_bytes(b"\x89HDF half")
    other.write_bytes(b"\x89HDF half")
    with EmbeddingWriter(out, meta=StoreMeta(extractor="fake"), dim=2) as w:
        w.add("a", [1, 2])
    assert not stale.exists() and other.exists() and read_embeddings(out).ids == ["a"]


def test_kill_during_the_final_write_then_a_finished_run_cleans_up(tmp_path):
    out = tmp_path / "o.h5"
    code = textwrap.dedent(f"""
        import os, signal
        import zsltool.store.h5write as W
        from zsltool.store import EmbeddingWriter, StoreMeta
        def killed(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)
        real = W.GuardedFile.close
        def close(self):
            killed()
        W.GuardedFile.close = close
        with EmbeddingWriter({str(out)!r}, meta=StoreMeta(extractor="fake"), dim=2) as w:
            w.add("a", [1, 2])
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert r.returncode < 0
    assert [p.name for p in tmp_path.glob(".o.h5.*.tmp")] and not out.exists()
    with EmbeddingWriter(out, meta=StoreMeta(extractor="fake"), dim=2) as w:
        assert w.done_ids == {"a"}
    assert read_embeddings(out).ids == ["a"] and list(tmp_path.glob(".o.h5.*.tmp")) == []


# -- smaller checks --------------------------------------------------------------------------------------------------
def test_build_classes_warns_about_duplicate_names(tmp_path, cli):
    (tmp_path / "list.txt").write_text("dog\ncat\ndog\nbird\ncat\n")
    res = cli("build-classes", "--from-list", tmp_path / "list.txt", "-o", tmp_path / "c.json")
    assert res.exit_code == 0, res.stderr
    warn = [ln for ln in res.stderr.splitlines() if "more than once" in ln]
    assert len(warn) == 1 and "'dog'" in warn[0] and "'cat'" in warn[0] and "2 class name(s)" in warn[0]
    from zsltool.classes.classset import ClassSet

    assert [c["id"] for c in ClassSet.load(tmp_path / "c.json").classes] == ["dog", "cat", "bird"]


@pytest.mark.parametrize("start,end,msg", [("-1", "", "start -1 is negative"), ("5", "5", "end 5 is not after"),
                                           ("6", "2", "end 2 is not after start 6"), ("nan", "", "not a finite"),
                                           ("", "0", "end 0 is not after start 0")])
def test_manifest_times_are_checked(tmp_path, cli, check_user_error, start, end, msg):
    # was: a negative start gave "Internal psf_fseek() failed."
    (tmp_path / "m.csv").write_text(f"id,path,labels,start,end\nc0,a.wav,,{start},{end}\n")
    check_user_error(cli("extract-audio", tmp_path / "m.csv", "-o", tmp_path / "o.h5"), "row 2", msg)


@pytest.mark.parametrize("text,fmt", [("3 4\ndog 1 2 3 4\ncat 1 2 3\nbird 1 2 3 4\n", "auto"),
                                      ("3 4\ncat 1 2 3\ndog 1 2 3 4\nbird 1 2 3 4\n", "auto"),
                                      ("dog 1 2 3 4\ncat 1 2 3\n", "auto"),
                                      ("dog 1 2 3 4\ncat 1 2 3\n", "glove")])
def test_text_vectors_with_mixed_dimensions(tmp_path, cli, check_user_error, text, fmt):
    # was: refused with a message that guessed word2vec-bin
    (tmp_path / "v.txt").write_text(text)
    (tmp_path / "n.txt").write_text("dog\n")
    err = check_user_error(cli("extract-text", "--names", tmp_path / "n.txt", "--vectors", tmp_path / "v.txt",
                               "--format", fmt, "-o", tmp_path / "t.h5"), "rows of mixed dimensions",
                           "has 3 values", "4 dimensions")
    assert "word2vec-bin" not in err
