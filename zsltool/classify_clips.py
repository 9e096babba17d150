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
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from zsltool.errors import ZslError

log = logging.getLogger("zsltool.classify")

# The video extensions of zsltool.extract.video, repeated here so that audio inputs never import the video stack
# (torchvision, PyAV: seconds of start-up); a test keeps the two equal.
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg")
LABEL_HINT = "rephrase it with words of the vocabulary (e.g. 'church bells'), or pass --class-embeddings FILE"


# -- labels ---------------------------------------------------------------------------------------------------
def parse_labels(labels: str | Sequence[str] | None = None, labels_file: str | os.PathLike | None = None
                 ) -> list[str]:
    """Candidate labels from a comma-separated string or a list, and/or a file (one per line, ``#`` comments)."""
    out: list[str] = []
    if labels is not None:
        items = labels.split(",") if isinstance(labels, str) else list(labels)
        out += [str(x).strip() for x in items]
    if labels_file is not None:
        from zsltool.utils import read_text

        text = read_text(labels_file, "labels file", hint="one label per line")
        out += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    out = [x for x in out if x]
    if not out:
        raise ZslError("no candidate labels given", hint='pass --labels "dog,siren" or --labels-file FILE')
    dup = sorted({x for x in out if out.count(x) > 1})
    if dup:
        raise ZslError(f"labels given more than once: {', '.join(dup[:5])}", hint="list each candidate label once")
    if len(out) < 2:
        log.warning(f"only one candidate label ({out[0]!r}): every clip gets probability 1")
    return out


# -- provenance -----------------------------------------------------------------------------------------------
def _file_record(path) -> dict | None:
    """A provenance record (as in ``ckpt["provenance"]``) read from an embedding file, or None when it is gone."""
    if not path or not Path(path).is_file():
        return None
    from zsltool.store import read_meta

    m = read_meta(path)
    return {"path": str(path), "modality": m.modality, "kind": m.kind, "extractor": m.extractor,
            "extractor_meta": {k: v for k, v in (m.extractor_meta or {}).items() if k != "tokens"},
            "inputs": m.inputs}


def training_provenance(ckpt: dict, what: str) -> dict | list | None:
    """How the checkpoint's training ``audio`` / ``video`` file or ``semantic`` files were made: stored in the
    checkpoint by ``zsl train``; for older checkpoints read from the recorded files when they still exist."""
    prov = ckpt.get("provenance") or {}
    if what in prov and prov[what] is not None:
        return prov[what]
    cfg = ckpt.get("config") or {}
    if what == "semantic":
        if cfg.get("semantic_file"):
            recs = [_file_record(cfg["semantic_file"])]
        else:
            key = {"text": "text", "image": "image", "audio": "audio_prototypes"}.get(cfg.get("semantic", "text"))
            recs = [_file_record(cfg.get(key))] if key else [_file_record(cfg.get("image")),
                                                               _file_record(cfg.get("text"))]
        return None if any(r is None for r in recs) else recs
    return _file_record(cfg.get(what))


# -- class embeddings -----------------------------------------------------------------------------------------
def _recorded_vectors_sha(rec: dict) -> str:
    em = rec.get("extractor_meta") or {}
    if em.get("vectors_sha256"):
        return em["vectors_sha256"]
    want = str(em.get("vectors") or "")
    for r in rec.get("inputs") or []:
        if isinstance(r, dict) and r.get("path") and (r["path"] == want or Path(r["path"]).name == Path(want).name):
            return r.get("sha256") or ""
    return ""


def _word2vec_rows(rec: dict, labels: list[str], vectors, allow_other_vectors: bool):
    from zsltool.classify_vectors import cached_sha256, label_vectors
    from zsltool.extract.text_tokenize import RULES_VERSION

    em = rec.get("extractor_meta") or {}
    recorded = em.get("vectors")
    path = Path(vectors).expanduser() if vectors else (Path(recorded) if recorded else None)
    if path is None:
        raise ZslError("the checkpoint's text file records no word-vectors path", hint="pass --vectors PATH")
    if not path.is_file():
        raise ZslError(f"word vectors not found: {path}" + ("" if vectors else " (recorded in the training text file)"),
                       hint="pass --vectors PATH to the same vectors file (checked by sha256)")
    want = _recorded_vectors_sha(rec)
    if want:
        got = cached_sha256(path)
        if got != want:
            if not allow_other_vectors:
                raise ZslError(f"{path} has sha256 {got[:12]}, but the model was trained with vectors of sha256 "
                               f"{want[:12]}: the label embeddings would be in another space",
                               hint="give the vectors the model was trained with, or --allow-other-vectors")
            log.warning(f"{path} is not the vectors file the model was trained with (--allow-other-vectors)")
    rules = em.get("tokenizer")
    if rules and rules != RULES_VERSION:
        log.warning(f"the training labels were tokenized with {rules!r}; new labels use {RULES_VERSION!r}")
    rows = label_vectors(path, labels, em.get("format") or "auto", em.get("limit"))
    missing = [lab for lab, (v, _) in zip(labels, rows) if v is None]
    if missing:
        raise ZslError(f"{len(missing)} of {len(labels)} labels have no known word: {'; '.join(missing[:10])}",
                       hint=LABEL_HINT)
    return np.stack([v for v, _ in rows]).astype(np.float32), {"tokens": {lab: t for lab, (_, t) in
                                                                          zip(labels, rows)}, "vectors": str(path)}


def _sentence_rows(rec: dict, labels: list[str], device: str):
    from zsltool.extract.text import load_sentence_model

    em = rec.get("extractor_meta") or {}
    if em.get("text") == "description":
        log.warning("the model was trained on class descriptions: give descriptions as labels for best results")
    st, name = load_sentence_model(em.get("sentence_model"), device)
    X = st.encode(list(labels), convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(X, dtype=np.float32), {"sentence_model": name}


def _is_text_extractor(name) -> bool:
    from zsltool.extract.registry import EXTRACTORS, list_extractors

    return name in list_extractors("text") and EXTRACTORS[name].modality == "text"


def _registered_text_rows(rec: dict, labels: list[str], device: str):
    """Label embeddings by the text extractor that made the training text file, rebuilt from its provenance
    (its weights checked by sha256): CLAP's text side embeds any label list in the audio model's space."""
    from zsltool.extract.registry import extractor_from_provenance
    from zsltool.extract.text import TextEntry
    from zsltool.store import StoreMeta

    em = rec.get("extractor_meta") or {}
    ex = extractor_from_provenance(StoreMeta(kind="class", modality="text", extractor=rec["extractor"],
                                             extractor_meta=em), device=device)
    rows = ex.rows([TextEntry(id=lab, name=lab) for lab in labels])
    missing = [lab for lab, (v, _) in zip(labels, rows) if v is None]
    if missing:
        raise ZslError(f"{len(missing)} of {len(labels)} labels could not be embedded: {'; '.join(missing[:10])}",
                       hint=LABEL_HINT)
    return np.stack([v for v, _ in rows]).astype(np.float32), {"text_model": rec["extractor"]}


def label_embeddings(ckpt: dict, labels: list[str], *, class_embeddings=None, vectors=None,
                     allow_other_vectors: bool = False, device: str = "cpu") -> tuple[np.ndarray, dict]:
    """(C, Ds) class embeddings of ``labels`` and a record of how they were made."""
    if class_embeddings is not None:
        from zsltool.store import read_embeddings

        e = read_embeddings(class_embeddings, kind="class")
        idx = e.id_index()
        missing = [lab for lab in labels if lab not in idx]
        if missing:
            raise ZslError(f"{len(missing)} labels are not classes of {class_embeddings}: {'; '.join(missing[:10])}",
                           hint=f"its classes are: {', '.join(e.ids[:8])}{' ...' if len(e.ids) > 8 else ''}")
        bad = [lab for lab in labels if not e.valid[idx[lab]]]
        if bad:
            raise ZslError(f"{len(bad)} labels have an invalid embedding in {class_embeddings}: {'; '.join(bad[:10])}")
        sem = training_provenance(ckpt, "semantic") or []
        mods = {r.get("modality") for r in sem if r}
        if mods and e.meta.modality not in mods and ckpt.get("config", {}).get("semantic") != "hybrid":
            log.warning(f"{class_embeddings} holds {e.meta.modality} embeddings, but the model was trained on "
                        f"{', '.join(sorted(m for m in mods if m))} side information")
        return e.X[[idx[lab] for lab in labels]].astype(np.float32), {"source": str(class_embeddings)}
    stored = list(ckpt["semantic"]["ids"])
    if all(lab in set(stored) for lab in labels):
        from zsltool.train.checkpoint import semantic_matrix

        return semantic_matrix(ckpt, labels).numpy(), {"source": "checkpoint (every label is a class it holds)"}
    sem = training_provenance(ckpt, "semantic")
    if not sem:
        raise ZslError("the checkpoint does not record how its class embeddings were made, and the training "
                       "text file is gone", hint="pass --class-embeddings FILE (e.g. made by zsl extract-text)")
    if len(sem) != 1 or sem[0].get("modality") != "text":
        kinds = " + ".join(str(r.get("modality")) for r in sem)
        raise ZslError(f"the model was trained on {kinds} side information, which cannot be made on the fly for "
                       "new labels", hint="pass --class-embeddings FILE made the same way for your labels")
    rec = sem[0]
    if rec.get("extractor") == "word2vec":
        X, info = _word2vec_rows(rec, labels, vectors, allow_other_vectors)
    elif rec.get("extractor") == "sentence":
        X, info = _sentence_rows(rec, labels, device)
    elif _is_text_extractor(rec.get("extractor")):  # any other registered text backend (e.g. clap-text)
        X, info = _registered_text_rows(rec, labels, device)
    else:
        raise ZslError(f"the training text file was made by {rec.get('extractor')!r}, which zsl classify cannot "
                       "rerun", hint="pass --class-embeddings FILE")
    return X, {"source": f"{rec.get('extractor')} (as {rec.get('path')})", **info}


# -- audio ----------------------------------------------------------------------------------------------------
_RANDOM = re.compile(r"random-init\(width=([0-9.eE+-]+), seed=(\d+)\)")


def audio_extractor(rec: dict | None, *, weights=None, device: str = "cpu"):
    """The extractor that made the training audio file, rebuilt from its provenance
    (:func:`zsltool.extract.registry.extractor_from_provenance`); weights checked by sha256."""
    from zsltool.extract.registry import EXTRACTORS, extractor_from_provenance, list_extractors
    from zsltool.store import StoreMeta

    if not rec:
        raise ZslError("the checkpoint does not record how its training audio was embedded, and that file is gone",
                       hint="pass --embeddings FILE with the clips' embeddings")
    name, em = rec.get("extractor"), rec.get("extractor_meta") or {}
    list_extractors()
    if name not in EXTRACTORS or EXTRACTORS[name].modality != "audio":
        raise ZslError(f"the training audio file was made by {name!r}, not by an extractor zsl can rerun",
                       hint="embed the clips the same way and pass --embeddings FILE")
    spec = weights or (em.get("config") or {}).get("weights", em.get("weights"))
    m = _RANDOM.fullmatch(str(em.get("weights") or ""))
    if m and not weights:  # a seeded random network of that width (tests, demos)
        from zsltool.extract.audio.vggish import build

        return build(width=float(m.group(1)), seed=int(m.group(2)), device=device,
                     embedding=em.get("embedding", "raw"), pca_params=em.get("pca_params"))
    path = em.get("weights_path") or spec
    if path and not str(path).startswith(("http://", "https://", "file://")) and not Path(path).is_file() \
            and EXTRACTORS[name].get_weights(str(path)) is None:
        raise ZslError(f"audio network weights not found: {path}" + ("" if weights else " (recorded in the "
                       "training audio file)"), hint="pass --weights PATH to the same weights (checked by sha256)")
    return extractor_from_provenance(StoreMeta(kind="instance", modality="audio", extractor=name, extractor_meta=em),
                                     weights=weights, device=device)


class _MemoryWriter:
    """Just enough of EmbeddingWriter for ``run_extraction``: rows kept in memory, in input order."""

    def __init__(self, dim: int):
        self.dim, self.done_ids = dim, set()
        self.ids: list[str] = []
        self.rows: list[np.ndarray] = []
        self.valid: list[bool] = []
        self.reasons: list[str] = []

    def add(self, id_, emb, labels=None, valid=True, reason="", frames=None, **_):  # key=... (resume) unused
        v = np.asarray(emb, dtype=np.float32)
        if valid and not np.isfinite(v).all():
            valid, reason = False, "non-finite embedding"
        self.ids.append(id_)
        self.rows.append(v)
        self.valid.append(bool(valid))
        self.reasons.append(reason or "")
        return bool(valid), reason

    def keep_only(self, keys) -> list[str]:  # nothing to resume in memory
        return []

    def discard(self):
        pass


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


def embed_clips(items, extractor, *, max_seconds=10.0, batch_size: int = 16, workers: int = 0,
                progress: bool = False):
    """(ids, X, valid, reasons, sources) of the clips, embedded in memory with ``extractor``."""
    from zsltool.extract.audio.extract import AudioLoader
    from zsltool.extract.runner import run_extraction

    w = _MemoryWriter(extractor.dim)
    loader = AudioLoader(max_seconds=max_seconds, examples_fn=extractor.examples, sample_rate=extractor.sample_rate,
                         min_samples=extractor.min_samples)
    run_extraction(items, load=loader, embed=extractor.embed, writer=w, batch_size=batch_size, workers=workers,
                   desc="classify", progress=progress, unit="clip")
    src = {it.id: str(it.source) for it in items}
    return w.ids, np.stack(w.rows), np.array(w.valid, bool), w.reasons, [src[i] for i in w.ids]


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
                 batch_size: int = 16, workers: int = 0):
    """Videos -> (ids, audio X, audio valid, reasons, sources, video X, video valid), with the training
    extractors: the video network recorded for the training video file, and the audio network on the videos'
    audio tracks (written to WAV in a temporary folder, as ``extract-video --extract-audio`` does)."""
    import tempfile

    from zsltool.extract.audio.extract import extract_audio
    from zsltool.extract.video import extract_video
    from zsltool.store import read_embeddings

    use_a = "audio" in net.modalities and modality in ("both", "audio")
    use_v = net.uses_video and modality in ("both", "video")
    vrec = training_provenance(ckpt, "video") if use_v or use_a else None
    if not vrec:
        raise ZslError("the checkpoint does not record how its training videos were embedded, and that file is gone",
                       hint="pass --embeddings/--video-embeddings files made the same way")
    em = vrec.get("extractor_meta") or {}
    crop = em.get("crop")
    crop = int(crop[0]) if isinstance(crop, (list, tuple)) and crop else (int(crop) if crop else None)
    with tempfile.TemporaryDirectory(prefix="zsl-classify-") as td:
        td = Path(td)
        extract_video([str(p) for p in paths], td / "video.h5", model=vrec.get("extractor"),
                      weights=video_weights or em.get("weights"), layer=em.get("layer", "penultimate"),
                      clip_len=int(em.get("clip_len", 16)), clips=int(em.get("clips", 4)), crop_size=crop,
                      extract_audio=td / "wav" if use_a else None, batch_size=2, workers=workers, device=device,
                      progress=False)
        v = read_embeddings(td / "video.h5")
        ids, reasons = list(v.ids), list(v.reasons)
        X = np.zeros((len(ids), net.audio_dim), np.float32)
        valid = np.zeros(len(ids), bool)
        if use_a:
            arec = training_provenance(ckpt, "audio")
            ex = audio_extractor(arec, weights=weights, device=device)
            try:
                extract_audio(str(td / "wav" / "clips.csv"), td / "audio.h5", extractor=ex, batch_size=batch_size,
                              max_seconds=(arec or {}).get("extractor_meta", {}).get("max_seconds", 10.0),
                              workers=workers, progress=False)
                a = read_embeddings(td / "audio.h5")
                ai = a.id_index()
                for i, cid in enumerate(ids):
                    if cid in ai and a.valid[ai[cid]]:
                        X[i], valid[i] = a.X[ai[cid]], True
                    elif cid in ai and not reasons[i]:
                        reasons[i] = a.reasons[ai[cid]]
            except ZslError as e:  # no video has a usable audio track
                log.warning(f"no audio track could be embedded ({e.message}): video only")
        vx = v.X if use_v else None
        vv = v.valid.astype(bool) if use_v else None
        src = {Path(p).stem: str(p) for p in paths}
        return ids, X, valid, reasons, [src.get(i) for i in ids], vx, vv


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


def _instance_file(path, what: str):
    from zsltool.store import read_embeddings

    e = read_embeddings(path, kind="instance")
    return e


def classify(model: str | os.PathLike, inputs: str | os.PathLike | Sequence[str | os.PathLike] | None = None, *,
             labels: str | Sequence[str] | None = None, labels_file=None, embeddings=None, video_embeddings=None,
             class_embeddings=None, vectors=None, allow_other_vectors: bool = False, weights=None,
             video_weights=None, top: int = 5,
             modality: str = "both", batch_size: int = 16, workers: int = 0, device: str = "cpu",
             progress: bool = False) -> Predictions:
    """Rank ``labels`` for each clip with a trained checkpoint; see the module docstring."""
    from zsltool.classify_calibrate import DEFAULT_SOURCE, per_clip_temperature, softmax

    if modality not in ("both", "audio", "video"):
        raise ZslError(f"unknown modality {modality!r}", hint="use both, audio or video")
    if top < 1:
        raise ZslError(f"top must be at least 1, got {top}")
    cand = parse_labels(labels, labels_file)
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = list(inputs or [])
    if not inputs and embeddings is None and video_embeddings is None:
        raise ZslError("no clips given", hint="give audio files, folders or a manifest, or --embeddings FILE")
    if inputs and (embeddings is not None or video_embeddings is not None):
        raise ZslError("give either clips or --embeddings/--video-embeddings, not both")
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
        ex = audio_extractor(arec, weights=weights, device=device)
        max_s = (arec or {}).get("extractor_meta", {}).get("max_seconds", 10.0)
        ids, X, valid, reasons, sources = embed_clips(items, ex, max_seconds=max_s, batch_size=batch_size,
                                                      workers=workers, progress=progress)
        ainfo = {"audio": f"{ex.name} ({ex.meta().get('weights')}, {ex.meta().get('embedding')})"}
    else:
        ids = sources = None
        X = valid = reasons = None
        if embeddings is not None:
            a = _instance_file(embeddings, "--embeddings")
            ids, X, valid, reasons = list(a.ids), a.X, a.valid.astype(bool), list(a.reasons)
        if video_embeddings is not None:
            v = _instance_file(video_embeddings, "--video-embeddings")
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
    T = cal.get("temperature")
    if T:
        P = softmax(s, float(T)) if len(s) else s
        tsrc = f"checkpoint (fitted on {cal.get('rows')} {cal.get('on')} rows)"
    else:
        P = softmax(s, per_clip_temperature(s)) if len(s) else s
        tsrc = DEFAULT_SOURCE
        if cal.get("note"):
            log.warning(f"the checkpoint stores no temperature ({cal['note']}): each clip's scores are divided by "
                        "their standard deviation")
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
    preds.info = {"model": str(model), "method": ckpt["method"], "modality": mod,
                  "temperature": float(T) if T else None, "temperature_source": tsrc,
                  "label_embeddings": cinfo.get("source"), "n_clips": len(ids), "n_valid": int(ok.sum()), **ainfo}
    if "tokens" in cinfo:
        preds.info["label_tokens"] = cinfo["tokens"]
    return preds
