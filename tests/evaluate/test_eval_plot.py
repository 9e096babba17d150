"""The PNG figures: opened with PIL, checked for size and non-blank content."""

import numpy as np
import pytest

from zsltool.errors import ZslError
from zsltool.evaluate import plot as P

Image = pytest.importorskip("PIL.Image")


def _check_png(path, min_w=200, min_h=100):
    img = Image.open(path)
    assert img.format == "PNG"
    w, h = img.size
    assert w >= min_w and h >= min_h
    a = np.asarray(img.convert("L"), dtype=np.float64)
    nonwhite = np.mean(a < 250)
    assert a.std() > 5 and nonwhite > 0.005, "the figure is blank"
    return img


def _clusters(rng, n_classes=3, per=10, dim=8):
    centers = rng.normal(size=(n_classes, dim)) * 4
    X = np.concatenate([centers[c] + rng.normal(size=(per, dim)) for c in range(n_classes)])
    y = np.repeat(np.arange(n_classes), per)
    return X, y, centers


def test_tsne_plot(tmp_path):
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    X, y, centers = _clusters(rng)
    out = P.plot_embedding(tmp_path / "tsne.png", X, y, ["cat", "dog", "bus"], centers, seed=0)
    _check_png(out)


def test_pca_layout_and_fallback(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    X, y, centers = _clusters(rng)
    coords, used = P.layout_2d(X, method="pca")
    assert used == "pca" and coords.shape == (30, 2)
    # PCA separates well separated clusters: class means far apart relative to spread
    m = np.array([coords[y == c].mean(axis=0) for c in range(3)])
    assert np.min([np.linalg.norm(m[i] - m[j]) for i in range(3) for j in range(i + 1, 3)]) > 2
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name, *a, **k):
        if name.startswith("sklearn"):
            raise ImportError("no sklearn")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    coords2, used2 = P.layout_2d(X, method="tsne")
    assert used2 == "pca" and np.allclose(coords2, coords)
    monkeypatch.setattr(builtins, "__import__", real_import)
    _check_png(P.plot_embedding(tmp_path / "pca.png", X, y, ["a", "b", "c"], centers, method="pca"))


def test_confusion_and_per_class_plots(tmp_path):
    cm = np.array([[8, 2, 0], [1, 5, 4], [0, 0, 10]])
    _check_png(P.plot_confusion(tmp_path / "cm.png", cm, ["a", "b", "c"]))
    _check_png(P.plot_per_class(tmp_path / "pc.png", ["a", "b", "c"], [0.8, 0.5, None], chance=1 / 3))
    with pytest.raises(ZslError, match="already exists"):
        P.plot_confusion(tmp_path / "cm.png", cm, ["a", "b", "c"])
    with pytest.raises(ZslError, match="does not match"):
        P.plot_confusion(tmp_path / "cm2.png", cm, ["a", "b"])


def test_cd_diagram(tmp_path):
    _check_png(P.plot_cd_diagram(tmp_path / "cd.png", ["m1", "m2", "m3", "m4"], [1.2, 2.0, 2.9, 3.9], 1.25),
               min_w=300)
