"""Zero-shot classification with a joint audio–text model and no checkpoint (``zsl classify --model clap``), as
Hugging Face's ``pipeline("zero-shot-audio-classification")`` does it.

    import zsltool
    preds = zsltool.classify_joint("clip.wav", labels=["dog", "siren"], model="clap")

How the probabilities are made (docs/classify.md, "Without a checkpoint"):

* Audio: the ``clap`` extractor of ``extract-audio`` (48 kHz mono, the model's feature extractor on the first
  ``max_length_s`` seconds, repeat-padded; ``get_audio_features``), so a clip's row equals its row in a file
  made by ``zsl extract-audio --model clap`` with the same ``--weights``.
* Labels: each label through each ``--prompt`` template (default ``This is a sound of {}.``, the pipeline's
  ``hypothesis_template``) by the ``clap-text`` extractor (``get_text_features``). Several prompts are
  ensembled in the embedding space, as CLIP does (Radford et al. 2021, "Prompt engineering and ensembling"):
  each prompt's embedding L2-normalised, averaged per label, normalised again.
* Scores: the training-free ``cosine`` method (zsltool.methods.cosine): CLAP's logit scale
  ``exp(logit_scale_a)`` × cosine, i.e. the model's ``logits_per_audio``; probabilities: their softmax over
  the labels (temperature 1), the pipeline's ``scores``.

Where the pipeline differs: it crops clips longer than ``max_length_s`` at random (zsl keeps the first seconds,
so the answer is reproducible), and for a fused CLAP model it marks every single short clip as "longer".
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np

from zsltool.classify.clips import ClipRows
from zsltool.errors import ZslError
from zsltool.names import JOINT_MODELS

log = logging.getLogger("zsltool.classify")
DEFAULT_PROMPT = "This is a sound of {}."


def check_prompts(prompts: str | Sequence[str] | None) -> list[str]:
    """The prompt templates (default: ``DEFAULT_PROMPT``); each must place the label with one ``{}``."""
    out = [prompts] if isinstance(prompts, str) else list(prompts or [DEFAULT_PROMPT])
    for p in out:
        try:
            ok = "{}" in p and p.format("x") is not None
        except (IndexError, KeyError, ValueError):
            ok = False
        if not ok:
            raise ZslError(f"--prompt {p!r} is not a template with one {{}} where the label goes",
                           hint='e.g. --prompt "This is a sound of {}." (literal braces are written {{ and }})')
    dup = sorted({p for p in out if out.count(p) > 1})
    if dup:
        raise ZslError(f"prompts given more than once: {', '.join(dup)}", hint="list each --prompt once")
    return out


def prompt_embeddings(labels: list[str], prompts: list[str], *, model: str = "clap", weights=None,
                      device: str = "cpu") -> tuple[np.ndarray, dict]:
    """(L, D) unit-norm label embeddings: each prompt's text embedding normalised, averaged over the prompts,
    normalised again; and the text extractor's provenance record."""
    from zsltool.extract.registry import build_extractor
    from zsltool.extract.text import TextEntry

    entries = [TextEntry(id=lab, name=lab) for lab in labels]
    total, meta = None, {}
    for p in prompts:
        ex = build_extractor(JOINT_MODELS[model][1], modality="text", device=device, weights=weights, prompt=p)
        X = np.stack([v for v, _ in ex.rows(entries)]).astype(np.float64)
        X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        total = X if total is None else total + X
        meta = ex.meta()
    C = total / len(prompts)
    C /= np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
    return C.astype(np.float32), meta


def _precomputed(path, model: str, sha: str):
    """Rows of a precomputed instance file, which must come from this joint model's audio side."""
    from zsltool.methods.cosine import space_family
    from zsltool.store import read_embeddings

    e = read_embeddings(path, kind="instance")
    want = JOINT_MODELS[model][0]
    if space_family(e.meta.extractor) != want:
        raise ZslError(f"{path} was made by {e.meta.extractor!r}, not by the {model} model's audio side",
                       hint=f"make it with zsl extract-audio --model {want}, or give the clips themselves")
    got = (e.meta.extractor_meta or {}).get("weights_sha256")
    if got and sha and got != sha:
        raise ZslError(f"{path} was made with other {model} weights (sha256 {got[:12]}... vs {sha[:12]}...)",
                       hint="pass the --weights its rows were extracted with")
    return ClipRows(list(e.ids), e.X, e.valid.astype(bool), list(e.reasons), [None] * len(e.ids))


def classify_joint(inputs: str | os.PathLike | Sequence[str | os.PathLike] | None = None, *,
                   labels: str | Sequence[str] | None = None, labels_file=None, model: str = "clap",
                   weights: str | None = None, prompts: str | Sequence[str] | None = None, embeddings=None,
                   top: int = 5, batch_size: int = 16, workers: int = 0, device: str = "cpu",
                   progress: bool = False):
    """Rank ``labels`` for each clip with a joint audio–text model (no checkpoint); see the module docstring.
    Returns :class:`zsltool.classify.score.Predictions`."""
    from zsltool.classify.clips import clip_items, embed_clips
    from zsltool.classify.labels import parse_labels
    from zsltool.classify.score import predictions
    from zsltool.runtime.env import resolve_device
    from zsltool.scores.temperature import softmax

    if model not in JOINT_MODELS:
        raise ZslError(f"unknown joint model {model!r}", hint=f"choose one of: {', '.join(JOINT_MODELS)}")
    if top < 1:
        raise ZslError(f"top must be at least 1, got {top}")
    cand = parse_labels(labels, labels_file)
    temps = check_prompts(prompts)
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs or [])
    if bool(inputs) == (embeddings is not None):
        raise ZslError("give either clips or --embeddings FILE" if inputs else "no clips given",
                       hint="give audio files, folders or a manifest, or --embeddings FILE")
    items = clip_items(inputs) if inputs else None  # input errors before any model is loaded
    device = resolve_device(device)
    C, tmeta = prompt_embeddings(cand, temps, model=model, weights=weights, device=device)
    if items is not None:
        from zsltool.extract.registry import build_extractor

        ex = build_extractor(JOINT_MODELS[model][0], modality="audio", device=device, weights=weights)
        rows = embed_clips(items, ex, batch_size=batch_size, workers=workers, progress=progress)
    else:
        rows = _precomputed(embeddings, model, tmeta.get("weights_sha256", ""))
    ids, X, valid, reasons, sources = rows.ids, rows.X, rows.valid, rows.reasons, rows.sources
    s, scale = joint_scores(X[valid], C, tmeta.get("logit_scale"), device)
    at = np.nonzero(valid)[0]
    preds = predictions(ids, sources, valid, reasons, cand, at, s, softmax(s, 1.0) if len(s) else s, top)
    preds.info = {"model": f"{model} ({tmeta.get('weights')})", "method": "cosine", "modality": "audio",
                  "prompts": temps, "logit_scale": scale, "temperature": 1.0,
                  "temperature_source": f"{model}'s logit scale ({scale:g} x cosine; not fitted)",
                  "label_embeddings": f"{JOINT_MODELS[model][1]}, {len(temps)} prompt(s)"
                                      + (" ensembled (mean of normalised embeddings)" if len(temps) > 1 else ""),
                  "n_clips": len(ids), "n_valid": int(valid.sum()),
                  "audio": str(embeddings) if embeddings is not None else f"{JOINT_MODELS[model][0]} "
                                                                         f"({tmeta.get('weights')})"}
    return preds


def joint_scores(X: np.ndarray, C: np.ndarray, scale, device: str = "cpu") -> tuple[np.ndarray, float]:
    """(N, L) scores of audio rows ``X`` against label embeddings ``C`` by the ``cosine`` method with the model's
    logit ``scale`` (1 when unknown), and that scale."""
    from zsltool.methods import get_method
    from zsltool.train.data import InstanceSet, compute_scores

    scale = float(scale) if scale else 1.0
    net = get_method("cosine")(audio_dim=X.shape[1], semantic_dim=C.shape[1], scale=scale)
    inst = InstanceSet(ids=[str(i) for i in range(len(X))], audio=np.asarray(X, np.float32),
                       audio_valid=np.ones(len(X), bool), video=None, video_valid=None,
                       labels=np.zeros(len(X), np.int64), classes=[])
    return compute_scores(net, C, inst, device=device), scale
