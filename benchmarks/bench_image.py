"""Benchmark extract-image: images/s end to end (decode, crop, resize, model, HDF5 write) vs the bare forward
pass of the same model on pre-made tensors. Random weights (no download needed): speed does not depend on them.

    PYTHONPATH=. python benchmarks/bench_image.py --model resnet101 --n 64 --batch-size 32 --workers 2 --device auto
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet101")
    ap.add_argument("--n", type=int, default=64, help="number of synthetic crops")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--size", type=int, default=480, help="synthetic image side in pixels")
    args = ap.parse_args()

    from PIL import Image

    from zsltool.classes.manifest import write_crop_manifest
    from zsltool.extract.pipeline import extract_image
    from zsltool.extract.registry import build_extractor
    from zsltool.runtime.env import resolve_device

    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rng = np.random.default_rng(0)
        rows = []
        for i in range(args.n):
            Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)).save(d / f"{i}.jpg")
            rows.append(dict(id=f"c{i}", image_id=str(i), path=str(d / f"{i}.jpg"), **{"class": "x"}, xmin=0.1,
                             xmax=0.9, ymin=0.2, ymax=0.8))
        write_crop_manifest(d / "crops.csv", rows)
        torch.manual_seed(0)
        ex = build_extractor(args.model, modality="image", device=device, weights="random")
        x = torch.randn(args.batch_size, 3, 224, 224)
        with torch.inference_mode():
            ex.forward(x[:2])  # warm-up
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(max(1, args.n // args.batch_size)):
                ex.forward(x)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            bare = max(1, args.n // args.batch_size) * args.batch_size / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = extract_image([d / "crops.csv"], d / "out.h5", model=args.model, weights="random",
                            batch_size=args.batch_size, workers=args.workers, device=device, progress=False)
        end_to_end = args.n / (time.perf_counter() - t0)
    print(json.dumps({"model": args.model, "weights": "random", "device": device, "n": args.n,
                      "batch_size": args.batch_size, "workers": args.workers,
                      "bare_forward_images_per_s": round(bare, 1),
                      "end_to_end_images_per_s": round(end_to_end, 1),
                      "end_to_end_incl_model_build": True, "valid": res["valid"]}, indent=2))


if __name__ == "__main__":
    main()
