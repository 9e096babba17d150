"""Zero-shot classification of new clips against any candidate labels (``zsl classify``).

    import zsltool
    preds = zsltool.classify("model.pt", "clip.wav", labels=["dog", "siren", "church bells"])
    preds[0]["top"]      # [{"rank": 1, "label": "siren", "score": ..., "probability": ...}, ...]

How each piece is made (docs/classify.md):

* The model is rebuilt from the checkpoint alone (``build_model``) and scores through
  ``zsltool.train.data.compute_scores``, the path ``zsl evaluate`` uses, so whatever preprocessing the
  checkpoint carries applies here too.
* Candidate labels are embedded with the text backend and settings that made the checkpoint's training text
  file (its provenance: backend, tokenizer rules, vectors path and sha256, sentence model). A vectors file whose
  sha256 differs from the recorded one is refused unless ``allow_other_vectors``. When every label is a class
  the checkpoint already holds, its stored class embeddings are used and nothing is loaded.
  ``class_embeddings`` (any zsl class-level file) replaces this step (image, hybrid, audio prototypes).
* Audio is embedded with the extractor recorded for the training audio file (model, weights and their sha256,
  embedding variant, front end, max seconds); ``embeddings`` (an instance-level file) uses precomputed rows.
* Probabilities: softmax over the candidates of ``scores / T`` with the temperature fitted at training time
  (``zsltool.classify_calibrate``); checkpoints without one use each clip's score standard deviation.
"""


from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from zsltool.classify_inputs import audio_extractor, clip_items, embed_clips, embed_videos, is_video_input
from zsltool.classify_labels import label_embeddings, parse_labels, training_provenance
from zsltool.errors import ZslError
from zsltool.names import SCORE_MODALITIES

log = logging.getLogger("zsltool.classify")


# -- results --------------------------------------------------------------------------------------------------
class Predictions(list):
    """One dict per clip (``clip``, ``path``, ``valid``, ``reason``, ``top``: ranked labels with ``score`` and
    ``probability``); ``rows()`` gives a tidy table (clip, rank, label, score, probability), ``to_pandas()`` a
    DataFrame of it, ``info`` how the prediction was made, ``scores`` / ``probabilities`` the full matrices
    (clips x labels; NaN rows for invalid clips)."""

    labels: list[str]
    info: dict
    scores: np.ndarray
    probabilities: np.ndarray

    def rows(self) -> list[dict]:
        out = []
        for r in self:
            if not r["valid"]:
                out.append({"clip": r["clip"], "rank": None, "label": None, "score": None, "probability": None,
                            "reason": r["reason"]})
            for t in r["top"]:
                out.append({"clip": r["clip"], "rank": t["rank"], "label": t["label"], "score": t["score"],
                            "probability": t["probability"], "reason": ""})
        return out

    def to_pandas(self):
        import pandas as pd  # optional: only for notebooks that have it

        return pd.DataFrame(self.rows())

    def to_dict(self) -> dict:
        return {"labels": self.labels, **self.info, "clips": list(self)}


def predictions(ids, sources, ok, reasons, cand: list[str], rows, s: np.ndarray, P: np.ndarray,
                top: int) -> Predictions:
    """The ranked top-``top`` labels of every clip from the scores ``s`` and probabilities ``P`` of its valid
    ``rows`` (invalid clips keep their reason); ``info`` is left to the caller."""
    k = min(top, len(cand))
    S_all = np.full((len(ids), len(cand)), np.nan)
    P_all = np.full((len(ids), len(cand)), np.nan)
    S_all[rows], P_all[rows] = s, P
    preds = Predictions()
    for i, cid in enumerate(ids):
        r = {"clip": cid, "path": sources[i], "valid": bool(ok[i]), "reason": None if ok[i] else
             (reasons[i] or "invalid embedding"), "top": []}
        if ok[i]:
            order = np.argsort(-S_all[i], kind="stable")[:k]
            r["top"] = [{"rank": n + 1, "label": cand[j], "score": float(S_all[i, j]),
                         "probability": float(P_all[i, j])} for n, j in enumerate(order)]
        preds.append(r)
    preds.labels, preds.scores, preds.probabilities = cand, S_all, P_all
    return preds


def _instance_file(path, what: str):
    from zsltool.store import read_embeddings

    e = read_embeddings(path, kind="instance")
    return e


def classify(model: str | os.PathLike, inputs: str | os.PathLike | Sequence[str | os.PathLike] | None = None, *,
             labels: str | Sequence[str] | None = None, labels_file=None, embeddings=None, video_embeddings=None,
             class_embeddings=None, vectors=None, allow_other_vectors: bool = False, weights=None,
             video_weights=None, top: int = 5,
             modality: str = "both", batch_size: int = 16, workers: int = 0, device: str = "cpu",
             progress: bool = False, strict: bool = False, transductive: str | None = None,
             allow_other_extractor: bool = False) -> Predictions:
    """Rank ``labels`` for each clip with a trained checkpoint; see the module docstring. ``strict``: a label
    embedded from part of its words is an error (else a warning, in ``info["warnings"]``). ``transductive``
    (a refiner of ``zsltool.evaluate.transductive``): the clips' assignment is refined with all the clips taken
    together (the transductive setting; ``info["setting"]``). ``allow_other_extractor``: accept ``embeddings``
    / ``video_embeddings`` made by another extractor or other weights than the training rows (else an error),
    with a warning."""
    from zsltool.classify_calibrate import DEFAULT_SOURCE, softmax, temperature_of
    from zsltool.guards import other_extractor

    if modality not in SCORE_MODALITIES:
        raise ZslError(f"unknown modality {modality!r}", hint=f"use one of {', '.join(SCORE_MODALITIES)}")
    if top < 1:
        raise ZslError(f"top must be at least 1, got {top}", hint="e.g. --top 5")
    cand = parse_labels(labels, labels_file)
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
    videos = bool(inputs) and is_video_input(inputs)
    items = clip_items(inputs) if inputs and not videos else None  # input errors before any model is loaded

    from zsltool.train.checkpoint import build_model, load_checkpoint
    from zsltool.train.data import InstanceSet, compute_scores
    from zsltool.utils import resolve_device

    ckpt = load_checkpoint(model)
    net = build_model(ckpt)
    device = resolve_device(device)
    net.to(device)
    C, cinfo = label_embeddings(ckpt, cand, class_embeddings=class_embeddings, vectors=vectors,
                                allow_other_vectors=allow_other_vectors, device=device)
    warnings = list(cinfo.get("warnings") or []) + _partial_label_warnings(cinfo.get("partial") or {},
                                                                          cinfo.get("tokens") or {}, strict)
    if C.shape[1] != net.semantic_dim:
        raise ZslError(f"the label embeddings are {C.shape[1]}-d, but the model expects {net.semantic_dim}-d",
                       hint="use class embeddings made the same way as the training ones")
    video_X = video_valid = None
    if videos:
        if not net.uses_video and "audio" not in net.modalities:
            raise ZslError(f"method {ckpt['method']!r} uses neither audio nor video")
        ids, X, valid, reasons, sources, video_X, video_valid = embed_videos(
            inputs, ckpt, net, modality=modality, weights=weights, video_weights=video_weights, device=device,
            batch_size=batch_size, workers=workers)
        ainfo = {"video": "embedded with the training video extractor"}
    elif items is not None:
        if modality == "video":
            raise ZslError("--modality video needs --video-embeddings FILE (clips are embedded from their audio)")
        arec = training_provenance(ckpt, "audio")
        ex = audio_extractor(arec, weights=weights, device=device, anchor=ckpt.get("path"))
        max_s = (arec or {}).get("extractor_meta", {}).get("max_seconds", 10.0)
        ids, X, valid, reasons, sources = embed_clips(items, ex, max_seconds=max_s, batch_size=batch_size,
                                                      workers=workers, progress=progress)
        ainfo = {"audio": f"{ex.name} ({ex.meta().get('weights')}, {ex.meta().get('embedding')})"}
    else:
        ids = sources = None
        X = valid = reasons = None
        if embeddings is not None:
            a = _instance_file(embeddings, "--embeddings")
            warnings += [w["message"] for w in other_extractor(ckpt, "audio", a, allow_other_extractor)]
            ids, X, valid, reasons = list(a.ids), a.X, a.valid.astype(bool), list(a.reasons)
        if video_embeddings is not None:
            v = _instance_file(video_embeddings, "--video-embeddings")
            warnings += [w["message"] for w in other_extractor(ckpt, "video", v, allow_other_extractor)]
            if ids is None:
                ids, reasons = list(v.ids), list(v.reasons)
                X = np.zeros((len(ids), net.audio_dim), np.float32)
                valid = np.zeros(len(ids), bool)
            vi = v.id_index()
            rows = np.array([vi.get(i, -1) for i in ids])
            video_X = np.where(rows[:, None] >= 0, v.X[np.maximum(rows, 0)], 0).astype(np.float32)
            video_valid = (rows >= 0) & v.valid[np.maximum(rows, 0)]
            if video_X.shape[1] != (net.video_dim or -1):
                raise ZslError(f"{video_embeddings} has {video_X.shape[1]}-d rows, but the model "
                               + (f"expects {net.video_dim}-d video" if net.uses_video else "uses no video"))
        sources = [None] * len(ids)
        ainfo = {"audio": str(embeddings) if embeddings else None, "video": str(video_embeddings)
                 if video_embeddings else None}
    if X.shape[1] != net.audio_dim:
        raise ZslError(f"the clips' audio embeddings are {X.shape[1]}-d, but the model expects {net.audio_dim}-d",
                       hint="embed them with the extractor the model was trained on")
    use_v = video_X is not None and net.uses_video and modality in ("both", "video")
    use_a = "audio" in net.modalities and modality in ("both", "audio")
    if not use_a and not use_v:
        raise ZslError(f"method {ckpt['method']!r} cannot score with modality {modality!r} from the inputs given",
                       hint=f"it uses {', '.join(net.modalities)}")
    ok = (valid if use_a else np.zeros(len(ids), bool)) | (video_valid if use_v else np.zeros(len(ids), bool))
    rows = np.nonzero(ok)[0]
    mod = "both" if use_a and use_v else ("audio" if use_a else "video")
    inst = InstanceSet(ids=[ids[r] for r in rows], audio=X[rows], audio_valid=valid[rows] if use_a else
                       np.zeros(len(rows), bool), video=video_X[rows] if use_v else None,
                       video_valid=video_valid[rows] if use_v else None, labels=np.zeros(len(rows), np.int64),
                       classes=cand)
    s = compute_scores(net, C, inst, modality=mod, batch_size=max(64, batch_size), device=device)
    cal = ckpt.get("calibration") or {}
    T, tsrc = temperature_of(cal, s)
    if transductive:
        s = _refined(transductive, s, inst, ("audio",) * use_a + ("video",) * use_v)
        T, tsrc = 1.0, "the transductive refiner (its responsibilities)"
    P = softmax(s, T) if len(s) else s
    T = None if tsrc.startswith(DEFAULT_SOURCE) else float(T)
    if T is None and cal.get("note"):
        log.warning(f"the checkpoint stores no temperature ({cal['note']}): each clip's scores are divided by "
                    "their standard deviation")
    preds = predictions(ids, sources, ok, reasons, cand, rows, s, P, top)
    preds.info = {"model": str(model), "method": ckpt["method"], "modality": mod,
                  "temperature": T, "temperature_source": tsrc,
                  "label_embeddings": cinfo.get("source"), "n_clips": len(ids), "n_valid": int(ok.sum()), **ainfo}
    if "tokens" in cinfo:
        preds.info["label_tokens"] = cinfo["tokens"]
    if cinfo.get("partial"):
        preds.info["partial_labels"] = cinfo["partial"]
    preds.info["warnings"] = warnings
    preds.info["setting"] = f"transductive: {transductive}" if transductive else "inductive"
    return preds


def _refined(name: str, s: np.ndarray, inst, mods) -> np.ndarray:
    """The clips' scores refined together by the transductive refiner ``name`` (never a label: there is none)."""
    from zsltool.evaluate.transductive import instance_features, refine, refiner

    refiner(name)
    if len(s) < 2:
        raise ZslError("the transductive setting refines several clips together, and one is given",
                       hint="classify all the clips at once, or drop --transductive")
    if len(s) < s.shape[1]:
        log.warning(f"the transductive setting with {len(s)} clips for {s.shape[1]} labels: some labels can "
                    "have no clip, and the refined ranking leans on very few")
    return refine(name, s, instance_features(inst, mods))


def _partial_label_warnings(partial: dict, tokens: dict, strict: bool) -> list[str]:
    """One warning per label embedded from part of its words (naming the words left out); with ``strict`` the
    first is an error."""
    from zsltool.classify_labels import label_hint

    out = []
    for lab, lost in partial.items():
        out.append(f"label {lab!r} is embedded from {', '.join(tokens.get(lab) or [])} only: "
                   f"{', '.join(repr(w) for w in lost)} {'is' if len(lost) == 1 else 'are'} not in the vocabulary")
    if out and strict:
        raise ZslError(out[0] + (f" (and {len(out) - 1} more)" if len(out) > 1 else "") + " [--strict]",
                       hint=label_hint([lab for lab in tokens if lab not in partial]))
    for w in out:
        log.warning(w)
    return out
