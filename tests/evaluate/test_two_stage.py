"""The two-stage GZSL protocol (``zsl experiment --two-stage``): stage 2 uses exactly stage 1's setting, epoch
and beta; test rows never reach a choice; stage 2 trains on training + validation classes."""

import json

import numpy as np
import pytest
import torch

from zsltool.classes.splits import Split, Trial, load_split
from zsltool.errors import ZslError
from zsltool.evaluate.experiment import ExperimentSpec, run_experiment
from zsltool.evaluate.two_stage import check_stages, stage_pairs
from zsltool.store import read_embeddings, write_embeddings
from zsltool.train.checkpoint import load_checkpoint
from zsltool.train.config import TrainConfig
from zsltool.train.loop import train
from zsltool.train.synthetic import make_synthetic, make_two_stage_split

EPOCHS = 4
GRID = {"lr": [1e-3, 3e-2]}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("two")
    syn = make_synthetic(d, n_classes=12, per_class=10, video=True, noise=0.6)
    return syn, make_two_stage_split(syn, d / "two.json", n_seen=6, n_val_unseen=3), d


def _spec(syn, split, out, audio=None, **kw):
    base = dict(audio=str(audio or syn.audio), video=str(syn.video), splits=[str(split)], out_dir=str(out),
                text=str(syn.text), methods=["projection", "avgzslnet"], epochs=EPOCHS, two_stage=True, threads=1,
                grid=GRID, modalities=["both", "audio"], retrieval=False)
    base.update(kw)
    return ExperimentSpec(**base)


@pytest.fixture(scope="module")
def ran(data, tmp_path_factory):
    syn, split, _ = data
    out = tmp_path_factory.mktemp("run")
    return run_experiment(_spec(syn, split, out)), out


def test_stage2_uses_exactly_stage1_setting_epoch_and_beta(data, ran, tmp_path):
    syn, split, _ = data
    doc, out = ran
    sp = load_split(split)
    s1_trial, s2_trial = sp.trials
    for r in doc["trials"]:
        s1, s2 = r["stage1"], r["stage2"]
        c1 = load_checkpoint(s1["checkpoint"])
        c2 = load_checkpoint(r["train"]["checkpoint"])
        # stage 1 chose the epoch on calibrated validation HM, and its beta is the one of that epoch
        assert s1["metric"] == "val_hm" and c1["best"]["epoch"] == s1["epoch"] == r["selection"]["epoch"]
        hist = c1["history"][s1["epoch"] - 1]
        assert s1["validation"]["both"]["HM"] == pytest.approx(hist["val_hm"], abs=1e-12)
        assert s1["validation"]["both"]["beta"] == pytest.approx(hist["val_beta"], abs=1e-6)
        # stage 2: that many epochs, the chosen setting, no grid, no early stopping, the last epoch kept
        assert s2["epochs"] == s1["epoch"] == c2["config"]["epochs"] == c2["config"]["resolved"]["epochs"]
        assert s2["epochs_run"] == s1["epoch"] and c2["config"]["grid"] is None and c2["config"]["patience"] is None
        assert c2["config"]["resolved"]["lr"] == r["selection"]["chosen"]["lr"]
        assert c2["config"]["resolved"]["lr"] == c1["config"]["resolved"]["lr"]
        # tested with stage 1's beta per modality, never a beta of its own
        for mod in ("both", "audio"):
            assert r["metrics"][mod]["beta"] == s1["validation"][mod]["beta"] == s2["betas"][mod]
            assert r["metrics"][mod]["beta_source"] == "given"
        # stage 2 trained on the stage-1 training + validation classes and rows, and tested on the test rows
        assert c2["classes"]["train"] == s2_trial.seen == s1_trial.seen + s1_trial.unseen
        assert s2["n_train"] == len(s2_trial.instances["train"])
        assert r["metrics"]["both"]["n_test_seen"] == len(s2_trial.instances["test_seen"])
        assert r["metrics"]["both"]["n_test_unseen"] == len(s2_trial.instances["test_unseen"])
    # the stage-2 model is the one `zsl train` makes on trial 1 with those settings, for that many epochs
    r = next(r for r in doc["trials"] if r["method"] == "projection")
    by_hand = train(TrainConfig(audio=str(syn.audio), video=str(syn.video), text=str(syn.text), split=str(split),
                                trial=1, method="projection", epochs=r["stage1"]["epoch"],
                                lr=r["selection"]["chosen"]["lr"], seed=0, out=str(tmp_path / "hand.pt")))
    a, b = load_checkpoint(by_hand.checkpoint)["state_dict"], load_checkpoint(r["train"]["checkpoint"])["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    # results record both stages: trials.csv, the caption
    head = (out / "trials.csv").read_text().splitlines()[0].split(",")
    assert {"stage1_epoch", "stage1_beta", "val_S", "val_U", "val_HM", "AUSUC", "chosen"} <= set(head)
    cap = doc["tables"][0]["selection"]
    assert cap.startswith("Two-stage protocol") and f"epoch {r['stage1']['epoch']}" in cap
    assert "stage-1 validation (val_hm)" in cap
    assert "two-stage GZSL protocol" in (out / "table.md").read_text()


def test_test_rows_never_influence_a_choice(data, ran, tmp_path):
    syn, split, d = data
    doc, _ = ran
    t2 = load_split(split).trials[1]
    test_ids = set(t2.instances["test_seen"]) | set(t2.instances["test_unseen"])
    for name, path in (("audio", syn.audio), ("video", syn.video)):
        e = read_embeddings(path)
        rows = np.array([i in test_ids for i in e.ids])
        X = e.X.copy()
        X[rows] = np.random.default_rng(5).normal(scale=10, size=(rows.sum(), X.shape[1]))
        write_embeddings(tmp_path / f"{name}.h5", meta=e.meta, ids=e.ids, X=X, classes=e.classes,
                         labels=e.labels, valid=e.valid, overwrite=True)
    doc2 = run_experiment(_spec(syn, split, tmp_path / "out", audio=tmp_path / "audio.h5",
                                video=str(tmp_path / "video.h5")))
    for a, b in zip(doc["trials"], doc2["trials"]):
        assert a["stage1"]["epoch"] == b["stage1"]["epoch"] and a["stage1"]["validation"] == b["stage1"]["validation"]
        assert a["selection"]["label"] == b["selection"]["label"] and a["stage2"]["betas"] == b["stage2"]["betas"]
    assert [a["metrics"]["both"]["HM"] for a in doc["trials"]] != [b["metrics"]["both"]["HM"] for b in doc2["trials"]]


def test_stage1_grid_and_epochs_per_method_without_grid(data, tmp_path):
    syn, split, _ = data
    doc = run_experiment(_spec(syn, split, tmp_path / "o", methods=["projection"], grid=None, patience=1,
                               modalities=["both"]))
    (r,) = doc["trials"]
    assert "selection" not in r and r["stage2"]["epochs"] == r["stage1"]["epoch"] <= r["stage1"]["epochs_run"]
    assert "Settings chosen" not in doc["tables"][0]["selection"]


def test_split_and_flag_must_agree(data, tmp_path):
    syn, split, d = data
    with pytest.raises(ZslError, match="holds both stages") as e:
        run_experiment(_spec(syn, split, tmp_path / "a", two_stage=False))
    assert "--two-stage" in e.value.hint
    with pytest.raises(ZslError, match="is not a two-stage split"):
        run_experiment(_spec(syn, syn.split, tmp_path / "b"))
    with pytest.raises(ZslError, match="two-stage trial 3 does not exist"):
        run_experiment(_spec(syn, split, tmp_path / "c", trials=[3]))


def test_checks_refuse_a_pair_where_test_data_could_reach_stage1(data):
    syn, split, _ = data
    sp = load_split(split)
    t1, t2 = sp.trials

    def pair(a, b, **params):
        s = Split(trials=[a, b], protocol="gzsl", params={"two_stage": [[0, 1]], **params})
        s.path = "x.json"
        return s

    leak = Trial(**{**t2.__dict__, "unseen": t2.unseen + [t1.unseen[0]], "seen": [c for c in t2.seen
                                                                                 if c != t1.unseen[0]]})
    with pytest.raises(ZslError, match="stage-2 test classes are stage-1 classes"):
        check_stages(pair(t1, leak), 0, 1)
    rows = Trial(**{**t2.__dict__, "instances": {**t2.instances, "test_seen": t2.instances["test_seen"]
                                                 + t1.instances["val"][:1]}})
    with pytest.raises(ZslError, match="1 stage-2 test rows are stage-1 rows"):
        check_stages(pair(t1, rows), 0, 1)
    no_val = Trial(**{**t1.__dict__, "instances": {**t1.instances, "val_unseen": []}})
    with pytest.raises(ZslError, match="stage 1 needs training rows and validation rows"):
        check_stages(pair(no_val, t2), 0, 1)
    with pytest.raises(ZslError, match="list of"):
        stage_pairs(pair(t1, t2, two_stage=[0, 1]))


def test_cli_two_stage_and_stage1_evaluation_hint(data, tmp_path, cli):
    syn, split, _ = data
    r = cli("experiment", "--audio", syn.audio, "--video", syn.video, "--text", syn.text, "--split", split,
            "--two-stage", "--method", "projection", "--epochs", "2", "--no-retrieval", "-o", tmp_path / "o", "--json")
    assert r.exit_code == 0, r.stderr
    (t,) = r.json()["trials"]
    assert t["protocol"] == "two-stage" and t["stage2"]["epochs"] == t["stage1"]["epoch"]
    assert "no validation instances" not in r.stderr
    # --calibrate is what --two-stage does anyway (beta chosen on stage 1's validation rows): the same trial,
    # reused from the folder, and said on stderr instead of silently
    c = cli("experiment", "--audio", syn.audio, "--video", syn.video, "--text", syn.text, "--split", split,
            "--two-stage", "--calibrate", "--method", "projection", "--epochs", "2", "--no-retrieval",
            "-o", tmp_path / "o", "--json")
    assert c.exit_code == 0, c.stderr
    assert c.json()["trials"] == [t] and c.json()["reused"] == 1
    assert "--two-stage always uses calibrated stacking" in c.stderr and "stage 1's validation rows" in c.stderr
    assert "calibrated stacking" not in r.stderr
    r = cli("evaluate", t["stage1"]["checkpoint"])
    assert r.exit_code == 1 and "no GZSL test instances" in r.stderr and "--two-stage" in r.stderr
    r = cli("experiment", "--audio", syn.audio, "--text", syn.text, "--split", split, "--method", "projection",
            "-o", tmp_path / "p")
    assert r.exit_code == 1 and "add --two-stage" in r.stderr
