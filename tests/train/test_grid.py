"""--grid: settings and epochs chosen on validation rows only; feature scaling recorded in the checkpoint."""

import json

import numpy as np
import pytest
from zsltool.errors import ZslError
from zsltool.scores.metrics import best_calibrated_hm, gzsl_metrics, search_beta
from zsltool.store import read_embeddings, write_embeddings
from zsltool.train.checkpoint import build_model, load_checkpoint
from zsltool.train.config import TrainConfig
from zsltool.train.grid import parse_grid, settings_for
from zsltool.train.loop import train
from zsltool.train.synthetic import make_synthetic

pytestmark = pytest.mark.synthetic(n_classes=12, per_class=10, n_train=6, n_val=3, noise=0.3, video=False)


def rewrite(src, dst, fn):
    """A copy of an embedding file with ``X`` replaced by ``fn(X, embeddings)``."""
    e = read_embeddings(src)
    write_embeddings(dst, meta=e.meta, ids=e.ids, X=fn(e.X.copy(), e), classes=e.classes, labels=e.labels,
                     valid=e.valid, reasons=e.reasons, overwrite=True)
    return dst


def cfg(syn, out, **kw):
    base = dict(audio=str(syn.audio), split=str(syn.split), text=str(syn.text), out=str(out), epochs=6, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def test_parse_grid_strings_and_file(tmp_path):
    g = parse_grid(["lr=1e-3,1e-2", "optimizer=sgd,adam", "projection:margin=0.1,1", "zscore=false,true"])
    assert g == {"lr": [0.001, 0.01], "optimizer": ["sgd", "adam"], "projection:margin": [0.1, 1],
                 "zscore": [False, True]}
    f = tmp_path / "g.json"
    f.write_text(json.dumps({"lr": [0.1], "batch_size": 8}))
    assert parse_grid([str(f)]) == {"lr": [0.1], "batch_size": [8]}
    assert parse_grid([]) is None
    with pytest.raises(ZslError, match="neither KEY=V1,V2"):
        parse_grid(["nofile.json"])
    with pytest.raises(ZslError, match="lists a value twice"):
        parse_grid(["lr=0.1,0.1"])
    for item, pos in (("lr=1,,2", 2), ("lr=1,2,", 3), ("lr=,1", 1), ("lr=1, ,2", 2)):
        with pytest.raises(ZslError, match=f"value {pos} of 'lr' is empty"):  # was read as lr=1,2
            parse_grid([item])
    from zsltool.methods.base import get_method

    proj, sae = get_method("projection"), get_method("sae")
    # a closed-form method is not trained once per learning rate; another method's argument is left out
    assert settings_for(g, sae) == [{"train": {}, "args": {"zscore": False}}, {"train": {}, "args": {"zscore": True}}]
    assert len(settings_for(g, proj)) == 16
    assert settings_for(g, proj)[1] == {"train": {"lr": 0.001, "optimizer": "sgd"},
                                        "args": {"margin": 0.1, "zscore": True}}


def test_grid_keeps_best_validation_setting_and_records_every_candidate(syn, tmp_path):
    grid = {"lr": [1e-4, 1e-2], "optimizer": ["sgd", "adam"]}
    r = train(cfg(syn, tmp_path / "g.pt", grid=grid))
    sel = r.selection
    assert sel["metric"] == "val_top1" and len(sel["candidates"]) == 4
    # each candidate equals the same setting trained alone
    for c in sel["candidates"]:
        alone = train(cfg(syn, tmp_path / "one.pt", overwrite=True, **c["setting"]))
        assert (c["value"], c["best_epoch"]) == (alone.best_value, alone.best_epoch)
    vals = [c["value"] for c in sel["candidates"]]
    first_best = sel["candidates"][int(np.argmax(vals))]
    assert sel["chosen"] == first_best["setting"] and sel["value"] == max(vals)
    assert (r.best_value, r.best_epoch) == (sel["value"], sel["epoch"])
    ck = load_checkpoint(r.checkpoint)
    assert ck["config"]["selection"]["chosen"] == sel["chosen"]
    assert ck["config"]["resolved"]["lr"] == sel["chosen"]["lr"]
    assert ck["config"]["resolved"]["optimizer"] == sel["chosen"]["optimizer"]


def test_perturbing_test_rows_never_changes_the_choice(syn, tmp_path):
    from zsltool.classes.splits import load_split

    test = set(load_split(syn.split).trial(0).test)
    rng = np.random.default_rng(5)

    def scramble(X, e):
        rows = [i for i, c in enumerate(e.label_index()) if c >= 0 and e.classes[c] in test]
        X[rows] = rng.normal(size=(len(rows), X.shape[1])) * 50
        return X

    bad = rewrite(syn.audio, tmp_path / "bad.h5", scramble)
    grid = {"lr": [1e-3, 1e-2], "zscore": [False, True]}
    a = train(cfg(syn, tmp_path / "a.pt", grid=grid)).selection
    b = train(cfg(syn, tmp_path / "b.pt", grid=grid, audio=str(bad))).selection
    assert a["candidates"] == b["candidates"] and a["chosen"] == b["chosen"] and a["epoch"] == b["epoch"]


def test_grid_needs_validation_and_known_keys(syn, tmp_path):
    from zsltool.classes.splits import Split, load_split

    t = load_split(syn.split).trial(0)
    t.test, t.val = t.test + t.val, []
    Split(trials=[t], protocol="random", class_set_sha256=syn.class_set_sha256).save(tmp_path / "noval.json")
    with pytest.raises(ZslError, match="chooses settings on validation data, but this trial has none"):
        train(cfg(syn, tmp_path / "x.pt", split=str(tmp_path / "noval.json"), grid={"lr": [0.1, 0.01]}))
    with pytest.raises(ZslError, match="neither a training setting nor an argument"):
        train(cfg(syn, tmp_path / "x.pt", grid={"nonsense": [1, 2]}))
    with pytest.raises(ZslError, match="names method 'sae', which is not trained here"):
        train(cfg(syn, tmp_path / "x.pt", grid={"sae:lam": [1, 2]}))


def test_zscore_statistics_come_from_training_rows_and_travel_in_the_checkpoint(syn, tmp_path):
    from zsltool.classes.splits import load_split
    from zsltool.train.data import compute_scores, load_inputs, select_instances

    big = rewrite(syn.audio, tmp_path / "big.h5", lambda X, e: 300.0 * X + 500.0)
    r = train(cfg(syn, tmp_path / "z.pt", audio=str(big), method_args={"zscore": True, "l2_classes": True}))
    ck = load_checkpoint(r.checkpoint)
    assert ck["method_args"]["zscore"] is True and ck["method_args"]["l2_classes"] is True
    model = build_model(ck)
    tr = load_split(syn.split).trial(0).train
    inputs = load_inputs(audio=str(big), text=str(syn.text))
    rows = select_instances(inputs, tr).audio.astype(np.float64)
    np.testing.assert_allclose(model.zscore_audio[0].numpy(), rows.mean(0), rtol=1e-5)
    np.testing.assert_allclose(model.zscore_audio[1].numpy(), rows.std(0), rtol=1e-4)
    # scoring applies the scaling: the raw-scale file scores as the standardized one through the plain model
    test = load_split(syn.split).trial(0).test
    inst = select_instances(inputs, test)
    C = inputs.semantic.matrix(test)
    s1 = compute_scores(model, C, inst)
    plain = build_model({**ck, "method_args": {**ck["method_args"], "zscore": False, "l2_classes": False},
                         "state_dict": {k: v for k, v in ck["state_dict"].items() if k != "zscore_audio"}})
    inst.audio = ((inst.audio - model.zscore_audio[0].numpy()) / model.zscore_audio[1].numpy()).astype(np.float32)
    s2 = compute_scores(plain, C / np.linalg.norm(C, axis=1, keepdims=True), inst)
    np.testing.assert_allclose(s1, s2, rtol=1e-4, atol=1e-5)


def test_best_calibrated_hm_equals_search_beta():
    rng = np.random.default_rng(0)
    n = 0
    for t in range(150):
        C, N = int(rng.integers(3, 9)), int(rng.integers(5, 60))
        s = rng.normal(size=(N, C))
        if t % 3 == 0:
            s = np.round(s) * 0.5          # exact ties between seen and unseen gaps
        mask = np.zeros(C, bool)
        mask[:rng.integers(1, C)] = True
        y = rng.integers(0, C, N)
        if mask[y].all() or (~mask[y]).all():
            continue
        b, _ = search_beta(s, y, mask)
        hm, b2 = best_calibrated_hm(s, y, mask)
        assert b2 == b and hm == pytest.approx(gzsl_metrics(s, y, mask, beta=b).HM, abs=1e-12)
        n += 1
    assert n > 100


def test_gzsl_with_unseen_validation_rows_selects_on_validation_hm(tmp_path):
    from zsltool.classes.splits import Split, load_split

    syn = make_synthetic(tmp_path / "g", n_classes=10, per_class=10, n_train=5, n_val=2, gzsl=True, video=False)
    sp = load_split(syn.split)
    t = sp.trial(0)
    a = read_embeddings(syn.audio)
    lab = a.label_index()
    held = [a.ids[i] for i in range(len(a.ids)) if a.classes[lab[i]] in t.unseen and i % 10 < 3]
    t.instances["val_unseen"] = held
    Split(trials=[t], protocol="gzsl", class_set_sha256=syn.class_set_sha256).save(tmp_path / "gz.json")
    r = train(cfg(syn, tmp_path / "gz.pt", split=str(tmp_path / "gz.json"), epochs=4))
    assert r.best_metric == "val_hm"
    rec = r.history[r.best_epoch - 1]
    assert rec["val_hm"] == r.best_value == max(h["val_hm"] for h in r.history)
    # recomputed by hand from the checkpoint: validation rows = instances.val + val_unseen, seen + unseen classes
    from zsltool.train.data import compute_scores, load_inputs, select_instances

    ck = load_checkpoint(r.checkpoint)
    model = build_model(ck)
    inputs = load_inputs(audio=str(syn.audio), text=str(syn.text))
    classes = list(t.seen) + list(t.unseen)
    inst = select_instances(inputs, classes, ids=list(t.instances["val"]) + held)
    s = compute_scores(model, inputs.semantic.matrix(classes), inst)
    mask = np.array([c in set(t.seen) for c in classes])
    beta, _ = search_beta(s, inst.labels, mask)
    assert gzsl_metrics(s, inst.labels, mask, beta=beta).HM == pytest.approx(r.best_value, abs=1e-9)
    # the batched trainer scores validation rows with batched products: beta (a midpoint of score gaps) agrees
    # to float re-association (docs/methods.md, "Training many models at once")
    assert rec["val_beta"] == pytest.approx(beta, rel=1e-5, abs=1e-6)
    # without val_unseen the seen-class accuracy is used, as before
    r2 = train(cfg(syn, tmp_path / "gz2.pt", epochs=2))
    assert r2.best_metric == "val_seen_mca"


@pytest.mark.parametrize("command", ["train", "experiment"])
def test_cli_grid_with_an_empty_value_is_a_usage_error(cli, check_usage_error, tmp_path, command):
    res = cli(command, "--audio", tmp_path / "a.h5", "--split", tmp_path / "s.json", "-o", tmp_path / "o",
              "--grid", "lr=1,,2")
    err = check_usage_error(res, "--grid", "'lr=1,,2'", "value 2 of 'lr' is empty", "hint:")
    assert "Usage: zsl " + command in res.stderr, res.stderr
    assert not (tmp_path / "o").exists(), err


def test_momentum_of_one_or_more_is_refused_in_a_grid_and_in_the_library(syn, tmp_path):
    # SGD momentum is in [0, 1) (torch.optim.SGD only refuses < 0): at 1 or above the velocity never decays
    from zsltool.train.config import setting_problem
    from zsltool.train.grid import check_grid

    assert setting_problem("momentum", 0) is None and setting_problem("momentum", 0.99) is None
    assert setting_problem("momentum", 1) == setting_problem("momentum", 2) == "must be at least 0 and below 1"
    with pytest.raises(ZslError, match="grid key 'momentum': value 2 must be at least 0 and below 1"):
        check_grid({"momentum": [0.9, 2]}, ["projection"])
    with pytest.raises(ZslError, match="--momentum must be at least 0 and below 1, got 1"):
        train(cfg(syn, tmp_path / "m.pt", momentum=1, optimizer="sgd"))
    assert not (tmp_path / "m.pt").exists()
