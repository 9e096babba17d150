"""prototypes (mean / random) and combine (concatenation, alignment, --l2, --intersect, class-set checks)."""

import json

import numpy as np
import pytest

from zsltool.store.compose import combine, prototypes
from zsltool.errors import ZslError
from zsltool.store import EmbeddingWriter, StoreMeta, read_embeddings, write_embeddings

CLASSES = ["a", "b", "c"]


@pytest.fixture()
def inst(tmp_path):
    p = tmp_path / "inst.h5"
    meta = StoreMeta(kind="instance", modality="audio", extractor="fake", class_set_sha256="h1")
    with EmbeddingWriter(p, meta=meta, dim=2, classes=CLASSES) as w:
        w.add("x1", [1.0, 2.0], labels=[0])
        w.add("x2", [3.0, 6.0], labels=[0])
        w.add("x3", [9.0, 9.0], labels=[0], valid=False, reason="silent")
        w.add("x4", [5.0, 1.0], labels=[1])
        w.add("x5", [7.0, 7.0], labels=[0, 1])  # multi-label: not used
        w.add("x6", [4.0, 0.0], labels=[1])
    return p


def _class_file(path, ids, X, h="h1", modality="image", valid=None):
    meta = StoreMeta(kind="class", modality=modality, extractor="fake", class_set_sha256=h)
    write_embeddings(path, meta=meta, ids=ids, X=np.asarray(X, np.float32), classes=ids, valid=valid,
                     reasons=None if valid is None else ["" if v else "no word" for v in valid])
    return path


def test_prototypes_mean(inst, tmp_path):
    res = prototypes(inst, tmp_path / "p.h5")
    e = read_embeddings(tmp_path / "p.h5", kind="class")
    assert e.ids == CLASSES and e.classes == CLASSES and e.label_index().tolist() == [0, 1, 2]
    np.testing.assert_array_equal(e.X, [[2.0, 4.0], [4.5, 0.5], [0.0, 0.0]])
    assert e.counts.tolist() == [2, 2, 0]
    assert e.valid.tolist() == [True, True, False] and "no valid" in e.reasons[2]
    assert e.meta.modality == "audio" and e.meta.class_set_sha256 == "h1"
    assert res["empty_classes"] == ["c"] and res["skipped_multi_label_rows"] == 1


def test_prototypes_random_is_seeded(inst, tmp_path):
    picks = set()
    for seed in range(8):
        prototypes(inst, tmp_path / f"r{seed}.h5", sample="random", seed=seed)
        e = read_embeddings(tmp_path / f"r{seed}.h5")
        assert e.X[0].tolist() in ([1.0, 2.0], [3.0, 6.0]) and e.X[1].tolist() in ([5.0, 1.0], [4.0, 0.0])
        assert e.counts.tolist() == [1, 1, 0]
        picks.add(tuple(e.meta.extractor_meta["picked"].values()))
    assert len(picks) > 1  # different seeds draw different instances
    prototypes(inst, tmp_path / "again.h5", sample="random", seed=3)
    np.testing.assert_array_equal(read_embeddings(tmp_path / "again.h5").X, read_embeddings(tmp_path / "r3.h5").X)
    with pytest.raises(ZslError, match="class-level"):
        prototypes(tmp_path / "r3.h5", tmp_path / "bad.h5")


def test_combine_aligns_normalises_and_checks(tmp_path):
    a = _class_file(tmp_path / "a.h5", ["a", "b", "c"], [[3, 4], [1, 0], [0, 2]])
    t = _class_file(tmp_path / "t.h5", ["c", "a", "b"], [[1, 1, 1], [2, 0, 0], [0, 0, 5]], modality="text",
                    valid=[True, True, False])
    res = combine([a, t], tmp_path / "h.h5")
    e = read_embeddings(tmp_path / "h.h5", kind="class")
    assert e.ids == ["a", "b", "c"] and e.dim == 5 and res["dim"] == 5
    np.testing.assert_array_equal(e.X, [[3, 4, 2, 0, 0], [0, 0, 0, 0, 0], [0, 2, 1, 1, 1]])
    assert e.valid.tolist() == [True, False, True] and "part 2 (t.h5): no word" in e.reasons[1]
    assert e.meta.modality == "image+text" and e.meta.class_set_sha256 == "h1"
    assert [p["columns"] for p in e.meta.extractor_meta["parts"]] == [[0, 2], [2, 5]]
    combine([a, t], tmp_path / "l2.h5", l2=True)
    e = read_embeddings(tmp_path / "l2.h5")
    np.testing.assert_allclose(e.X[0], [0.6, 0.8, 1.0, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(e.X[2], [0, 1, *(np.ones(3) / np.sqrt(3))], rtol=1e-6)

    # hybrid is built one way: training's in-memory image || text is the combine file without --l2
    from zsltool.train.data import load_semantic

    sem = load_semantic("hybrid", image=a, text=t)
    h = read_embeddings(tmp_path / "h.h5")
    assert sem.ids == h.ids and sem.valid.tolist() == h.valid.tolist() and sem.X.dtype == np.float32
    np.testing.assert_array_equal(sem.X, h.X)

    other = _class_file(tmp_path / "o.h5", ["a", "b", "c"], np.eye(3), h="h2")
    with pytest.raises(ZslError, match="different class sets"):
        combine([a, other], tmp_path / "x.h5")
    fewer = _class_file(tmp_path / "f.h5", ["b", "a"], [[1], [2]])
    with pytest.raises(ZslError, match="list different classes"):
        combine([a, fewer], tmp_path / "x.h5")
    res = combine([a, fewer], tmp_path / "i.h5", intersect=True)
    e = read_embeddings(tmp_path / "i.h5")
    assert e.ids == ["a", "b"] and res["dropped_classes"] == ["c"]
    np.testing.assert_array_equal(e.X, [[3, 4, 2], [1, 0, 1]])
    with pytest.raises(ZslError, match="at least two"):
        combine([a], tmp_path / "x.h5")


def test_cli_prototypes_and_combine(inst, tmp_path, cli):
    r = cli("prototypes", inst, "-o", tmp_path / "p.h5", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["instances_used"] == 4
    t = _class_file(tmp_path / "t.h5", CLASSES, np.ones((3, 3)), modality="text")
    r = cli("combine", tmp_path / "p.h5", t, "-o", tmp_path / "h.h5", "--l2", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["dim"] == 5
    r = cli("combine", tmp_path / "p.h5", t, "-o", tmp_path / "h.h5")
    assert r.exit_code == 1 and "Error: output already exists" in r.stderr
    r = cli("prototypes", inst, "-o", tmp_path / "q.h5", "--sample", "median")
    assert r.exit_code == 2
