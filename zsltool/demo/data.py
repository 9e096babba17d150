"""The demo's world: the synthetic dataset, its class set and GZSL split, the networks trained from scratch on the
training classes, and every embedding file the two tables read (the steps of ``examples/demo.sh`` 1-6).

:func:`make_world` runs them through the library functions the subcommands use and returns a :class:`World`:
the paths of every file it wrote, as fields (no dict shared between the demo's parts).

1. the dataset (``zsltool.testing.synth``) and the class set from its class list (``build-classes``);
2. the GZSL split of the audio-visual part (``split --protocol gzsl``), made first because one audio network
   serves both parts: it trains only on the training classes' clips that the GZSL split keeps in
   ``instances.train``, so no clip it learned from is a GZSL validation or test clip;
3. the audio network (``pretrain-audio``) and clip embeddings (``extract-audio``);
4. the image network (``pretrain-image``), picture embeddings of every class (``extract-image``) and their
   class means (``prototypes``);
5. word vectors of the labels (``extract-text``), audio prototypes (``prototypes``, Dogan et al.'s upper bound)
   and hybrid = image ‖ text (``combine``: plain concatenation, as in the paper and as ``train`` /
   ``experiment`` build it in memory; ``zsltool.store.compose.concat_parts``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from zsltool.classes.build import build_classes
from zsltool.classes.manifest import read_clip_manifest
from zsltool.classes.protocols import make_split
from zsltool.classes.splits import load_split
from zsltool.extract.audio.pretrain import pretrain_audio
from zsltool.extract.image_pretrain import pretrain_image
from zsltool.extract.pipeline import extract_audio, extract_image, extract_text
from zsltool.store.compose import combine, prototypes

if TYPE_CHECKING:
    from zsltool.testing.synth import DemoDataset

log = logging.getLogger("zsltool.demo")

UNSEEN_VAL_FRACTION = 0.2  # share of each unseen class's clips kept for choosing beta (val_unseen)

# Networks per size. The audio network is VGGish at 1/8 width (8..64 channels, 512 hidden); the image network
# the small CNN of ``extract-image`` (16..128 channels) at the pictures' 64 x 64 pixels.
NETWORKS = {
    False: {"pretrain_epochs": 15, "pretrain_lr": 1e-3, "width": 0.125, "image_model": "smallcnn",
            "image_epochs": 20, "image_lr": 3e-3, "image_batch": 16},
    True: {"pretrain_epochs": 40, "pretrain_lr": 1e-3, "width": 0.125, "image_model": "smallcnn",
           "image_epochs": 30, "image_lr": 3e-3, "image_batch": 8},
}


@dataclass(frozen=True)
class World:
    """Every input file of the demo's tables, and what training the networks reported."""

    out: Path
    ds: DemoDataset
    classes: Path               # the class set made by build-classes
    gzsl_split: Path            # the GZSL split (Mazumder et al.), made before the audio network
    audio_net: Path
    image_net: Path
    audio: Path                 # instance level
    image: Path                 # instance level
    text: Path                  # class level from here on
    audio_prototypes: Path
    image_prototypes: Path
    hybrid: Path
    pretrain_audio: dict = field(default_factory=dict)
    pretrain_image: dict = field(default_factory=dict)

    @property
    def split(self) -> Path:
        """Dogan et al.'s class split (train / val / test classes) of the dataset."""
        return Path(self.ds.split)

    def files(self) -> dict[str, Path]:
        return {"data": Path(self.ds.root), "classes": self.classes, "split": self.split,
                "gzsl split": self.gzsl_split, "audio network": self.audio_net, "image network": self.image_net,
                "audio embeddings": self.audio, "image embeddings": self.image, "text embeddings": self.text,
                "audio prototypes": self.audio_prototypes, "image prototypes": self.image_prototypes,
                "hybrid embeddings": self.hybrid}

    def inputs(self) -> list[Path]:
        """The files the tables' numbers depend on (the results manifest hashes them)."""
        return [self.classes, self.split, self.gzsl_split, self.audio, self.image, self.text,
                self.audio_prototypes, self.image_prototypes, self.hybrid]


def step(name: str, t0: float) -> float:
    log.info(f"[demo] {name} done in {time.perf_counter() - t0:.1f} s")
    return time.perf_counter()


def make_gzsl_split(ds, classes: Path, out: Path, seed: int) -> set[str]:
    """Write the GZSL split to ``out``; return the clip ids the audio network may train on: the Table III
    training classes' clips minus the GZSL split's val, test_seen and val_unseen clips."""
    make_split(classes, "gzsl", out, seed=seed, overwrite=True, instances=ds.audio_manifest,
               unseen=ds.root / "unseen.txt", unseen_val_fraction=UNSEEN_VAL_FRACTION)
    inst = load_split(out).trial(0).instances
    held = {i for k in ("val", "test_seen", "val_unseen") for i in inst.get(k) or []}
    train = set(ds.train)
    return {r["id"] for r in read_clip_manifest(ds.audio_manifest)
            if r["labels"] and set(r["labels"]) <= train and r["id"] not in held}


def make_world(out: Path, ds, cfg: dict, *, seed: int, progress: bool) -> World:
    """Class set, GZSL split, networks and embedding files of dataset ``ds`` under ``out`` (``cfg``: NETWORKS'
    keys)."""
    t = time.perf_counter()
    for sub in ("features", "models"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    feat = out / "features"
    w = World(out=out, ds=ds, classes=out / "classes.json", gzsl_split=out / "split-gzsl.json",
              audio_net=out / "models" / "audio-net.pth", image_net=out / "models" / "image-net.pth",
              audio=feat / "audio.h5", image=feat / "image.h5", text=feat / "text.h5",
              audio_prototypes=feat / "audio-prototypes.h5", image_prototypes=feat / "image-prototypes.h5",
              hybrid=feat / "hybrid.h5")
    cs = build_classes(w.classes, from_list=ds.classes_csv, name_column="name", id_column="id", overwrite=True)
    t = step(f"build-classes: {cs['n_classes']} classes", t)
    only_ids = make_gzsl_split(ds, w.classes, w.gzsl_split, seed)  # before pretrain-audio: held-out clips stay unseen
    t = step(f"split --protocol gzsl: {len(only_ids)} training-class clips left for the audio network", t)

    duration = ds.settings.duration
    pre = pretrain_audio(ds.audio_manifest, w.audio_net, classes_path=w.classes, split_path=ds.split, trial=0,
                         epochs=cfg["pretrain_epochs"], lr=cfg["pretrain_lr"], width=cfg["width"], batch_size=8,
                         max_seconds=duration, seed=seed, overwrite=True, progress=progress, only_ids=only_ids)
    t = step(f"pretrain-audio on {pre['clips']} clips of the {pre['classes']} training classes "
             f"(train top-1 {pre['final_train_top1']:.2f})", t)
    extract_audio(str(ds.audio_manifest), w.audio, classes_path=w.classes, weights=str(w.audio_net),
                  max_seconds=duration, overwrite=True, resume=False, progress=progress)
    t = step("extract-audio", t)

    size = ds.settings.image_size
    ipre = pretrain_image([ds.image_manifest], w.image_net, classes_path=w.classes, split_path=ds.split, trial=0,
                          model=cfg["image_model"], image_size=size, epochs=cfg["image_epochs"],
                          batch_size=cfg["image_batch"], lr=cfg["image_lr"], seed=seed, overwrite=True,
                          progress=progress)
    t = step(f"pretrain-image on {ipre['crops']} pictures of the {ipre['classes']} training classes "
             f"(train top-1 {ipre['final_train_top1']:.2f})", t)
    extract_image([ds.image_manifest], w.image, model=cfg["image_model"], weights=str(w.image_net),
                  layer="penultimate", classes=w.classes, image_size=size, device="cpu", overwrite=True,
                  resume=False, progress=progress)
    t = step("extract-image (every class's pictures)", t)

    extract_text(w.text, classes=w.classes, vectors=ds.word_vectors, overwrite=True)
    prototypes(w.audio, w.audio_prototypes, overwrite=True)
    prototypes(w.image, w.image_prototypes, overwrite=True)
    combine([w.image_prototypes, w.text], w.hybrid, overwrite=True)
    step("extract-text, prototypes (audio, image), combine (hybrid = image || text)", t)
    return replace(w, pretrain_audio=pre, pretrain_image=ipre)
