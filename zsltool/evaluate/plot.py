"""Figures with matplotlib's Agg backend: t-SNE of embeddings (AVGZSLNet Fig. 6), confusion matrix,
per-class accuracy bars, critical-difference diagram (Demšar 2006; AVGZSLNet Fig. 7).

* Format from the file name: ``.png`` (300 dpi), ``.pdf`` or ``.svg`` (vector); ``fmt`` overrides it.
* Sized for one column of a two-column paper: 3.5 in (89 mm) wide, 8 pt text (7 pt tick labels), so a
  figure placed at the column width keeps its fonts at their nominal size. A confusion matrix or bar chart
  of many classes grows (up to the 7.16 in two-column width, then beyond) so that its labels stay legible.
* t-SNE is scikit-learn's (a dependency); the title names the layout that was actually computed: "PCA" when
  there are too few points for t-SNE (fewer than 4) or PCA was asked for.

matplotlib is imported inside the functions.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.files.checks import check_output, temp_path_for

log = logging.getLogger("zsltool.evaluate.plot")


FORMATS = ("png", "pdf", "svg")
COLUMN_WIDTH = 3.5          # inches: one column of a two-column paper (IEEE 3.5 in, ACM 3.33 in)
FONT_SIZE = 8
LAYOUT_LABEL = {"tsne": "t-SNE", "pca": "PCA"}
_STYLE = {"font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1, "axes.labelsize": FONT_SIZE,
          "xtick.labelsize": FONT_SIZE - 1, "ytick.labelsize": FONT_SIZE - 1, "legend.fontsize": FONT_SIZE - 2,
          "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none", "savefig.dpi": 300}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(_STYLE)
    return plt


def figure_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The figure format: ``fmt`` when given, else the file's extension (png, pdf or svg)."""
    if fmt:
        f = fmt.lower().lstrip(".")
        if f not in FORMATS:
            raise ZslError(f"unknown figure format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
        return f
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise ZslError(f"{path}: cannot tell the figure format from the extension {'.' + ext if ext else '(none)'}",
                       hint=f"name the file .png, .pdf or .svg, or give --format")
    return ext


def _save(fig, path: str | os.PathLike, overwrite: bool, fmt: str | None = None) -> Path:
    p = check_output(path, overwrite)
    tmp = temp_path_for(p)
    try:
        fig.savefig(tmp, format=figure_format(p, fmt), bbox_inches="tight")
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
    """2-D coordinates of the rows of X by t-SNE (scikit-learn) or PCA. Returns (coords, layout used)."""
    X = np.asarray(X, dtype=np.float64)
    if method == "tsne":
        if X.shape[0] < 4:
            log.warning(f"{X.shape[0]} point(s) are too few for t-SNE: the layout is PCA (and the title says so)")
            return pca_2d(X), "pca"
        from sklearn.manifold import TSNE

        perp = float(min(perplexity, max(1.0, (X.shape[0] - 1) / 3.0)))
        tsne = TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed)
        return tsne.fit_transform(X), "tsne"
    if method == "pca":
        return pca_2d(X), "pca"
    raise ZslError(f"unknown layout {method!r}", hint="use tsne or pca")


def plot_embedding(path, X, labels: Sequence[int], class_names: Sequence[str], class_X=None, *,
                   method: str = "tsne", seed: int = 0, title: str | None = None, overwrite: bool = False,
                   fmt: str | None = None) -> Path:
    """Scatter of instance embeddings coloured by class; class (text) embeddings as stars (AVGZSLNet Fig. 6).

    Instance and class rows are laid out together so the stars sit in the same 2-D space. ``title`` may hold
    ``{layout}``, replaced by the layout actually computed ("t-SNE" or "PCA"); the default title names it too.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if X.ndim != 2 or X.shape[0] != labels.size:
        raise ZslError(f"embeddings {X.shape} and labels ({labels.size}) do not match")
    allX = X if class_X is None else np.vstack([X, np.asarray(class_X, dtype=np.float64)])
    coords, used = layout_2d(allX, method=method, seed=seed)
    pts, stars = coords[: X.shape[0]], coords[X.shape[0]:]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, COLUMN_WIDTH * 0.9))
    cmap = plt.get_cmap("tab20")
    for c, name in enumerate(class_names):
        sel = labels == c
        color = cmap(c % 20)
        if sel.any():
            ax.scatter(pts[sel, 0], pts[sel, 1], s=4, color=color, alpha=0.7, label=name, linewidths=0)
        if class_X is not None and c < len(stars):
            ax.scatter(stars[c, 0], stars[c, 1], marker="*", s=80, color=color, edgecolors="black", linewidths=0.5)
    label = LAYOUT_LABEL[used]
    ax.set_title(title.replace("{layout}", label) if title
                 else f"{label} of embeddings (stars: class embeddings)")
    ax.set_xticks([])
    ax.set_yticks([])
    if len(class_names) <= 25:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3, markerscale=2, frameon=False,
                  handletextpad=0.2, columnspacing=0.8)
    return _save(fig, path, overwrite, fmt)


def plot_confusion(path, cm, class_names: Sequence[str], *, overwrite: bool = False, fmt: str | None = None) -> Path:
    """The confusion matrix normalised per true class (each row sums to 1; an empty row stays 0)."""
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(class_names):
        raise ZslError(f"confusion matrix {cm.shape} does not match {len(class_names)} class names")
    tot = cm.sum(axis=1, keepdims=True)
    cm = np.divide(cm, tot, out=np.zeros_like(cm), where=tot > 0)
    plt = _plt()
    n = len(class_names)
    size = max(COLUMN_WIDTH, min(20.0, 0.12 * n + 1.2))     # ~7 pt per row: one column up to ~19 classes
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(class_names, rotation=90, fontsize=FONT_SIZE - 2)
    ax.set_yticklabels(class_names, fontsize=FONT_SIZE - 2)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix (row-normalised)")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _save(fig, path, overwrite, fmt)


def plot_per_class(path, class_names: Sequence[str], values: Sequence[float], *, ylabel: str = "accuracy",
                   chance: float | None = None, overwrite: bool = False, fmt: str | None = None) -> Path:
    vals = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if vals.size != len(class_names):
        raise ZslError(f"{vals.size} values for {len(class_names)} classes")
    order = np.argsort(-np.nan_to_num(vals, nan=-1.0), kind="mergesort")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(COLUMN_WIDTH, 0.11 * len(class_names) + 0.6), 2.4))
    ax.bar(range(len(order)), np.nan_to_num(vals[order]), color="tab:blue")
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([class_names[i] for i in order], rotation=90, fontsize=FONT_SIZE - 2)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    if chance is not None:
        ax.axhline(chance, color="tab:red", linestyle="--", linewidth=1, label=f"chance {chance:.2f}")
        ax.legend()
    ax.set_title(f"per-class {ylabel}")
    return _save(fig, path, overwrite, fmt)


def plot_cd_diagram(path, names: Sequence[str], avg_ranks: Sequence[float], cd: float, *,
                    title: str | None = None, overwrite: bool = False, fmt: str | None = None) -> Path:
    """Demšar's critical-difference diagram: rank axis, methods on both sides, bars join groups within CD."""
    from zsltool.evaluate.compare import cliques

    ranks = np.asarray(avg_ranks, dtype=np.float64)
    k = ranks.size
    order = np.argsort(ranks, kind="mergesort")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 1.0 + 0.22 * k))
    lo, hi = 1, max(k, 2)
    ax.set_xlim(lo - 0.5, hi + 0.5)
    ax.set_ylim(-(k // 2 + 2) - 1, 2.0)
    ax.axhline(0, color="black", linewidth=1)
    for r in range(lo, hi + 1):
        ax.plot([r, r], [0, 0.15], color="black", linewidth=1)
        ax.text(r, 0.3, str(r), ha="center", fontsize=FONT_SIZE - 1)
    # CD bar
    ax.plot([lo, lo + cd], [1.2, 1.2], color="black", linewidth=2)
    ax.text(lo + cd / 2, 1.4, f"CD = {cd:.3f}", ha="center", fontsize=FONT_SIZE - 1)
    half = (k + 1) // 2
    for pos, i in enumerate(order):
        left = pos < half
        y = -(pos + 1) if left else -(k - pos)
        x_text = lo - 0.4 if left else hi + 0.4
        ax.plot([ranks[i], ranks[i]], [0, y], color="black", linewidth=0.8)
        ax.plot([ranks[i], x_text], [y, y], color="black", linewidth=0.8)
        ax.text(x_text, y, f"{names[i]} ({ranks[i]:.2f})", ha="right" if left else "left", va="center",
                fontsize=FONT_SIZE - 1)
    sorted_r = ranks[order]
    for n, (a, b) in enumerate(cliques(ranks, cd)):
        y = -0.35 - 0.25 * n
        ax.plot([sorted_r[a] - 0.03, sorted_r[b] + 0.03], [y, y], color="tab:red", linewidth=3)
    ax.axis("off")
    ax.set_title(title or "critical difference (Nemenyi)")
    return _save(fig, path, overwrite, fmt)
