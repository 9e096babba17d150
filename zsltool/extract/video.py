"""Video embeddings with torchvision's Kinetics-400 models (AVGZSLNet, Mazumder et al., uses 1024-d I3D features; s3d is 1024-d).

    summary = extract("video", "s3d", ["videos/"], "video.h5", weights="KINETICS400_V1",
                      clip_len=16, clips=4, extract_audio="wavs/")

Videos are decoded with PyAV (frames resized while decoding to the weights' resize size, then centre-cropped
and normalised with the Kinetics mean/std), ``clips`` clips of ``clip_len`` consecutive frames are taken at
uniformly spaced starts (``zsltool.extract.video_decode``: ``clip_indices``; ``decode_clips`` seeks to them and
decodes only what they need, so memory is flat in the video's length), each clip is embedded, and the row is the
mean over clips (per-clip embeddings are kept in ``/frames``). ``--extract-audio DIR`` writes each video's audio
track to ``DIR/<id>.wav`` and a clip manifest ``DIR/clips.csv`` (``DIR/clips.K-of-N.csv`` with
``shard=(K-1, N)``: that shard's videos only) for ``zsl extract-audio``, so audio and video rows share ids.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import torch

from zsltool.classes.manifest import write_clip_manifest
from zsltool.errors import ZslError
from zsltool.extract.inputs import VIDEO_EXTENSIONS  # noqa: F401  (re-exported)
from zsltool.extract.runner import InvalidInput, Item
from zsltool.extract.tvweights import (PooledConvNet, TappedExtractor, apply_state_dict, build_small_network,
                                      build_torchvision_model, load_state_dict_file, weights_enum_for)
from zsltool.extract.video_decode import decode_clips, extract_audio_track
from zsltool.files.checks import ensure_writable_folder

log = logging.getLogger("zsltool.extract.video")

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


# -- zsl's own video networks (tiny3d for tests, small3d to train with pretrain-video) and the builder of every
# video model: torchvision's Kinetics models with their weights, or these ------------------------------------
TEST_MODELS = ("tiny3d",)
SMALL_MODELS = ("small3d",)  # trained from scratch with pretrain-video; square frames, no resize


class TinyVideoNet(PooledConvNet):
    """A tiny 3-D CNN for tests and demos only (random weights; never for real embeddings)."""

    def __init__(self, num_classes: int = 10):
        super().__init__([torch.nn.Conv3d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU()],
                         torch.nn.AdaptiveAvgPool3d(1), 8, num_classes)


class Small3D(PooledConvNet):
    """A small 3-D CNN (3 x conv3x3x3-BN-ReLU, the first striding space only, the others space and time; global
    average pooling; linear head) to train from scratch with ``pretrain-video`` when no pretrained video
    network is at hand; ``penultimate`` is ``channels[-1]``-d (64)."""

    def __init__(self, num_classes: int = 10, channels: Sequence[int] = (16, 32, 64)):
        layers, c = [], 3
        for k, o in enumerate(channels):
            stride = (1, 2, 2) if k == 0 else (2, 2, 2)
            layers += [torch.nn.Conv3d(c, o, 3, stride=stride, padding=1, bias=False), torch.nn.BatchNorm3d(o),
                       torch.nn.ReLU(inplace=True)]
            c = o
        super().__init__(layers, torch.nn.AdaptiveAvgPool3d(1), c, num_classes)


def build_video_model(name: str, weights: str | None, num_classes: int | None = None):
    """(model, weights enum member or None, info) for a torchvision video model, ``small3d`` or a test model.

    ``small3d`` has no pretrained weights: random (``weights`` None / "random") or a state-dict path from
    ``pretrain-video`` (its head size is read from the file).
    """
    if name in TEST_MODELS:
        model = TinyVideoNet(num_classes or 10)
        info = {"model": name, "weights": "random"}
        if weights and str(weights).lower() not in ("none", "random", "default"):
            apply_state_dict(model, load_state_dict_file(weights), str(weights), name)
            info["weights"] = str(weights)
        return model.eval(), None, info
    if name in SMALL_MODELS:
        return build_small_network(Small3D, name, weights, num_classes, "pretrain-video")
    import torchvision

    return build_torchvision_model(name, weights, module=torchvision.models.video, num_classes=num_classes)


class _VideoLoader:
    """Picklable loader: decode, sample clips, preprocess -> (clips, C, T, H, W); optionally write the WAV."""

    def __init__(self, resize, crop, mean, std, clip_len, clips, audio_dir):
        self.resize, self.crop, self.mean, self.std = resize, crop, mean, std
        self.clip_len, self.clips, self.audio_dir = clip_len, clips, audio_dir

    def __call__(self, item: Item) -> dict:
        path, start, end = item.source
        sampled, n_frames, fps = decode_clips(path, self.resize, start, end, self.clip_len, self.clips)
        x = torch.from_numpy(sampled).float().div_(255.0)  # (K, T, H, W, C)
        h, w = x.shape[2:4]
        top, left = max((h - self.crop[0]) // 2, 0), max((w - self.crop[1]) // 2, 0)
        x = x[:, :, top:top + self.crop[0], left:left + self.crop[1], :]
        x = (x - torch.tensor(self.mean)) / torch.tensor(self.std)
        out = {"clips": x.permute(0, 4, 1, 2, 3).contiguous(), "n_frames": n_frames, "fps": fps,
               "audio": None}
        if self.audio_dir is not None:
            wav = Path(self.audio_dir) / f"{item.id}.wav"
            wav.parent.mkdir(parents=True, exist_ok=True)
            try:
                out["audio"] = {"path": str(wav), **extract_audio_track(path, wav, start, end)}
            except InvalidInput as e:
                out["audio"] = {"error": str(e)}
        return out


class VideoExtractor(TappedExtractor):
    """A torchvision video model (or ``small3d`` / ``tiny3d``): clips of frames -> penultimate features, mean over
    clips (per-clip rows kept in /frames)."""

    modality = "video"
    unit = "video"
    keeps_frames = True
    chunk = 8  # clips per network call

    def __init__(self, config, device: str = "cpu"):
        super().__init__(config, device)
        model = self.spec.name
        w = self.tap_network(build_video_model)
        if w is None and model not in TEST_MODELS + SMALL_MODELS:
            w = getattr(weights_enum_for(model), "DEFAULT", None)
        t, meta = (w.transforms(), w.meta) if w is not None else (None, {})
        crop, resize = (list(t.crop_size), list(t.resize_size)) if t is not None else ([112, 112], [128, 171])
        self.mean, self.std = (tuple(t.mean), tuple(t.std)) if t is not None else (KINETICS_MEAN, KINETICS_STD)
        crop_size = config.crop_size
        if model in SMALL_MODELS:  # frames resized straight to the square the network was trained at
            crop = [crop_size or 64] * 2
            resize = list(crop)
        elif crop_size:
            resize = [int(round(r * crop_size / crop[0])) for r in resize]
            crop = [crop_size, crop_size]
        self.crop, self.resize = crop, resize * 2 if len(resize) == 1 else resize
        min_size, min_frames = tuple(meta.get("min_size", (1, 1))), int(meta.get("min_temporal_size", 1))
        if crop[0] < min_size[0] or crop[1] < min_size[1]:
            raise ZslError(f"{model} needs frames of at least {min_size[0]}x{min_size[1]} pixels "
                           f"(crop size is {crop[0]}x{crop[1]})", hint="raise --crop-size or leave it unset")
        if config.clip_len < min_frames:
            raise ZslError(f"{model} needs clips of at least {min_frames} frames",
                           hint=f"pass --clip-len {max(min_frames, 16)}")
        self.audio_manifest = None

    def loader(self) -> "_VideoLoader":
        c = self.config
        return _VideoLoader(self.resize, self.crop, self.mean, self.std, c.clip_len, c.clips, c.extract_audio)

    def meta(self) -> dict:
        return {**self.info, "layer": self.config.layer, "clip_len": self.config.clip_len,
                "clips": self.config.clips, "resize": self.resize, "crop": self.crop, "mean": list(self.mean),
                "std": list(self.std), "pooling": "mean over clips", "dim": self.dim}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tapped = super().forward
        return torch.cat([tapped(x[i:i + self.chunk]) for i in range(0, len(x), self.chunk)])

    def embed(self, samples: list[dict]) -> list[dict]:
        sizes = [len(s["clips"]) for s in samples]
        feats = self.forward(torch.cat([s["clips"] for s in samples])).numpy()
        out, i = [], 0
        for s, k in zip(samples, sizes):
            f = feats[i:i + k]
            i += k
            out.append({"embedding": f.mean(axis=0), "frames": f})
        return out

    def before_run(self, items: list, shard: tuple[int, int], overwrite: bool) -> None:
        if self.config.extract_audio is None:
            return
        folder = Path(self.config.extract_audio)
        ensure_writable_folder(folder)
        k, n = shard  # each shard lists only its own videos: clips.K-of-N.csv
        self.audio_manifest = folder / ("clips.csv" if n <= 1 else f"clips.{k + 1}-of-{n}.csv")
        if self.audio_manifest.exists() and not overwrite:  # refuse before any work
            raise ZslError(f"output already exists: {self.audio_manifest} (--extract-audio)",
                           hint="pass --overwrite to replace it and the WAVs, or choose another --extract-audio DIR")

    def after_run(self, items: list) -> dict:
        res = {"clip_len": self.config.clip_len, "clips": self.config.clips}
        if self.audio_manifest is not None:
            res["audio"] = _write_audio_manifest(self.audio_manifest, items)
        return res


def _write_audio_manifest(manifest: Path, items: list[Item]) -> dict:
    """A clip manifest of the WAVs written so far for ``items`` (this shard's videos), with their ids and
    labels, next to the WAVs."""
    audio_dir = manifest.parent
    rows, missing = [], []
    for it in items:
        wav = audio_dir / f"{it.id}.wav"
        if wav.is_file():
            rows.append({"id": it.id, "path": str(wav.resolve()), "labels": it.extra.get("labels", []),
                         "start": None, "end": None})
        else:
            missing.append(it.id)
    audio_dir.mkdir(parents=True, exist_ok=True)
    write_clip_manifest(manifest, rows)
    if missing:
        log.warning(f"{len(missing)} videos have no audio track written (e.g. {missing[0]})")
    return {"dir": str(audio_dir), "manifest": str(manifest), "wavs": len(rows), "without_audio": missing}
