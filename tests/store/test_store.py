"""The HDF5 embedding store: round trip, validation, atomicity, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from zsltool.errors import ZslError
from zsltool.store import (
    EmbeddingWriter,
    StoreMeta,
    check_same_class_set,
    partial_dir_for,
    read_embeddings,
    validate_embeddings,
    write_embeddings,
)

REPO = Path(__file__).resolve().parents[2]


def _meta(**kw):
    base = dict(kind="instance", modality="audio", extractor="fake", extractor_meta={"sr": 16000, "layer": "x"},
                inputs=[{"path": "a.wav", "sha256": "00" * 32}], class_set_sha256="c" * 64, command="zsl test")
    base.update(kw)
    return StoreMeta(**base)


def test_round_trip_every_dataset_and_attribute(tmp_path):
    out = tmp_path / "e.h5"
    frames = [np.arange(6, dtype=np.float32).reshape(3, 2), np.zeros((0, 2), np.float32),
              np.full((1, 2), 7, np.float32)]
    with EmbeddingWriter(out, meta=_meta(), dim=3, classes=["/m/a", "/m/b", "/m/c"], frame_dim=2,
                         flush_every=2) as w:
        w.add("clip1", [1, 2, 3], labels=[0], frames=frames[0])
        w.add("clip2", [0, 0, 0], labels=[1, 2], valid=False, reason="empty file", frames=frames[1])
        w.add("clip3", [4, 5, 6], labels=np.array([0, 0, 1], np.uint8), frames=frames[2])
    e = read_embeddings(out)
    assert e.ids == ["clip1", "clip2", "clip3"]
    np.testing.assert_array_equal(e.X, np.array([[1, 2, 3], [0, 0, 0], [4, 5, 6]], np.float32))
    assert e.X.dtype == np.float32
    assert e.classes == ["/m/a", "/m/b", "/m/c"]
    np.testing.assert_array_equal(e.labels, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_array_equal(e.valid, [True, False, True])
    assert e.reasons == ["", "empty file", ""]
    np.testing.assert_array_equal(e.offsets, [0, 3, 3, 4])
    np.testing.assert_array_equal(e.row_frames(0), frames[0])
    np.testing.assert_array_equal(e.row_frames(2), frames[2])
    assert e.row_frames(1).shape == (0, 2)
    np.testing.assert_array_equal(e.label_index(), [0, -1, 2])
    m = e.meta
    assert (m.kind, m.modality, m.extractor) == ("instance", "audio", "fake")
    assert m.extractor_meta == {"sr": 16000, "layer": "x"}
    assert m.inputs == [{"path": "a.wav", "sha256": "00" * 32}]
    assert m.class_set_sha256 == "c" * 64 and m.command == "zsl test"
    assert m.zsl_version and m.created_utc.endswith("+00:00") and m.format_version == 1
    with h5py.File(out) as f:
        assert f.attrs["format"] == "zsl.embeddings" and int(f.attrs["dim"]) == 3
        assert f["embeddings"].chunks is not None
    assert not partial_dir_for(out).exists()
    sub = e.subset(["clip3", "clip1"])
    assert sub.ids == ["clip3", "clip1"] and sub.X[0, 0] == 4
    np.testing.assert_array_equal(sub.row_frames(1), frames[0])


def test_class_level_file_counts_and_identity_labels(tmp_path):
    out = tmp_path / "c.h5"
    write_embeddings(out, meta=_meta(kind="class", modality="text"), ids=["a", "b"], X=[[1, 0], [0, 1]],
                     classes=["a", "b"], counts=[3, 5])
    e = read_embeddings(out, kind="class")
    np.testing.assert_array_equal(e.labels, np.eye(2))
    np.testing.assert_array_equal(e.counts, [3, 5])
    np.testing.assert_array_equal(e.class_embeddings(["b", "a"]), [[0, 1], [1, 0]])
    with pytest.raises(ZslError, match="instance-level file is needed"):
        read_embeddings(out, kind="instance")
    with pytest.raises(ZslError, match="1 ids are not in"):
        e.class_embeddings(["zzz"])


def test_non_finite_rows_are_marked_invalid_by_the_writer(tmp_path):
    out = tmp_path / "e.h5"
    with EmbeddingWriter(out, meta=_meta(), dim=2, classes=[]) as w:
        w.add("x", [np.nan, 1.0])
        w.add("y", [1.0, np.inf])
        w.add("z", [1.0, 2.0])
    e = read_embeddings(out)
    np.testing.assert_array_equal(e.valid, [False, False, True])
    assert e.reasons[0] == "embedding is not finite (NaN or Inf)"
    np.testing.assert_array_equal(e.X[:2], 0)


def test_writer_rejects_wrong_shapes_and_duplicates(tmp_path):
    with EmbeddingWriter(tmp_path / "e.h5", meta=_meta(), dim=3, classes=["a"]) as w:
        with pytest.raises(ZslError, match="has 2 values but the file's dimension is 3"):
            w.add("x", [1, 2])
        w.add("x", [1, 2, 3])
        with pytest.raises(ZslError, match="duplicate id 'x'"):
            w.add("x", [1, 2, 3])
        with pytest.raises(ZslError, match="label index 4 is outside"):
            w.add("y", [1, 2, 3], labels=[4])


def test_writer_rejects_frames_of_another_width(tmp_path):
    # was: (2, 3) frames silently reshaped into three frames of width 2; 1-D frames into rows
    out = tmp_path / "e.h5"
    with EmbeddingWriter(out, meta=_meta(), dim=2, frame_dim=2) as w:
        with pytest.raises(ZslError, match=r"row 'x' has frames of shape \(2, 3\) but the file's frames are "
                                           r"\(frames, 2\)"):
            w.add("x", [1, 2], frames=np.ones((2, 3)))
        with pytest.raises(ZslError, match=r"row 'y' has frames of shape \(4,\)"):
            w.add("y", [1, 2], frames=np.ones(4))
        w.add("z", [1, 2], frames=np.arange(6).reshape(3, 2))
        w.add("bad", [1, 2], valid=False, frames=np.ones((1, 5)))  # an invalid row keeps no frames
    e = read_embeddings(out)
    assert e.ids == ["z", "bad"]
    np.testing.assert_array_equal(e.row_frames(0), np.arange(6).reshape(3, 2))
    assert e.row_frames(1).shape == (0, 2)
    with pytest.raises(ZslError, match="row 'b' has frames of shape"):
        write_embeddings(tmp_path / "o.h5", meta=_meta(), ids=["a", "b"], X=np.ones((2, 2)), frame_dim=2,
                         frames=[np.ones((1, 2)), np.ones((2, 4))])
    assert not (tmp_path / "o.h5").exists()


def test_one_shot_write_needs_no_part_files(tmp_path, monkeypatch):
    # was: write_embeddings went through the resumable writer: one .npz part in a .NAME.partial folder,
    # and it deleted the partial folder of a killed extraction to the same output
    out = tmp_path / "e.h5"
    with pytest.raises(RuntimeError):
        with EmbeddingWriter(out, meta=_meta(), dim=2, flush_every=1) as w:
            w.add("a", [1, 2])
            raise RuntimeError("killed")
    kept = sorted(p.name for p in partial_dir_for(out).iterdir())

    def no_parts(*a, **k):
        raise AssertionError("a one-shot write must not write part files")

    monkeypatch.setattr(np, "savez", no_parts)
    write_embeddings(out, meta=_meta(), ids=["x", "y", "z"], X=[[1, 2], [np.nan, 0], [3, 4]], classes=["a", "b"],
                     labels=np.array([[1, 0], [0, 1], [1, 1]]), counts=[1, 2, 3], overwrite=True)
    assert sorted(p.name for p in partial_dir_for(out).iterdir()) == kept
    e = read_embeddings(out)
    assert e.ids == ["x", "y", "z"] and e.valid.tolist() == [True, False, True]
    assert e.reasons == ["", "embedding is not finite (NaN or Inf)", ""]
    np.testing.assert_array_equal(e.X, [[1, 2], [0, 0], [3, 4]])
    np.testing.assert_array_equal(e.labels, [[1, 0], [0, 1], [1, 1]])
    assert e.counts.tolist() == [1, 2, 3]
    with pytest.raises(ZslError, match="duplicate id 'x'"):
        write_embeddings(tmp_path / "d.h5", meta=_meta(), ids=["x", "x"], X=np.ones((2, 2)))
    assert not (tmp_path / "d.h5").exists() and not partial_dir_for(tmp_path / "d.h5").exists()


def test_existing_output_is_refused_without_overwrite(tmp_path):
    out = tmp_path / "e.h5"
    write_embeddings(out, meta=_meta(), ids=["a"], X=[[1.0]])
    with pytest.raises(ZslError, match="output already exists"):
        write_embeddings(out, meta=_meta(), ids=["a"], X=[[2.0]])
    write_embeddings(out, meta=_meta(), ids=["a"], X=[[2.0]], overwrite=True)
    assert read_embeddings(out).X[0, 0] == 2.0


# ---------------------------------------------------------------------------------------------- validation
def _good(tmp_path, name="g.h5", n=3):
    out = tmp_path / name
    write_embeddings(out, meta=_meta(), ids=[f"i{k}" for k in range(n)], X=np.ones((n, 2)), classes=["a"],
                     labels=[[0]] * n)
    return out


def _mutate(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f)


@pytest.mark.parametrize("mutation, message", [
    (lambda f: f.attrs.__setitem__("format", "other"), "not a zsl embedding file"),
    (lambda f: f.attrs.__setitem__("format_version", 99), "format version 99 is not supported"),
    (lambda f: f.__delitem__("valid"), "missing datasets: valid"),
    (lambda f: f["ids"].__setitem__(1, "i0"), "duplicate ids: i0"),
    (lambda f: f["embeddings"].__setitem__((2, 0), np.nan), "1 valid rows contain NaN or Inf (first: 'i2')"),
    (lambda f: f["labels"].resize((2, 1)), "labels has shape (2, 1), expected (3, 1)"),
    (lambda f: f.attrs.__setitem__("dim", 5), "dim attribute 5 does not match embeddings width 2"),
    (lambda f: f.attrs.__setitem__("kind", "blob"), "unknown kind 'blob'"),
])
def test_each_validation_error_has_its_message(tmp_path, mutation, message):
    out = _good(tmp_path)
    _mutate(out, mutation)
    assert any(message in v for v in validate_embeddings(out)), validate_embeddings(out)
    with pytest.raises(ZslError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_embeddings(out)


def test_nan_in_an_invalid_row_is_allowed(tmp_path):
    out = _good(tmp_path)

    def f(h):
        h["embeddings"][2, 0] = np.nan
        h["valid"][2] = False

    _mutate(out, f)
    assert validate_embeddings(out) == []


def test_not_hdf5_and_truncated_files(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("hello")
    with pytest.raises(ZslError, match="is not an HDF5 file"):
        read_embeddings(bad)
    good = _good(tmp_path)
    data = good.read_bytes()
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(data[: len(data) // 3])
    with pytest.raises(ZslError, match="corrupt or truncated"):
        read_embeddings(trunc)
    with pytest.raises(ZslError, match="embedding file not found"):
        read_embeddings(tmp_path / "nope.h5")


def test_class_set_mismatch_is_refused_naming_both_files(tmp_path):
    a = tmp_path / "a.h5"
    b = tmp_path / "b.h5"
    write_embeddings(a, meta=_meta(class_set_sha256="1" * 64), ids=["x"], X=[[1.0]])
    write_embeddings(b, meta=_meta(class_set_sha256="2" * 64), ids=["x"], X=[[1.0]])
    ea, eb = read_embeddings(a), read_embeddings(b)
    check_same_class_set([ea, ea])
    with pytest.raises(ZslError) as ei:
        check_same_class_set([ea, eb])
    assert str(a) in ei.value.message and str(b) in ei.value.message
    with pytest.raises(ZslError, match="was built from class set 111111111111"):
        check_same_class_set([ea], expected="3" * 64)


# ---------------------------------------------------------------------------------------------- resume / atomic
def test_exception_keeps_parts_and_resume_completes_identically(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 4)).astype(np.float32)
    ids = [f"c{i}" for i in range(10)]

    ref = tmp_path / "ref.h5"
    with EmbeddingWriter(ref, meta=_meta(), dim=4, classes=["a", "b"], flush_every=3) as w:
        for i, x in zip(ids, X):
            w.add(i, x, labels=[int(i[1:]) % 2])

    out = tmp_path / "out.h5"
    with pytest.raises(RuntimeError):
        with EmbeddingWriter(out, meta=_meta(), dim=4, classes=["a", "b"], flush_every=3) as w:
            for n, (i, x) in enumerate(zip(ids, X)):
                if n == 7:
                    raise RuntimeError("boom")
                w.add(i, x, labels=[int(i[1:]) % 2])
    assert not out.exists()
    with EmbeddingWriter(out, meta=_meta(), dim=4, classes=["a", "b"], flush_every=3) as w:
        assert w.done_ids == set(ids[:7])
        for i, x in zip(ids, X):
            if i not in w.done_ids:
                w.add(i, x, labels=[int(i[1:]) % 2])
    _assert_same_content(ref, out)


def test_resume_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "out.h5"
    with pytest.raises(RuntimeError):
        with EmbeddingWriter(out, meta=_meta(), dim=2, flush_every=1) as w:
            w.add("a", [1, 2])
            raise RuntimeError("killed")
    with pytest.raises(ZslError, match="partial output from a run with other settings"):
        EmbeddingWriter(out, meta=_meta(extractor="other"), dim=2).open()
    w = EmbeddingWriter(out, meta=_meta(extractor="other"), dim=2, resume=False).open()
    assert w.done_ids == set()


def test_resume_with_tuples_and_numpy_values_in_extractor_meta(tmp_path):
    # was: (16000, 1) != [16000, 1] after settings.json, so resume was refused forever; np.float32 in
    # extractor_meta made json.dumps raise
    def meta():
        return _meta(extractor_meta={"sr": np.int64(16000), "crop": (0.5, np.float32(1.5)), "w": Path("m.pt")})

    out = tmp_path / "out.h5"
    with pytest.raises(RuntimeError):
        with EmbeddingWriter(out, meta=meta(), dim=2, flush_every=1) as w:
            w.add("a", [1, 2])
            raise RuntimeError("killed")
    with EmbeddingWriter(out, meta=meta(), dim=2) as w:
        assert w.done_ids == {"a"}
        w.add("b", [3, 4])
    e = read_embeddings(out)
    assert e.ids == ["a", "b"]
    assert e.meta.extractor_meta == {"sr": 16000, "crop": [0.5, 1.5], "w": "m.pt"}


def test_failure_during_assembly_leaves_old_file_intact(tmp_path, monkeypatch):
    out = _good(tmp_path, "e.h5")
    before = out.read_bytes()
    import zsltool.store.writer as wmod

    real = wmod.StoreMeta.to_attrs

    def broken(self):
        raise OSError("disk full")

    monkeypatch.setattr(wmod.StoreMeta, "to_attrs", broken)
    with pytest.raises(OSError):
        write_embeddings(out, meta=_meta(), ids=["z"], X=[[5.0, 5.0]], overwrite=True)
    monkeypatch.setattr(wmod.StoreMeta, "to_attrs", real)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


WRITER_SCRIPT = r"""
import sys, time, numpy as np
from pathlib import Path
sys.path.insert(0, {repo!r})
from zsltool.store import EmbeddingWriter, StoreMeta
out, ready, n, slow = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
meta = StoreMeta(kind="instance", modality="audio", extractor="fake", extractor_meta={{"x": 1}}, command="t")
with EmbeddingWriter(out, meta=meta, dim=8, classes=["a", "b", "c"], overwrite=True, flush_every=5) as w:
    for k in range(n):
        cid = f"clip{{k:04d}}"
        if cid in w.done_ids:
            continue
        x = np.random.default_rng(k).normal(size=8)
        w.add(cid, x, labels=[k % 3])
        if k == 40:
            ready.write_text("go")
        time.sleep(slow)
"""


def _run_writer(tmp_path, out, n, slow, ready):
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT.format(repo=str(REPO)))
    return subprocess.Popen([sys.executable, str(script), str(out), str(ready), str(n), str(slow)])


def test_sigkill_mid_write_leaves_old_file_and_resume_is_identical(tmp_path):
    out = tmp_path / "out.h5"
    old = _good(tmp_path, "out.h5")
    old_bytes = old.read_bytes()
    ready = tmp_path / "ready"
    proc = _run_writer(tmp_path, out, 200, 0.01, ready)
    deadline = time.time() + 60
    while not ready.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert ready.exists(), "the writer never got going"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert out.read_bytes() == old_bytes  # the old file is intact
    parts = sorted(partial_dir_for(out).glob("part-*.npz"))
    assert parts, "committed parts must survive the kill"

    # Resume, and compare with an uninterrupted run.
    ready2 = tmp_path / "ready2"
    assert _run_writer(tmp_path, out, 200, 0.0, ready2).wait() == 0
    ref = tmp_path / "ref.h5"
    assert _run_writer(tmp_path, ref, 200, 0.0, tmp_path / "ready3").wait() == 0
    _assert_same_content(ref, out)
    assert not partial_dir_for(out).exists()


def test_sigkill_without_old_file_leaves_nothing_under_the_name(tmp_path):
    out = tmp_path / "new.h5"
    ready = tmp_path / "ready"
    proc = _run_writer(tmp_path, out, 500, 0.01, ready)
    deadline = time.time() + 60
    while not ready.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()


def _assert_same_content(a, b):
    ea, eb = read_embeddings(a), read_embeddings(b)
    assert ea.ids == eb.ids
    np.testing.assert_array_equal(ea.X, eb.X)
    np.testing.assert_array_equal(ea.labels, eb.labels)
    np.testing.assert_array_equal(ea.valid, eb.valid)
    assert ea.reasons == eb.reasons and ea.classes == eb.classes
    assert ea.meta.fingerprint() == eb.meta.fingerprint()
    assert json.dumps(ea.meta.inputs) == json.dumps(eb.meta.inputs)
