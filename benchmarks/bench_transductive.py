"""The transductive setting (issue 24, item 2): inductive vs ``--transductive soft-kmeans`` unseen-class top-1 of
the same trained models, on several feature kinds.

Not a test; run by hand. Data and folds as benchmarks/bench_refit.py (synthetic, the latent class structure of
``zsltool.train.synthetic``; 30 classes × 20 clips, 300-d text, noise 4; five class folds of 6, trial k tests
fold k and trains on the other 24 classes). One ``zsl experiment`` per kind and seed with
``transductive=["soft-kmeans"]``: both rows come from the same checkpoints. Mean ± SD over seeds × folds, and
how many of the trials the refinement lowered.

    PYTHONPATH=. python benchmarks/bench_transductive.py --seeds 3 > /tmp/transductive.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_refit import folds_splits, make  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--kinds", default="vggish-128,unit-512,relu-2048")
    ap.add_argument("--methods", default="eszsl,sae,projection")
    ap.add_argument("--noise", type=float, default=4.0)
    ap.add_argument("--first-seed", type=int, default=10, help="seeds 0-1 chose the refiner's prior weight")
    a = ap.parse_args()
    from zsltool.evaluate.experiment import ExperimentSpec, run_experiment

    out, t0 = {}, time.time()
    for kind in a.kinds.split(","):
        per: dict[str, dict[str, list[float]]] = {}
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            with tempfile.TemporaryDirectory() as tmp:
                d = Path(tmp)
                syn = make(kind, d, seed, a.noise)
                split = folds_splits(syn, d)["noval"]
                doc = run_experiment(ExperimentSpec(audio=str(syn.audio), splits=[str(split)], out_dir=str(d / "x"),
                                                    text=str(syn.text), methods=a.methods.split(","), seed=seed,
                                                    threads=1, transductive=["soft-kmeans"]))
                for rec in doc["trials"]:
                    m = rec.get("base_method", rec["method"])
                    per.setdefault(m, {}).setdefault(rec.get("setting", "inductive"), []).append(
                        rec["metrics"]["both"]["top1"])
        out[kind] = {}
        for m, by in per.items():
            ind, tr = np.array(by["inductive"]), np.array(by["transductive: soft-kmeans"])
            out[kind][m] = {"inductive": [float(ind.mean()), float(ind.std(ddof=1))],
                            "transductive": [float(tr.mean()), float(tr.std(ddof=1))],
                            "trials": len(ind), "lowered": int((tr < ind).sum()), "raised": int((tr > ind).sum())}
        print(kind, json.dumps(out[kind]), file=sys.stderr)
    print(json.dumps({"results": out, "seconds": time.time() - t0}, indent=1))


if __name__ == "__main__":
    main()
