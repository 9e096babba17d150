"""Seconds per epoch of AudioSetZSL-sized AVGZSLNet, for side-by-side runs of two trees (not a test; run by hand).

11,983 training clips of 23 seen classes, 128-d audio, 1024-d video, 300-d text, the method's defaults (Adam,
batch 128). Per epoch = (time of 1 + EPOCHS epochs - time of 1 epoch) / EPOCHS, so reading the files and
writing the checkpoint are left out; wall and CPU seconds are printed.

    PYTHONPATH=/path/to/old/tree python benchmarks/bench_av_epoch.py /tmp/avdata 1 2 before
    PYTHONPATH=. python benchmarks/bench_av_epoch.py /tmp/avdata 1 2 after
(arguments: data folder (made once), torch threads, epochs, a label). Run it outside the checkouts' folders
when comparing trees, so PYTHONPATH decides which zsltool is imported.
"""

import json
import sys
import time
from pathlib import Path

import torch

from zsltool.train.config import TrainConfig
from zsltool.train.loop import train
from zsltool.train.synthetic import make_synthetic


def main():
    d, threads, ep, label = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    torch.set_num_threads(threads)
    if not (d / "split.json").exists():
        make_synthetic(d, n_classes=33, per_class=20000 // 23, n_train=17, n_val=6, audio_dim=128, video_dim=1024,
                       text_dim=300, latent=16, gzsl=True)

    def run(e):
        t, c = time.perf_counter(), time.process_time()
        r = train(TrainConfig(audio=str(d / "audio.h5"), video=str(d / "video.h5"), split=str(d / "split.json"),
                              text=str(d / "text.h5"), out=str(d / "x.pt"), method="avgzslnet", epochs=e,
                              overwrite=True))
        return time.perf_counter() - t, time.process_time() - c, r

    w1, c1, _ = run(1)
    w, c, r = run(ep + 1)
    print(json.dumps({"code": label, "n_train": r.n_train, "s_per_epoch_wall": round((w - w1) / ep, 3),
                      "cpu_s_per_epoch": round((c - c1) / ep, 3)}))


if __name__ == "__main__":
    main()
