"""AVGZSLNet loss ablations with the scale-consistent (relative) and the literal (absolute) decoder margin.

Not a test; run by hand. Synthetic audio-visual GZSL data (``zsltool.train.synthetic``: 20 classes, 14 seen,
6 unseen, 20 clips each, audio 128-d, video 256-d, 300-d unit-norm text), 20 % of each unseen class's clips
kept apart as unseen validation rows; the epoch chosen by validation HM (``val_hm``), beta by calibrated
stacking on the same validation rows; test HM on ``both`` (mean of 3 seeds), 50 epochs, Adam 1e-3.

    PYTHONPATH=. python benchmarks/bench_av_ablation.py > /tmp/ablation.json
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zsltool.classes.splits import Split, load_split
from zsltool.evaluate.evaluate import evaluate_checkpoint
from zsltool.store import read_embeddings, write_embeddings
from zsltool.train.config import TrainConfig
from zsltool.train.loop import train
from zsltool.train.synthetic import make_synthetic

VARIANTS = {
    "full": {}, "full, absolute decoder margin": {"decoder_margin": "absolute"},
    "w/o L_REC": {"disabled_losses": ["rec"]}, "w/o L_CTA, L_CTV": {"disabled_losses": ["cta", "ctv"]},
    "w/o L_CMD (rec, cta, ctv)": {"disabled_losses": ["rec", "cta", "ctv"]},
    "w/o L_TA, L_AT": {"disabled_losses": ["ta", "at"]}, "w/o L_TV, L_VT": {"disabled_losses": ["tv", "vt"]},
}


def data(folder: Path, seed: int):
    syn = make_synthetic(folder, n_classes=20, per_class=20, latent=8, audio_dim=128, video_dim=256, text_dim=300,
                         noise=1.5, n_train=10, n_val=4, gzsl=True, seed=seed)
    e = read_embeddings(syn.text)
    write_embeddings(syn.text, meta=e.meta, ids=e.ids, X=e.X / np.linalg.norm(e.X, axis=1, keepdims=True),
                     classes=e.classes, overwrite=True)
    sp = load_split(syn.split)
    t = sp.trial(0)
    a = read_embeddings(syn.audio)
    lab = a.label_index()
    t.instances["val_unseen"] = [a.ids[i] for i in range(len(a.ids)) if a.classes[lab[i]] in t.unseen and i % 5 == 0]
    Split(trials=[t], protocol="gzsl", class_set_sha256=syn.class_set_sha256).save(syn.split, overwrite=True)
    return syn


def main():
    rows = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(3):
            syn = data(Path(tmp) / f"s{seed}", seed)
            for name, args in VARIANTS.items():
                ck = Path(tmp) / f"{seed}.pt"
                train(TrainConfig(audio=str(syn.audio), video=str(syn.video), split=str(syn.split),
                                  text=str(syn.text), out=str(ck), method="avgzslnet", method_args=dict(args),
                                  seed=seed, threads=1, overwrite=True))
                m = evaluate_checkpoint(ck, calibrate=True)["metrics"]
                rows.setdefault(name, []).append((m["S"], m["U"], m["HM"], m.get("AUSUC")))
                print(f"seed {seed} {name:30s} HM {m['HM']:.3f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    out = {k: dict(zip(("S", "U", "HM", "AUSUC"), np.round(np.mean(v, axis=0), 3).tolist())) for k, v in rows.items()}
    print(json.dumps({"mean_of_3_seeds": out, "seconds": round(time.perf_counter() - t0, 1)}, indent=1))


if __name__ == "__main__":
    main()
