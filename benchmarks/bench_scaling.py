"""Feature scaling (``zscore``, ``l2_classes``) on several kinds of features: unseen-class top-1 per method.

Not a test; run by hand. The decision it informs (the default of ``zscore`` / ``l2_classes``) and its table
are in docs/methods.md ("Feature scaling").

Feature kinds (synthetic, with the shared latent class structure of ``zsltool.train.synthetic``; 30 classes:
18 train, 6 validation, 6 test; 20 clips per class; 300-d text embeddings ``tanh(C z)``):

* ``vggish-128``   128-d, quantized to 0..255 like the released post-PCA VGGish embeddings;
* ``unit-512``     512-d, values of order 1 (zero mean);
* ``unit-1024``    1024-d, values of order 1 (the well-scaled control of ``hundreds-1024``);
* ``hundreds-1024``1024-d, ×100 + 300: values in the hundreds (an AudioSet-pretrained network's raw output);
* ``relu-2048``    2048-d, non-negative (ReLU) with per-dimension scales spread over two decades (ResNet-like
                   pooled features).

    PYTHONPATH=. python benchmarks/bench_scaling.py --seeds 3 --threads 2 > /tmp/scaling.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from zsltool.store import read_embeddings, write_embeddings
from zsltool.train.config import TrainConfig
from zsltool.train.loop import train
from zsltool.train.synthetic import make_synthetic

KINDS = {"vggish-128": 128, "unit-512": 512, "unit-1024": 1024, "hundreds-1024": 1024, "relu-2048": 2048}
# explicit on/off for both (since the methods have scaling defaults, {} would mean each method's default)
SCALINGS = {"none": {"zscore": False, "l2_classes": False}, "zscore": {"zscore": True, "l2_classes": False},
            "l2": {"zscore": False, "l2_classes": True}, "zscore+l2": {"zscore": True, "l2_classes": True}}
METHODS = {"projection": {"epochs": 60}, "devise": {"epochs": 60}, "eszsl": {}, "sae": {}, "conse": {},
           "bilinear": {"epochs": 60}, "ale": {"epochs": 60}, "sje": {"epochs": 60}}


def transform(kind: str, X: np.ndarray, rng) -> np.ndarray:
    if kind.startswith("vggish"):
        lo, hi = np.percentile(X, 1), np.percentile(X, 99)
        return np.clip(np.round((X - lo) / (hi - lo) * 255), 0, 255)
    if kind.startswith("hundreds"):
        return X * 100.0 + 300.0
    if kind.startswith("relu"):
        return np.maximum(X, 0) * np.exp(rng.uniform(-2.3, 2.3, size=X.shape[1]))
    return X


def make(kind: str, folder: Path, seed: int):
    d = KINDS[kind]
    syn = make_synthetic(folder, n_classes=30, per_class=20, latent=8, audio_dim=d, text_dim=300, noise=2.0,
                         n_train=18, n_val=6, video=False, seed=seed)
    e = read_embeddings(syn.audio)
    X = transform(kind, e.X.astype(np.float64), np.random.default_rng(seed + 100)).astype(np.float32)
    write_embeddings(syn.audio, meta=e.meta, ids=e.ids, X=X, classes=e.classes, labels=e.labels, valid=e.valid,
                     reasons=e.reasons, overwrite=True)
    return syn


def unseen_top1(ckpt) -> float:
    from zsltool.evaluate.evaluate import evaluate_checkpoint

    return float(evaluate_checkpoint(ckpt)["metrics"]["top1"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--slow-sae", action="store_true")
    ap.add_argument("--scipy-sae", action="store_true", help="solve SAE with scipy's general Sylvester solver "
                    "(zsl's solver before issue 14's item 7)")
    a = ap.parse_args()
    if a.scipy_sae:
        import zsltool.methods.closed_form as CF
        from scipy.linalg import solve_sylvester

        CF.sae_solution = lambda X, S, lam: solve_sylvester(S @ S.T, lam * (X @ X.T), (1 + lam) * S @ X.T)
    torch.set_num_threads(a.threads)
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in a.kinds.split(","):
            for seed in range(a.seeds):
                syn = make(kind, Path(tmp) / f"{kind}{seed}", seed)
                for m in a.methods.split(","):
                    if m == "sae" and KINDS[kind] > 512 and a.scipy_sae and not a.slow_sae:
                        continue  # scipy's 1024-d Sylvester solve takes ~30 s here; --slow-sae includes them
                    for sc, args in SCALINGS.items():
                        out = Path(tmp) / f"{kind}{seed}{m}{sc}.pt"
                        try:
                            r = train(TrainConfig(audio=str(syn.audio), split=str(syn.split), text=str(syn.text),
                                                  out=str(out), method=m, method_args=dict(args), seed=seed,
                                                  overwrite=True, threads=a.threads, **METHODS[m]))
                            acc = unseen_top1(r.checkpoint)
                        except Exception as e:  # noqa: BLE001 - a diverged run is a result too
                            acc = float("nan")
                            print(f"{kind} {m} {sc} seed {seed}: {e}", file=sys.stderr)
                        rows.append({"kind": kind, "method": m, "scaling": sc, "seed": seed, "top1": acc})
                        print(f"{kind:14s} {m:10s} {sc:9s} seed {seed}: {acc:.3f}  ({time.perf_counter() - t0:.0f} s)",
                              file=sys.stderr)
    table = {}
    for r in rows:
        table.setdefault((r["kind"], r["method"]), {}).setdefault(r["scaling"], []).append(r["top1"])
    summary = [{"kind": k, "method": m, **{sc: round(float(np.nanmean(v)), 3) for sc, v in d.items()}}
               for (k, m), d in table.items()]
    print(json.dumps({"rows": rows, "summary": summary, "seconds": round(time.perf_counter() - t0, 1)}, indent=1))


if __name__ == "__main__":
    main()
