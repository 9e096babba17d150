"""AVGZSLNet with zsl's defaults vs AVCA-GZSL's run-script configuration (``--preset avca-gzsl``) vs ``--grid``
choosing between the two on validation (issue 24, item 3).

Not a test; run by hand. The two-stage GZSL protocol of the audio-visual benchmarks (``zsl experiment
--two-stage``) on synthetic audio-visual data (``zsltool.train.synthetic``: 30 classes × 40 clips, latent 12,
audio 128-d, video 256-d, unit-norm 300-d text, noise 3; stage 1: 16 seen + 6 unseen validation classes,
stage 2: 22 seen, 8 unseen test classes). Stage 1 chooses the epoch (and the grid's setting) and beta on
validation HM; stage 2 retrains on train + validation for that many epochs and is tested with that beta. Test
S, U, HM of ``both`` (mean class accuracy), mean ± SD over the seeds (each seed its own data and models).

    PYTHONPATH=. python benchmarks/bench_avca_preset.py --seeds 5 > /tmp/avca.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RUNS = {"defaults": {}, "preset avca-gzsl": {"preset": "avca-gzsl"},
        "grid: preset default | avca-gzsl": {"grid": {"avgzslnet:preset": ["default", "avca-gzsl"]}}}


def data(folder: Path, seed: int):
    from zsltool.store import read_embeddings, write_embeddings
    from zsltool.train.synthetic import make_synthetic, make_two_stage_split

    syn = make_synthetic(folder, n_classes=30, per_class=40, latent=12, audio_dim=128, video_dim=256, text_dim=300,
                         noise=3.0, gzsl=True, seed=seed)
    e = read_embeddings(syn.text)
    write_embeddings(syn.text, meta=e.meta, ids=e.ids, X=e.X / np.linalg.norm(e.X, axis=1, keepdims=True),
                     classes=e.classes, overwrite=True)
    return syn, make_two_stage_split(syn, folder / "two.json", n_seen=16, n_val_unseen=6)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    import torch

    from zsltool.evaluate.experiment import ExperimentSpec, run_experiment

    rows: dict[str, list] = {}
    chosen: list[str] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(a.seeds):
            syn, split = data(Path(tmp) / f"d{seed}", seed)
            for name, extra in RUNS.items():
                spec = ExperimentSpec(audio=str(syn.audio), video=str(syn.video), text=str(syn.text),
                                      splits=[str(split)], out_dir=str(Path(tmp) / f"o{seed}-{name[:4]}"),
                                      methods=["avgzslnet"], two_stage=True, seed=seed, threads=a.threads,
                                      modalities=["both"], retrieval=False, **extra)
                t = time.perf_counter()
                (r,) = run_experiment(spec)["trials"]
                m = r["metrics"]["both"]
                rows.setdefault(name, []).append((m["S"], m["U"], m["HM"], r["stage1"]["epoch"],
                                                  time.perf_counter() - t))
                if "grid" in extra:
                    chosen.append(r["selection"]["label"])
                print(f"seed {seed} {name:34s} S {m['S']:.3f} U {m['U']:.3f} HM {m['HM']:.3f} epoch "
                      f"{r['stage1']['epoch']} ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    out = {}
    for k, v in rows.items():
        arr = np.array(v)
        out[k] = {n: f"{arr[:, i].mean():.3f} ± {arr[:, i].std(ddof=1) if len(arr) > 1 else 0:.3f}"
                  for i, n in enumerate(("S", "U", "HM", "stage-1 epoch", "seconds"))}
    print(json.dumps({"seeds": a.seeds, "results": out, "grid_chose": chosen,
                      "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                      "machine": platform.machine(), "seconds": round(time.perf_counter() - t0, 1)}, indent=1,
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
