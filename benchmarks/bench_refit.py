"""Refit after selection (issue 24, item 1): the defaults trained on every non-test class (no validation) vs
``--grid`` choosing on a validation fold without refit vs ``--grid`` with ``--refit`` (stage 2 retrains on
training + validation classes with the chosen setting for the chosen number of epochs), on the same test
classes. Also the defaults trained on the training folds only (the epoch chosen on the validation fold) and
the defaults with ``--refit`` (only the epoch is chosen, then retrained on all four folds).

Not a test; run by hand. Feature kinds from benchmarks/bench_scaling.py (synthetic, the latent class structure
of ``zsltool.train.synthetic``; 30 classes × 20 clips, 300-d text ``tanh(C z)``, noise 4 by default). Five class folds of 6: trial
k tests fold k; with validation, fold k+1 validates and the other three (18 classes) train; without, the other
four (24 classes) train. Unseen-class top-1, mean ± SD over seeds × folds (each seed its own data).

    PYTHONPATH=. python benchmarks/bench_refit.py --seeds 3 > /tmp/refit.json
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
from bench_scaling import KINDS, transform  # noqa: E402

GRID = {"lr": [3e-3, 1e-2, 3e-2], "zscore": [False, True]}
VARIANTS = {"defaults, no validation": ("noval", {}), "defaults, validation fold held out": ("val", {}),
            "grid, no refit": ("val", {"grid": GRID}),
            "grid + refit": ("val", {"grid": GRID, "refit": True}), "defaults + refit (epoch)": ("val", {"refit": True})}


def make(kind: str, folder: Path, seed: int, noise: float):
    """bench_scaling's feature kind at noise ``noise`` (harder than its 2.0, so that top-1 is off the ceiling)."""
    from zsltool.store import read_embeddings, write_embeddings
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(folder, n_classes=30, per_class=20, latent=8, audio_dim=KINDS[kind], text_dim=300,
                         noise=noise, n_train=18, n_val=6, video=False, seed=seed)
    e = read_embeddings(syn.audio)
    X = transform(kind, e.X.astype(np.float64), np.random.default_rng(seed + 100)).astype(np.float32)
    write_embeddings(syn.audio, meta=e.meta, ids=e.ids, X=X, classes=e.classes, labels=e.labels, valid=e.valid,
                     reasons=e.reasons, overwrite=True)
    return syn


def folds_splits(syn, folder: Path) -> dict[str, Path]:
    from zsltool.classes.splits import Split, Trial, load_split

    sp = load_split(syn.split)
    cls = list(syn.classes)
    f = [cls[i::5] for i in range(5)]
    val, noval = [], []
    for k in range(5):
        rest = [c for j in range(5) if j not in (k, (k + 1) % 5) for c in f[j]]
        val.append(Trial(train=rest, val=f[(k + 1) % 5], test=f[k]))
        noval.append(Trial(train=[c for j in range(5) if j != k for c in f[j]], val=[], test=f[k]))
    out = {}
    for name, trials in (("val", val), ("noval", noval)):
        out[name] = Split(trials=trials, protocol="custom", class_set_sha256=sp.class_set_sha256).save(
            folder / f"{name}.json", overwrite=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--kinds", default="vggish-128,unit-512,relu-2048")
    ap.add_argument("--methods", default="projection,ale")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--noise", type=float, default=4.0)
    a = ap.parse_args()
    import torch

    from zsltool.evaluate.experiment import ExperimentSpec, run_experiment

    acc: dict[tuple, list] = {}
    epochs: dict[tuple, list] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in a.kinds.split(","):
            for seed in range(a.seeds):
                folder = Path(tmp) / f"{kind}{seed}"
                syn = make(kind, folder, seed, a.noise)
                splits = folds_splits(syn, folder)
                for name, (sp, extra) in VARIANTS.items():
                    spec = ExperimentSpec(audio=str(syn.audio), text=str(syn.text), splits=[str(splits[sp])],
                                          out_dir=str(folder / name.replace(" ", "_").replace(",", "")),
                                          methods=a.methods.split(","), epochs=a.epochs, seed=seed,
                                          threads=a.threads, **extra)
                    for r in run_experiment(spec)["trials"]:
                        acc.setdefault((kind, r["method"], name), []).append(r["metrics"]["both"]["top1"])
                        if r.get("stage1"):
                            epochs.setdefault((kind, r["method"], name), []).append(r["stage1"]["epoch"])
                    print(f"{kind} seed {seed} {name}: " + ", ".join(
                        f"{m} {np.mean(acc[(kind, m, name)][-5:]):.3f}" for m in a.methods.split(","))
                          + f" ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    table = {}
    for (kind, m, name), v in acc.items():
        e = epochs.get((kind, m, name))
        table.setdefault(f"{kind} {m}", {})[name] = (f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}"
                                                     + (f" (epoch {np.mean(e):.0f})" if e else ""))
    print(json.dumps({"seeds": a.seeds, "folds": 5, "epochs": a.epochs, "noise": a.noise, "grid": GRID, "top1": table,
                      "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                      "seconds": round(time.perf_counter() - t0, 1)}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
