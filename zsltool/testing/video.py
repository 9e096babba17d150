"""Write and read short MP4 videos (MPEG-4 Part 2 video, AAC audio) with PyAV (bundles FFmpeg)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from zsltool.classes.manifest import write_clip_manifest
from zsltool.testing.images import noisy_colours


def rgb_to_yuv420p(img: np.ndarray) -> np.ndarray:
    """RGB uint8 (H x W x 3, even H, W) -> planar YUV 4:2:0 (3H/2 x W uint8), BT.601 limited range
    (what FFmpeg's decoders assume by default). Faster than swscale for tiny frames."""
    rgb = img.astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + 0.256788 * r + 0.504129 * g + 0.097906 * b
    u = 128 - 0.148223 * r - 0.290993 * g + 0.439216 * b
    v = 128 + 0.439216 * r - 0.367788 * g - 0.071427 * b
    h, w = y.shape

    def sub(c):
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = [np.clip(np.round(p), 0, 255).astype(np.uint8) for p in (y, sub(u), sub(v))]
    return np.concatenate([planes[0], planes[1].reshape(h // 4, w), planes[2].reshape(h // 4, w)], axis=0)


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: float = 8.0, audio: np.ndarray | None = None,
              sample_rate: int = 16000, bit_rate: int = 600_000) -> None:
    """Encode ``frames`` (T x H x W x 3 uint8, H and W even) and an optional mono float32 audio track.

    Single-threaded encoders and no timestamps in the metadata, so the same input gives the same bytes.
    """
    import av

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.mp4")
    with av.open(str(tmp), mode="w", format="mp4") as out:
        # FFmpeg's own MPEG-4 Part 2 encoder: always bundled and bit-exact from run to run (libx264 is not,
        # with PyAV-made frames), and every decoder reads it.
        vs = out.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(1000))
        vs.width, vs.height = int(frames.shape[2]), int(frames.shape[1])
        vs.pix_fmt = "yuv420p"
        vs.thread_count = 1
        vs.bit_rate = bit_rate
        astream = None
        if audio is not None:
            astream = out.add_stream("aac", rate=sample_rate)
            astream.layout = "mono"
            astream.thread_count = 1
            astream.options = {"aac_coder": "fast"}  # ~5x faster than the default two-loop search
        for i, img in enumerate(frames):
            vframe = av.VideoFrame.from_ndarray(rgb_to_yuv420p(img), format="yuv420p")
            vframe.pts = i
            out.mux(vs.encode(vframe))
        out.mux(vs.encode())  # flush
        if astream is not None:
            chunk = 1024
            x = np.asarray(audio, dtype=np.float32)
            for start in range(0, len(x), chunk):
                block = x[start:start + chunk][None, :]
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout="mono")
                frame.sample_rate = sample_rate
                frame.pts = start
                out.mux(astream.encode(frame))
            out.mux(astream.encode())
    os.replace(tmp, path)


def read_mp4(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None, float, int | None]:
    """Decode -> (frames T x H x W x 3 uint8, mono float32 audio or None, fps, audio sample rate or None)."""
    import av

    frames, audio, sr = [], [], None
    with av.open(str(path)) as f:
        fps = float(f.streams.video[0].average_rate or 0)
        for fr in f.decode(video=0):
            frames.append(fr.to_ndarray(format="rgb24"))
    with av.open(str(path)) as f:
        if f.streams.audio:
            sr = f.streams.audio[0].rate
            for fr in f.decode(audio=0):
                a = fr.to_ndarray()
                audio.append(a.mean(axis=0) if a.ndim == 2 and a.shape[0] > 1 else a.reshape(-1))
    return np.stack(frames), (np.concatenate(audio).astype(np.float32) if audio else None), fps, sr


def write_colour_clips(folder, colours: dict, per_class: int, frames: int = 8, size: int = 16, seed: int = 0,
                       noise: float = 8.0, manifest: str = "videos.csv") -> Path:
    """``per_class`` noisy single-colour MP4 clips per class (``zsltool.testing.images.noisy_colours``) and their
    clip manifest in ``folder``; returns the manifest's path."""
    folder = Path(folder)
    rows = []
    for cid, name, clip in noisy_colours(colours, per_class, (frames, size, size, 3), seed, noise):
        write_mp4(folder / f"{name}.mp4", clip)
        rows.append({"id": name, "path": str(folder / f"{name}.mp4"), "labels": [cid], "start": None, "end": None})
    write_clip_manifest(folder / manifest, rows)
    return folder / manifest
