"""Calibration of the probabilities zsl reports: expected calibration error (ECE) of the top-1 probability and
the negative log-likelihood (NLL) of the true class.

Both take *logits*: the scores divided by the temperature ``zsl classify`` applies
(``zsltool.scores.temperature.temperature_of``), so the probabilities are ``softmax(logits)`` over the
candidates, exactly those ``zsl classify`` reports for the same candidates.

ECE (Guo et al., 2017; Naeini et al., 2015): the rows are binned by their top-1 probability ``p`` into
``ECE_BINS`` equal-width bins, bin ``b`` holding ``(b / 15, (b + 1) / 15]`` (``p = 0`` in the first); ECE is
the sum over the bins of ``|(rows right in the bin) - (sum of their p)| / N``: 0 for perfectly calibrated
probabilities, the gap between confidence and accuracy otherwise. The prediction is the argmax (ties: the
lowest class index, as for top-1 accuracy).
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 15


def expected_calibration_error(logits, y, bins: int = ECE_BINS) -> float:
    """ECE of the top-1 probability of ``softmax(logits)`` with ``bins`` equal-width bins; NaN with no rows."""
    from zsltool.scores.temperature import log_softmax

    z = np.asarray(logits, np.float64)
    y = np.asarray(y, np.int64).reshape(-1)
    if y.size == 0:
        return float("nan")
    p = np.exp(log_softmax(z))
    pred = p.argmax(axis=1)
    conf = p[np.arange(len(y)), pred]
    right = (pred == y).astype(np.float64)
    b = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    gap = np.bincount(b, weights=right - conf, minlength=bins)
    return float(np.abs(gap).sum() / len(y))


def negative_log_likelihood(logits, y) -> float:
    """Mean over the rows of ``-log softmax(logits)[true class]`` (natural log); NaN with no rows."""
    from zsltool.scores.temperature import nll

    y = np.asarray(y, np.int64).reshape(-1)
    return float("nan") if y.size == 0 else nll(logits, y, 1.0)


def as_logits(scores, temperature=None) -> np.ndarray:
    """``scores / temperature`` (a number or one per row); without one each row's standard deviation over the
    candidates, as ``zsl classify`` does for a checkpoint without a stored temperature."""
    from zsltool.scores.temperature import per_clip_temperature

    s = np.asarray(scores, np.float64)
    t = per_clip_temperature(s) if temperature is None else np.asarray(temperature, np.float64)
    return s / (t[:, None] if t.ndim == 1 else t)
