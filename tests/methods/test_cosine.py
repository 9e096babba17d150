"""The training-free ``cosine`` method (zsltool.methods.cosine): scores = logit scale × cosine, nothing fitted;
the scale read from CLAP files' provenance; files of two spaces refused; usable by train, evaluate, classify and
experiment (a row beside a trained method under ZSL and GZSL)."""

import json

import numpy as np
import pytest
import torch

from zsltool.classes.classset import ClassSet
from zsltool.classes.splits import Split, Trial
from zsltool.errors import ZslError
from zsltool.methods import METHODS
from zsltool.store import StoreMeta, read_embeddings, write_embeddings

SCALE = 14.285714149475098  # a CLAP model's exp(logit_scale_a), as the extractor records it
CLASSES = [f"c{k}" for k in range(8)]
PER_CLASS = 6


def _meta(kind, modality, extractor, h, sha="a" * 64, **extra):
    return StoreMeta(kind=kind, modality=modality, extractor=extractor, class_set_sha256=h,
                     extractor_meta={"weights": "tiny-clap", "weights_sha256": sha, **extra})


@pytest.fixture(scope="module")
def clap_files(tmp_path_factory):
    """CLAP-space files: class text embeddings t_k (unit, 8-d) and audio rows t_k + noise; a ZSL split (4 train,
    2 val, 2 test classes) and a GZSL split (6 seen, 2 unseen)."""
    d = tmp_path_factory.mktemp("clapspace")
    rng = np.random.default_rng(0)
    cs = ClassSet(classes=[{"id": c, "name": c} for c in CLASSES], name="clapspace")
    cs.save(d / "classes.json")
    h = cs.sha256
    T = rng.normal(size=(len(CLASSES), 8))
    T /= np.linalg.norm(T, axis=1, keepdims=True)
    labels = np.repeat(np.arange(len(CLASSES)), PER_CLASS)
    A = T[labels] + 0.6 * rng.normal(size=(len(labels), 8)) / np.sqrt(8)
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    ids = [f"clip{i:03d}" for i in range(len(labels))]
    write_embeddings(d / "audio.h5", meta=_meta("instance", "audio", "clap", h, logit_scale=SCALE), ids=ids, X=A,
                     classes=CLASSES, labels=[[int(k)] for k in labels])
    write_embeddings(d / "text.h5", meta=_meta("class", "text", "clap-text", h, logit_scale=SCALE,
                                               prompt="This is a sound of {}."), ids=CLASSES, X=T, classes=CLASSES)
    Split(trials=[Trial(train=CLASSES[:4], val=CLASSES[4:6], test=CLASSES[6:]),
                  Trial(train=CLASSES[2:6], val=CLASSES[6:], test=CLASSES[:2])], protocol="random",
          class_set_sha256=h).save(d / "zsl.json")
    seen, unseen = CLASSES[:6], CLASSES[6:]
    inst = {"train": [], "val": [], "test_seen": [], "val_unseen": []}
    for k in range(6):
        rows = [ids[i] for i in np.nonzero(labels == k)[0]]
        inst["train"] += rows[:3]
        inst["val"] += rows[3:4]
        inst["test_seen"] += rows[4:]
    for k in (6, 7):  # unseen validation rows: calibrated stacking's beta is chosen on them
        inst["val_unseen"] += [ids[i] for i in np.nonzero(labels == k)[0]][:2]
    Split(trials=[Trial(train=seen, val=seen, test=CLASSES, seen=seen, unseen=unseen, instances=inst)],
          protocol="gzsl", class_set_sha256=h).save(d / "gzsl.json")
    return {"dir": d, "A": A, "T": T, "labels": labels, "ids": ids, "h": h}


def test_scores_are_the_scaled_cosine_and_nothing_is_trained():
    m = METHODS["cosine"](audio_dim=3, semantic_dim=3, scale=2.5)
    a = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, -2.0]])
    c = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 5.0]])
    want = 2.5 * torch.tensor([[0.6, 0.8, 0.0], [0.0, 0.0, -1.0]])
    assert torch.allclose(m.scores(c, audio=a), want, atol=1e-6)
    assert m.training_free and m.closed_form and list(m.parameters()) == [] and m.state_dict() == {}
    e = m.embed(class_emb=c, audio=a)
    assert torch.allclose(e["audio"] @ e["class"].T * 2.5, want, atol=1e-6)


@pytest.mark.parametrize("kw, match", [({"semantic_dim": 4}, "one space"), ({"zscore": True}, "zscore"),
                                       ({"scale": 0.0}, "above 0")])
def test_method_refuses_what_leaves_the_space(kw, match):
    args = {"audio_dim": 3, "semantic_dim": 3, **kw}
    with pytest.raises(ZslError, match=match):
        METHODS["cosine"](**args)


def _train(cli, d, out, text=None, split="zsl.json", *extra):
    return cli("train", "--audio", d / "audio.h5", "--text", text or d / "text.h5", "--split", d / split,
               "--method", "cosine", "-o", out, "--json", *extra)


def test_train_writes_a_checkpoint_with_the_recorded_logit_scale(clap_files, cli, tmp_path):
    d = clap_files["dir"]
    r = _train(cli, d, tmp_path / "m.pt")
    assert r.exit_code == 0, r.stderr
    from zsltool.train.checkpoint import load_checkpoint

    ck = load_checkpoint(tmp_path / "m.pt")
    assert ck["method"] == "cosine" and ck["method_args"]["scale"] == pytest.approx(SCALE)
    assert ck["state_dict"] == {} and ck["optimizer"] is None
    assert ck["calibration"]["temperature"] == 1.0  # the encoder's scale, not a fitted one
    # evaluate: top-1 among the test classes equals the cosine argmax by hand
    r = cli("evaluate", tmp_path / "m.pt", "--json")
    assert r.exit_code == 0, r.stderr
    A, T, lab = clap_files["A"], clap_files["T"], clap_files["labels"]
    rows = lab >= 6
    want = float(((A[rows] @ T[6:].T).argmax(1) == lab[rows] - 6).mean())
    assert json.loads(r.stdout)["metrics"]["top1"] == pytest.approx(want)
    assert want > 0.5
    # a --arg scale overrides the recorded one
    r = _train(cli, d, tmp_path / "s.pt", None, "zsl.json", "--arg", "scale=3")
    assert r.exit_code == 0 and load_checkpoint(tmp_path / "s.pt")["method_args"]["scale"] == 3.0


def test_classify_with_a_cosine_checkpoint_gives_clap_probabilities(clap_files, cli, tmp_path):
    d = clap_files["dir"]
    assert _train(cli, d, tmp_path / "m.pt").exit_code == 0
    r = cli("classify", tmp_path / "m.pt", "--embeddings", d / "audio.h5", "--labels", "c6,c7,c0", "--top", "3",
            "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    A, T = clap_files["A"], clap_files["T"]
    z = SCALE * (A @ T[[6, 7, 0]].T)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    labels = ["c6", "c7", "c0"]
    for i, clip in enumerate(doc["clips"]):
        got = {t["label"]: t["probability"] for t in clip["top"]}
        assert [got[lab] for lab in labels] == pytest.approx(list(p[i]), abs=1e-6)
    assert "not fitted" in doc["temperature_source"]


def test_no_logit_scale_recorded_means_scale_one(clap_files, tmp_path):
    from zsltool.train.data import load_inputs

    d = clap_files["dir"]
    for name, kind, mod, ex in (("a.h5", "instance", "audio", "clap"), ("t.h5", "class", "text", "clap-text")):
        e = read_embeddings(d / ("audio.h5" if kind == "instance" else "text.h5"))
        write_embeddings(tmp_path / name, meta=_meta(kind, mod, ex, clap_files["h"]), ids=e.ids, X=e.X,
                         classes=e.classes,
                         labels=[[int(k)] for k in clap_files["labels"]] if kind == "instance" else None)
    inputs = load_inputs(audio=tmp_path / "a.h5", text=tmp_path / "t.h5")
    assert METHODS["cosine"].args_from_inputs(inputs) == {"scale": 1.0}
    inputs = load_inputs(audio=d / "audio.h5", text=d / "text.h5")
    assert METHODS["cosine"].args_from_inputs(inputs)["scale"] == pytest.approx(SCALE)


@pytest.mark.parametrize("case, match", [("dims", "12-d"), ("family", "'word2vec'"), ("weights", "different clap weights")])
def test_files_of_two_spaces_are_refused(clap_files, cli, tmp_path, case, match):
    d = clap_files["dir"]
    rng = np.random.default_rng(1)
    dim = 12 if case == "dims" else 8
    ex = "word2vec" if case == "family" else "clap-text"
    sha = "b" * 64 if case == "weights" else "a" * 64
    write_embeddings(tmp_path / "other.h5", meta=_meta("class", "text", ex, clap_files["h"], sha=sha), ids=CLASSES,
                     X=rng.normal(size=(len(CLASSES), dim)), classes=CLASSES)
    r = _train(cli, d, tmp_path / "m.pt", tmp_path / "other.h5")
    assert r.exit_code == 1 and "Traceback" not in r.stderr
    assert "Error:" in r.stderr and match in r.stderr and "cosine" in r.stderr
    assert not (tmp_path / "m.pt").exists()


def test_experiment_gives_cosine_and_projection_rows_under_zsl_and_gzsl(clap_files, cli, tmp_path):
    """The done-when of issue 23: --method cosine --method projection on CLAP-space files, a ZSL and a GZSL split
    (clap-text as a named --text backend): both methods are rows of every table."""
    d = clap_files["dir"]
    out = tmp_path / "exp"
    r = cli("experiment", "--audio", d / "audio.h5", "--text", f"clap={d / 'text.h5'}", "--split", d / "zsl.json",
            "--split", d / "gzsl.json", "--method", "cosine", "--method", "projection", "--epochs", "2",
            "--threads", "1", "-o", out, "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    kinds = {}
    for tab in doc["tables"]:
        kinds.setdefault(tab["kind"], set()).update((row["method"], row["class_embeddings"]) for row in tab["rows"])
    want = {("cosine", "text:clap"), ("projection", "text:clap")}
    assert kinds["zsl"] == want and kinds["gzsl"] == want
    zsl = next(t for t in doc["trials"] if t["method"] == "cosine" and t["task"] == "zsl" and t["trial"] == 0)
    A, T, lab = clap_files["A"], clap_files["T"], clap_files["labels"]
    rows = lab >= 6
    assert zsl["metrics"]["both"]["top1"] == pytest.approx(float(((A[rows] @ T[6:].T).argmax(1) == lab[rows] - 6)
                                                                  .mean()))
    gz = next(t for t in doc["trials"] if t["method"] == "cosine" and t["task"] == "gzsl")
    assert {"S", "U", "HM"} <= set(gz["metrics"]["both"]) and gz["retrieval"]
    r = cli("compare", out / "results.json", "--by", "method", "--metric", "top1", "--json")
    assert r.exit_code == 0, r.stderr
    cmp = json.loads(r.stdout)  # zsl compare ranks the training-free row with the trained one (3 blocks)
    assert {m["name"] for m in cmp["methods"]} == {"cosine", "projection"} and cmp["n_blocks"] == 3


def _gzsl_by_hand(clap_files, beta):
    """S, U (mean per-class accuracy over all 8 classes, beta subtracted from the 6 seen classes' scores)."""
    A, T, lab = clap_files["A"], clap_files["T"], clap_files["labels"]
    pos = np.arange(len(lab)) % PER_CLASS
    test = ((lab < 6) & (pos >= 4)) | ((lab >= 6) & (pos >= 2))
    z = SCALE * A[test] @ T.T - beta * (np.arange(8) < 6)
    pred, y = z.argmax(1), lab[test]
    acc = [float((pred[y == k] == k).mean()) for k in range(8)]
    return float(np.mean(acc[:6])), float(np.mean(acc[6:]))


def test_gzsl_evaluate_with_calibrated_stacking_and_retrieve(clap_files, cli, tmp_path):
    d = clap_files["dir"]
    r = _train(cli, d, tmp_path / "g.pt", None, "gzsl.json")
    assert r.exit_code == 0, r.stderr
    for args in (["--calibrate"], ["--beta", "0.5"], ["--beta", "50"]):
        r = cli("evaluate", tmp_path / "g.pt", *args, "--json")
        assert r.exit_code == 0, r.stderr
        m = json.loads(r.stdout)["metrics"]
        assert (m["S"], m["U"]) == pytest.approx(_gzsl_by_hand(clap_files, m["beta"]))
    assert (m["S"], m["U"]) == (0.0, 1.0)  # a beta far above the scale's range: every clip is called unseen
    r = cli("retrieve", tmp_path / "g.pt", "--json")
    assert r.exit_code == 0, r.stderr
    assert 0 < json.loads(r.stdout)["metrics"]["HM"] <= 1
