"""Synthetic zero-shot data with a shared latent class structure (tests, benchmarks, demos).

Each class k has a latent vector z_k. Audio rows are ``A z_k + noise``, video rows ``B z_k + noise`` and the
class-level "text" embedding is ``tanh(C z_k)``: a model that maps audio/video to the semantic space of the
training classes transfers to unseen classes because they share the latent space.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zsltool.classes.splits import Split, Trial
from zsltool.store import StoreMeta, write_embeddings


@dataclass
class SyntheticFiles:
    audio: Path
    video: Path | None
    text: Path
    image: Path
    split: Path
    classes: list[str]
    class_set_sha256: str
    class_set: Path | None = None


def make_synthetic(folder, *, n_classes: int = 12, per_class: int = 20, latent: int = 4, audio_dim: int = 12,
                   video_dim: int = 10, text_dim: int = 8, image_dim: int = 6, noise: float = 0.3,
                   n_train: int | None = None, n_val: int | None = None, video: bool = True, gzsl: bool = False,
                   invalid_audio: int = 0, invalid_video: int = 0, seed: int = 0) -> SyntheticFiles:
    """Write audio/video instance files, text/image class files and a one-trial split into ``folder``.

    ZSL split: the first ``n_train`` classes train, the next ``n_val`` validate, the rest test. GZSL split:
    the first ``n_train + n_val`` classes are seen (instances split 60/20/20), the rest unseen.
    ``invalid_audio`` / ``invalid_video``: that many rows (spread over classes) are marked invalid.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    classes = [f"c{k:02d}" for k in range(n_classes)]
    from zsltool.classes.classset import ClassSet

    cs = ClassSet(classes=[{"id": c, "name": c} for c in classes], name="synthetic")
    cs.save(folder / "classes.json", overwrite=True)
    h = cs.sha256
    Z = rng.normal(size=(n_classes, latent))
    A = rng.normal(size=(latent, audio_dim))
    B = rng.normal(size=(latent, video_dim))
    C = rng.normal(size=(latent, text_dim)) / np.sqrt(latent)
    D = rng.normal(size=(latent, image_dim)) / np.sqrt(latent)
    labels = np.repeat(np.arange(n_classes), per_class)
    ids = [f"clip{i:05d}" for i in range(len(labels))]
    Xa = Z[labels] @ A + noise * rng.normal(size=(len(labels), audio_dim)) * np.sqrt(latent)
    Xv = Z[labels] @ B + noise * rng.normal(size=(len(labels), video_dim)) * np.sqrt(latent)
    order = rng.permutation(len(labels))
    va = np.ones(len(labels), bool)
    vv = np.ones(len(labels), bool)
    va[order[:invalid_audio]] = False
    vv[order[invalid_audio:invalid_audio + invalid_video]] = False
    Xa[~va] = 0
    Xv[~vv] = 0
    lab = [[int(k)] for k in labels]

    def meta(kind, modality):
        return StoreMeta(kind=kind, modality=modality, extractor="synthetic", class_set_sha256=h)

    audio = write_embeddings(folder / "audio.h5", meta=meta("instance", "audio"), ids=ids, X=Xa, classes=classes,
                             labels=lab, valid=va, reasons=["" if v else "synthetic" for v in va], overwrite=True)
    vpath = None
    if video:
        vpath = write_embeddings(folder / "video.h5", meta=meta("instance", "video"), ids=ids, X=Xv,
                                 classes=classes, labels=lab, valid=vv,
                                 reasons=["" if v else "synthetic" for v in vv], overwrite=True)
    text = write_embeddings(folder / "text.h5", meta=meta("class", "text"), ids=classes, X=np.tanh(Z @ C),
                            classes=classes, overwrite=True)
    image = write_embeddings(folder / "image.h5", meta=meta("class", "image"), ids=classes, X=np.tanh(Z @ D),
                             classes=classes, overwrite=True)
    n_train = n_train if n_train is not None else n_classes // 2
    n_val = n_val if n_val is not None else (n_classes - n_train) // 2
    if gzsl:
        seen, unseen = classes[:n_train + n_val], classes[n_train + n_val:]
        inst = {"train": [], "val": [], "test_seen": []}
        for k in range(len(seen)):
            rows = [ids[i] for i in np.nonzero(labels == k)[0]]
            a, b = int(0.6 * len(rows)), int(0.8 * len(rows))
            inst["train"] += rows[:a]
            inst["val"] += rows[a:b]
            inst["test_seen"] += rows[b:]
        trial = Trial(train=seen, val=seen, test=seen + unseen, seen=seen, unseen=unseen, instances=inst)
        protocol = "gzsl"
    else:
        trial = Trial(train=classes[:n_train], val=classes[n_train:n_train + n_val],
                      test=classes[n_train + n_val:])
        protocol = "random"
    split = Split(trials=[trial], protocol=protocol, class_set_sha256=h, seed=seed)
    split.save(folder / "split.json", overwrite=True)
    return SyntheticFiles(audio=audio, video=vpath, text=text, image=image, split=folder / "split.json",
                          classes=classes, class_set_sha256=h, class_set=folder / "classes.json")


def make_two_stage_split(syn: SyntheticFiles, path, *, n_seen: int, n_val_unseen: int) -> Path:
    """A two-stage GZSL split (``zsltool.evaluate.two_stage``) over ``syn``'s audio file, shaped like the
    AVCA-GZSL benchmark's: stage 1 has ``n_seen`` seen classes (rows 60 % train, 20 % val, 20 % stage-2
    test_seen) and ``n_val_unseen`` unseen validation classes (80 % val_unseen, 20 % stage-2 test_seen); stage 2
    sees both and tests on the remaining classes (test_unseen)."""
    from zsltool.store import read_embeddings

    a = read_embeddings(syn.audio)
    lab = a.label_index()
    seen1 = syn.classes[:n_seen]
    unseen1 = syn.classes[n_seen:n_seen + n_val_unseen]
    unseen2 = syn.classes[n_seen + n_val_unseen:]
    inst1 = {"train": [], "val": [], "val_unseen": [], "test_seen": [], "test_unseen": []}
    test_seen, test_unseen = [], []
    for k, c in enumerate(a.classes):
        rows = [a.ids[i] for i in np.nonzero(lab == k)[0]]
        if c in seen1:
            p, q = int(0.6 * len(rows)), int(0.8 * len(rows))
            inst1["train"] += rows[:p]
            inst1["val"] += rows[p:q]
            test_seen += rows[q:]
        elif c in unseen1:
            q = int(0.8 * len(rows))
            inst1["val_unseen"] += rows[:q]
            test_seen += rows[q:]
        elif c in unseen2:
            test_unseen += rows
    seen2 = seen1 + unseen1
    stage1 = Trial(train=seen1, val=[], test=seen1 + unseen1, seen=seen1, unseen=unseen1, instances=inst1)
    stage2 = Trial(train=seen2, val=[], test=seen2 + unseen2, seen=seen2, unseen=unseen2,
                   instances={"train": inst1["train"] + inst1["val"] + inst1["val_unseen"], "test_seen": test_seen,
                              "test_unseen": test_unseen})
    split = Split(trials=[stage1, stage2], protocol="gzsl", class_set_sha256=syn.class_set_sha256,
                  params={"two_stage": [[0, 1]]})
    return split.save(path, overwrite=True)
