"""CPU seconds per model-epoch of AVGZSLNet trained G at once (the ``functional`` kernel) vs one at a time (not a
test; run by hand). Decides ``FunctionalKernel.ON_CPU`` (zsltool/train/functional.py).

AudioSetZSL-sized features as benchmarks/bench_av_epoch.py (11,983 training clips, 128-d audio, 1024-d video,
300-d text, the method's defaults: Adam, batch 128), G seeds. Each way is timed over 1 + EPOCHS epochs minus 1
epoch, so reading the data and building the models are left out.

    PYTHONPATH=. python benchmarks/bench_av_batch.py /tmp/avdata 1 5 1
(arguments: data folder (made once, shared with bench_av_epoch.py), torch threads, G, epochs).
"""

import json
import sys
import time
from pathlib import Path

import torch

from zsltool.train.config import TrainConfig
from zsltool.train.engine import train_jobs
from zsltool.train.functional import FunctionalKernel
from zsltool.train.loop import make_job, prepare
from zsltool.train.synthetic import make_synthetic


def main():
    d, threads, G, ep = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    if not (d / "split.json").exists():
        make_synthetic(d, n_classes=33, per_class=20000 // 23, n_train=17, n_val=6, audio_dim=128, video_dim=1024,
                       text_dim=300, latent=16, gzsl=True)

    def jobs(e):
        out = []
        for seed in range(G):
            c = TrainConfig(audio=str(d / "audio.h5"), video=str(d / "video.h5"), split=str(d / "split.json"),
                            text=str(d / "text.h5"), out="unused.pt", method="avgzslnet", epochs=e, seed=seed)
            out.append(make_job(prepare(c), c))
        return out

    def cpu_s(batched, e):
        js = jobs(e)
        c = time.process_time()
        if batched:
            train_jobs(js)
        else:
            for j in js:
                train_jobs([j], batched=False)
        return time.process_time() - c

    FunctionalKernel.ON_CPU = True
    res = {"G": G, "threads": threads, "n_train": len(jobs(1)[0].train)}
    for name, batched in (("one_at_a_time", False), ("batched", True)):
        per = (cpu_s(batched, ep + 1) - cpu_s(batched, 1)) / ep / G
        res[f"{name}_cpu_s_per_model_epoch"] = round(per, 3)
    res["batched_speedup"] = round(res["one_at_a_time_cpu_s_per_model_epoch"] / res["batched_cpu_s_per_model_epoch"], 2)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
