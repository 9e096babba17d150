"""The figures: opened with PIL (PNG) or read as PDF/SVG, checked for size, format, title and content; what each
one shows is read from the matplotlib objects as they are saved (axis labels, points, bars, image data)."""

import numpy as np
import pytest
from PIL import Image

from zsltool.errors import ZslError
from zsltool.evaluate import plot as P


def _check_png(path, min_w=200, min_h=100):
    img = Image.open(path)
    assert img.format == "PNG"
    w, h = img.size
    assert w >= min_w and h >= min_h
    a = np.asarray(img.convert("L"), dtype=np.float64)
    nonwhite = np.mean(a < 250)
    assert a.std() > 5 and nonwhite > 0.005, "the figure is blank"
    return img


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the plot functions save, in order (captured at Figure.savefig)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    saved = []
    real = Figure.savefig

    def savefig(self, *a, **k):
        saved.append(self)
        return real(self, *a, **k)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def _scatter_points(ax) -> list[int]:
    """Number of points of each scatter (PathCollection) of an axes, in drawing order."""
    from matplotlib.collections import PathCollection

    return [len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection)]


def _clusters(rng, n_classes=3, per=10, dim=8):
    centers = rng.normal(size=(n_classes, dim)) * 4
    X = np.concatenate([centers[c] + rng.normal(size=(per, dim)) for c in range(n_classes)])
    y = np.repeat(np.arange(n_classes), per)
    return X, y, centers


def test_tsne_plot(tmp_path, figures):
    rng = np.random.default_rng(0)
    X, y, centers = _clusters(rng)
    out = P.plot_embedding(tmp_path / "tsne.png", X, y, ["cat", "dog", "bus"], centers, seed=0)
    _check_png(out)
    ax = figures[-1].axes[0]
    pts = _scatter_points(ax)
    assert sorted(pts) == [1, 1, 1, 10, 10, 10]  # 10 instances per class, one star per class embedding
    assert sum(pts) == len(X) + len(centers)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cat", "dog", "bus"]


def test_pca_layout(tmp_path, figures):
    rng = np.random.default_rng(1)
    X, y, centers = _clusters(rng)
    coords, used = P.layout_2d(X, method="pca")
    assert used == "pca" and coords.shape == (30, 2)
    # PCA separates well separated clusters: class means far apart relative to spread
    m = np.array([coords[y == c].mean(axis=0) for c in range(3)])
    assert np.min([np.linalg.norm(m[i] - m[j]) for i in range(3) for j in range(i + 1, 3)]) > 2
    _check_png(P.plot_embedding(tmp_path / "pca.png", X, y, ["a", "b", "c"], centers, method="pca"))
    ax = figures[-1].axes[0]
    assert sum(_scatter_points(ax)) == 33 and "pca" in ax.get_title().lower()


def _svg_text(path):
    # svg.fonttype "none": titles are kept as text in the SVG
    return path.read_text(encoding="utf-8")


def test_title_names_the_layout_actually_computed(tmp_path):
    """Was: the demo's figure said "t-SNE" while scikit-learn was missing and PCA was drawn."""
    from sklearn.manifold import TSNE  # noqa: F401 - a dependency: t-SNE is real

    rng = np.random.default_rng(0)
    X, y, centers = _clusters(rng)
    coords, used = P.layout_2d(X, method="tsne")
    assert used == "tsne" and not np.allclose(coords, P.pca_2d(X))
    svg = _svg_text(P.plot_embedding(tmp_path / "t.svg", X, y, ["a", "b", "c"], centers,
                                     title="{layout} of projection audio embeddings"))
    assert "t-SNE of projection audio embeddings" in svg and "PCA" not in svg
    svg = _svg_text(P.plot_embedding(tmp_path / "p.svg", X, y, ["a", "b", "c"], centers, method="pca",
                                     title="{layout} of projection audio embeddings"))
    assert "PCA of projection audio embeddings" in svg and "t-SNE" not in svg
    # too few points for t-SNE: PCA is computed, and the title says PCA although t-SNE was asked for
    svg = _svg_text(P.plot_embedding(tmp_path / "few.svg", X[:3], np.arange(3), ["a", "b", "c"], method="tsne",
                                     title="{layout} of three points"))
    assert "PCA of three points" in svg and "t-SNE" not in svg


def test_format_from_extension_or_fmt(tmp_path):
    cm = np.array([[8, 2], [1, 9]])
    assert P.plot_confusion(tmp_path / "cm.pdf", cm, ["a", "b"]).read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in P.plot_confusion(tmp_path / "cm.svg", cm, ["a", "b"]).read_bytes()[:400]
    assert P.plot_confusion(tmp_path / "cm.png", cm, ["a", "b"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert P.plot_confusion(tmp_path / "cm.fig", cm, ["a", "b"], fmt="pdf").read_bytes()[:5] == b"%PDF-"
    with pytest.raises(ZslError, match="extension"):
        P.plot_confusion(tmp_path / "cm.jpgx", cm, ["a", "b"])
    with pytest.raises(ZslError, match="unknown figure format"):
        P.plot_confusion(tmp_path / "cm2.png", cm, ["a", "b"], fmt="bmp")
    assert not list(tmp_path.glob(".*tmp"))


def test_one_column_size(tmp_path):
    """A small figure is one column wide (3.5 in at 300 dpi ~ 1050 px, give or take the tight bbox)."""
    out = P.plot_per_class(tmp_path / "pc.png", ["a", "b", "c"], [0.8, 0.5, 0.2])
    w, h = Image.open(out).size
    assert 800 <= w <= 1200 and h < w


def test_confusion_and_per_class_plots(tmp_path, figures):
    cm = np.array([[8, 2, 0], [1, 5, 4], [0, 0, 10]])
    _check_png(P.plot_confusion(tmp_path / "cm.png", cm, ["a", "b", "c"]))
    ax = figures[-1].axes[0]
    shown = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(shown, [[0.8, 0.2, 0.0], [0.1, 0.5, 0.4], [0.0, 0.0, 1.0]])  # row-normalised
    assert ax.get_xlabel().lower().startswith("predicted") and ax.get_ylabel().lower().startswith("true")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert "confusion" in ax.get_title().lower()
    _check_png(P.plot_per_class(tmp_path / "pc.png", ["a", "b", "c"], [0.8, 0.5, None], chance=1 / 3))
    ax = figures[-1].axes[0]
    bars = [p.get_height() for p in ax.patches]
    assert bars == pytest.approx([0.8, 0.5, 0.0])  # sorted best first; no value = an empty bar
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert "accuracy" in ax.get_ylabel() and "accuracy" in ax.get_title()
    chance = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(chance) == 1 and chance[0].get_ydata()[0] == pytest.approx(1 / 3)
    with pytest.raises(ZslError, match="already exists"):
        P.plot_confusion(tmp_path / "cm.png", cm, ["a", "b", "c"])
    with pytest.raises(ZslError, match="does not match"):
        P.plot_confusion(tmp_path / "cm2.png", cm, ["a", "b"])


def test_cd_diagram(tmp_path, figures):
    _check_png(P.plot_cd_diagram(tmp_path / "cd.png", ["m1", "m2", "m3", "m4"], [1.2, 2.0, 2.9, 3.9], 1.25),
               min_w=300)
    ax = figures[-1].axes[0]
    texts = [t.get_text() for t in ax.texts]
    for name, rank in (("m1", 1.2), ("m2", 2.0), ("m3", 2.9), ("m4", 3.9)):
        assert any(t.startswith(name) and f"{rank:.2f}" in t for t in texts), (name, texts)
    assert any("1.250" in t for t in texts)  # the CD length is written on its bar
    cd_bar = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == pytest.approx([1, 2.25])]
    assert len(cd_bar) == 1
    # cliques (ranks within CD joined): m1-m2 (0.8), m2-m3 (0.9), m3-m4 (1.0); m1-m3 (1.7) is not
    red = [ln for ln in ax.get_lines() if ln.get_color() == "tab:red"]
    spans = sorted((round(min(ln.get_xdata()) + 0.03, 2), round(max(ln.get_xdata()) - 0.03, 2)) for ln in red)
    assert spans == [(1.2, 2.0), (2.0, 2.9), (2.9, 3.9)]
