"""Settings chosen on validation folds recover a badly scaled benchmark (not a test; run by hand).

Synthetic 1024-d audio features (30 classes, 20 clips each, 300-d text; ``zsltool.train.synthetic``) in two
copies: well scaled (values of order 1) and badly scaled (×100 + 300: values in the hundreds). Class folds:
5 folds, 1 validation fold per trial (``zsl split -p folds --folds 5 --val-folds 1``). Projection, mean
unseen-class top-1 over the 5 trials, through ``zsl experiment``:

* ``paper``: the paper's settings (``--preset paper``: SGD 1e-2, batch 32, no feature scaling);
* ``default``: zsl's defaults (feature scaling on for projection);
* ``grid``: ``--preset paper --grid lr=1e-3,1e-2 --grid optimizer=sgd,adam --grid zscore=false,true``, the
  setting and epoch chosen per trial on the validation fold.

    PYTHONPATH=. python benchmarks/bench_grid_scaling.py --epochs 40 > /tmp/grid.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zsltool.classes.protocols import make_split
from zsltool.evaluate.experiment import ExperimentSpec, run_experiment
from zsltool.store import read_embeddings, write_embeddings
from zsltool.train.synthetic import make_synthetic

GRID = {"lr": [1e-3, 1e-2], "optimizer": ["sgd", "adam"], "zscore": [False, True]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    out = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        syn = make_synthetic(tmp / "d", n_classes=30, per_class=20, latent=8, audio_dim=1024, text_dim=300,
                             noise=2.0, video=False, seed=a.seed)
        split = tmp / "folds.json"
        make_split(syn.class_set, "folds", split, seed=a.seed, folds=5, val_folds=1)
        e = read_embeddings(syn.audio)
        bad = tmp / "bad.h5"
        write_embeddings(bad, meta=e.meta, ids=e.ids, X=e.X * 100.0 + 300.0, classes=e.classes, labels=e.labels,
                         valid=e.valid, reasons=e.reasons)
        for data, audio in (("well-scaled", syn.audio), ("badly-scaled", bad)):
            for name, kw in (("paper", {"preset": "paper"}), ("default", {}),
                             ("grid", {"preset": "paper", "grid": GRID})):
                spec = ExperimentSpec(audio=str(audio), splits=[str(split)], out_dir=str(tmp / f"{data}-{name}"),
                                      text=str(syn.text), methods=["projection"], epochs=a.epochs, seed=a.seed,
                                      threads=1, jobs=a.jobs, **kw)
                doc = run_experiment(spec)
                accs = [r["metrics"]["both"]["top1"] for r in doc["trials"]]
                chosen = [r.get("selection", {}).get("label") for r in doc["trials"]]
                out[f"{data} / {name}"] = {"top1_mean": round(float(np.mean(accs)), 3),
                                           "top1_sd": round(float(np.std(accs, ddof=1)), 3),
                                           "per_trial": [round(x, 3) for x in accs],
                                           **({"chosen": chosen} if kw.get("grid") else {})}
                print(f"{data:13s} {name:8s} top-1 {np.mean(accs):.3f} ({time.perf_counter() - t0:.0f} s) "
                      f"{chosen if kw.get('grid') else ''}", file=sys.stderr)
    print(json.dumps({"epochs": a.epochs, "results": out, "seconds": round(time.perf_counter() - t0, 1)}, indent=1))


if __name__ == "__main__":
    main()
