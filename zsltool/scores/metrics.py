"""Classification metrics: top-1, per-class accuracy, confusion matrix, S/U/HM and calibrated stacking (ECE and
NLL of the probabilities: ``zsltool.scores.calibration``), and
``METRICS``, the registry naming every scalar metric a results file carries (name, label, function, direction).

Everything here works on plain numpy arrays:

* ``scores`` is an (N, C) array over the candidate classes, higher = more compatible;
* ``y_true`` is an (N,) int array of candidate-class indices (0..C-1);
* ``seen_mask`` is a (C,) bool array marking the seen candidates (GZSL).

Calibrated stacking (Chao et al., 2016) subtracts ``beta`` from the scores of the seen classes before the
argmax. :func:`search_beta` chooses beta on *validation* arrays only; the evaluation code calls it before it
ever looks at test rows, and the chosen value is recorded in the results file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from zsltool.errors import ZslError
from zsltool.scores.calibration import ECE_BINS, as_logits, expected_calibration_error, negative_log_likelihood
from zsltool.scores.retrieval import retrieval_metrics
from zsltool.scores.stats import harmonic_mean


def _as_labels(y, n_classes: int | None = None) -> np.ndarray:
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    if n_classes is not None and y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ZslError(f"class index out of range 0..{n_classes - 1}")
    return y


def predict(scores: np.ndarray) -> np.ndarray:
    """Argmax over classes (ties: the lowest class index, as numpy does)."""
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ZslError(f"scores must be 2-D (rows x classes), got shape {scores.shape}")
    return scores.argmax(axis=1).astype(np.int64)


def top1_accuracy(y_true, y_pred) -> float:
    """Micro (instance-averaged) accuracy: the fraction of rows predicted right."""
    y_true, y_pred = _as_labels(y_true), _as_labels(y_pred)
    if y_true.size == 0:
        return float("nan")
    return float(np.mean(y_true == y_pred))


def per_class_accuracy(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Accuracy of each class over its own rows; NaN for classes with no rows."""
    y_true, y_pred = _as_labels(y_true, n_classes), _as_labels(y_pred)
    correct = np.bincount(y_true[y_true == y_pred], minlength=n_classes).astype(np.float64)
    total = np.bincount(y_true, minlength=n_classes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, correct / np.maximum(total, 1), np.nan)


def mean_per_class_accuracy(y_true, y_pred, n_classes: int) -> float:
    """Mean over the classes that have rows of the per-class accuracy."""
    acc = per_class_accuracy(y_true, y_pred, n_classes)
    acc = acc[~np.isnan(acc)]
    return float(acc.mean()) if acc.size else float("nan")


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """(C, C) int matrix: row = true class, column = predicted class."""
    y_true, y_pred = _as_labels(y_true, n_classes), _as_labels(y_pred, n_classes)
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def calibrated_stacking(scores: np.ndarray, seen_mask, beta: float) -> np.ndarray:
    """Scores with ``beta`` subtracted from every seen class's column (``beta`` must be finite)."""
    if not np.isfinite(beta):
        raise ZslError(f"beta must be a finite number, got {beta}", hint="give --beta a number such as 0.5")
    scores = np.asarray(scores, dtype=np.float64)
    seen_mask = np.asarray(seen_mask, dtype=bool)
    if seen_mask.shape != (scores.shape[1],):
        raise ZslError(f"seen mask has {seen_mask.size} entries but scores have {scores.shape[1]} classes")
    return scores - beta * seen_mask[None, :].astype(np.float64)


@dataclass
class GzslResult:
    S: float
    U: float
    HM: float
    beta: float
    top1: float
    per_class: np.ndarray = field(repr=False)
    y_pred: np.ndarray = field(repr=False)

    def metrics(self) -> dict:
        return {"S": self.S, "U": self.U, "HM": self.HM, "beta": self.beta, "top1": self.top1}


def gzsl_metrics(scores, y_true, seen_mask, beta: float = 0.0) -> GzslResult:
    """S and U: mean per-class accuracy over the seen / unseen classes' rows, predicting among all
    candidates (seen + unseen) after calibrated stacking with ``beta``; HM their harmonic mean."""
    scores = np.asarray(scores, dtype=np.float64)
    seen_mask = np.asarray(seen_mask, dtype=bool)
    n_classes = scores.shape[1]
    y_true = _as_labels(y_true, n_classes)
    y_pred = predict(calibrated_stacking(scores, seen_mask, beta))
    acc = per_class_accuracy(y_true, y_pred, n_classes)
    seen_acc, unseen_acc = acc[seen_mask], acc[~seen_mask]
    s = float(np.nanmean(seen_acc)) if np.any(~np.isnan(seen_acc)) else float("nan")
    u = float(np.nanmean(unseen_acc)) if np.any(~np.isnan(unseen_acc)) else float("nan")
    return GzslResult(S=s, U=u, HM=harmonic_mean(s, u), beta=float(beta), top1=top1_accuracy(y_true, y_pred),
                      per_class=acc, y_pred=y_pred)


def beta_candidates(scores: np.ndarray, seen_mask) -> np.ndarray:
    """Every beta that can change a validation prediction, from the validation rows themselves.

    Row i predicts a seen class exactly while its gap g_i = best seen score - best unseen score exceeds beta,
    so the predictions (and S, U, HM) are constant between neighbouring sorted gaps. The candidates are the
    midpoints between neighbouring distinct gaps, one point below the smallest and one above the largest gap
    (every row seen / every row unseen), and 0 (no calibration).
    """
    scores = np.asarray(scores, dtype=np.float64)
    seen_mask = np.asarray(seen_mask, dtype=bool)
    if scores.shape[0] == 0 or seen_mask.all() or not seen_mask.any():
        return np.zeros(1)
    with np.errstate(invalid="ignore"):
        gaps = scores[:, seen_mask].max(axis=1) - scores[:, ~seen_mask].max(axis=1)
    gaps = np.unique(gaps[np.isfinite(gaps)])
    if gaps.size == 0:
        return np.zeros(1)
    margin = max(1.0, float(gaps[-1] - gaps[0]))
    mids = (gaps[:-1] + gaps[1:]) / 2.0
    return np.unique(np.concatenate([[0.0, gaps[0] - margin, gaps[-1] + margin], mids]))


def search_beta(val_scores, val_y, seen_mask, betas=None) -> tuple[float, list[dict]]:
    """Choose beta maximising HM on validation rows (ties: the beta closest to 0, then the smaller).

    Without ``betas`` every distinct validation outcome is tried (:func:`beta_candidates`), so the chosen beta
    is the exact optimum on validation.

    ``val_scores``/``val_y`` must contain rows of seen *and* unseen candidate classes, otherwise HM is
    undefined and a ZslError says so. Returns ``(beta, curve)`` where ``curve`` lists S/U/HM per beta.
    """
    val_scores = np.asarray(val_scores, dtype=np.float64)
    seen_mask = np.asarray(seen_mask, dtype=bool)
    val_y = _as_labels(val_y, val_scores.shape[1])
    if val_y.size == 0:
        raise ZslError("calibrated stacking needs validation rows, but there are none")
    has_seen = bool(np.any(seen_mask[val_y]))
    has_unseen = bool(np.any(~seen_mask[val_y]))
    if not (has_seen and has_unseen):
        raise ZslError("choosing beta needs validation rows of both seen and unseen classes",
                       hint="give a fixed --beta, or make the split with `zsl split --protocol gzsl "
                            "--unseen-val-fraction 0.2` so that unseen classes have validation rows")
    betas = beta_candidates(val_scores, seen_mask) if betas is None else np.asarray(betas, dtype=np.float64)
    curve = []
    best, best_key = 0.0, None
    for b in betas:
        r = gzsl_metrics(val_scores, val_y, seen_mask, beta=float(b))
        curve.append({"beta": float(b), "S": r.S, "U": r.U, "HM": r.HM})
        key = (round(r.HM, 12), -abs(float(b)), -float(b))
        if best_key is None or key > best_key:
            best, best_key = float(b), key
    return best, curve


def best_calibrated_hm(scores, y_true, seen_mask) -> tuple[float, float]:
    """``(HM, beta)``: the highest HM over every beta that :func:`search_beta` tries, computed in
    O(N log N) (for choosing epochs and settings on validation rows every epoch).

    Row i predicts its best seen class while its gap g_i (best seen - best unseen score) exceeds beta, else
    its best unseen class; so S(beta) and U(beta) are sums of per-row weights 1 / (n_class * n_classes_present)
    over the rows that are right on their side of beta. Ties as in search_beta (closest to 0, then smaller)."""
    scores = np.asarray(scores, dtype=np.float64)
    seen_mask = np.asarray(seen_mask, dtype=bool)
    y = _as_labels(y_true, scores.shape[1])
    if y.size == 0 or seen_mask.all() or not seen_mask.any():
        return float("nan"), 0.0
    sidx, uidx = np.nonzero(seen_mask)[0], np.nonzero(~seen_mask)[0]
    ps = sidx[scores[:, sidx].argmax(1)]
    pu = uidx[scores[:, uidx].argmax(1)]
    gaps = scores[:, sidx].max(1) - scores[:, uidx].max(1)
    is_seen = seen_mask[y]
    counts = np.bincount(y, minlength=scores.shape[1]).astype(np.float64)
    n_s = np.count_nonzero(counts[seen_mask])
    n_u = np.count_nonzero(counts[~seen_mask])
    if n_s == 0 or n_u == 0:
        return float("nan"), 0.0
    w = 1.0 / counts[y]
    ok_s = is_seen & (ps == y)         # right when predicted seen (gap > beta)
    ok_u = ~is_seen & (pu == y)        # right when predicted unseen (gap <= beta)
    betas = beta_candidates(scores, seen_mask)
    order = np.argsort(gaps, kind="stable")
    g_sorted = gaps[order]
    first_seen = ps < pu                # at gap == beta exactly the lower class index wins (as in argmax)

    def csum(v):
        return np.concatenate([[0.0], np.cumsum(v[order])])

    cs, cu = csum(w * ok_s), csum(w * ok_u)
    ts, tu = csum(w * ok_s * first_seen), csum(w * ok_u * ~first_seen)
    kl = np.searchsorted(g_sorted, betas, side="left")    # rows with gap < beta
    kr = np.searchsorted(g_sorted, betas, side="right")   # rows with gap <= beta
    S = (cs[-1] - cs[kr] + ts[kr] - ts[kl]) / n_s
    U = (cu[kl] + tu[kr] - tu[kl]) / n_u
    with np.errstate(invalid="ignore", divide="ignore"):
        H = np.where(S + U > 0, 2 * S * U / (S + U), 0.0)
    keys = np.lexsort((betas, np.abs(betas), -np.round(H, 12)))  # max HM, then |beta|, then beta smallest
    i = int(keys[0])
    return float(H[i]), float(betas[i])


def seen_unseen_curve(scores, y_true, seen_mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(betas, S, U)`` for every calibration beta that changes a prediction (plus both extremes), in
    increasing beta: the seen-unseen accuracy curve of Chao et al. (ECCV 2016). S and U are mean per-class
    accuracies as in :func:`gzsl_metrics` (strict inequality gap > beta predicts the seen class)."""
    scores = np.asarray(scores, dtype=np.float64)
    seen_mask = np.asarray(seen_mask, dtype=bool)
    y = _as_labels(y_true, scores.shape[1])
    sidx, uidx = np.nonzero(seen_mask)[0], np.nonzero(~seen_mask)[0]
    if y.size == 0 or sidx.size == 0 or uidx.size == 0:
        raise ZslError("the seen-unseen curve needs seen and unseen candidate classes and rows")
    ps = sidx[scores[:, sidx].argmax(1)]
    pu = uidx[scores[:, uidx].argmax(1)]
    gaps = scores[:, sidx].max(1) - scores[:, uidx].max(1)
    counts = np.bincount(y, minlength=scores.shape[1]).astype(np.float64)
    n_s, n_u = np.count_nonzero(counts[seen_mask]), np.count_nonzero(counts[~seen_mask])
    w = 1.0 / counts[y]
    ok_s = seen_mask[y] & (ps == y)
    ok_u = ~seen_mask[y] & (pu == y)
    g = np.unique(gaps[np.isfinite(gaps)])
    betas = np.concatenate([[g[0] - 1.0], g, [g[-1] + 1.0]]) if g.size else np.zeros(1)
    order = np.argsort(gaps, kind="stable")
    gs = gaps[order]
    cs = np.concatenate([[0.0], np.cumsum((w * ok_s)[order])])
    cu = np.concatenate([[0.0], np.cumsum((w * ok_u)[order])])
    k = np.searchsorted(gs, betas, side="right")         # rows with gap <= beta predict unseen
    S = (cs[-1] - cs[k]) / n_s if n_s else np.full(betas.shape, np.nan)
    U = cu[k] / n_u if n_u else np.full(betas.shape, np.nan)
    return betas, S, U


def ausuc(scores, y_true, seen_mask) -> float:
    """Area under the seen-unseen accuracy curve (AUSUC, Chao et al. 2016): S against U over every beta,
    trapezoids in increasing U, from (U=0, S=S_max) to (U=U_max, S=0)."""
    _, S, U = seen_unseen_curve(scores, y_true, seen_mask)
    if np.isnan(S).any() or np.isnan(U).any():
        return float("nan")
    order = np.lexsort((-S, U))
    u, sv = U[order], S[order]
    return float(np.sum((u[1:] - u[:-1]) * (sv[1:] + sv[:-1]) / 2.0))


def zsl_metrics(scores, y_true, temperature=None) -> dict:
    """ZSL among the candidates: every registered ``zsl`` metric (top-1 (micro) accuracy, mean per-class
    accuracy, ECE and NLL of ``softmax(scores / temperature)``: see ``probabilistic_input``), the per-class
    accuracies and the predictions."""
    scores = np.asarray(scores)
    y_true = _as_labels(y_true, scores.shape[1])
    y_pred = predict(scores)
    per = per_class_accuracy(y_true, y_pred, scores.shape[1])
    return {**{m.name: m.fn(probabilistic_input(m, scores, temperature), y_true) for m in metrics_of("zsl")},
            "per_class": per, "y_pred": y_pred}


# -- the registry ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """A scalar metric of results files. ``name`` is its key in a results file's ``metrics`` (and the value of
    ``--metric``), ``label`` how tables and help name it, ``tasks`` the results that carry it (zsl, gzsl,
    retrieval), ``fn(scores, y, seen_mask=None) -> float`` computes it from (N, C) scores and the (N,) true
    class indices (retrieval: (N, C) multi-hot relevance; None where it does not apply: left out of the results),
    and ``higher_is_better`` orients rankings. ``zsl evaluate`` and ``zsl retrieve`` call ``fn`` for every metric
    of their task (GZSL's S, U, HM and top1 after calibrated stacking with beta, and retrieval's mAP, S, U, HM in
    one pass of ``retrieval_metrics``: see ``evaluate.py``).
    A ``probabilistic`` metric's ``fn`` takes logits (the scores divided by the temperature that ``zsl classify``
    applies) in place of the scores: call it through :func:`probabilistic_input`."""

    name: str
    label: str
    tasks: tuple[str, ...]
    fn: Callable[..., float]
    higher_is_better: bool = True
    probabilistic: bool = False


def probabilistic_input(metric: Metric, scores, temperature=None):
    """What ``metric.fn`` takes: ``scores``, or for a probabilistic metric ``scores / temperature`` (a number
    or one per row; None: each row's standard deviation, as ``zsl classify`` without a stored temperature)."""
    return as_logits(scores, temperature) if metric.probabilistic else scores


def _top1(scores, y, seen_mask=None) -> float:
    return top1_accuracy(y, predict(scores))


def _mean_class_acc(scores, y, seen_mask=None) -> float:
    return mean_per_class_accuracy(y, predict(scores), np.asarray(scores).shape[1])


def _map(scores, labels, seen_mask=None) -> float:
    return retrieval_metrics(scores, labels)["mAP"]


def _gzsl(key: str) -> Callable[..., float | None]:
    """S, U or HM: of per-class accuracy (classification, ``y`` (N,) class indices) or of per-class AP (retrieval,
    ``y`` (N, C) multi-hot relevance); None without seen classes (ZSL retrieval has no S/U/HM)."""
    def fn(scores, y, seen_mask=None) -> float | None:
        if seen_mask is None:
            return None
        if np.ndim(y) == 2:
            return retrieval_metrics(scores, y, seen_mask)[key]
        return getattr(gzsl_metrics(scores, y, seen_mask), key)
    return fn


# S, U and HM of retrieval results are the same means over seen / unseen classes, of per-class AP.
METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("top1", "top-1 accuracy", ("zsl", "gzsl"), _top1),
    Metric("mean_class_acc", "mean per-class accuracy", ("zsl",), _mean_class_acc),
    Metric("S", "mean over the seen classes", ("gzsl", "retrieval"), _gzsl("S")),
    Metric("U", "mean over the unseen classes", ("gzsl", "retrieval"), _gzsl("U")),
    Metric("HM", "harmonic mean of S and U", ("gzsl", "retrieval"), _gzsl("HM")),
    Metric("AUSUC", "area under the seen-unseen accuracy curve", ("gzsl",), ausuc),
    Metric("ece", f"expected calibration error of the top-1 probability ({ECE_BINS} bins)", ("zsl", "gzsl"),
           lambda z, y, seen_mask=None: expected_calibration_error(z, y), False, True),
    Metric("nll", "negative log-likelihood of the true class", ("zsl", "gzsl"),
           lambda z, y, seen_mask=None: negative_log_likelihood(z, y), False, True),
    Metric("mAP", "mean average precision", ("retrieval",), _map),
)}

# ``--metric auto`` (zsl compare, zsl plot cd): the first of these that the results carry
AUTO_METRICS = ("HM", "mAP", "top1")
# the columns of the GZSL classification and retrieval tables (AVGZSLNet Tables 1 and 2)
GZSL_COLUMNS = ("S", "U", "HM")


def metrics_of(task: str) -> list[Metric]:
    """The registered metrics that results of ``task`` (zsl, gzsl or retrieval) carry, in registry order."""
    return [m for m in METRICS.values() if task in m.tasks]


def metric_help() -> str:
    """``--metric``'s help: auto and every registered metric."""
    return ("auto (the first of " + ", ".join(AUTO_METRICS) + " the results carry), or any numeric metric of "
            "the results: " + ", ".join(f"{m.name} ({m.label})" for m in METRICS.values()))
