"""Retrieval metrics: average precision per class (query = class text, ranked = instances), mAP, S/U/HM.

Average precision follows scikit-learn's ``average_precision_score`` definition
AP = sum_n (R_n - R_{n-1}) P_n over the distinct score thresholds, so tied scores are one step; without
ties it equals the mean, over the positives, of the precision at each positive's rank.
"""

from __future__ import annotations

import numpy as np

from zsltool.errors import ZslError
from zsltool.scores.stats import harmonic_mean


def average_precision(relevant, scores) -> float:
    """AP of ranking rows by ``scores`` (descending) for the boolean ``relevant``; NaN without positives."""
    rel = np.asarray(relevant, dtype=bool).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if rel.shape != s.shape:
        raise ZslError(f"relevance ({rel.size}) and scores ({s.size}) differ in length")
    n_pos = int(rel.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, rel_sorted = s[order], rel[order]
    # last index of each group of tied scores
    distinct = np.nonzero(np.diff(s_sorted))[0]
    ends = np.concatenate([distinct, [s_sorted.size - 1]])
    tp = np.cumsum(rel_sorted)[ends].astype(np.float64)
    precision = tp / (ends + 1)
    recall = tp / n_pos
    prev = np.concatenate([[0.0], recall[:-1]])
    return float(np.sum((recall - prev) * precision))


def per_class_ap(scores, labels) -> np.ndarray:
    """(C,) AP of each class column of ``scores`` (N, C) against multi-hot ``labels`` (N, C)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    if scores.shape != labels.shape:
        raise ZslError(f"scores {scores.shape} and labels {labels.shape} differ in shape")
    return np.array([average_precision(labels[:, c], scores[:, c]) for c in range(scores.shape[1])])


def retrieval_metrics(scores, labels, seen_mask=None) -> dict:
    """mAP over classes with positives; with ``seen_mask``: S = mAP of seen classes, U = of unseen, HM."""
    ap = per_class_ap(scores, labels)
    out = {"mAP": float(np.nanmean(ap)) if np.any(~np.isnan(ap)) else float("nan"), "per_class_ap": ap}
    if seen_mask is not None:
        seen_mask = np.asarray(seen_mask, dtype=bool)
        s_ap, u_ap = ap[seen_mask], ap[~seen_mask]
        s = float(np.nanmean(s_ap)) if np.any(~np.isnan(s_ap)) else float("nan")
        u = float(np.nanmean(u_ap)) if np.any(~np.isnan(u_ap)) else float("nan")
        out.update({"S": s, "U": u, "HM": harmonic_mean(s, u)})
    return out


def rank_instances(scores, ids, top: int | None = None) -> list[list[tuple[str, float]]]:
    """For each class column: the instance ids ranked by descending score (stable), with their scores."""
    scores = np.asarray(scores, dtype=np.float64)
    out = []
    for c in range(scores.shape[1]):
        order = np.argsort(-scores[:, c], kind="mergesort")
        if top is not None:
            order = order[:top]
        out.append([(ids[i], float(scores[i, c])) for i in order])
    return out
