"""Calibration metrics (ECE of the top-1 probability, NLL) on hand-made logits, through the metric registry and
through `zsl evaluate` with a checkpoint's stored temperature (ZSL and GZSL)."""

import numpy as np
import pytest

from zsltool.scores import metrics as M
from zsltool.scores.calibration import ECE_BINS, as_logits, expected_calibration_error, negative_log_likelihood

# Four rows, two classes; softmax probabilities by hand: (0.75, 0.25) twice, (0.1, 0.9), (0.5, 0.5).
LOGITS = np.array([[np.log(3.0), 0.0], [np.log(3.0), 0.0], [0.0, np.log(9.0)], [0.0, 0.0]])
Y = np.array([0, 1, 1, 0])


def test_ece_and_nll_by_hand():
    """Bins of width 1/15: 0.75 (rows 1, 2: one right) in (11/15, 12/15], 0.9 (right) in (13/15, 14/15], 0.5
    (a tie: class 0 predicted, right) in (7/15, 8/15]; ECE = (|1 - 1.5| + |1 - 0.9| + |1 - 0.5|) / 4."""
    assert ECE_BINS == 15
    assert expected_calibration_error(LOGITS, Y) == pytest.approx(0.275, abs=1e-12)
    nll = -(np.log(0.75) + np.log(0.25) + np.log(0.9) + np.log(0.5)) / 4
    assert negative_log_likelihood(LOGITS, Y) == pytest.approx(nll, abs=1e-12)
    # one bin for all four rows: the gaps of the rows now add up before the absolute value
    assert expected_calibration_error(LOGITS, Y, bins=1) == pytest.approx(abs(3 - (0.75 + 0.75 + 0.9 + 0.5)) / 4)
    assert np.isnan(expected_calibration_error(np.zeros((0, 2)), [])) and np.isnan(negative_log_likelihood(
        np.zeros((0, 2)), []))


def test_ece_is_zero_when_confidence_equals_accuracy():
    z = np.tile([np.log(9.0), 0.0], (10, 1))       # top probability 0.9 on every row
    assert expected_calibration_error(z, [0] * 9 + [1]) == pytest.approx(0.0, abs=1e-12)   # 9 of 10 right
    assert expected_calibration_error(z, [0] * 10) == pytest.approx(0.1, abs=1e-12)        # all right
    assert expected_calibration_error(z, [1] * 10) == pytest.approx(0.9, abs=1e-12)        # all wrong


def test_registry_has_ece_and_nll_for_zsl_and_gzsl():
    for name in ("ece", "nll"):
        m = M.METRICS[name]
        assert set(m.tasks) == {"zsl", "gzsl"} and not m.higher_is_better and m.probabilistic
    scores = 2.0 * LOGITS   # at temperature 2 these scores are LOGITS
    r = M.zsl_metrics(scores, Y, temperature=2.0)
    assert r["ece"] == pytest.approx(0.275, abs=1e-12) and r["top1"] == pytest.approx(0.75)
    assert r["nll"] == pytest.approx(negative_log_likelihood(LOGITS, Y), abs=1e-12)
    # no temperature: each row's standard deviation over the candidates, as zsl classify without one
    sd = scores.std(1)
    sd[sd == 0] = 1.0
    r = M.zsl_metrics(scores, Y)
    assert r["ece"] == pytest.approx(expected_calibration_error(scores / sd[:, None], Y), abs=1e-12)
    np.testing.assert_allclose(as_logits(scores, np.array([1.0, 2.0, 4.0, 1.0])),
                               scores / np.array([[1.0], [2.0], [4.0], [1.0]]))


# -- through zsl evaluate --------------------------------------------------------------------------------------
def _with_temperature(ck, out, T):
    from zsltool.train.checkpoint import load_checkpoint, save_checkpoint

    c = load_checkpoint(ck)
    c.pop("path", None)
    c["calibration"] = {"temperature": T, "on": "validation", "rows": 7, "method": "test"}
    save_checkpoint(out, c)
    return out


@pytest.mark.parametrize("gzsl", [False, True], ids=["zsl", "gzsl"])
def test_evaluate_reports_ece_and_nll_with_the_stored_temperature(tmp_path, gzsl):
    """ECE and NLL of softmax(scores / T) over the test candidates (GZSL: seen + unseen, no beta), T the
    checkpoint's; a different T gives different numbers (so the stored one is really applied)."""
    from zsltool.evaluate.evaluate import evaluate_checkpoint, load_for_evaluation, score
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path, n_classes=10, per_class=6, n_train=5, n_val=2, video=False, gzsl=gzsl)
    ck = train(TrainConfig(audio=str(syn.audio), split=str(syn.split), text=str(syn.text),
                           out=str(tmp_path / "m.pt"), method="eszsl", seed=0)).checkpoint
    docs = {T: evaluate_checkpoint(_with_temperature(ck, tmp_path / f"t{T}.pt", T)) for T in (0.05, 0.5)}
    ld = load_for_evaluation(ck)
    t = ld.trial
    if gzsl:
        classes = list(t.seen) + list(t.unseen)
        si, ss = score(ld, classes, ids=list(t.instances["test_seen"]))
        ui, us = score(ld, classes, ids=None)
        keep = ~np.isin(ui.labels, np.arange(len(t.seen)))
        s, y = np.vstack([ss, us[keep]]), np.concatenate([si.labels, ui.labels[keep]])
    else:
        inst, s = score(ld, list(t.test))
        y = inst.labels
    s = s.astype(np.float64)
    for T, doc in docs.items():
        m = doc["metrics"]
        assert m["ece"] == pytest.approx(expected_calibration_error(s / T, y), abs=1e-12)
        assert m["nll"] == pytest.approx(negative_log_likelihood(s / T, y), abs=1e-12)
        assert m["temperature_source"].startswith("checkpoint (fitted on 7 validation rows)")
    assert docs[0.05]["metrics"]["nll"] != pytest.approx(docs[0.5]["metrics"]["nll"])
