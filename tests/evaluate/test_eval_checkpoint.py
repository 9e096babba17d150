"""zsl evaluate / retrieve on checkpoints trained on tiny synthetic data."""

import json

import numpy as np
import pytest

from zsltool.classes.splits import Split, Trial, load_split
from zsltool.errors import ZslError
from zsltool.evaluate.evaluate import evaluate_checkpoint, retrieve_checkpoint
from zsltool.evaluate.results import load_results
from zsltool.scores import metrics as M
from zsltool.store import read_embeddings, write_embeddings
from zsltool.train.checkpoint import build_model, load_checkpoint, semantic_matrix
from zsltool.train.config import TrainConfig
from zsltool.train.data import compute_scores, load_inputs_from_config, select_instances
from zsltool.train.loop import train
from zsltool.train.synthetic import make_synthetic


# -- expected values computed here with plain numpy, independently of zsltool.evaluate ------------------------
def _hm(s, u):
    return 0.0 if s + u == 0 else 2 * s * u / (s + u)


def _per_class_acc(y, pred, classes):
    """{class index: accuracy} over the classes that have rows."""
    return {c: float(np.mean(pred[y == c] == c)) for c in classes if np.any(y == c)}


def _ap(scores, relevant):
    """Average precision of one ranking by hand: mean over relevant items of precision at their rank (scores
    without ties in these tests)."""
    order = np.argsort(-scores, kind="stable")
    rel = np.asarray(relevant, dtype=bool)[order]
    hits = np.cumsum(rel)
    return float(np.mean([hits[k] / (k + 1) for k in np.nonzero(rel)[0]]))


@pytest.fixture(scope="module")
def zsl(tmp_path_factory):
    d = tmp_path_factory.mktemp("evz")
    syn = make_synthetic(d, n_classes=10, per_class=10, n_train=5, n_val=2, video=True, invalid_audio=3,
                         invalid_video=3)
    r = train(TrainConfig(audio=str(syn.audio), video=str(syn.video), split=str(syn.split), text=str(syn.text),
                          out=str(d / "m.pt"), method="avgzslnet", method_args={"hidden": 16, "dec_hidden": 16},
                          epochs=3, seed=0))
    return syn, r.checkpoint


@pytest.fixture(scope="module")
def gzsl(tmp_path_factory):
    """GZSL split with two validation classes outside seen/unseen, so beta can be chosen on validation."""
    d = tmp_path_factory.mktemp("evg")
    syn = make_synthetic(d, n_classes=12, per_class=10, n_train=4, n_val=2, video=False, gzsl=True)
    t = load_split(syn.split).trial(0)
    seen, unseen = t.seen, t.unseen[2:]
    val_unseen = t.unseen[:2]
    inst = {"train": [], "val": [], "test_seen": []}
    for k, v in t.instances.items():
        inst[k] = v
    trial = Trial(train=seen, val=seen + val_unseen, test=seen + unseen, seen=seen, unseen=unseen,
                  instances=inst)
    Split(trials=[trial], protocol="gzsl", class_set_sha256=syn.class_set_sha256).save(d / "g.json")
    r = train(TrainConfig(audio=str(syn.audio), split=str(d / "g.json"), text=str(syn.text), out=str(d / "g.pt"),
                          method="projection", epochs=5, seed=0))
    return syn, r.checkpoint, d / "g.json", trial


def _perturbed(a, rows: set, path, seed: int):
    """A copy of embeddings ``a`` whose ``rows`` (ids) are replaced by random vectors."""
    rng = np.random.default_rng(seed)
    X = a.X.copy()
    for n, i in enumerate(a.ids):
        if i in rows:
            X[n] = rng.normal(size=X.shape[1]) * 3
    return write_embeddings(path, meta=a.meta, ids=a.ids, X=X, classes=a.classes, labels=a.labels, valid=a.valid,
                            reasons=a.reasons)


def test_zsl_matches_direct_computation(zsl):
    syn, ck = zsl
    doc = evaluate_checkpoint(ck)
    assert doc["format"] == "zsl.results" and doc["task"] == "zsl"
    man = doc["manifest"]
    assert man["config"]["method"] == "avgzslnet" and man["seed"] == 0 and len(man["inputs"]) == 4
    assert all(len(i["sha256"]) == 64 for i in man["inputs"])
    c = load_checkpoint(ck)
    model = build_model(c)
    test = c["classes"]["test"]
    inst = select_instances(load_inputs_from_config(c["config"]), test, modalities=("audio", "video"))
    s = compute_scores(model, semantic_matrix(c, test), inst)
    y, pred = np.asarray(inst.labels), s.argmax(1)
    acc = _per_class_acc(y, pred, range(len(test)))
    assert doc["metrics"]["top1"] == pytest.approx(float(np.mean(pred == y)))
    assert doc["metrics"]["mean_class_acc"] == pytest.approx(float(np.mean(list(acc.values()))))
    assert doc["metrics"]["n_test"] == len(inst) == 30   # rows with one invalid modality are kept
    cm = np.array(doc["confusion"]["matrix"])
    expect_cm = np.zeros((len(test), len(test)), dtype=int)
    np.add.at(expect_cm, (y, pred), 1)
    assert cm.tolist() == expect_cm.tolist()
    assert [r["class"] for r in doc["per_class"]] == test
    assert [(r["n"], r["correct"]) for r in doc["per_class"]] == [(int(np.sum(y == k)), int(np.sum((y == k) & (pred == k))))
                                                                 for k in range(len(test))]


def test_forced_modality_drops_rows_without_it(zsl):
    syn, ck = zsl
    a = read_embeddings(syn.audio)
    test = load_checkpoint(ck)["classes"]["test"]
    lab = np.array([a.classes[i] in test for i in a.label_index()])
    doc = evaluate_checkpoint(ck, modality="audio")
    assert doc["metrics"]["n_test"] == int((lab & a.valid).sum())
    v = read_embeddings(syn.video)
    doc = evaluate_checkpoint(ck, modality="video")
    assert doc["metrics"]["n_test"] == int((lab & v.valid).sum())


def test_gzsl_beta_chosen_on_validation_only(gzsl, tmp_path):
    syn, ck, split, trial = gzsl
    d0 = evaluate_checkpoint(ck)
    assert d0["task"] == "gzsl" and d0["metrics"]["beta"] == 0.0
    m = d0["metrics"]
    assert m["HM"] == pytest.approx(_hm(m["S"], m["U"]))
    d1 = evaluate_checkpoint(ck, calibrate=True)
    beta = d1["metrics"]["beta"]
    assert d1["metrics"]["beta_source"] == "validation" and d1["beta_curve"]
    best = max(r["HM"] for r in d1["beta_curve"])
    assert [r["HM"] for r in d1["beta_curve"] if r["beta"] == beta][0] == best
    # the same beta given by hand gives the same test numbers
    d2 = evaluate_checkpoint(ck, beta=beta)
    assert d2["metrics"]["HM"] == d1["metrics"]["HM"] and d2["metrics"]["S"] == d1["metrics"]["S"]
    # and S, U from the scores by hand: beta subtracted from seen-class scores, per-class accuracy averaged
    c = load_checkpoint(ck)
    classes = list(trial.seen) + list(trial.unseen)
    model, sem = build_model(c), semantic_matrix(c, classes)
    data = load_inputs_from_config(c["config"])
    si = select_instances(data, classes, ids=list(trial.instances["test_seen"]), modalities=("audio",))
    ui = select_instances(data, classes, modalities=("audio",))
    keep = np.asarray(ui.labels) >= len(trial.seen)
    sc = np.vstack([compute_scores(model, sem, si), compute_scores(model, sem, ui)[keep]])
    y = np.concatenate([np.asarray(si.labels), np.asarray(ui.labels)[keep]])
    pred = (sc - beta * (np.arange(len(classes)) < len(trial.seen))).argmax(1)
    acc = _per_class_acc(y, pred, range(len(classes)))
    S = np.mean([v for k, v in acc.items() if k < len(trial.seen)])
    U = np.mean([v for k, v in acc.items() if k >= len(trial.seen)])
    assert (d2["metrics"]["S"], d2["metrics"]["U"]) == (pytest.approx(S), pytest.approx(U))
    # perturb every test row (test_seen rows and unseen-class rows): beta does not move, test metrics do
    a = read_embeddings(syn.audio)
    test_rows = set(trial.instances["test_seen"]) | {i for i, k in zip(a.ids, a.label_index())
                                                     if a.classes[k] in trial.unseen}
    pert = _perturbed(a, test_rows, tmp_path / "pert.h5", seed=5)
    d3 = evaluate_checkpoint(ck, audio=pert, calibrate=True)
    assert d3["metrics"]["beta"] == beta
    assert d3["beta_curve"] == d1["beta_curve"]
    assert (d3["metrics"]["S"], d3["metrics"]["U"]) != (d1["metrics"]["S"], d1["metrics"]["U"])


def test_gzsl_calibration_without_unseen_validation_is_an_error(tmp_path):
    syn = make_synthetic(tmp_path, n_classes=6, per_class=6, n_train=2, n_val=2, video=False, gzsl=True)
    r = train(TrainConfig(audio=str(syn.audio), split=str(syn.split), text=str(syn.text), out=str(tmp_path / "m.pt"),
                          epochs=1))
    with pytest.raises(ZslError, match="both seen and unseen"):
        evaluate_checkpoint(r.checkpoint, calibrate=True)


def test_retrieval_gzsl_and_zsl(gzsl, zsl):
    syn, ck, split, trial = gzsl
    doc = retrieve_checkpoint(ck, top=3)
    m = doc["metrics"]
    assert m["HM"] == pytest.approx(_hm(m["S"], m["U"]))
    assert all(len(r["ranked"]) == 3 for r in doc["ranked"])
    seen_ap = [r["ap"] for r in doc["per_class"] if r["seen"]]
    assert m["S"] == pytest.approx(np.mean(seen_ap))
    _, ck2 = zsl
    doc2 = retrieve_checkpoint(ck2, top=None)
    c = load_checkpoint(ck2)
    test = c["classes"]["test"]
    inst = select_instances(load_inputs_from_config(c["config"]), test, modalities=("audio", "video"))
    s = compute_scores(build_model(c), semantic_matrix(c, test), inst)
    y = np.asarray(inst.labels)
    assert doc2["metrics"]["mAP"] == pytest.approx(np.mean([_ap(s[:, k], y == k) for k in range(len(test))]))
    assert len(doc2["ranked"][0]["ranked"]) == len(inst)


def test_cli_evaluate_writes_results_and_csv(zsl, tmp_path, cli):
    syn, ck = zsl
    out = tmp_path / "r.json"
    res = cli("evaluate", ck, "--out", out, "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["metrics"]["top1"] == load_results(out)["metrics"]["top1"]
    pc = (tmp_path / "r.per_class.csv").read_text().splitlines()
    assert pc[0].startswith("class,n,correct,accuracy") and len(pc) == 1 + len(doc["per_class"])
    cm = (tmp_path / "r.confusion.csv").read_text().splitlines()
    assert len(cm) == 1 + len(doc["per_class"])
    res = cli("evaluate", ck, "--out", out)
    assert res.exit_code == 1 and "already exists" in res.stderr
    res = cli("evaluate", ck, "--out", out, "--overwrite")
    assert res.exit_code == 0 and "top1" in res.stdout
    res = cli("inspect", out, "--json")
    assert res.exit_code == 0, res.stderr
    assert "results" in res.stdout


def test_cli_retrieve_json_is_one_document(gzsl, cli, tmp_path):
    # was: --json printed one JSON object per line and the metrics only on stderr
    syn, ck, split, trial = gzsl
    res = cli("retrieve", ck, "--top", "2", "--json", "--out", tmp_path / "r.json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["task"] == "retrieval" and doc["metrics"] == load_results(tmp_path / "r.json")["metrics"]
    assert {"mAP", "S", "U", "HM"} <= set(doc["metrics"])
    assert len(doc["per_class"]) == len(doc["ranked"]) == len(trial.seen) + len(trial.unseen)
    assert all(len(x["ranked"]) == 2 for x in doc["ranked"])
    # --jsonl keeps the per-class lines
    res = cli("retrieve", ck, "--top", "2", "--jsonl")
    assert res.exit_code == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(lines) == len(trial.seen) + len(trial.unseen)
    assert all(len(x["ids"]) == 2 for x in lines)
    assert [x["ap"] for x in lines] == [x["ap"] for x in doc["per_class"]]
    assert cli("retrieve", ck, "--json", "--jsonl").exit_code == 2


def test_cli_errors(zsl, tmp_path, cli):
    syn, ck = zsl
    res = cli("evaluate", tmp_path / "nope.pt")
    assert res.exit_code == 1 and res.stderr.startswith("Error:") and "not found" in res.stderr
    res = cli("evaluate", ck, "--modality", "smell")
    assert res.exit_code == 2
    res = cli("evaluate", ck, "--beta", "1", "--calibrate")
    assert res.exit_code == 2
    res = cli("evaluate", ck, "--trial", "3")
    assert res.exit_code == 1 and "trial 3 does not exist" in res.stderr


def test_non_finite_beta_is_refused(zsl, gzsl, cli):
    # was: --beta nan predicted class 0 for every row (argmax of NaN); --beta inf every row unseen, silently
    syn, ck, split, trial = gzsl
    for bad in ("nan", "inf", "-inf"):
        res = cli("evaluate", ck, "--beta", bad)
        assert res.exit_code == 2 and "--beta" in res.stderr and "not a finite number" in res.stderr, res.stderr
        with pytest.raises(ZslError, match="beta must be a finite number"):
            evaluate_checkpoint(ck, beta=float(bad))
    with pytest.raises(ZslError, match="beta must be a finite number"):
        M.gzsl_metrics(np.zeros((2, 2)), [0, 1], [True, False], beta=float("nan"))


def test_beta_or_calibrate_on_a_zsl_trial_warns(zsl, cli):
    syn, ck = zsl
    plain = cli("evaluate", ck, "--json")
    assert plain.exit_code == 0 and "ignored" not in plain.stderr
    for opt in (["--beta", "0.5"], ["--calibrate"]):
        res = cli("evaluate", ck, *opt, "--json")
        assert res.exit_code == 0, res.stderr
        assert f"{opt[0]} applies to GZSL only and is ignored" in res.stderr
        assert res.json()["metrics"] == plain.json()["metrics"]


def test_gzsl_calibration_on_unseen_validation_instances(tmp_path):
    """A gzsl split made with --unseen-val-fraction keeps some unseen instances apart: beta is chosen on them
    (with the seen validation rows), and they are never test rows."""
    from zsltool.classes.protocols import make_split
    from zsltool.classes.splits import load_split

    syn = make_synthetic(tmp_path, n_classes=8, per_class=10, n_train=4, n_val=2, video=False, gzsl=True)
    base = load_split(syn.split).trial(0)
    make_split(syn.class_set, "gzsl", tmp_path / "g.json", seed=1, instances=syn.audio,
               seen=list(base.seen), unseen=list(base.unseen), unseen_val_fraction=0.3)
    t = load_split(tmp_path / "g.json").trial(0)
    held = t.instances["val_unseen"]
    assert len(held) == 3 * len(t.unseen)  # round(10 * 0.3) per unseen class
    a = read_embeddings(syn.audio)
    lab = {i: a.classes[k] for i, k in zip(a.ids, a.label_index())}
    assert {lab[i] for i in held} == set(t.unseen)
    r = train(TrainConfig(audio=str(syn.audio), split=str(tmp_path / "g.json"), text=str(syn.text),
                          out=str(tmp_path / "g.pt"), epochs=3))
    d = evaluate_checkpoint(r.checkpoint, calibrate=True)
    assert d["metrics"]["beta_source"] == "validation" and d["beta_curve"]
    assert d["metrics"]["n_test_unseen"] == 10 * len(t.unseen) - len(held)
    assert d["metrics"]["n_test_seen"] == len(t.instances["test_seen"])
    # perturb every test row (test_seen rows and the unseen rows not held out): beta and its curve, chosen on
    # validation rows only, do not move; the test numbers do
    test_rows = set(t.instances["test_seen"]) | {i for i in a.ids if lab[i] in t.unseen and i not in set(held)}
    pert = _perturbed(a, test_rows, tmp_path / "pert.h5", seed=7)
    dp = evaluate_checkpoint(r.checkpoint, audio=pert, calibrate=True)
    assert dp["metrics"]["beta"] == d["metrics"]["beta"] and dp["beta_curve"] == d["beta_curve"]
    assert (dp["metrics"]["S"], dp["metrics"]["U"]) != (d["metrics"]["S"], d["metrics"]["U"])
    # retrieval leaves the held-out rows out too
    doc = retrieve_checkpoint(r.checkpoint)
    assert doc["metrics"]["n_instances"] == len(t.instances["test_seen"]) + 10 * len(t.unseen) - len(held)


def test_cli_retrieve_table_shows_the_ranked_lists(gzsl, cli):
    """Was: the ranked ids of --top K were only in the JSON."""
    syn, ck, split, trial = gzsl
    doc = json.loads(cli("retrieve", ck, "--top", "3", "--json").stdout)
    res = cli("retrieve", ck, "--top", "3", env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.stderr
    assert "top 3 (best first)" in res.stdout and "3 best-ranked test instances" in res.stdout
    lines = res.stdout.splitlines()
    for r in doc["ranked"]:
        ids = " ".join(x["id"] for x in r["ranked"])
        assert len(r["ranked"]) == 3
        assert any(r["class"] in ln and ids in ln for ln in lines), (r["class"], ids)


def test_evaluate_finds_the_training_files_of_a_moved_project_folder(tmp_path, cli, monkeypatch):
    """A project trained with relative paths, moved into another folder and evaluated from elsewhere: the
    recorded training files (audio, split) are found next to the checkpoint (was: "file not found")."""
    import shutil

    monkeypatch.chdir(tmp_path)
    make_synthetic(tmp_path / "proj" / "data", n_classes=9, per_class=6, n_train=3, n_val=3, video=False)
    (tmp_path / "proj" / "models").mkdir()
    res = cli("train", "--audio", "proj/data/audio.h5", "--split", "proj/data/split.json", "--text",
              "proj/data/text.h5", "--epochs", "1", "-o", "proj/models/m.pt", "--json")
    assert res.exit_code == 0, res.stderr
    before = cli("evaluate", "proj/models/m.pt", "--json").json()
    shutil.move(tmp_path / "proj", tmp_path / "elsewhere" / "proj")
    monkeypatch.chdir(tmp_path / "elsewhere" / "proj" / "models")
    res = cli("evaluate", "m.pt", "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["metrics"] == before["metrics"]
    assert res.json()["manifest"]["config"]["audio"] == str(tmp_path / "elsewhere" / "proj" / "data" / "audio.h5")
