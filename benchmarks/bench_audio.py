"""Benchmark of extract-audio: end-to-end clips/s vs the bare network's forward examples/s, same clips, one run.

    PYTHONPATH=. python benchmarks/bench_audio.py --clips 24 --seconds 10 --workers 2 --batch-size 8

Clips are synthetic (tones + noise, 44.1 kHz stereo WAV, so decoding, downmix and resampling are exercised).
The network is the published VGGish size (random weights; speed does not depend on the values) unless
--width is given. "bare forward" runs the network alone on the clips' precomputed log-mel examples, in
batches of the same size the extractor uses; "end to end" is ``extract_audio`` (decode, resample, log-mel in
DataLoader workers, network in the main process, HDF5 writing). Ratio = end-to-end examples/s over bare
forward examples/s (goal: >= 0.8).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def make_clips(folder: Path, n: int, seconds: float, sr: int = 44100) -> list[Path]:
    import soundfile as sf

    rng = np.random.default_rng(0)
    paths = []
    t = np.arange(int(seconds * sr)) / sr
    for i in range(n):
        x = 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.05 * rng.standard_normal(t.shape[0])
        p = folder / f"clip{i:04d}.wav"
        sf.write(p, np.stack([x, x[::-1]], axis=1).astype(np.float32), sr)
        paths.append(p)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8, help="clips per batch")
    ap.add_argument("--width", type=float, default=1.0, help="1.0 = published VGGish")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the main process (0 = default)")
    args = ap.parse_args()

    import torch

    from zsltool.extract.audio.extract import extract_audio
    from zsltool.extract.audio.vggish import build
    from zsltool.extract.runner import Item

    if args.threads:
        torch.set_num_threads(args.threads)
    ext = build(width=args.width, device=args.device)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = make_clips(tmp, args.clips, args.seconds)
        loader = ext.loader()
        t0 = time.perf_counter()
        examples = [loader(Item(id=p.name, source=str(p)))["examples"] for p in clips]
        t_front = time.perf_counter() - t0
        n_ex = sum(e.shape[0] for e in examples)
        allx = torch.from_numpy(np.concatenate(examples))
        chunk = ext.max_examples  # the extractor's example chunk per network call
        with torch.inference_mode():
            ext.embed_examples(allx[:chunk])  # warm-up
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for i in range(0, n_ex, chunk):
                ext.embed_examples(allx[i:i + chunk])
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            t_bare = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = extract_audio(str(tmp), tmp / "out.h5", extractor=ext, workers=args.workers,
                            batch_size=args.batch_size, progress=False)
        t_e2e = time.perf_counter() - t0
    bare = n_ex / t_bare
    e2e_clips = args.clips / t_e2e
    e2e_ex = n_ex / t_e2e
    report = {
        "device": args.device, "torch_threads": torch.get_num_threads(), "workers": args.workers,
        "width": args.width, "clips": args.clips, "seconds_per_clip": args.seconds, "examples": n_ex,
        "front_end_single_process_clips_per_s": round(args.clips / t_front, 2),
        "bare_forward_examples_per_s": round(bare, 2),
        "end_to_end_clips_per_s": round(e2e_clips, 3),
        "end_to_end_examples_per_s": round(e2e_ex, 2),
        "ratio_end_to_end_over_bare": round(e2e_ex / bare, 3),
        "valid_rows": res["valid"],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
