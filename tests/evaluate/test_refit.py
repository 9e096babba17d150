"""Refit after selection (``zsl experiment --refit``, issue 24 item 1): stage 1 chooses the setting and the epoch
on validation, stage 2 retrains on training + validation with them for that many epochs and is tested on the
same test classes and rows; both stages are recorded."""

import csv

import pytest
import torch

from zsltool.classes.splits import Split, Trial, load_split
from zsltool.evaluate.experiment import ExperimentSpec, run_experiment
from zsltool.evaluate.two_stage import refit_trial
from zsltool.store import read_embeddings
from zsltool.train.checkpoint import load_checkpoint
from zsltool.train.config import TrainConfig
from zsltool.train.loop import train
from zsltool.train.synthetic import make_synthetic

GRID = {"lr": [1e-3, 3e-2]}


@pytest.fixture(scope="module")
def zsl(tmp_path_factory):
    d = tmp_path_factory.mktemp("zsl")
    syn = make_synthetic(d, n_classes=12, per_class=8, n_train=6, n_val=3, noise=0.4, video=False)
    sp = load_split(syn.split)
    t = sp.trial(0)  # a second trial without validation classes: trained as before, no refit
    Split(trials=[t, Trial(train=t.train + t.val, val=[], test=t.test)], protocol="custom",
          class_set_sha256=sp.class_set_sha256).save(syn.split, overwrite=True)
    return syn


def spec(syn, out, **kw):
    base = dict(audio=str(syn.audio), splits=[str(syn.split)], out_dir=str(out), text=str(syn.text),
                methods=["projection"], epochs=6, threads=1, grid=GRID, refit=True)
    return ExperimentSpec(**{**base, **kw})


def test_zsl_refit_retrains_on_train_and_validation_classes_with_the_choice(zsl, tmp_path):
    doc = run_experiment(spec(zsl, tmp_path / "o", trials=[0]))
    (r,) = doc["trials"]
    t = load_split(zsl.split).trial(0)
    s1, s2 = r["stage1"], r["stage2"]
    c1, c2 = load_checkpoint(s1["checkpoint"]), load_checkpoint(r["train"]["checkpoint"])
    assert s1["metric"] == "val_top1" and s1["epoch"] == r["selection"]["epoch"] == c1["best"]["epoch"]
    assert c1["classes"]["train"] == t.train and c1["classes"]["val"] == t.val
    assert c2["classes"]["train"] == t.train + t.val and c2["classes"]["test"] == t.test
    assert s2["refit"] and s2["epochs"] == s2["epochs_run"] == s1["epoch"] == c2["config"]["epochs"]
    assert c2["config"]["resolved"]["lr"] == r["selection"]["chosen"]["lr"] and c2["config"]["grid"] is None
    assert c2["best"]["metric"] == "none" and s2["n_train"] == 9 * 8
    assert r["metrics"]["both"]["n_test"] == 3 * 8  # the trial's test rows
    # the stage-2 model is `zsl train` on the refit split with the chosen setting, for that many epochs
    hand = train(TrainConfig(audio=str(zsl.audio), text=str(zsl.text), split=s2["split"], trial=0,
                             method="projection", epochs=s1["epoch"], lr=r["selection"]["chosen"]["lr"],
                             out=str(tmp_path / "hand.pt")))
    a = load_checkpoint(hand.checkpoint)["state_dict"]
    for k, v in c2["state_dict"].items():
        assert torch.equal(a[k], v), k
    cap = doc["tables"][0]["selection"]
    assert cap.startswith("Refit after selection") and "projection: epoch" in cap
    rows = list(csv.DictReader(open(tmp_path / "o" / "trials.csv")))
    assert rows[0]["refit"] == "True" and rows[0]["stage1_metric"] == "val_top1"


def test_refit_is_part_of_the_config_hash(zsl, tmp_path):
    out = tmp_path / "o"
    run_experiment(spec(zsl, out, trials=[0]))
    again = run_experiment(spec(zsl, out, trials=[0]))
    assert again["ran"] == 0
    other = run_experiment(spec(zsl, out, trials=[0], refit=False))
    assert other["ran"] == 1 and "stage1" not in other["trials"][0]
    assert other["trials"][0]["metrics"]["both"]["n_test"] == 3 * 8  # the same test rows as the refit
    (plain,) = run_experiment(spec(zsl, tmp_path / "p", trials=[1], grid=None))["trials"]
    assert "stage1" not in plain  # a trial without validation classes trains as before under --refit


def test_gzsl_refit_moves_the_seen_validation_rows_into_training(tmp_path):
    syn = make_synthetic(tmp_path, n_classes=10, per_class=10, noise=0.4, gzsl=True)
    sp = load_split(syn.split)
    t = sp.trial(0)
    a = read_embeddings(syn.audio)
    lab = a.label_index()
    t.instances["val_unseen"] = [a.ids[i] for i in range(len(a.ids)) if a.classes[lab[i]] in t.unseen and i % 5 == 0]
    sp.save(syn.split, overwrite=True)
    r2 = refit_trial(t)
    assert r2.instances["train"] == t.instances["train"] + t.instances["val"] and "val" not in r2.instances
    assert r2.instances["val_unseen"] == t.instances["val_unseen"] and r2.seen == t.seen and r2.unseen == t.unseen
    doc = run_experiment(spec(syn, tmp_path / "o", video=str(syn.video), methods=["avgzslnet"], epochs=3,
                              modalities=["both"], retrieval=False))
    plain = run_experiment(spec(syn, tmp_path / "p", video=str(syn.video), methods=["avgzslnet"], epochs=3,
                                modalities=["both"], retrieval=False, refit=False, calibrate=True))
    (r,), (p,) = doc["trials"], plain["trials"]
    assert r["stage1"]["metric"] == "val_hm" and r["stage2"]["n_train"] == len(r2.instances["train"])
    beta = r["stage1"]["validation"]["both"]["beta"]
    assert r["metrics"]["both"]["beta"] == beta == r["stage2"]["betas"]["both"]
    for k in ("n_test_seen", "n_test_unseen"):
        assert r["metrics"]["both"][k] == p["metrics"]["both"][k]


def test_gzsl_refit_without_unseen_validation_rows_has_no_beta_and_says_so(tmp_path, caplog):
    syn = make_synthetic(tmp_path, n_classes=8, per_class=10, noise=0.4, gzsl=True)
    with caplog.at_level("WARNING"):
        (r,) = run_experiment(spec(syn, tmp_path / "o", grid=None, epochs=2, calibrate=True))["trials"]
    assert r["stage1"]["metric"] == "val_seen_mca" and r["stage2"]["betas"] == {}
    assert r["metrics"]["both"]["beta"] == 0.0
    assert "no unseen validation rows to choose calibrated stacking's beta" in caplog.text
