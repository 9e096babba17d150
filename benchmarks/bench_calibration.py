"""Calibration of zsl's probabilities before/after a change: ECE and NLL of ``softmax(scores / T)`` on the
unseen test classes, with the temperature each tree's ``zsl train`` stores (issue 21, item 2).

Not a test; run by hand. Synthetic ESC-50-shaped class folds (``zsltool.train.synthetic``: 50 classes, 30
train, 10 test, 20 clips each, 128-d audio) with three kinds of side information:

* ``word-vector``     300-d ``tanh(C z)`` plus word noise (word2vec-like: isotropic, noisy);
* ``sentence-vector`` a shared direction three times stronger than the class part (sentence encoders'
                      vectors are anisotropic: every pair has a high cosine);
* ``audio-averaged``  each class's mean audio row (the demo's audio prototypes);

and three validation settings: ``val-fold`` (10 validation classes, every clip), ``val-small`` (2 validation
classes x 4 clips, as ``examples/esc50_zsl.sh`` on a small subset: often separable) and ``no-val`` (no
validation classes). Methods: projection (Dogan et al.) and ESZSL. Each tree trains in its own process
(``PYTHONPATH``) on the same files; this tree evaluates every checkpoint (``zsl evaluate``'s ``ece`` and
``nll`` with the checkpoint's stored temperature, or each clip's standard deviation without one).

    git worktree add --detach /tmp/old-calib <commit before>
    nice -n 5 python benchmarks/bench_calibration.py --old /tmp/old-calib --seeds 3 > /tmp/calib.json

``--variant NAME=PRIOR_SD`` adds a run of this tree with another prior width (``none``: no prior).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

KINDS = ("word-vector", "sentence-vector", "audio-averaged")
VALS = {"val-fold": 10, "val-small": 2, "no-val": 0}
METHODS = {"projection": {"epochs": 40}, "eszsl": {}}
HERE = Path(__file__).resolve()


def side_information(kind: str, syn, rng) -> np.ndarray:
    from zsltool.store import read_embeddings

    t = read_embeddings(syn.text).X.astype(np.float64)
    if kind == "word-vector":
        return t + 0.6 * rng.standard_normal(t.shape)
    if kind == "sentence-vector":
        common = rng.standard_normal(t.shape[1])
        return 3.0 * common / np.linalg.norm(common) * np.sqrt(t.shape[1]) * t.std() + t + 0.3 * rng.standard_normal(t.shape)
    a = read_embeddings(syn.audio)
    lab = a.label_index()
    return np.stack([a.X[lab == k].mean(0) for k in range(len(a.classes))])


def make(folder: Path, kind: str, val: str, seed: int, noise: float):
    """The data of one cell: a synthetic world, its side information and validation setting."""
    from zsltool.store import StoreMeta, read_embeddings, write_embeddings
    from zsltool.train.synthetic import make_synthetic

    n_val = VALS[val]
    syn = make_synthetic(folder, n_classes=40 + n_val, per_class=20, latent=8, audio_dim=128, text_dim=300,
                         noise=noise, n_train=30, n_val=n_val, video=False, seed=seed)
    rng = np.random.default_rng(seed + 1000)
    S = side_information(kind, syn, rng)
    write_embeddings(syn.text, meta=StoreMeta(kind="class", modality="text", extractor="synthetic",
                                              class_set_sha256=syn.class_set_sha256),
                     ids=syn.classes, X=S, classes=syn.classes, overwrite=True)
    if val == "val-small":  # 4 clips of each validation class: the other rows are marked invalid
        e = read_embeddings(syn.audio)
        lab = e.label_index()
        valid = e.valid.copy()
        for k in (30, 31):
            valid[np.nonzero(lab == k)[0][4:]] = False
        write_embeddings(syn.audio, meta=e.meta, ids=e.ids, X=np.where(valid[:, None], e.X, 0), classes=e.classes,
                         labels=e.labels, valid=valid, reasons=["" if v else "bench" for v in valid], overwrite=True)
    return syn


def train_all(cells: list[dict], out: str) -> None:
    """(In the process of one tree) train every cell's checkpoint into ``out``."""
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train

    for c in cells:
        ck = Path(out) / f"{c['name']}.pt"
        train(TrainConfig(audio=c["audio"], split=c["split"], text=c["text"], out=str(ck), method=c["method"],
                          seed=c["seed"], overwrite=True, threads=1, **METHODS[c["method"]]))


def evaluate(ck: Path) -> dict:
    from zsltool.evaluate.evaluate import evaluate_checkpoint, load_for_evaluation, score
    from zsltool.scores.temperature import softmax, temperature_of

    m = evaluate_checkpoint(ck)["metrics"]
    ld = load_for_evaluation(ck)
    _, s = score(ld, list(ld.trial.test))
    T, src = temperature_of(ld.ckpt.get("calibration"), s)
    cal = ld.ckpt.get("calibration") or {}
    return {"top1": m["top1"], "ece": m["ece"], "nll": m["nll"], "mean_top_p": float(softmax(s, T).max(1).mean()),
            "T": cal.get("temperature"), "T_over_scale": None if not cal.get("temperature") else
            float(cal["temperature"] / np.median(s.std(1))), "on": cal.get("on"), "source": src}


def run_tree(label: str, tree: str | None, cells: list[dict], tmp: Path, prior_sd: str | None) -> None:
    out = tmp / label
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=tree or str(HERE.parent.parent), OMP_NUM_THREADS="1")
    if prior_sd is not None:
        env["ZSL_BENCH_PRIOR_SD"] = prior_sd
    (tmp / f"{label}.json").write_text(json.dumps(cells))
    subprocess.run([sys.executable, str(HERE), "--train-only", str(tmp / f"{label}.json"), str(out)], env=env,
                   check=True, cwd=str(tmp))


def summarise(rows: list[dict]) -> list[dict]:
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["kind"], r["val"], r["noise"], r["tree"]), []).append(r)
    out = []
    for (kind, val, noise, tree), rs in groups.items():
        out.append({"kind": kind, "val": val, "noise": noise, "tree": tree, "n": len(rs),
                    **{k: round(float(np.mean([r[k] for r in rs])), 3) for k in ("top1", "ece", "nll", "mean_top_p")},
                    "ece_max": round(float(max(r["ece"] for r in rs)), 3)})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", help="the tree before the change (git worktree)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--noise", type=float, nargs="+", default=[2.5, 6.0],
                    help="audio noise of the synthetic worlds (2.5: unseen top-1 about 0.8, 6: about 0.4)")
    ap.add_argument("--variant", action="append", default=[], help="NAME=PRIOR_SD (or NAME=none)")
    ap.add_argument("--train-only", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.train_only:
        if os.environ.get("ZSL_BENCH_PRIOR_SD"):
            import zsltool.scores.temperature as CC

            v = os.environ["ZSL_BENCH_PRIOR_SD"]
            CC.PRIOR_SD = None if v == "none" else float(v)
        train_all(json.loads(Path(a.train_only[0]).read_text()), a.train_only[1])
        return
    t0 = time.perf_counter()
    trees = [("new", None, None)] + ([("old", a.old, None)] if a.old else [])
    trees += [(v.split("=")[0], None, v.split("=")[1]) for v in a.variant]
    rows = []
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        cells = []
        for kind, val, noise, seed in itertools.product(KINDS, VALS, a.noise, range(a.seeds)):
            syn = make(tmp / "data" / f"{kind}-{val}-{noise}-{seed}", kind, val, seed, noise)
            for m in METHODS:
                cells.append({"name": f"{kind}-{val}-{noise}-{seed}-{m}", "kind": kind, "val": val, "seed": seed,
                              "noise": noise, "method": m, "audio": str(syn.audio), "split": str(syn.split),
                              "text": str(syn.text)})
        for label, tree, prior in trees:
            run_tree(label, tree, cells, tmp, prior)
            for c in cells:
                r = {"tree": label, **{k: c[k] for k in ("kind", "val", "noise", "seed", "method")},
                     **evaluate(tmp / label / f"{c['name']}.pt")}
                rows.append(r)
                print(json.dumps(r), file=sys.stderr)
    print(json.dumps({"summary": summarise(rows), "rows": rows, "seconds": round(time.perf_counter() - t0, 1),
                      "load": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
