"""The transductive setting: the unlabelled test rows, taken together, refine the zero-shot assignment.

Inductive zero-shot learning (zsl's default, and the setting of Dogan et al. and of Mazumder et al.) scores each
test row on its own. In the transductive setting, a recognised variant that papers report in tables of their own
(e.g. Fu et al., "Transductive multi-view zero-shot learning", 2015; Wan et al., "Transductive zero-shot learning
with visual structure constraint", 2019), the model may also look at the unlabelled test rows as a whole: unseen
classes form clusters in the audio space that the side information alone places only roughly.

A refiner takes the test rows' zero-shot scores and their input features and returns new scores of the same
shape. It is never given a label: the functions here have no parameter through which one could arrive (a test
scrambles the labels and gets the same predictions). Results made with a refiner name it in their config,
caption, record and ``trials.csv`` column ``setting``; ``zsl experiment --transductive`` adds rows beside the
inductive ones.

To add a refiner: one function ``(scores, X, steps) -> scores`` and one ``REFINERS`` entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from zsltool.scores.temperature import log_softmax
@dataclass(frozen=True)
class Refiner:
    name: str
    label: str          # how tables and captions name the setting
    fn: Callable        # (scores (N, C), features (N, D), steps) -> refined scores (N, C)
    steps: int          # default number of iterations


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm (a zero row stays zero)."""
    X = np.asarray(X, dtype=np.float64)
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(n > 0, n, 1.0)


def _initial_centroids(scores: np.ndarray, X: np.ndarray) -> np.ndarray:
    """One centroid per class: the mean of the rows the zero-shot scores assign to it (argmax); a class that no
    row is assigned to starts from the mean of the ``ceil(N / C)`` rows its own score column ranks highest."""
    n, c = scores.shape
    assign = scores.argmax(axis=1)
    k = max(1, -(-n // c))
    top = np.argsort(-scores, axis=0, kind="stable")[:k]            # (k, C) row indices
    mu = X[top].mean(axis=0)                                        # (C, D)
    for j in np.unique(assign):
        mu[j] = X[assign == j].mean(axis=0)
    return mu


def _match_clusters(logp: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Which class each cluster is: the one-to-one matching (Hungarian) that maximises the clusters' mean
    zero-shot score, each row's scores standardised across classes (no scale to tune). Clustering keeps the
    clusters' shapes but may hand a cluster's name to its neighbour; matching the clusters to the classes' side
    information as a whole is Wan et al.'s structure constraint in its simplest form."""
    from scipy.optimize import linear_sum_assignment

    z = _standardised_rows(scores)
    p = np.exp(logp)
    gain = (p.T @ z) / np.maximum(p.sum(axis=0), 1e-12)[:, None]     # (clusters, classes)
    rows, cols = linear_sum_assignment(-gain)
    out = np.empty_like(logp)
    out[:, cols] = logp[:, rows]
    return out


def _standardised_rows(s: np.ndarray) -> np.ndarray:
    """Each row's zero-shot scores standardised across the classes (no scale to tune)."""
    z = s - s.mean(axis=1, keepdims=True)
    return z / np.maximum(z.std(axis=1, keepdims=True), 1e-12)


def _standardised_columns(X: np.ndarray) -> np.ndarray:
    """Each feature column centred and scaled to unit variance over the rows being refined (their own statistics:
    no label, no training row), so that no few large columns decide every distance."""
    X = np.asarray(X, dtype=np.float64)
    return (X - X.mean(axis=0)) / np.maximum(X.std(axis=0), 1e-12)


def soft_kmeans(scores: np.ndarray, X: np.ndarray, steps: int = 10, prior: float = 0.5) -> np.ndarray:
    """Soft k-means in the input space (columns standardised over the rows, rows L2-normalised), one cluster per
    class, started from the zero-shot assignment. Each step: squared distances d² to the centroids;
    responsibilities softmax(−d²/τ + prior·z), τ the rows' mean margin between their nearest and second-nearest
    centroid (no scale to tune) and z each row's zero-shot scores standardised across classes (the side
    information keeps its say); centroids re-estimated from the responsibilities. The clusters are then matched
    one-to-one to the classes by their mean zero-shot score (``_match_clusters``). Returns the final
    log-responsibilities (their argmax is the refined prediction). ``prior`` = 0.5 was chosen on synthetic
    class folds (three feature kinds, ESZSL scores; benchmarks/RESULTS.md), not on any benchmark it reports."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or len(s) == 0 or s.shape[1] < 2:
        return np.asarray(scores, dtype=np.float32)
    Xn = unit_rows(_standardised_columns(X))
    z = _standardised_rows(s)
    mu = _initial_centroids(s, Xn)
    logp = log_softmax(s)
    for _ in range(max(1, int(steps))):
        # |x − μ|² = |x|² + |μ|² − 2 x·μ: (N, C) without an (N, C, D) array (10k rows × 200 classes × 512-d
        # would be 8 GB)
        d2 = np.maximum((Xn * Xn).sum(1)[:, None] + (mu * mu).sum(1)[None, :] - 2.0 * Xn @ mu.T, 0.0)
        near = np.sort(d2, axis=1)
        tau = max(float((near[:, 1] - near[:, 0]).mean()), 1e-12)
        logp = log_softmax(-d2 / tau + prior * z)
        p = np.exp(logp)
        w = p.sum(axis=0)
        upd = w > 1e-9
        mu[upd] = (p.T @ Xn)[upd] / w[upd, None]
    return _match_clusters(logp, s).astype(np.float32)


REFINERS: dict[str, Refiner] = {
    "soft-kmeans": Refiner("soft-kmeans", "transductive: soft k-means", soft_kmeans, 10),
}


def refiner(name: str) -> Refiner:
    from zsltool.errors import ZslError

    if name not in REFINERS:
        raise ZslError(f"unknown transductive refiner {name!r}", hint=f"choose from {', '.join(REFINERS)}")
    return REFINERS[name]


def instance_features(inst, mods) -> np.ndarray:
    """The input features a refiner clusters: the rows' audio embeddings, L2-normalised, beside their video
    embeddings (L2-normalised, zero where a modality is invalid) when the model scores video too."""
    parts = []
    if "audio" in mods:
        parts.append(unit_rows(inst.audio) * np.asarray(inst.audio_valid, bool)[:, None])
    if "video" in mods and inst.video is not None:
        parts.append(unit_rows(inst.video) * np.asarray(inst.video_valid, bool)[:, None])
    if not parts:
        parts.append(unit_rows(inst.audio))
    return np.hstack(parts)


def refine(name: str, scores: np.ndarray, X: np.ndarray, steps: int | None = None) -> np.ndarray:
    """``scores`` refined by the refiner ``name`` using the rows' features ``X`` (never their labels)."""
    r = refiner(name)
    return r.fn(scores, X, r.steps if steps is None else steps)
