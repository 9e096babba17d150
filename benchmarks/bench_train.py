"""Training time per epoch at the papers' sizes (not a test; run by hand).

* projection (Dogan et al.): 69 classes x 300 clips, 128-d VGGish audio, 300-d word2vec text (r = d_s = 300),
  23 training classes (23 x 300 = 6,900 training clips), batch 32, SGD.
* avgzslnet (Mazumder et al.): AudioSetZSL-sized: 33 classes (23 seen), 128-d audio, 1024-d video, 300-d text;
  training clips per run set by --avgzsl-train (AudioSetZSL's seen training set is ~80k clips; the default
  measures 20,000 and reports per-1k-clip time so the full epoch can be extrapolated).

    PYTHONPATH=. python benchmarks/bench_train.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from zsltool.train.config import TrainConfig
from zsltool.train.loop import train
from zsltool.train.synthetic import make_synthetic


def bench(method, files, epochs, **kw):
    out = Path(files.audio).parent / f"{method}.pt"
    t = time.perf_counter()
    r = train(TrainConfig(audio=str(files.audio), video=str(files.video) if files.video else None,
                          split=str(files.split), text=str(files.text), out=str(out), method=method, epochs=epochs,
                          overwrite=True, **kw))
    total = time.perf_counter() - t
    return {"method": method, "epochs": epochs, "n_train": r.n_train, "n_val": r.n_val,
            "seconds_total": round(total, 2), "seconds_per_epoch": round(total / epochs, 3),
            "ms_per_1k_train_clips_per_epoch": round(1000 * total / epochs / r.n_train * 1000, 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--avgzsl-train", type=int, default=20000, help="training clips for avgzslnet")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        p = make_synthetic(Path(d) / "p", n_classes=69, per_class=300, n_train=23, n_val=23, audio_dim=128,
                           text_dim=300, latent=16, video=False)
        rows.append(bench("projection", p, a.epochs))
        per = max(1, a.avgzsl_train // 23)
        v = make_synthetic(Path(d) / "v", n_classes=33, per_class=per, n_train=17, n_val=6, audio_dim=128,
                           video_dim=1024, text_dim=300, latent=16, gzsl=True)
        rows.append(bench("avgzslnet", v, a.epochs))
    print(json.dumps({"threads": a.threads, "torch": torch.__version__, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
