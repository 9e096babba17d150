"""Assembling training / evaluation data: instance-level audio (+ optional video) files, class-level semantic
file(s) and a split trial.

Library API (stable; used by ``zsl evaluate`` / ``experiment``):

* ``load_inputs(audio=..., video=None, semantic="text", text=..., image=..., audio_prototypes=...,
  semantic_file=..., split=None)`` -> :class:`Inputs` (files read, kinds and class sets checked).
* ``load_inputs_from_config(config_dict)`` -> the same inputs a checkpoint was trained on.
* ``select_instances(inputs, classes, ids=None, modalities=("audio",))`` -> :class:`InstanceSet`: the rows
  whose single label is in ``classes`` (multi-label, unlabelled and unusable rows skipped).
* ``compute_scores(model, class_emb, inst, modality="both")`` -> (N, C) numpy score matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.names import SEMANTIC_INPUTS, SEMANTIC_SOURCES, file_option
from zsltool.store import Embeddings, check_same_class_set, read_embeddings
from zsltool.files.provenance import input_record



@dataclass
class SemanticTable:
    """Class-level side information: one row per class id."""

    ids: list[str]
    X: np.ndarray
    valid: np.ndarray
    name: str
    files: list[Embeddings] = field(default_factory=list)

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    def matrix(self, class_ids: Sequence[str]) -> np.ndarray:
        """Rows of ``class_ids`` in that order; ZslError naming missing or invalid classes."""
        index = {c: i for i, c in enumerate(self.ids)}
        where = ", ".join(str(e.path) for e in self.files) or self.name
        missing = [c for c in class_ids if c not in index]
        if missing:
            raise ZslError(f"{len(missing)} classes of the split have no {self.name} embedding in {where}: "
                           + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""),
                           hint="use a semantic file covering every class of the split")
        bad = [c for c in class_ids if not self.valid[index[c]]]
        if bad:
            raise ZslError(f"{len(bad)} classes have an invalid {self.name} embedding in {where}: "
                           + ", ".join(bad[:5]), hint="choose another semantic source or drop those classes")
        return self.X[[index[c] for c in class_ids]]


@dataclass
class Inputs:
    audio: Embeddings
    video: Embeddings | None
    video_X: np.ndarray | None  # video rows aligned to audio.ids (zeros where missing)
    video_valid: np.ndarray | None
    semantic: SemanticTable
    class_set_sha256: str
    split_path: Path | None = None

    def input_records(self) -> list[dict]:
        paths = [self.audio.path] + ([self.video.path] if self.video is not None else [])
        paths += [e.path for e in self.semantic.files] + ([self.split_path] if self.split_path else [])
        return [input_record(p) for p in paths]


@dataclass
class InstanceSet:
    ids: list[str]
    audio: np.ndarray
    audio_valid: np.ndarray
    video: np.ndarray | None
    video_valid: np.ndarray | None
    labels: np.ndarray  # index into ``classes``
    classes: list[str]

    def __len__(self) -> int:
        return len(self.ids)


def _read_class_file(path: str, what: str) -> Embeddings:
    e = read_embeddings(path)
    if e.meta.kind != "class":
        raise ZslError(f"{path} is an instance-level file, but {what} must be a class-level file",
                       hint="make class-level files with extract-text, prototypes or combine")
    return e


def _table(e: Embeddings, name: str) -> SemanticTable:
    return SemanticTable(ids=list(e.ids), X=e.X.astype(np.float32), valid=e.valid.astype(bool), name=name,
                         files=[e])


def load_semantic(semantic: str = "text", *, text=None, image=None, audio_prototypes=None,
                  semantic_file=None) -> SemanticTable:
    """The class-level semantic table for ``--semantic``.

    ``semantic_file`` (any class-level file) wins when given. ``hybrid`` concatenates image ‖ text per class
    in memory with ``zsltool.store.compose.concat_parts``, exactly as ``zsl combine`` (without ``--l2``) writes it
    (classes present in both; a class is valid when both parts are).
    """
    if semantic_file:
        return _table(_read_class_file(semantic_file, "--semantic-file"), semantic)
    if semantic not in SEMANTIC_INPUTS:
        raise ZslError(f"unknown semantic source {semantic!r}", hint=f"use {', '.join(SEMANTIC_SOURCES)}")
    given = {"text": text, "image": image, "audio_prototypes": audio_prototypes}
    keys = SEMANTIC_INPUTS[semantic]
    if not all(given[k] for k in keys):
        raise ZslError(f"--semantic {semantic} needs " + " and ".join(f"{file_option(k)} FILE" for k in keys),
                       hint="or pass --semantic-file FILE" + (" (a combined file from `zsl combine`)" if len(keys) > 1
                                                              else ""))
    parts = [_read_class_file(given[k], file_option(k)) for k in keys]
    if len(parts) == 1:
        return _table(parts[0], semantic)
    from zsltool.store.compose import concat_parts

    check_same_class_set(parts)
    others = [p.id_index() for p in parts[1:]]
    ids = [c for c in parts[0].ids if all(c in o for o in others)]
    X, valid, _ = concat_parts(parts, ids)  # the one way hybrid is built (zsl combine writes the same)
    return SemanticTable(ids=ids, X=X, valid=valid, name=semantic, files=parts)


def load_instance_files(audio, video=None):
    """The audio instance file and, optionally, the video file's rows aligned to the audio ids.

    Returns ``(audio, video, video_X, video_valid)``: ``video_X`` has one row per audio row (zeros and
    ``video_valid`` False where the video file has no such id)."""
    a = read_embeddings(audio)
    if a.meta.kind != "instance":
        raise ZslError(f"{audio} is a class-level file ({a.meta.modality}), but --audio must be an instance-level "
                       "file", hint="give the clips' embeddings (zsl extract-audio) to --audio, and class "
                                    "embeddings to --text/--image")
    if not video:
        return a, None, None, None
    v = read_embeddings(video)
    if v.meta.kind != "instance":
        raise ZslError(f"{video} is a class-level file ({v.meta.modality}), but --video must be an instance-level "
                       "file", hint="give the clips' video embeddings (zsl extract-video) to --video")
    if len(a.ids) and v.id_index().keys().isdisjoint(a.ids):
        raise ZslError(f"{audio} and {video} share no ids", hint="audio and video rows are matched by id")
    return a, v, *aligned_rows(v, a.ids)


def aligned_rows(e: Embeddings, ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``e`` for ``ids``, in that order, and their validity (zeros, invalid, where ``e`` has no such
    id): how video rows are matched to the audio rows."""
    index = e.id_index()
    at = np.array([index.get(i, -1) for i in ids], dtype=np.int64)
    return (np.where(at[:, None] >= 0, e.X[np.maximum(at, 0)], 0).astype(np.float32),
            (at >= 0) & e.valid[np.maximum(at, 0)])


def load_inputs(*, audio, video=None, semantic: str = "text", text=None, image=None, audio_prototypes=None,
                semantic_file=None, split=None) -> Inputs:
    """Read and cross-check the instance files and the semantic table (kinds, class-set hashes)."""
    a, v, vX, vvalid = load_instance_files(audio, video)
    sem = load_semantic(semantic, text=text, image=image, audio_prototypes=audio_prototypes,
                        semantic_file=semantic_file)
    check_same_class_set([a] + ([v] if v is not None else []) + sem.files)
    h = next((e.meta.class_set_sha256 for e in [a, v, *sem.files] if e is not None and e.meta.class_set_sha256), "")
    return Inputs(audio=a, video=v, video_X=vX, video_valid=vvalid, semantic=sem, class_set_sha256=h,
                  split_path=Path(split) if split else None)


def load_inputs_from_config(config: dict, **overrides) -> Inputs:
    """Rebuild a checkpoint's inputs from its recorded ``config`` (paths may be overridden, e.g. audio=...)."""
    c = {**config, **{k: v for k, v in overrides.items() if v is not None}}
    return load_inputs(audio=c["audio"], video=c.get("video"), semantic=c.get("semantic", "text"),
                       text=c.get("text"), image=c.get("image"), audio_prototypes=c.get("audio_prototypes"),
                       semantic_file=c.get("semantic_file"), split=c.get("split"))


def check_split_class_set(inputs: Inputs, split) -> None:
    h = getattr(split, "class_set_sha256", "")
    if h and inputs.class_set_sha256 and h != inputs.class_set_sha256:
        raise ZslError(f"{split.path} was made for class set {h[:12]}, but {inputs.audio.path} was built from "
                       f"class set {inputs.class_set_sha256[:12]}", hint="use a split made from the same class set")


def select_instances(inputs: Inputs, classes: Sequence[str], ids: Sequence[str] | None = None,
                     modalities: Sequence[str] = ("audio",)) -> InstanceSet:
    """Rows whose single label is one of ``classes`` (restricted to ``ids`` when given) and usable for
    ``modalities``: audio-only methods need valid audio, video-only valid video, two-modality methods
    either (the invalid modality is masked)."""
    a = inputs.audio
    lab = a.label_index()
    class_pos = {c: i for i, c in enumerate(classes)}
    file_to_pos = np.array([class_pos.get(c, -1) for c in a.classes], dtype=np.int64)
    pos = np.where(lab >= 0, file_to_pos[np.maximum(lab, 0)] if len(a.classes) else -1, -1)
    keep = pos >= 0
    if ids is not None:
        wanted = np.zeros(len(a.ids), dtype=bool)
        idx = a.id_index()
        missing = [i for i in ids if i not in idx]
        if missing:
            raise ZslError(f"{len(missing)} instance ids of the split are not in {a.path}: {', '.join(missing[:5])}")
        wanted[[idx[i] for i in ids]] = True
        keep &= wanted
    av = a.valid.astype(bool)
    vv = inputs.video_valid if inputs.video_valid is not None else np.zeros(len(a.ids), dtype=bool)
    use_a, use_v = "audio" in modalities, "video" in modalities and inputs.video is not None
    if use_a and use_v:
        keep &= av | vv
    elif use_v:
        keep &= vv
    else:
        keep &= av
    rows = np.nonzero(keep)[0]
    return InstanceSet(ids=[a.ids[r] for r in rows], audio=a.X[rows], audio_valid=av[rows],
                       video=None if inputs.video_X is None else inputs.video_X[rows],
                       video_valid=None if inputs.video_X is None else vv[rows],
                       labels=pos[rows].astype(np.int64), classes=list(classes))


def compute_scores(model, class_emb, inst: InstanceSet, modality: str = "both", batch_size: int = 4096,
                   device: str = "cpu") -> np.ndarray:
    """(N, C) scores of ``inst`` against ``class_emb`` (C, Ds) with a trained model (no gradients)."""
    import torch

    ce = torch.as_tensor(np.asarray(class_emb), dtype=torch.float32, device=device)
    prep_c, prep_a, prep_v = (getattr(model, k, lambda x: x) for k in ("prep_classes", "prep_audio", "prep_video"))
    ce = prep_c(ce)  # the feature scaling a checkpoint carries (zscore / l2_classes) applies on every path
    out = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for s in range(0, len(inst), batch_size):
            sl = slice(s, s + batch_size)
            a = prep_a(torch.as_tensor(inst.audio[sl], device=device))
            av = torch.as_tensor(inst.audio_valid[sl], device=device)
            v = vv = None
            if inst.video is not None and model.uses_video:
                v = prep_v(torch.as_tensor(inst.video[sl], device=device))
                vv = torch.as_tensor(inst.video_valid[sl], device=device)
            out.append(model.scores(ce, audio=a, video=v, modality=modality, audio_valid=av,
                                    video_valid=vv).float().cpu().numpy())
    model.train(was_training)
    if not out:
        return np.zeros((0, ce.shape[0]), np.float32)
    return np.concatenate(out)


def check_model_inputs(model, inputs: Inputs) -> None:
    """ZslError when the inputs' dimensions do not fit a trained model."""
    if inputs.audio.dim != model.audio_dim:
        raise ZslError(f"{inputs.audio.path} has {inputs.audio.dim}-d audio embeddings, but the model expects "
                       f"{model.audio_dim}-d")
    if model.uses_video and inputs.video is not None and inputs.video.dim != model.video_dim:
        raise ZslError(f"{inputs.video.path} has {inputs.video.dim}-d video embeddings, but the model expects "
                       f"{model.video_dim}-d")
    if inputs.semantic.dim != model.semantic_dim:
        raise ZslError(f"the {inputs.semantic.name} semantic embeddings are {inputs.semantic.dim}-d, but the "
                       f"model expects {model.semantic_dim}-d", hint="use the semantic source it was trained on")
