"""t-SNE layout time for ``zsl plot --kind tsne`` sizes: scikit-learn vs openTSNE (not a test; run by hand).

``zsl plot`` lays out at most ``--max-per-class`` (default 50) test instances per class plus one star per
class: ESC-50-sized 50 classes -> 2,050 rows, AudioSetZSL-sized 33 classes -> 1,683 rows, a Table III
test fold of 23 classes -> 1,173 rows; --max-per-class 100 doubles that. Rows are clustered Gaussian
points in a 300-d space (the projection method's word-vector space). Both libraries use Barnes-Hut,
perplexity 30, PCA initialisation, the same seed, 2 threads. The score is wall time of fit_transform
and the kNN-preservation (fraction of each point's 10 nearest neighbours in the input that are also
among its 10 nearest in 2-D), so a faster but worse layout would show.

    PYTHONPATH=. python benchmarks/bench_tsne.py --sizes 500 1173 2050 4100
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def data(n: int, d: int = 300, k: int = 30, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * 3
    return centers[rng.integers(0, k, n)] + rng.normal(size=(n, d))


def knn_keep(X: np.ndarray, Y: np.ndarray, k: int = 10) -> float:
    from sklearn.neighbors import NearestNeighbors

    a = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    b = NearestNeighbors(n_neighbors=k + 1).fit(Y).kneighbors(Y, return_distance=False)[:, 1:]
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b)]))


def run_sklearn(X, threads):
    from sklearn.manifold import TSNE

    return TSNE(n_components=2, perplexity=30, init="pca", random_state=0, n_jobs=threads).fit_transform(X)


def run_opentsne(X, threads):
    from openTSNE import TSNE

    return np.asarray(TSNE(n_components=2, perplexity=30, initialization="pca", random_state=0,
                           n_jobs=threads).fit(X))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1173, 2050, 4100])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--libs", nargs="+", default=["sklearn", "opentsne"])
    a = ap.parse_args()
    rows = []
    for n in a.sizes:
        X = data(n)
        for lib in a.libs:
            fn = run_sklearn if lib == "sklearn" else run_opentsne
            try:
                t = time.perf_counter()
                Y = fn(X, a.threads)
                dt = time.perf_counter() - t
            except ImportError as e:
                rows.append({"n": n, "lib": lib, "error": str(e)})
                continue
            rows.append({"n": n, "lib": lib, "seconds": round(dt, 2), "knn10_kept": round(knn_keep(X, Y), 3)})
            print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
