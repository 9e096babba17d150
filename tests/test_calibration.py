"""The temperature `zsl train` stores for `zsl classify`'s probabilities (zsltool.scores.temperature): a fit
that cannot collapse on a small separable validation fold, no fit on training rows, the calibration record,
and `zsl inspect` showing it (issue 21, item 2)."""

import logging

import numpy as np
import pytest

from zsltool.scores.temperature import (BOUND, calibrate, fit_temperature, score_scale, separable, softmax,
                                        temperature_of)

# Two validation classes x four clips, every row ranked right (separable), as ESC-50 class folds on a subset.
SEPARABLE = np.array([[1.0, 0.2], [0.9, 0.1], [0.8, 0.3], [1.2, 0.0], [0.1, 0.7], [0.0, 1.1], [0.3, 0.9], [0.2, 1.0]])
SEP_Y = np.repeat([0, 1], 4)


def test_a_separable_fold_does_not_collapse_the_temperature():
    """Without the prior the likelihood falls forever as T -> 0: the search ends at its lower bound (T = 0.004
    here: every probability 0 or 1, what zsl train stored before); with the prior T stays near the scale."""
    s0 = score_scale(SEPARABLE)
    assert s0 == pytest.approx(np.median(SEPARABLE.std(1)))
    assert separable(SEPARABLE, SEP_Y) and not separable(SEPARABLE, 1 - SEP_Y)
    assert fit_temperature(SEPARABLE, SEP_Y, prior_sd=None) == pytest.approx(s0 / BOUND, rel=1e-6)
    T = fit_temperature(SEPARABLE, SEP_Y)
    assert s0 / 2 < T < s0
    rec = calibrate(SEPARABLE, SEP_Y, "validation")
    assert rec["temperature"] == pytest.approx(T) and rec["separable"] and rec["mle_temperature"] is None
    assert rec["rows"] == 8 and rec["classes"] == 2 and rec["scale"] == pytest.approx(s0)
    assert rec["prior"]["centre"] == pytest.approx(s0) and rec["fallback"] is None and "separable" in rec["note"]
    p = softmax(SEPARABLE, T)
    assert 0.6 < p.max(1).min() and p.max(1).max() < 0.999


def test_many_rows_decide_the_temperature_not_the_prior():
    """Labels drawn from softmax(z / 1.2): with 20,000 rows the MAP temperature is the likelihood's, 1.2
    within sampling error, though the prior is centred on the scores' scale (2.46 here)."""
    rng = np.random.default_rng(0)
    z = 3.0 * rng.standard_normal((20000, 5))
    p = np.exp(z / 1.2)
    p /= p.sum(1, keepdims=True)
    y = (p.cumsum(1) > rng.random((20000, 1))).argmax(1)
    assert score_scale(z) == pytest.approx(2.46, abs=0.01)
    assert abs(fit_temperature(z, y) - 1.2) < 0.05
    assert fit_temperature(z, y) == pytest.approx(fit_temperature(z, y, prior_sd=None), rel=0.01)


def _world(tmp_path, seed: int, n_val: int = 2, clips: int = 4):
    """A synthetic ZSL world (16 classes: 8 train, n_val validation, the rest test), the validation classes cut
    to ``clips`` clips each (the others marked invalid)."""
    from zsltool.store import read_embeddings, write_embeddings
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path, n_classes=16, per_class=10, n_train=8, n_val=n_val, latent=4, audio_dim=16,
                         text_dim=12, noise=0.6, video=False, seed=seed)
    e = read_embeddings(syn.audio)
    lab, valid = e.label_index(), e.valid.copy()
    for k in range(8, 8 + n_val):
        valid[np.nonzero(lab == k)[0][clips:]] = False
    write_embeddings(syn.audio, meta=e.meta, ids=e.ids, X=np.where(valid[:, None], e.X, 0), classes=e.classes,
                     labels=e.labels, valid=valid, reasons=["" if v else "cut" for v in valid], overwrite=True)
    return syn


def _train(syn, out):
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train

    return train(TrainConfig(audio=str(syn.audio), split=str(syn.split), text=str(syn.text), out=str(out),
                             method="eszsl", seed=0)).checkpoint


@pytest.mark.parametrize("seed", [1, 2])
def test_no_stored_temperature_makes_every_probability_0_or_1(tmp_path, seed):
    """The done-when of issue 21: 2 validation classes x 4 clips that the model separates perfectly, test
    top-1 below 0.9: the stored T keeps the test probabilities away from 0/1 (before: T = s0 / 100)."""
    from zsltool.evaluate.evaluate import load_for_evaluation, score

    ck = _train(_world(tmp_path, seed), tmp_path / "m.pt")
    ld = load_for_evaluation(ck)
    rec = ld.ckpt["calibration"]
    assert rec["on"] == "validation" and rec["rows"] == 8 and rec["classes"] == 2 and rec["separable"]
    inst, s = score(ld, list(ld.trial.test))
    assert float((s.argmax(1) == inst.labels).mean()) < 0.9
    T, src = temperature_of(rec, s)
    assert src == "checkpoint (fitted on 8 validation rows)" and T > rec["scale"] / 4
    p = softmax(s, T)
    extreme = (p < 1e-3) | (p > 1 - 1e-3)
    assert extreme.mean() < 0.5 and p.max(1).mean() < 0.95


def test_classify_applies_the_stored_temperature(tmp_path):
    """A checkpoint with a known T: the probabilities are exactly softmax(scores / T) (issue 21: a planted bug
    that ignored T went uncaught, the one test of softmax(scores / T) having a checkpoint without one)."""
    import zsltool
    from zsltool.train.checkpoint import load_checkpoint, save_checkpoint

    syn = _world(tmp_path, 3)
    ck = load_checkpoint(_train(syn, tmp_path / "m.pt"))
    ck.pop("path")
    for T in (0.37, 4.0):
        ck["calibration"] = {"temperature": T, "on": "validation", "rows": 6, "method": "test"}
        save_checkpoint(tmp_path / f"t{T}.pt", ck)
        preds = zsltool.classify_clips(tmp_path / f"t{T}.pt", embeddings=syn.audio, labels=["c10", "c11", "c12", "c13"])
        assert preds.info["temperature"] == T
        assert preds.info["temperature_source"] == "checkpoint (fitted on 6 validation rows)"
        ok = np.isfinite(preds.scores).all(1)   # the rows cut from the validation classes are invalid: NaN
        assert ok.sum() == 160 - 2 * 6   # 16 classes x 10 clips, 2 x 6 cut
        s, got = preds.scores[ok].astype(np.float64), preds.probabilities[ok]
        z = s / T
        p = np.exp(z - z.max(1, keepdims=True))
        np.testing.assert_allclose(got, p / p.sum(1, keepdims=True), rtol=1e-12, atol=1e-15)
        q = softmax(s, s.std(1))   # what a classify that ignored T would give
        assert np.abs(got - q).max() > 0.01


def test_a_temperature_stored_by_an_earlier_zsl_is_not_used_when_collapsed_or_from_training_rows(tmp_path, caplog):
    """Checkpoints made before the prior keep working, but a T fitted on training rows, or collapsed on a small
    separable fold, is replaced by the per-clip-std default with a warning (classify and evaluate alike)."""
    import zsltool
    from zsltool.evaluate.evaluate import evaluate_checkpoint
    from zsltool.train.checkpoint import load_checkpoint, save_checkpoint

    syn = _world(tmp_path, 1)
    ck = load_checkpoint(_train(syn, tmp_path / "m.pt"))
    ck.pop("path")
    labels = ["c10", "c11", "c12", "c13"]
    s0 = score_scale(zsltool.classify_clips(tmp_path / "m.pt", embeddings=syn.audio, labels=labels).scores[:8])
    old = {"method": "temperature scaling: argmin NLL of softmax(scores / T)", "rows": 8}
    cases = {"training": (s0, "training", "fitted on training rows"), "collapsed": (s0 / 100, "validation",
             "collapsed"), "fine": (s0 / 2, "validation", None)}
    for name, (T, on, why) in cases.items():
        ck["calibration"] = {**old, "temperature": T, "on": on}
        save_checkpoint(tmp_path / f"{name}.pt", ck)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            preds = zsltool.classify_clips(tmp_path / f"{name}.pt", embeddings=syn.audio, labels=labels)
            src = evaluate_checkpoint(tmp_path / f"{name}.pt")["metrics"]["temperature_source"]
        ok = np.isfinite(preds.scores).all(1)
        s = preds.scores[ok].astype(np.float64)
        expect = softmax(s, T) if why is None else softmax(s, s.std(1))
        np.testing.assert_allclose(preds.probabilities[ok], expect, rtol=1e-9, atol=1e-15)
        if why is None:
            assert preds.info["temperature"] == T and src == "checkpoint (fitted on 8 validation rows)"
        else:
            assert preds.info["temperature"] is None and why in preds.info["temperature_source"]
            assert src.startswith("per-clip-std (stored T ignored: " + why)
            assert "the checkpoint's temperature is not used: " + why in caplog.text
    from zsltool.store.inspect import inspect_file

    assert "not used: fitted on training rows" in inspect_file(tmp_path / "training.pt")["summary"]["temperature"]


def test_no_validation_rows_means_no_fit_on_training_rows(tmp_path, caplog):
    """Without validation classes nothing is fitted (never on training rows): the record says why, and classify
    and evaluate divide each clip's scores by their standard deviation."""
    import zsltool
    from zsltool.evaluate.evaluate import evaluate_checkpoint
    from zsltool.train.checkpoint import load_checkpoint

    syn = _world(tmp_path, 0, n_val=0)
    ck = _train(syn, tmp_path / "m.pt")
    rec = load_checkpoint(ck)["calibration"]
    assert rec["temperature"] is None and rec["on"] is None and rec["rows"] == 0
    assert rec["fallback"].startswith("no validation rows") and "training rows are not used" in rec["fallback"]
    assert evaluate_checkpoint(ck)["metrics"]["temperature_source"] == "per-clip-std"
    with caplog.at_level(logging.WARNING, logger="zsltool.classify"):
        preds = zsltool.classify_clips(ck, embeddings=syn.audio, labels=["c10", "c11", "c12"])
    s = preds.scores
    z = s / s.std(1, keepdims=True)
    p = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(preds.probabilities, p / p.sum(1, keepdims=True), rtol=1e-9)
    assert preds.info["temperature_source"] == "per-clip-std" and "no validation rows" in caplog.text


def test_gzsl_without_unseen_validation_rows_says_seen_class_validation(tmp_path):
    """GZSL validation rows of the seen classes only (no --unseen-val-fraction): the model trained on those
    classes, and the record says so."""
    from zsltool.train.checkpoint import load_checkpoint
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path, n_classes=10, per_class=10, n_train=4, n_val=2, video=False, gzsl=True)
    rec = load_checkpoint(_train(syn, tmp_path / "g.pt"))["calibration"]
    assert rec["on"] == "seen-class validation" and rec["classes"] == 6 and rec["rows"] == 6 * 2


def test_inspect_shows_the_calibration_record(tmp_path, cli):
    ck = _train(_world(tmp_path, 1), tmp_path / "m.pt")
    r = cli("inspect", ck, "--json")
    assert r.exit_code == 0, r.stderr
    summary = r.json()["summary"]
    rec = summary["calibration"]
    assert rec["on"] == "validation" and rec["rows"] == 8 and rec["separable"] is True
    assert summary["temperature"].startswith(f"{rec['temperature']:.4g} (temperature scaling, MAP")
    assert "on 8 validation rows; separable" in summary["temperature"]
    r = cli("inspect", ck)
    assert r.exit_code == 0, r.stderr
    text = " ".join(r.stdout.replace("│", " ").split())
    assert "calibration record" in text and "mle_temperature" in text and "on 8 validation rows" in text
