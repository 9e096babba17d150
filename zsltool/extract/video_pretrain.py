"""``pretrain_video``: train a small video network from scratch on the seen (training) classes' videos only.

The video counterpart of ``pretrain-audio`` / ``pretrain-image``, for when no pretrained video network is at
hand (offline, the embedded demo): the classes used for testing never shape the network. The videos are the
clip-manifest rows (``id,path,labels,start,end``) of the split trial's training classes (the ``seen`` classes
of a GZSL trial); when the trial lists instances (GZSL: ``instances.train``), only those are used, so the seen
classes' validation and test videos stay unseen too. Videos of other classes are never opened.

Each video is decoded once (frames resized to ``frame_size`` x ``frame_size``, the preprocessing of
``extract-video --model small3d --crop-size S``), one clip of ``clip_len`` frames is drawn per step (random
start), augmented with a random shift and a horizontal flip, and classified into the training classes (softmax
cross-entropy, Adam).

Output: ``OUT`` holds the whole model's state dict (with its ``len(train classes)``-way head), which
``extract-video --model small3d --weights OUT --crop-size S`` loads; ``OUT.json`` says how it was trained.

    pretrain_video(["video.csv"], "video-net.pth", classes_path="classes.json", split_path="split_gzsl.json",
                   frame_size=32, clip_len=16, epochs=20)
"""

from __future__ import annotations

import os
import time
from functools import partial
from typing import Sequence

from zsltool.errors import ZslError
from zsltool.extract.pretrain import (check_manifests, check_training_args, train_and_save, training_classes,
                                      training_targets)
from zsltool.files.checks import check_output
from zsltool.runtime.env import seed_everything


class _ClipDataset:
    """Decoded videos (uint8 frames) in memory; each epoch, batches in a seeded random order, one clip of
    ``clip_len`` frames per video: a random start with ``augment`` (drawn from the same generator), else the
    middle clip; normalised with the Kinetics mean and std."""

    def __init__(self, videos, targets, clip_len: int, augment: bool):
        import torch

        from zsltool.extract.video import KINETICS_MEAN, KINETICS_STD

        self.videos, self.clip_len, self.augment = videos, clip_len, augment
        self.targets = torch.tensor(targets)
        self.mean = torch.tensor(KINETICS_MEAN).view(1, 3, 1, 1, 1)
        self.std = torch.tensor(KINETICS_STD).view(1, 3, 1, 1, 1)

    def __len__(self):
        return len(self.videos)

    def epoch_batches(self, bs: int, gen, drop_single: bool):
        import torch

        n, T = len(self.videos), self.clip_len
        perm = torch.randperm(n, generator=gen).tolist()
        if drop_single and n > bs and n % bs == 1:  # BatchNorm needs 2+ rows
            perm = perm[:-1]
        for b in range(0, len(perm), bs):
            idx = perm[b:b + bs]
            clips = []
            for i in idx:
                v = self.videos[i]
                s = int(torch.randint(0, len(v) - T + 1, (1,), generator=gen)) if self.augment else (len(v) - T) // 2
                clips.append(v[s:s + T])
            x = torch.stack(clips).permute(0, 4, 1, 2, 3).float().div_(255.0)  # (B, 3, T, H, W)
            yield (x - self.mean) / self.std, self.targets[idx]


def _shift_flip(x, gen, shift: int):
    """Random shift (reflect-pad, random crop) and horizontal flip of a (B, C, T, H, W) batch."""
    import torch

    b, _, _, h, w = x.shape
    out = torch.empty_like(x)
    padded = torch.nn.functional.pad(x.flatten(1, 2), (shift, shift, shift, shift), mode="reflect").view(
        b, x.shape[1], x.shape[2], h + 2 * shift, w + 2 * shift)
    for i in range(b):
        dy, dx = torch.randint(0, 2 * shift + 1, (2,), generator=gen).tolist()
        v = padded[i, :, :, dy:dy + h, dx:dx + w]
        if bool(torch.rand((), generator=gen) < 0.5):
            v = v.flip(-1)
        out[i] = v
    return out


def pretrain_video(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, classes_path: str | os.PathLike,
                   split_path: str | os.PathLike, trial: int = 0, model: str = "small3d", frame_size: int = 64,
                   clip_len: int = 16, epochs: int = 20, batch_size: int = 16, lr: float = 3e-3, augment: bool = True,
                   device: str = "cpu", seed: int = 0, overwrite: bool = False, progress: bool = True,
                   resume: bool = True) -> dict:
    """Train ``model`` (random init) on the training classes' videos (decoded once at ``frame_size``; each epoch
    one clip of ``clip_len`` frames per video) and save its weights; returns a summary. A killed run is continued
    after its last finished epoch (``resume``; see ``train_classifier``)."""
    from zsltool.extract.inputs import collect_video

    check_training_args(epochs, lr)
    if frame_size < 8:
        raise ZslError(f"--frame-size must be at least 8 pixels, got {frame_size}")
    if clip_len < 1:
        raise ZslError(f"--clip-len must be positive, got {clip_len}")
    manifests = check_manifests(inputs, "clip", "pretrain-video needs a clip manifest id,path,labels,start,end",
                                "pretrain-video needs labelled videos: a clip manifest id,path,labels,start,end")
    out = check_output(out, overwrite)
    tc = training_classes(classes_path, split_path, trial)
    items, _, records = collect_video(manifests, tc.class_set)
    from zsltool.extract.video import SMALL_MODELS, TEST_MODELS, build_video_model

    if model not in SMALL_MODELS + TEST_MODELS:
        raise ZslError(f"pretrain-video trains {', '.join(SMALL_MODELS)} (or the test model "
                       f"{', '.join(TEST_MODELS)}), not {model!r}",
                       hint="torchvision video models are used with their Kinetics weights: zsl extract-video")
    # single-label videos of training classes only (and only the trial's training instances for GZSL)
    kept = [it for it in items if len(it.labels) == 1 and it.labels[0] in tc.train_pos
            and (tc.allowed_ids is None or it.id in tc.allowed_ids)]
    targets = training_targets(kept, tc, manifests, "video")
    t0 = time.perf_counter()
    clips = _decode(kept, frame_size, clip_len, progress)
    seed_everything(seed)  # the network's random initialisation
    net, _, info = build_video_model(model, None, num_classes=len(tc.train_ids))
    others = len(items) - len(kept)
    res = train_and_save(
        "video", net, _ClipDataset(clips, targets, clip_len, augment), out, tc, epochs=epochs,
        batch_size=batch_size, lr=lr, device=device, seed=seed, progress=progress, resume=resume, t0=t0,
        batch_transform=partial(_shift_flip, shift=max(1, frame_size // 16)) if augment else None, drop_single=True,
        run_key={"model": model, "frame_size": frame_size, "clip_len": clip_len, "augment": augment,
                 "inputs": records, "videos": [it.id for it in kept]},
        config={"augment": augment}, inputs=records, fields={
            "layout": f"{model} state dict with a {len(tc.train_ids)}-way head", "model": model,
            "frame_size": frame_size, "clip_len": clip_len, "train_videos": sorted(it.id for it in kept),
            "instances": "instances.train of the trial" if tc.allowed_ids is not None else "every video of the classes",
            "videos": len(kept), "other_videos": others,
            "extract_with": f"zsl extract-video --model {model} --weights {out} --crop-size {frame_size} "
                            f"--clip-len {clip_len}"},
        summary={"model": model, "videos": len(kept), "other_videos": others})
    return {**res, "info": info}


def _decode(items, frame_size: int, clip_len: int, progress: bool) -> list:
    """Each video's frames (resized to ``frame_size``; the last repeated up to ``clip_len``), (N, H, W, 3) uint8."""
    import numpy as np
    import torch
    from tqdm import tqdm

    from zsltool.extract.runner import InvalidInput
    from zsltool.extract.video_decode import decode_video

    clips = []
    for it in tqdm(items, desc="pretrain-video: decoding", disable=not progress or None, leave=False, unit="video"):
        path, start, end = it.source
        try:
            frames, _ = decode_video(path, (frame_size, frame_size), start, end)
        except InvalidInput as e:
            raise ZslError(f"cannot read training video {it.id!r}: {e}",
                           hint="every training-class video in the manifest must be readable") from None
        if len(frames) < clip_len:  # repeat the last frame, as extract-video does
            frames = np.concatenate([frames, np.repeat(frames[-1:], clip_len - len(frames), axis=0)])
        clips.append(torch.from_numpy(frames))
    return clips
