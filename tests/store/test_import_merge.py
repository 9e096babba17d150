"""`zsl import-embeddings` and `zsl merge` round trips (library and CLI)."""

from __future__ import annotations

import numpy as np
import pytest

from zsltool.classes.classset import ClassSet
from zsltool.errors import ZslError
from zsltool.store import StoreMeta, read_embeddings, write_embeddings
from zsltool.extract.importer import import_embeddings
from zsltool.store.merge import merge_embeddings


@pytest.fixture
def classes(tmp_path):
    cs = ClassSet(classes=[{"id": "/m/dog", "name": "Dog", "merged_ids": ["/m/puppy"]},
                           {"id": "/m/cat", "name": "Cat", "merged_ids": []}], name="pets")
    return cs.save(tmp_path / "classes.json"), cs


def test_import_npy_with_labels_resolved_through_the_class_set(tmp_path, classes):
    path, cs = classes
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.save(tmp_path / "m.npy", X)
    (tmp_path / "ids.csv").write_text("id,labels\na,Dog\nb,/m/puppy;cat\nc,/m/cat\nd,\n")
    res = import_embeddings(tmp_path / "m.npy", tmp_path / "e.h5", ids_csv=tmp_path / "ids.csv", classes=path)
    assert res["rows"] == 4 and res["dim"] == 3 and res["classes"] == 2
    e = read_embeddings(tmp_path / "e.h5")
    assert e.ids == ["a", "b", "c", "d"] and e.classes == ["/m/dog", "/m/cat"]
    np.testing.assert_array_equal(e.X, X.astype(np.float32))
    np.testing.assert_array_equal(e.labels, [[1, 0], [1, 1], [0, 1], [0, 0]])
    assert e.meta.class_set_sha256 == cs.sha256
    assert [i["path"] for i in e.meta.inputs] == [str(tmp_path / n) for n in ("m.npy", "ids.csv", "classes.json")]


def test_import_csv_matrix_without_class_set_and_nan_rows(tmp_path):
    (tmp_path / "m.csv").write_text("f1,f2\n1,2\n3,nan\n")
    (tmp_path / "ids.csv").write_text("id,labels\nx,bird\ny,frog\n")
    res = import_embeddings(tmp_path / "m.csv", tmp_path / "e.h5", ids_csv=tmp_path / "ids.csv", modality="image")
    assert res["invalid"] == 1
    e = read_embeddings(tmp_path / "e.h5")
    assert e.classes == ["bird", "frog"] and e.meta.modality == "image"
    np.testing.assert_array_equal(e.valid, [True, False])


def test_import_errors(tmp_path, classes):
    path, _ = classes
    np.save(tmp_path / "m.npy", np.zeros((2, 3)))
    (tmp_path / "ids.csv").write_text("id,labels\na,Dog\nb,Horse\n")
    with pytest.raises(ZslError, match="row 'b': unknown class 'Horse'"):
        import_embeddings(tmp_path / "m.npy", tmp_path / "e.h5", ids_csv=tmp_path / "ids.csv", classes=path)
    (tmp_path / "ids3.csv").write_text("id\na\nb\nc\n")
    with pytest.raises(ZslError, match="the matrix has 2 rows but 3 ids"):
        import_embeddings(tmp_path / "m.npy", tmp_path / "e.h5", ids_csv=tmp_path / "ids3.csv")
    np.save(tmp_path / "v.npy", np.zeros(3))
    with pytest.raises(ZslError, match="a 2-D matrix"):
        import_embeddings(tmp_path / "v.npy", tmp_path / "e.h5", ids_csv=tmp_path / "ids3.csv")
    with pytest.raises(ZslError, match="no 'key' column"):
        import_embeddings(tmp_path / "m.npy", tmp_path / "e.h5", ids_csv=tmp_path / "ids.csv", id_column="key")


def test_import_class_level_uses_class_set_order(tmp_path, classes):
    path, cs = classes
    np.savez(tmp_path / "m.npz", embeddings=np.eye(2))
    import_embeddings(tmp_path / "m.npz", tmp_path / "c.h5", classes=path, kind="class", modality="text")
    e = read_embeddings(tmp_path / "c.h5", kind="class")
    assert e.ids == cs.ids and e.classes == cs.ids
    np.testing.assert_array_equal(e.labels, np.eye(2))


def _shard(path, ids, seed, frames=True, frame_dim=3, **meta):
    rng = np.random.default_rng(seed)
    kw = dict(kind="instance", modality="audio", extractor="vggish", extractor_meta={"e": "raw"},
              class_set_sha256="h")
    kw.update(meta)
    m = StoreMeta(**kw)
    fr = [rng.normal(size=(2, frame_dim)).astype(np.float32) for _ in ids] if frames else None
    write_embeddings(path, meta=m, ids=ids, X=rng.normal(size=(len(ids), 4)), classes=["a", "b"],
                     labels=[[i % 2] for i in range(len(ids))], frames=fr)
    return read_embeddings(path)


def test_merge_round_trip_keeps_rows_and_frames(tmp_path):
    a = _shard(tmp_path / "a.h5", ["x1", "x2"], 1)
    b = _shard(tmp_path / "b.h5", ["x3"], 2)
    res = merge_embeddings([tmp_path / "a.h5", tmp_path / "b.h5"], tmp_path / "m.h5")
    assert res["rows"] == 3
    m = read_embeddings(tmp_path / "m.h5")
    assert m.ids == ["x1", "x2", "x3"]
    np.testing.assert_array_equal(m.X, np.concatenate([a.X, b.X]))
    np.testing.assert_array_equal(m.row_frames(2), b.row_frames(0))
    np.testing.assert_array_equal(m.labels, np.concatenate([a.labels, b.labels]))


def test_merge_refuses_overlap_and_other_settings(tmp_path):
    _shard(tmp_path / "a.h5", ["x1"], 1)
    _shard(tmp_path / "b.h5", ["x1"], 2)
    with pytest.raises(ZslError, match="id 'x1' is in both"):
        merge_embeddings([tmp_path / "a.h5", tmp_path / "b.h5"], tmp_path / "m.h5")
    _shard(tmp_path / "c.h5", ["x9"], 3, modality="video")
    with pytest.raises(ZslError, match="their modality differs"):
        merge_embeddings([tmp_path / "a.h5", tmp_path / "c.h5"], tmp_path / "m.h5")
    # was: the frames of width 6 were reshaped into twice as many frames of width 3
    _shard(tmp_path / "d.h5", ["x7"], 4, frame_dim=6)
    with pytest.raises(ZslError, match=r"their frame dimension differs \(3 vs 6\)"):
        merge_embeddings([tmp_path / "a.h5", tmp_path / "d.h5"], tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()


def test_cli_import_and_merge(tmp_path, cli):
    np.save(tmp_path / "m1.npy", np.ones((2, 3)))
    np.save(tmp_path / "m2.npy", np.zeros((1, 3)))
    (tmp_path / "i1.csv").write_text("id,labels\na,x\nb,x\n")
    (tmp_path / "i2.csv").write_text("id,labels\nc,x\n")
    r1 = cli("import-embeddings", tmp_path / "m1.npy", "--ids", tmp_path / "i1.csv", "-o", tmp_path / "1.h5", "--json")
    assert r1.exit_code == 0, r1.stderr
    assert r1.json()["rows"] == 2
    cli("import-embeddings", tmp_path / "m2.npy", "--ids", tmp_path / "i2.csv", "-o", tmp_path / "2.h5")
    r = cli("merge", tmp_path / "1.h5", tmp_path / "2.h5", "-o", tmp_path / "m.h5", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["rows"] == 3
    assert read_embeddings(tmp_path / "m.h5").ids == ["a", "b", "c"]
    again = cli("merge", tmp_path / "1.h5", tmp_path / "2.h5", "-o", tmp_path / "m.h5")
    assert again.exit_code == 1
    assert again.stderr.strip().splitlines() == [
        f"Error: output already exists: {tmp_path / 'm.h5'} (hint: pass --overwrite to replace it)"]


def test_class_import_warns_about_an_ignored_labels_column(tmp_path, cli):
    np.save(tmp_path / "w.npy", np.arange(6.0).reshape(2, 3))
    (tmp_path / "ids.csv").write_text("id,labels\ndog,animal\ncar,car\n")
    r = cli("import-embeddings", tmp_path / "w.npy", "--kind", "class", "--ids", tmp_path / "ids.csv",
            "-o", tmp_path / "c.h5", "--json")
    assert r.exit_code == 0, r.stderr
    warn = [x for x in r.stderr.splitlines() if "ignores" in x]
    assert len(warn) == 1 and "--kind class ignores the 'labels' column" in warn[0]
    assert "1 of 2 rows name other labels, e.g. 'dog': 'animal'" in warn[0]
    emb = read_embeddings(tmp_path / "c.h5")
    assert emb.classes == ["dog", "car"] and emb.labels.tolist() == [[True, False], [False, True]]
    # labels that repeat the id (or no labels column) are consistent: no warning
    (tmp_path / "same.csv").write_text("id,labels\ndog,dog\ncar,\n")
    r = cli("import-embeddings", tmp_path / "w.npy", "--kind", "class", "--ids", tmp_path / "same.csv",
            "-o", tmp_path / "d.h5")
    assert r.exit_code == 0 and "ignores" not in r.stderr
