"""Pictures and video frames of the demo classes, drawn from the same attributes as the sounds.

- pitch -> colour: low hum red, mid tone green, high whistle blue;
- timbre -> shape: pure a disc, hissing a speckled square, rising an upward triangle, falling a
  downward triangle;
- pattern -> texture (images) and motion (videos): steady solid / smooth drift, clicking fine stripes /
  fast jitter, knocking a coarse checkerboard / a slow bounce, pulsing concentric rings / a size pulse.

Each instance varies in position, size, hue, background and noise. Pure numpy; uint8 RGB arrays.
"""

from __future__ import annotations

import numpy as np

from zsltool.classes.manifest import write_crop_manifest

COLOURS = {"low": (210, 50, 40), "mid": (40, 180, 60), "high": (40, 80, 220)}


def _shape_mask(timbre: str, xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, r: float,
                rng: np.random.Generator) -> np.ndarray:
    dx, dy = xx - cx, yy - cy
    if timbre == "pure":
        return dx ** 2 + dy ** 2 <= r ** 2
    if timbre == "hissing":
        square = (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
        return square & (rng.random(xx.shape) < 0.7)
    # triangles: apex up (rising) or down (falling); y grows downwards in images
    sgn = -1.0 if timbre == "rising" else 1.0
    v = sgn * dy  # distance from the base towards the apex
    inside_h = (v >= -r) & (v <= r)
    half_width = r * (r - v) / (2 * r) * 1.15
    return inside_h & (np.abs(dx) <= half_width)


def _texture(pattern: str, xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, scale: float) -> np.ndarray:
    if pattern == "steady":
        return np.ones_like(xx, dtype=np.float64)
    if pattern == "clicking":
        return np.where(np.sin(xx * 2 * np.pi / (3.0 * scale)) > 0, 1.0, 0.45)
    if pattern == "knocking":
        cell = 8.0 * scale
        return np.where((np.floor(xx / cell) + np.floor(yy / cell)) % 2 == 0, 1.0, 0.45)
    rr = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)  # pulsing: rings
    return np.where(np.sin(rr * 2 * np.pi / (5.0 * scale)) > 0, 1.0, 0.45)


def draw(attrs: dict[str, str], rng: np.random.Generator, *, size: int = 64, cx: float | None = None,
         cy: float | None = None, radius: float | None = None, colour: np.ndarray | None = None,
         background: np.ndarray | None = None) -> np.ndarray:
    """One picture (size x size x 3 uint8). Omitted geometry/colours are drawn at random from ``rng``."""
    s = size / 64.0
    radius = radius if radius is not None else rng.uniform(13, 19) * s
    cx = cx if cx is not None else rng.uniform(radius, size - radius)
    cy = cy if cy is not None else rng.uniform(radius, size - radius)
    if colour is None:
        colour = np.clip(np.array(COLOURS[attrs["pitch"]], float) + rng.normal(0, 18, 3), 0, 255)
    if background is None:
        background = rng.uniform(90, 170) + rng.normal(0, 10, 3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    img = np.empty((size, size, 3))
    img[:] = background
    mask = _shape_mask(attrs["timbre"], xx, yy, cx, cy, radius, rng)
    tex = _texture(attrs["pattern"], xx, yy, cx, cy, s)
    img[mask] = (np.asarray(colour)[None, :] * tex[mask][:, None])
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def draw_frames(attrs: dict[str, str], rng: np.random.Generator, *, n_frames: int = 16, fps: float = 8.0,
                size: int = 64) -> np.ndarray:
    """A short moving picture (T x size x size x 3 uint8): the class's shape moves as its pattern says."""
    s = size / 64.0
    r0 = rng.uniform(11, 15) * s
    colour = np.clip(np.array(COLOURS[attrs["pitch"]], float) + rng.normal(0, 18, 3), 0, 255)
    background = rng.uniform(90, 170) + rng.normal(0, 10, 3)
    x0, y0 = rng.uniform(0.35, 0.65) * size, rng.uniform(0.35, 0.65) * size
    vx = rng.choice([-1.0, 1.0]) * rng.uniform(3.0, 6.0) * s  # px per second of drift
    vy = 0.0
    if attrs["timbre"] in ("rising", "falling"):  # climb (or sink) across the frame without wrapping
        span = (size - 2 * r0 * 1.35 - 10 * s) * rng.uniform(0.6, 0.9)
        top, bottom = r0 * 1.35 + 1, size - r0 * 1.35 - 1 - (8.0 * s if attrs["pattern"] == "knocking" else 0)
        y0 = bottom - rng.uniform(0, 4) if attrs["timbre"] == "rising" else top + rng.uniform(0, 4)
        vy = (-1.0 if attrs["timbre"] == "rising" else 1.0) * span / max(n_frames / fps, 1e-6)
    rate = {"steady": 0.0, "clicking": 10.0, "knocking": 2.0, "pulsing": 4.0}[attrs["pattern"]]
    rate *= rng.uniform(0.88, 1.12)
    phase = rng.uniform(0, 2 * np.pi)
    frames = []
    for i in range(n_frames):
        t = i / fps
        cx, cy, r = x0 + vx * t, y0 + vy * t, r0
        if attrs["pattern"] == "clicking":
            cx += rng.normal(0, 3.0 * s)
            cy += rng.normal(0, 3.0 * s)
        elif attrs["pattern"] == "knocking":
            cy += 8.0 * s * abs(np.sin(np.pi * rate * t + phase))
        elif attrs["pattern"] == "pulsing":
            r = r0 * (1.0 + 0.35 * np.sin(2 * np.pi * rate * t + phase))
        cx = r + (cx - r) % max(size - 2 * r, 1.0)  # drift wraps around horizontally
        frames.append(draw(attrs, rng, size=size, cx=cx, cy=cy, radius=r, colour=colour, background=background))
    return np.stack(frames)


def write_png(path, img: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(img)).save(path, format="PNG", optimize=False)


def noisy_colours(colours: dict, per_class: int, shape: tuple, seed: int = 0, noise: float = 10.0):
    """``(class id, name, uint8 array)`` for ``per_class`` noisy single-colour arrays of ``shape`` (..., 3) per class
    (``{class id: (r, g, b)}``); names are ``<last part of the class id><k>``."""
    rng = np.random.default_rng(seed)
    for cid, rgb in colours.items():
        stem = str(cid).rsplit("/", 1)[-1]
        for k in range(per_class):
            yield cid, f"{stem}{k}", np.clip(np.array(rgb) + rng.normal(0, noise, shape), 0, 255).astype(np.uint8)


def write_colour_crops(folder, colours: dict, per_class: int, size: int = 16, seed: int = 0,
                       noise: float = 10.0, manifest: str = "crops.csv"):
    """``per_class`` noisy single-colour PNGs per class (:func:`noisy_colours`) and their whole-image crop
    manifest in ``folder``; returns the manifest's path."""
    from pathlib import Path

    from PIL import Image

    folder = Path(folder)
    rows = []
    for cid, name, arr in noisy_colours(colours, per_class, (size, size, 3), seed, noise):
        Image.fromarray(arr).save(folder / f"{name}.png")
        rows.append(dict(id=name, image_id=name, path=str(folder / f"{name}.png"), **{"class": cid}, xmin=0.0,
                         xmax=1.0, ymin=0.0, ymax=1.0))
    write_crop_manifest(folder / manifest, rows)
    return folder / manifest
