"""``zsltool.classify_clips(...)``: the request checked, then the three parts in turn: embed-labels
(:mod:`zsltool.classify.labels`), embed-clips (:mod:`zsltool.classify.clips`) and score
(:mod:`zsltool.classify.score`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from zsltool.classify.clips import ClipRows, clip_items, embed_audio, embed_videos, is_video_input, precomputed
from zsltool.classify.labels import label_embeddings, parse_labels, partial_label_warnings
from zsltool.classify.score import Predictions, score
from zsltool.errors import ZslError
from zsltool.names import SCORE_MODALITIES


def classify_clips(model: str | os.PathLike, inputs: str | os.PathLike | Sequence[str | os.PathLike] | None = None, *,
             labels: str | Sequence[str] | None = None, labels_file=None, embeddings=None, video_embeddings=None,
             class_embeddings=None, vectors=None, allow_other_vectors: bool = False, weights=None,
             video_weights=None, top: int = 5,
             modality: str = "both", batch_size: int = 16, workers: int = 0, device: str = "cpu",
             progress: bool = False, strict: bool = False, transductive: str | None = None,
             allow_other_extractor: bool = False) -> Predictions:
    """Rank ``labels`` for each clip with a trained checkpoint; see :mod:`zsltool.classify`. ``strict``: a label
    embedded from part of its words is an error (else a warning, in ``info["warnings"]``). ``transductive``
    (a refiner of ``zsltool.evaluate.transductive``): the clips' assignment is refined with all the clips taken
    together (the transductive setting; ``info["setting"]``). ``allow_other_extractor``: accept ``embeddings``
    / ``video_embeddings`` made by another extractor or other weights than the training rows (else an error),
    with a warning."""
    cand = parse_labels(labels, labels_file) if _checked(modality, top) else []
    inputs = _clips_given(inputs, embeddings, video_embeddings, class_embeddings)
    videos = bool(inputs) and is_video_input(inputs)
    items = clip_items(inputs) if inputs and not videos else None  # input errors before any model is loaded

    from zsltool.train.checkpoint import build_model, load_checkpoint
    from zsltool.runtime.env import resolve_device

    ckpt = load_checkpoint(model)
    net = build_model(ckpt)
    device = resolve_device(device)
    net.to(device)
    C, cinfo = label_embeddings(ckpt, cand, class_embeddings=class_embeddings, vectors=vectors,
                                allow_other_vectors=allow_other_vectors, device=device)
    warnings = list(cinfo.get("warnings") or []) + partial_label_warnings(cinfo.get("partial") or {},
                                                                         cinfo.get("tokens") or {}, strict)
    if C.shape[1] != net.semantic_dim:
        raise ZslError(f"the label embeddings are {C.shape[1]}-d, but the model expects {net.semantic_dim}-d",
                       hint="use class embeddings made the same way as the training ones")
    if videos:
        if not net.uses_video and "audio" not in net.modalities:
            raise ZslError(f"method {ckpt['method']!r} uses neither audio nor video")
        rows = embed_videos(inputs, ckpt, net, modality=modality, weights=weights, video_weights=video_weights,
                            device=device, batch_size=batch_size, workers=workers)
    elif items is not None:
        if modality == "video":
            raise ZslError("--modality video needs --video-embeddings FILE (clips are embedded from their audio)")
        rows = embed_audio(items, ckpt, weights=weights, device=device, batch_size=batch_size, workers=workers,
                           progress=progress)
    else:
        rows, more = precomputed(ckpt, net, embeddings, video_embeddings, allow_other_extractor)
        warnings += more
    preds = score(ckpt, net, C, rows, cand, modality=modality, transductive=transductive, top=top,
                  batch_size=batch_size, device=device)
    preds.info = _info(model, preds.info, cinfo, rows, warnings, transductive)
    return preds


def _checked(modality: str, top: int) -> bool:
    if modality not in SCORE_MODALITIES:
        raise ZslError(f"unknown modality {modality!r}", hint=f"use one of {', '.join(SCORE_MODALITIES)}")
    if top < 1:
        raise ZslError(f"top must be at least 1, got {top}", hint="e.g. --top 5")
    return True


def _clips_given(inputs, embeddings, video_embeddings, class_embeddings) -> list:
    """The clips as a list, checked against the precomputed files given (one or the other, files that exist)."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = list(inputs or [])
    if not inputs and embeddings is None and video_embeddings is None:
        raise ZslError("no clips given", hint="give audio files, folders or a manifest, or --embeddings FILE")
    if inputs and (embeddings is not None or video_embeddings is not None):
        raise ZslError("give either clips or --embeddings/--video-embeddings, not both",
                       hint="clips are embedded here; --embeddings FILE classifies rows already embedded (zsl "
                            "extract-audio): drop one of them")
    for p in [embeddings, video_embeddings, class_embeddings]:
        if p is not None and not Path(p).exists():
            raise ZslError(f"file not found: {p}", hint="check the path")
    return inputs


def _info(model, scored: dict, cinfo: dict, rows: ClipRows, warnings: list[str], transductive) -> dict:
    """``Predictions.info``: how the prediction was made (model, temperature, labels, clips, warnings)."""
    info = {"model": str(model), **{k: scored[k] for k in ("method", "modality", "temperature",
                                                           "temperature_source")},
            "label_embeddings": cinfo.get("source"), "n_clips": scored["n_clips"], "n_valid": scored["n_valid"],
            **rows.info}
    if "tokens" in cinfo:
        info["label_tokens"] = cinfo["tokens"]
    if cinfo.get("partial"):
        info["partial_labels"] = cinfo["partial"]
    info["warnings"] = warnings
    info["setting"] = f"transductive: {transductive}" if transductive else "inductive"
    return info
