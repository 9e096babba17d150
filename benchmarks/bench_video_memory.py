"""Peak memory of a whole `zsl extract-video` process on a 1-minute and a 10-minute video (not a test; run by
hand). The decoder seeks to the sampled clips and keeps only their frames, so peak RSS should be flat in the
video's length (before: every decoded frame was kept, ~66 KB per frame at the 128x171 resize).

    PYTHONPATH=. python benchmarks/bench_video_memory.py --minutes 1 10
    PYTHONPATH=/path/to/old/checkout python benchmarks/bench_video_memory.py ...   # the same for another tree

Videos: 160x120 MPEG-4 at 25 fps (a keyframe every 12 frames), random tiny3d weights, 4 clips of 16 frames,
one process (--workers 0). Peak RSS is the child process's ru_maxrss.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_video(path: Path, seconds: float, fps: int = 25) -> None:
    import av

    c = av.open(str(path), "w")
    v = c.add_stream("mpeg4", rate=fps)
    v.width, v.height, v.pix_fmt, v.bit_rate = 160, 120, "yuv420p", 300_000
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    for i in range(int(seconds * fps)):
        arr = np.roll(base, i % 160, axis=1)
        for p in v.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
            c.mux(p)
    for p in v.encode():
        c.mux(p)
    c.close()


PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, nargs="+", default=[1, 10])
    args = ap.parse_args()
    import torch

    from zsltool.extract.video import TinyVideoNet

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torch.manual_seed(0)
        torch.save(TinyVideoNet().state_dict(), tmp / "tiny.pt")
        for minutes in args.minutes:
            vid = tmp / f"v{minutes:g}min" / "video.mp4"
            vid.parent.mkdir()
            make_video(vid, minutes * 60)
            cmd = [sys.executable, "-m", "zsltool", "extract-video", str(vid.parent), "--out", str(tmp / f"{minutes}.h5"),
                   "--model", "tiny3d", "--weights", str(tmp / "tiny.pt"), "--workers", "0", "--overwrite"]
            t = time.perf_counter()
            # cwd outside any checkout: `python -m zsltool` imports the tree on PYTHONPATH, not the cwd's
            tree = os.path.abspath(os.environ.get("PYTHONPATH", "."))
            r = subprocess.run([sys.executable, "-c", PEAK, *cmd], capture_output=True, text=True, cwd=tmp,
                               env={**os.environ, "PYTHONPATH": tree})
            wall = time.perf_counter() - t
            if r.returncode:
                sys.exit(r.stderr[-2000:])
            rows.append({"tree": tree, "video_minutes": minutes, "frames": int(minutes * 60 * 25),
                         "peak_rss_mb": round(int(r.stdout.strip().splitlines()[-1]) / 1024, 1),
                         "wall_s": round(wall, 1)})
            print(json.dumps(rows[-1]), flush=True)
    if len(rows) >= 2:
        print(json.dumps({"peak_rss_ratio_longest_vs_shortest": round(rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"], 2)}))


if __name__ == "__main__":
    main()
