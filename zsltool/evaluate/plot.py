"""PNG figures with matplotlib's Agg backend: t-SNE of embeddings (paper 004 Fig. 6), confusion matrix,
per-class accuracy bars, critical-difference diagram (Demšar 2006 / paper 000-style Fig. 7).

matplotlib is imported inside the functions. t-SNE uses scikit-learn when it is installed; without it the
2-D layout falls back to PCA (numpy SVD) and the figure title says so.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.utils import check_output, temp_path_for

log = logging.getLogger("zsltool.evaluate.plot")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike, overwrite: bool, dpi: int = 120) -> Path:
    p = check_output(path, overwrite)
    tmp = temp_path_for(p)
    try:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
        _plt().close(fig)
    return p


def pca_2d(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    Xc = X - X.mean(axis=0, keepdims=True)
    if X.shape[0] < 2:
        return np.zeros((X.shape[0], 2))
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    comps = vt[:2]
    out = Xc @ comps.T
    if out.shape[1] < 2:
        out = np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    return out


def layout_2d(X: np.ndarray, method: str = "tsne", seed: int = 0, perplexity: float = 30.0) -> tuple[np.ndarray, str]:
    """2-D coordinates of the rows of X: ("tsne" via scikit-learn, else) PCA. Returns (coords, method used)."""
    X = np.asarray(X, dtype=np.float64)
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            log.warning("scikit-learn is not installed: using PCA instead of t-SNE (pip install scikit-learn)")
            return pca_2d(X), "pca"
        if X.shape[0] < 4:
            return pca_2d(X), "pca"
        perp = float(min(perplexity, max(1.0, (X.shape[0] - 1) / 3.0)))
        tsne = TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed)
        return tsne.fit_transform(X), "tsne"
    if method == "pca":
        return pca_2d(X), "pca"
    raise ZslError(f"unknown layout {method!r}", hint="use tsne or pca")


def plot_embedding(path, X, labels: Sequence[int], class_names: Sequence[str], class_X=None, *,
                   method: str = "tsne", seed: int = 0, title: str | None = None, overwrite: bool = False) -> Path:
    """Scatter of instance embeddings coloured by class; class (text) embeddings as stars (paper 004 Fig. 6).

    Instance and class rows are laid out together so the stars sit in the same 2-D space.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if X.ndim != 2 or X.shape[0] != labels.size:
        raise ZslError(f"embeddings {X.shape} and labels ({labels.size}) do not match")
    allX = X if class_X is None else np.vstack([X, np.asarray(class_X, dtype=np.float64)])
    coords, used = layout_2d(allX, method=method, seed=seed)
    pts, stars = coords[: X.shape[0]], coords[X.shape[0]:]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 6))
    cmap = plt.get_cmap("tab20")
    for c, name in enumerate(class_names):
        sel = labels == c
        color = cmap(c % 20)
        if sel.any():
            ax.scatter(pts[sel, 0], pts[sel, 1], s=12, color=color, alpha=0.7, label=name)
        if class_X is not None and c < len(stars):
            ax.scatter(stars[c, 0], stars[c, 1], marker="*", s=260, color=color, edgecolors="black", linewidths=0.8)
    ax.set_title(title or f"{used.upper()} of embeddings (stars: class embeddings)")
    ax.set_xticks([])
    ax.set_yticks([])
    if len(class_names) <= 25:
        ax.legend(fontsize=7, loc="best", markerscale=1.5)
    return _save(fig, path, overwrite)


def plot_confusion(path, cm, class_names: Sequence[str], *, normalize: bool = True, title: str | None = None,
                   overwrite: bool = False) -> Path:
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(class_names):
        raise ZslError(f"confusion matrix {cm.shape} does not match {len(class_names)} class names")
    if normalize:
        tot = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, tot, out=np.zeros_like(cm), where=tot > 0)
    plt = _plt()
    n = len(class_names)
    size = max(4.0, min(20.0, 0.35 * n + 2))
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(class_names, rotation=90, fontsize=7)
    ax.set_yticklabels(class_names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or ("confusion matrix (row-normalised)" if normalize else "confusion matrix"))
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _save(fig, path, overwrite)


def plot_per_class(path, class_names: Sequence[str], values: Sequence[float], *, ylabel: str = "accuracy",
                   title: str | None = None, chance: float | None = None, overwrite: bool = False) -> Path:
    vals = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if vals.size != len(class_names):
        raise ZslError(f"{vals.size} values for {len(class_names)} classes")
    order = np.argsort(-np.nan_to_num(vals, nan=-1.0), kind="mergesort")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.3 * len(class_names) + 2), 4))
    ax.bar(range(len(order)), np.nan_to_num(vals[order]), color="tab:blue")
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([class_names[i] for i in order], rotation=90, fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    if chance is not None:
        ax.axhline(chance, color="tab:red", linestyle="--", linewidth=1, label=f"chance {chance:.2f}")
        ax.legend(fontsize=8)
    ax.set_title(title or f"per-class {ylabel}")
    return _save(fig, path, overwrite)


def plot_cd_diagram(path, names: Sequence[str], avg_ranks: Sequence[float], cd: float, *,
                    title: str | None = None, overwrite: bool = False) -> Path:
    """Demšar's critical-difference diagram: rank axis, methods on both sides, bars join groups within CD."""
    from zsltool.evaluate.compare import cliques

    ranks = np.asarray(avg_ranks, dtype=np.float64)
    k = ranks.size
    order = np.argsort(ranks, kind="mergesort")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.35 * k))
    lo, hi = 1, max(k, 2)
    ax.set_xlim(lo - 0.5, hi + 0.5)
    ax.set_ylim(-(k // 2 + 2) - 1, 2.0)
    ax.axhline(0, color="black", linewidth=1)
    for r in range(lo, hi + 1):
        ax.plot([r, r], [0, 0.15], color="black", linewidth=1)
        ax.text(r, 0.3, str(r), ha="center", fontsize=9)
    # CD bar
    ax.plot([lo, lo + cd], [1.2, 1.2], color="black", linewidth=2)
    ax.text(lo + cd / 2, 1.4, f"CD = {cd:.3f}", ha="center", fontsize=9)
    half = (k + 1) // 2
    for pos, i in enumerate(order):
        left = pos < half
        y = -(pos + 1) if left else -(k - pos)
        x_text = lo - 0.4 if left else hi + 0.4
        ax.plot([ranks[i], ranks[i]], [0, y], color="black", linewidth=0.8)
        ax.plot([ranks[i], x_text], [y, y], color="black", linewidth=0.8)
        ax.text(x_text, y, f"{names[i]} ({ranks[i]:.2f})", ha="right" if left else "left", va="center", fontsize=9)
    sorted_r = ranks[order]
    for n, (a, b) in enumerate(cliques(ranks, cd)):
        y = -0.35 - 0.25 * n
        ax.plot([sorted_r[a] - 0.03, sorted_r[b] + 0.03], [y, y], color="tab:red", linewidth=3)
    ax.axis("off")
    ax.set_title(title or "critical difference (Nemenyi)", fontsize=10)
    return _save(fig, path, overwrite)
