import json

import pytest

from zsltool.classes.build import build_audioset_openimages, build_from_list
from zsltool.classes.classset import ClassSet
from zsltool.classes.manifest import write_clip_manifest
from zsltool.classes.protocols import make_split
from zsltool.classes.split_classes import category_membership, split_across, split_folds, split_random, split_within
from zsltool.classes.split_gzsl import split_gzsl
from zsltool.classes.splits import load_split
from zsltool.errors import ZslError
from zsltool.files.formats import INSPECTORS


@pytest.fixture(scope="module")
def real(shared_data):
    d = shared_data
    return build_audioset_openimages(d / "audioset_ontology.json", d / "class-descriptions-boxable.csv",
                                     d / "audioset_class_labels_indices.csv")


def _letters(n):
    return ClassSet(classes=[{"id": f"c{i:02d}", "name": f"class {i}", "category": ["A", "B", "C"][i % 3]}
                             for i in range(n)])


def test_random_is_deterministic_disjoint_complete(real):
    s = split_random(real, trials=5, seed=0)
    assert s.params["sizes"] == [23, 23, 23] and len(s.trials) == 5
    for t in s.trials:
        assert len(t.train) == len(t.val) == len(t.test) == 23
        assert set(t.train) | set(t.val) | set(t.test) == set(real.ids)  # disjoint sizes add up: complete
    assert len({tuple(t.test) for t in s.trials}) == 5
    again = split_random(real, trials=3, seed=0)
    assert [t.to_dict() for t in again.trials] == [t.to_dict() for t in s.trials[:3]]
    assert split_random(real, seed=1).trials[0].test != s.trials[0].test
    with pytest.raises(ZslError, match="only 69"):
        split_random(real, sizes=[30, 30, 30])


def test_within_and_across_reproduce_paper_sizes(real):
    for cat, size in (("Musical instrument", 8), ("animal", 6), ("Vehicle", 4)):
        for membership in ("ontology", "paper"):
            s = split_within(real, cat, seed=3, membership=membership)
            pool = set(s.params["classes"])
            for t in s.trials:
                assert (len(t.train), len(t.val), len(t.test)) == (size, size, 2)
                assert set(t.train) | set(t.val) | set(t.test) <= pool
                assert len(set(t.train) | set(t.val) | set(t.test)) == 2 * size + 2
    insect = "/m/03vt0"
    assert insect in category_membership(real, "ontology")["Animal"]
    assert insect not in category_membership(real, "paper")["Animal"]
    assert len(category_membership(real, "paper")["Animal"]) == 14
    s = split_across(real, ["Animal", "Vehicle"], seed=0)
    assert s.params["sizes_per_category"] == [4, 4, 1] and s.params["limited_by"] == "Vehicle"
    cat = {c["id"]: c["category"] for c in real.classes}
    for t in s.trials:
        for part, n in ((t.train, 4), (t.val, 4), (t.test, 1)):
            assert sorted(cat[c] for c in part) == ["Animal"] * n + ["Vehicle"] * n
    with pytest.raises(ZslError, match="unknown category 'Plant'"):
        split_within(real, "Plant")
    with pytest.raises(ZslError, match="only 10"):
        split_within(real, "Vehicle", sizes=[5, 5, 2])


def test_membership_file_and_folds(tmp_path):
    cs = _letters(10)
    f = tmp_path / "m.csv"
    f.write_text("class,category\nclass 1,X\nc02,X\nclass 3,X\nc04,X\n")
    s = split_within(cs, "x", membership=f, trials=2)
    assert s.params["sizes"] == [1, 1, 2] and sorted(s.params["classes"]) == ["c01", "c02", "c03", "c04"]
    j = tmp_path / "m.json"
    j.write_text(json.dumps({"X": ["c01", "c02", "c03"], "Y": ["c04", "c05", "c06", "c07"]}))
    s = split_across(cs, ["X", "Y"], membership=j)
    assert s.params["sizes_per_category"] == [1, 1, 1]
    folds = split_folds(cs, folds=3, seed=0)
    assert [len(t.test) for t in folds.trials] == [4, 3, 3]
    assert sorted(c for t in folds.trials for c in t.test) == cs.ids
    for k, t in enumerate(folds.trials):
        assert t.val == folds.params["fold_classes"][(k + 1) % 3]
        assert sorted(t.train + t.val + t.test) == cs.ids
    with pytest.raises(ZslError, match="--folds"):
        split_folds(cs, folds=11)


def test_gzsl_from_manifest_and_embeddings(tmp_path):
    z = tmp_path / "all.txt"
    z.write_text("'dog',\n'cat',\n'pig',\n")
    u = tmp_path / "unseen.txt"
    u.write_text("'pig',\n")
    cs = build_from_list(z, unseen=u)
    rows = [{"id": f"d{i}", "path": "x", "labels": ["dog"]} for i in range(10)]
    rows += [{"id": f"c{i}", "path": "x", "labels": ["cat"]} for i in range(5)]
    rows += [{"id": "p0", "path": "x", "labels": ["pig"]}, {"id": "dp", "path": "x", "labels": ["dog", "pig"]},
             {"id": "n", "path": "x", "labels": []}]
    man = tmp_path / "clips.csv"
    write_clip_manifest(man, rows)
    s = split_gzsl(cs, man, seen=["dog", "cat"], trials=2, seed=0)
    t = s.trials[0]
    assert t.seen == ["dog", "cat"] and t.unseen == ["pig"] and t.train == t.val == ["dog", "cat"]
    assert t.test == ["dog", "cat", "pig"]
    inst = t.instances
    assert (len(inst["train"]), len(inst["val"]), len(inst["test_seen"])) == (6 + 3, 2 + 1, 2 + 1)
    assert set(inst["train"]) | set(inst["val"]) | set(inst["test_seen"]) == {r["id"] for r in rows[:15]}
    assert s.params["n_unseen"] == 2 and s.params["n_test_unseen"] == [2, 2] and s.params["n_ignored"] == 1
    assert split_gzsl(cs, man, seed=0).trials[0].to_dict() == t.to_dict()  # defaults from zsl_split
    assert s.trials[1].instances != inst
    with pytest.raises(ZslError, match="both seen and unseen"):
        split_gzsl(cs, man, seen=["dog", "pig"], unseen=["pig"])

    import numpy as np

    from zsltool.store import StoreMeta, write_embeddings

    h5 = tmp_path / "emb.h5"
    ids = [r["id"] for r in rows[:15]] + ["p0"]
    labels = np.zeros((16, 3), np.uint8)
    for i, iid in enumerate(ids):
        labels[i, {"d": 0, "c": 1, "p": 2}[iid[0]]] = 1
    write_embeddings(h5, ids=ids, X=np.zeros((16, 2), np.float32), classes=cs.ids, labels=labels,
                     meta=StoreMeta(kind="instance", modality="audio", extractor="test", class_set_sha256=cs.sha256))
    s2 = split_gzsl(cs, h5, seed=0)
    assert s2.trials[0].instances == inst


def test_gzsl_test_unseen_count_leaves_out_val_unseen(tmp_path):
    # was: params.n_test_unseen counted every unseen instance, val_unseen included
    z = tmp_path / "all.txt"
    z.write_text("dog\ncat\npig\n")
    cs = build_from_list(z)
    rows = [{"id": f"{c}{i}", "path": "x", "labels": [c]} for c in ("dog", "cat", "pig") for i in range(10)]
    rows.append({"id": "dp", "path": "x", "labels": ["dog", "pig"]})
    write_clip_manifest(tmp_path / "clips.csv", rows)
    r = make_split(cs.save(tmp_path / "cs.json"), "gzsl", tmp_path / "s.json", instances=tmp_path / "clips.csv",
                   unseen=["pig"], unseen_val_fraction=0.3, trials=2)
    s = load_split(tmp_path / "s.json")
    assert [len(t.instances["val_unseen"]) for t in s.trials] == [3, 3]
    assert s.params["n_unseen"] == 11 and s.params["n_test_unseen"] == [8, 8]
    assert [t["inst_test_unseen"] for t in r["trials"]] == [8, 8]


def test_read_instances_from_an_embedding_file(tmp_path):
    import numpy as np

    from zsltool.classes.split_gzsl import read_instances
    from zsltool.store import StoreMeta, write_embeddings

    cs = _letters(4)
    labels = np.array([[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]], np.uint8)
    write_embeddings(tmp_path / "e.h5", ids=["a", "b", "c", "d"], X=np.zeros((4, 2)), classes=cs.ids, labels=labels,
                     meta=StoreMeta(kind="instance", extractor="t", class_set_sha256=cs.sha256))
    assert read_instances(cs, tmp_path / "e.h5") == [("a", ["c01", "c03"]), ("b", []), ("c", ["c00"]),
                                                     ("d", ["c00", "c01", "c02", "c03"])]


def test_make_split_writes_file_and_inspector(tmp_path, real):
    cs_path = real.save(tmp_path / "cs.json")
    r = make_split(cs_path, "within", tmp_path / "s.json", seed=0, category="Vehicle", trials=2)
    assert r["trials"][0]["train"] == 4 and r["class_set_sha256"] == real.sha256
    s = load_split(tmp_path / "s.json")
    assert s.protocol == "within" and s.provenance["inputs"][0]["path"] == str(cs_path)
    summary, problems = INSPECTORS["zsl.split"](json.loads((tmp_path / "s.json").read_text()), tmp_path / "s.json")
    assert problems == [] and summary["sizes"][1] == {"train": 4, "val": 4, "test": 2}
    with pytest.raises(ZslError, match="does not apply"):
        make_split(cs_path, "random", tmp_path / "t.json", folds=3)
    with pytest.raises(ZslError, match="exists"):
        make_split(cs_path, "within", tmp_path / "s.json", category="Vehicle")


def test_gzsl_unseen_val_fraction_must_be_below_one(tmp_path):
    from zsltool.classes.protocols import make_split
    from zsltool.errors import ZslError
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path, n_classes=4, per_class=4, n_train=1, n_val=1, video=False, gzsl=True)
    with pytest.raises(ZslError, match=r"--unseen-val-fraction must be in \[0, 1\)"):
        make_split(syn.class_set, "gzsl", tmp_path / "g.json", instances=syn.audio, unseen=["c03"],
                   unseen_val_fraction=1.0)
    make_split(syn.class_set, "gzsl", tmp_path / "g.json", instances=syn.audio, unseen=["c03"])
    from zsltool.classes.splits import load_split

    assert "val_unseen" not in load_split(tmp_path / "g.json").trial(0).instances  # default: none kept apart


@pytest.mark.parametrize("names", ["openimages", "paper", "audioset"])
def test_paper_table1_preset_is_the_papers_trial(tmp_path, names, cli, shared_data):
    """`zsl split --protocol random --preset paper-table1`: one trial, exactly Table I, with any display names."""
    from zsltool.classes.presets import PAPER_TABLE_I, paper_name

    d = shared_data
    cs = build_audioset_openimages(d / "audioset_ontology.json", d / "class-descriptions-boxable.csv",
                                   d / "audioset_class_labels_indices.csv", names=names)
    cs_path = cs.save(tmp_path / "classes.json")
    r = cli("split", cs_path, "--protocol", "random", "--preset", "paper-table1",
            "-o", tmp_path / "table1.json", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["params"] == {"preset": "paper-table1", "sizes": [23, 23, 23], "trials": 1}
    s = load_split(tmp_path / "table1.json")
    assert s.protocol == "random" and len(s.trials) == 1 and s.class_set_sha256 == cs.sha256
    t = s.trials[0]
    oi = {c["id"]: c["openimages_name"] for c in cs.classes}
    for part, ids in (("train", t.train), ("val", t.val), ("test", t.test)):
        assert [paper_name(oi[c]) for c in ids] == PAPER_TABLE_I[part]
    assert t.test[0] == "/m/0k65p" and oi[t.test[0]] == "Human hand"  # 'hand'
    assert t.val[13] == "/m/0199g" and oi[t.val[13]] == "Bicycle"  # 'bike'
    assert set(t.train) | set(t.val) | set(t.test) == set(cs.ids)
    # the preset fixes its trial: --trials/--sizes with it, or --preset with another protocol, are errors
    r = cli("split", cs_path, "--protocol", "random", "--preset", "paper-table1",
            "--trials", "3", "-o", tmp_path / "t3.json")
    assert r.exit_code == 1 and "--trials does not apply" in r.stderr
    r = cli("split", cs_path, "--protocol", "within", "--category", "Animal",
            "--preset", "paper-table1", "-o", tmp_path / "t4.json")
    assert r.exit_code == 1 and "--preset does not apply to --protocol within" in r.stderr


def test_paper_table1_preset_needs_the_papers_classes():
    with pytest.raises(ZslError, match="no class for the paper's 'violin'"):
        split_random(_letters(69), preset="paper-table1")
    with pytest.raises(ZslError, match="unknown split preset 'table9'"):
        split_random(_letters(69), preset="table9")
