"""``zsl classify``'s clips: audio files, folders, manifests or videos, embedded in memory with the extractors
that made the checkpoint's training files (rebuilt from their provenance, weights checked by sha256)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from zsltool.classify.labels import training_provenance
from zsltool.errors import ZslError

log = logging.getLogger("zsltool.classify")

# The video extensions of zsltool.extract.video, repeated here so that audio inputs never import the video stack
# (torchvision, PyAV: seconds of start-up); a test keeps the two equal.
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg")


@dataclass
class ClipRows:
    """The clips' embeddings, one row per clip in input order: ``X`` audio rows (zeros where ``valid`` is
    False), ``reasons`` why a row is invalid, ``sources`` the clips' paths (None for precomputed rows), and
    the video rows and their validity when the clips are videos or ``--video-embeddings`` are given; ``info``
    says how they were made (``Predictions.info``)."""

    ids: list
    X: np.ndarray
    valid: np.ndarray
    reasons: list
    sources: list
    video_X: np.ndarray | None = None
    video_valid: np.ndarray | None = None
    info: dict = field(default_factory=dict)


def audio_extractor(rec: dict | None, *, weights=None, device: str = "cpu", anchor=None):
    """The extractor that made the training audio file, rebuilt from its provenance record by
    :func:`zsltool.extract.registry.extractor_from_provenance`; weights checked by sha256. ``weights`` (a path or
    id) replaces the recorded weights; recorded local weights that are gone are looked for next to ``anchor``
    (the checkpoint)."""
    from zsltool.extract.registry import EXTRACTORS, extractor_from_provenance, list_extractors

    if not rec:
        raise ZslError("the checkpoint does not record how its training audio was embedded, and that file is gone",
                       hint="pass --embeddings FILE with the clips' embeddings")
    name = rec.get("extractor")
    list_extractors()
    if name not in EXTRACTORS or EXTRACTORS[name].modality != "audio":
        raise ZslError(f"the training audio file was made by {name!r}, not by an extractor zsl can rerun",
                       hint="embed the clips the same way and pass --embeddings FILE")
    return extractor_from_provenance(rec, weights=weights, device=device, anchor=anchor)


def clip_items(inputs: Iterable[str | os.PathLike]) -> list:
    """Items for audio files, folders of audio and clip manifests (CSV); clip id = the path as given (a
    manifest's own ids for its rows)."""
    from zsltool.extract.audio.io import AUDIO_EXTENSIONS
    from zsltool.extract.inputs import collect_audio
    from zsltool.extract.runner import Item

    out, seen = [], set()
    for src in inputs:
        p = Path(src)
        if not p.exists():
            raise ZslError(f"input not found: {p}", hint="give audio files, folders of audio or a clip manifest (.csv)")
        if p.is_dir():
            items = collect_audio([p])[0]
            for it in items:
                it.id = str(p / it.id)
        elif p.suffix.lower() == ".csv":
            items = collect_audio([p])[0]
        else:
            if p.suffix.lower() not in AUDIO_EXTENSIONS:
                log.debug(f"{p}: not a known audio extension; trying to decode it anyway")
            items = [Item(id=str(src), source=str(p))]
        for it in items:
            if it.id not in seen:
                seen.add(it.id)
                out.append(it)
    if not out:
        raise ZslError("no clips given", hint="give audio files, folders of audio, a clip manifest, or --embeddings")
    return out


def embed_clips(items, extractor, *, batch_size: int = 16, workers: int = 0, progress: bool = False) -> ClipRows:
    """The clips embedded in memory by ``extractor`` through extract's pipeline
    (:func:`zsltool.extract.pipeline.embed`)."""
    from zsltool.extract.pipeline import embed

    sink, _ = embed(extractor, items, batch_size=batch_size, workers=workers, progress=progress, desc="classify",
                    unit="clip")
    src = {it.id: str(it.source) for it in items}
    ids, X, valid, reasons = sink.arrays()
    return ClipRows(ids, X, valid, reasons, [src[i] for i in ids])


def is_video_input(inputs) -> bool:
    """Whether the inputs are videos (files with a video extension, or folders holding videos and no audio)."""
    from zsltool.extract.audio.io import AUDIO_EXTENSIONS

    kinds = set()
    for src in inputs:
        p = Path(src)
        if p.is_dir():
            sfx = {f.suffix.lower() for f in p.rglob("*") if f.is_file()}
            if sfx & set(VIDEO_EXTENSIONS) and not sfx & set(AUDIO_EXTENSIONS):
                kinds.add("video")
            else:
                kinds.add("audio")
        else:
            kinds.add("video" if p.suffix.lower() in VIDEO_EXTENSIONS else "audio")
    if len(kinds) > 1:
        raise ZslError("give either audio or video inputs, not both", hint="classify them in two calls")
    return kinds == {"video"}


def embed_videos(paths, ckpt, net, *, modality: str, weights=None, video_weights=None, device: str = "cpu",
                 batch_size: int = 16, workers: int = 0) -> ClipRows:
    """Videos -> their audio and video rows, embedded in memory through extract's pipeline with the training
    extractors: the video network recorded for the training video file, and the audio network on the videos'
    audio tracks (WAVs in a temporary folder, as ``extract-video --extract-audio`` writes them)."""
    import dataclasses
    import tempfile

    from zsltool.extract.inputs import collect_inputs
    from zsltool.extract.pipeline import embed
    from zsltool.extract.registry import extractor_from_provenance

    use_a = "audio" in net.modalities and modality in ("both", "audio")
    use_v = net.uses_video and modality in ("both", "video")
    vrec = training_provenance(ckpt, "video") if use_v or use_a else None
    if not vrec:
        raise ZslError("the checkpoint does not record how its training videos were embedded, and that file is gone",
                       hint="pass --embeddings/--video-embeddings files made the same way")
    vex = extractor_from_provenance(vrec, weights=video_weights, device=device, anchor=ckpt.get("path"))
    with tempfile.TemporaryDirectory(prefix="zsl-classify-") as td:
        wavs = Path(td) / "wav"
        vex.config = dataclasses.replace(vex.config, extract_audio=str(wavs) if use_a else None)
        v, _ = embed(vex, collect_inputs("video", [str(p) for p in paths])[0], batch_size=2, workers=workers)
        ids, vX, vvalid, reasons = v.arrays()
        X = np.zeros((len(ids), net.audio_dim), np.float32)
        valid = np.zeros(len(ids), bool)
        if use_a:
            ex = audio_extractor(training_provenance(ckpt, "audio"), weights=weights, device=device,
                                 anchor=ckpt.get("path"))
            try:
                a, _ = embed(ex, collect_inputs("audio", [str(wavs / "clips.csv")])[0], batch_size=batch_size,
                             workers=workers)
                aids, aX, avalid, areasons = a.arrays()
                ai = {cid: k for k, cid in enumerate(aids)}
                for i, cid in enumerate(ids):
                    if cid in ai and avalid[ai[cid]]:
                        X[i], valid[i] = aX[ai[cid]], True
                    elif cid in ai and not reasons[i]:
                        reasons[i] = areasons[ai[cid]]
            except ZslError as e:  # no video has a usable audio track
                log.warning(f"no audio track could be embedded ({e.message}): video only")
    src = {Path(p).stem: str(p) for p in paths}
    return ClipRows(ids, X, valid, reasons, [src.get(i) for i in ids], vX if use_v else None,
                    vvalid if use_v else None, {"video": "embedded with the training video extractor"})


def embed_audio(items, ckpt: dict, *, weights=None, device: str = "cpu", batch_size: int = 16, workers: int = 0,
                progress: bool = False) -> ClipRows:
    """Audio clips embedded with the extractor that made the checkpoint's training audio file."""
    arec = training_provenance(ckpt, "audio")
    ex = audio_extractor(arec, weights=weights, device=device, anchor=ckpt.get("path"))
    rows = embed_clips(items, ex, batch_size=batch_size, workers=workers, progress=progress)
    rows.info = {"audio": f"{ex.name} ({ex.meta().get('weights')}, {ex.meta().get('embedding')})"}
    return rows


def precomputed(ckpt: dict, net, embeddings=None, video_embeddings=None, allow_other_extractor: bool = False
                ) -> tuple[ClipRows, list[str]]:
    """The rows of instance-level ``embeddings`` and/or ``video_embeddings`` files (video rows matched to the
    audio rows by id), and the warnings about rows made by another extractor than the training rows."""
    from zsltool.runtime.guards import other_extractor
    from zsltool.store import read_embeddings
    from zsltool.train.data import aligned_rows

    ids = X = valid = reasons = video_X = video_valid = None
    warnings: list[str] = []
    if embeddings is not None:
        a = read_embeddings(embeddings, kind="instance")
        warnings += [w["message"] for w in other_extractor(ckpt, "audio", a, allow_other_extractor)]
        ids, X, valid, reasons = list(a.ids), a.X, a.valid.astype(bool), list(a.reasons)
    if video_embeddings is not None:
        v = read_embeddings(video_embeddings, kind="instance")
        warnings += [w["message"] for w in other_extractor(ckpt, "video", v, allow_other_extractor)]
        if ids is None:
            ids, reasons = list(v.ids), list(v.reasons)
            X = np.zeros((len(ids), net.audio_dim), np.float32)
            valid = np.zeros(len(ids), bool)
        video_X, video_valid = aligned_rows(v, ids)
        if video_X.shape[1] != (net.video_dim or -1):
            raise ZslError(f"{video_embeddings} has {video_X.shape[1]}-d rows, but the model "
                           + (f"expects {net.video_dim}-d video" if net.uses_video else "uses no video"))
    info = {"audio": str(embeddings) if embeddings else None,
            "video": str(video_embeddings) if video_embeddings else None}
    return ClipRows(ids, X, valid, reasons, [None] * len(ids), video_X, video_valid, info), warnings
