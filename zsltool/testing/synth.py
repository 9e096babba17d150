"""The embedded demo dataset: sounds, pictures, videos and word vectors of described sound classes.

``make_demo_dataset(out_dir, seed=0)`` writes, deterministically for a seed::

    out_dir/
      dataset.json        what was made: parameters, counts, chance levels, the files below
      classes.json        class set (zsl.classset; each class has name, description, attributes)
      classes.csv         id,name,description,pitch,pattern,timbre   (a class source for build-classes)
      classes.txt         one class name per line
      descriptions.csv    class,description                          (for the sentence text backend)
      words.bin           word2vec binary file (attribute words, synonyms, class phrases, fillers)
      split.json          zsl.split: train / val / test classes (unseen = new attribute combinations)
      unseen.txt          the unseen (test) class names, one a line: the GZSL split is made from it with
                          ``zsl split --protocol gzsl --unseen unseen.txt`` (as ``zsl demo`` does)
      audio.csv           clip manifest: id,path,labels,start,end  (16 kHz mono WAV, 16-bit)
      images.csv          crop manifest: id,image_id,path,class,xmin,xmax,ymin,ymax,...  (64x64 PNG)
      video.csv           clip manifest of the MP4s (same ids as the audio: one instance, two modalities)
      audio/ images/ video/

Classes and splits come from ``design.py``; the acoustics from ``sounds.py``; pictures and frames from
``images.py``; MP4 writing from ``video.py``; word vectors from ``words.py``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from zsltool import __version__
from zsltool.errors import ZslError
from zsltool.testing.design import GROUPS, SoundClass, choose_split, class_design
from zsltool.files.checks import atomic_write_json, atomic_write_text
from zsltool.files.provenance import utc_now

log = logging.getLogger("zsltool.testing.synth")

FORMAT = "zsl.demo-dataset"
CLIP_COLUMNS = ["id", "path", "labels", "start", "end"]
CROP_COLUMNS = ["id", "image_id", "path", "class", "xmin", "xmax", "ymin", "ymax", "is_group_of",
                "is_depiction", "source_label"]
SAMPLE_RATE = 16000


@dataclass
class DemoSettings:
    seed: int = 0
    small: bool = False
    n_per_class: int = 16  # audio clips (and videos) per class
    n_images_per_class: int = 8
    duration: float = 2.0  # seconds per clip
    fps: float = 8.0
    image_size: int = 64
    video: bool = True
    n_val: int = 8
    n_test: int = 12
    n_trials: int = 1
    word_dim: int = 64

    @classmethod
    def make(cls, seed: int = 0, small: bool = False, **overrides) -> "DemoSettings":
        base = dict(seed=seed, small=small)
        if small:
            base.update(n_per_class=10, n_images_per_class=6, duration=1.0, n_val=3, n_test=5)
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


@dataclass
class DemoDataset:
    root: Path
    settings: DemoSettings
    classes_json: Path
    classes_csv: Path
    class_list: Path
    descriptions_csv: Path
    word_vectors: Path
    split: Path
    audio_manifest: Path
    image_manifest: Path
    video_manifest: Path | None
    info: Path
    classes: list[SoundClass] = field(default_factory=list)
    train: list[str] = field(default_factory=list)
    val: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)

    @property
    def chance_test(self) -> float:
        """Chance level of zero-shot classification among the test classes (trial 0)."""
        return 1.0 / len(self.test)


def instance_rng(seed: int, cls: SoundClass, k: int, stream: int) -> np.random.Generator:
    """Independent generator for instance ``k`` of a class; ``stream`` 0 audio, 1 video frames, 2 image."""
    return np.random.default_rng([seed, zlib.crc32(cls.name.encode("utf-8")), k, stream])


def clip_id(cls: SoundClass, k: int) -> str:
    return f"{cls.slug}-{k:03d}"


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def _paths(root: Path, video: bool) -> dict[str, Path | None]:
    return dict(classes_json=root / "classes.json", classes_csv=root / "classes.csv",
                class_list=root / "classes.txt", descriptions_csv=root / "descriptions.csv",
                word_vectors=root / "words.bin", split=root / "split.json",
                audio_manifest=root / "audio.csv", image_manifest=root / "images.csv",
                video_manifest=(root / "video.csv") if video else None, info=root / "dataset.json")


def _write_classes(root: Path, classes: list[SoundClass], s: DemoSettings) -> str:
    from zsltool.classes.classset import ClassSet

    cs = ClassSet(classes=[c.to_class_record() for c in classes], name="zsl-demo",
                  source={"generator": "zsltool.testing.synth", "seed": s.seed, "small": s.small})
    cs.save(root / "classes.json", overwrite=True, inputs=[])
    _write_csv(root / "classes.csv", ["id", "name", "description", *GROUPS],
               [[c.id, c.name, c.description, *[c.attrs[g] for g in GROUPS]] for c in classes])
    atomic_write_text(root / "classes.txt", "".join(f"{c.name}\n" for c in classes))
    _write_csv(root / "descriptions.csv", ["class", "description"], [[c.id, c.description] for c in classes])
    return cs.sha256


def _write_splits(root: Path, classes: list[SoundClass], s: DemoSettings,
                  cs_hash: str) -> tuple[list[str], list[str], list[str]]:
    from zsltool.classes.splits import Split, Trial

    trials, first = [], None
    for k in range(s.n_trials):
        train, val, test = choose_split(classes, n_val=s.n_val, n_test=s.n_test, seed=s.seed * 1000 + k)
        first = first or (train, val, test)
        trials.append(Trial(train=train, val=val, test=test))
    params = {"generator": "zsltool.testing.synth", "n_val": s.n_val, "n_test": s.n_test,
              "rule": "held-out classes are new combinations of attribute values seen in >= 2 training classes"}
    Split(trials=trials, protocol="custom", params=params, seed=s.seed,
          class_set_sha256=cs_hash).save(root / "split.json", overwrite=True)
    names = {c.id: c.name for c in classes}  # the unseen class names, for `zsl split --protocol gzsl --unseen`
    atomic_write_text(root / "unseen.txt", "".join(f"{names[c]}\n" for c in first[2]))
    return first


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="file", disable=None, leave=False)


def make_demo_dataset(out_dir: str | os.PathLike, *, seed: int = 0, small: bool = False,
                      n_per_class: int | None = None, n_images_per_class: int | None = None,
                      video: bool | None = None, overwrite: bool = False, **overrides) -> DemoDataset:
    """Write the demo dataset under ``out_dir`` (see the module docstring) and return its paths.

    An existing dataset made with the same settings is reused; one made with other settings is an
    error unless ``overwrite``.
    """
    from zsltool.testing import words as wv

    s = DemoSettings.make(seed=seed, small=small, n_per_class=n_per_class,
                          n_images_per_class=n_images_per_class, video=video, **overrides)
    root = Path(out_dir).resolve()
    info_path = root / "dataset.json"
    if info_path.exists() and not overwrite:
        return _reuse(root, info_path, s)
    classes = class_design(small=s.small)
    if overwrite:  # files of an earlier dataset would otherwise linger next to the new ones
        for sub, ext in (("audio", "wav"), ("images", "png"), ("video", "mp4")):
            for f in (root / sub).glob(f"*.{ext}") if (root / sub).is_dir() else ():
                f.unlink()
        info_path.unlink(missing_ok=True)
    for sub in ("audio", "images") + (("video",) if s.video else ()):
        (root / sub).mkdir(parents=True, exist_ok=True)
    cs_hash = _write_classes(root, classes, s)
    wv.write_word2vec(root / "words.bin", wv.build_word_vectors(classes, dim=s.word_dim, seed=s.seed))
    audio_rows, video_rows, image_rows = _write_media(root, classes, s)
    _write_csv(root / "audio.csv", CLIP_COLUMNS, audio_rows)
    _write_csv(root / "images.csv", CROP_COLUMNS, image_rows)
    if s.video:
        _write_csv(root / "video.csv", CLIP_COLUMNS, video_rows)
    train, val, test = _write_splits(root, classes, s, cs_hash)

    paths = _paths(root, s.video)
    info = {"format": FORMAT, "format_version": 1, "zsl_version": __version__, "created_utc": utc_now(),
            "settings": asdict(s), "complete": True, "class_set_sha256": cs_hash,
            "counts": {"classes": len(classes), "train": len(train), "val": len(val), "test": len(test),
                       "audio": len(audio_rows), "images": len(image_rows), "video": len(video_rows)},
            "chance": {"zsl_test": 1.0 / len(test), "zsl_val": 1.0 / len(val) if val else None,
                       "gzsl": 1.0 / len(classes) if classes else None},
            "files": {k: (str(v.relative_to(root)) if v is not None else None) for k, v in paths.items()}}
    atomic_write_json(info_path, info)
    log.info("demo dataset: %d classes (%d train, %d val, %d test), %d clips, %d images, %d videos in %s",
             len(classes), len(train), len(val), len(test), len(audio_rows), len(image_rows), len(video_rows), root)
    return _dataset(root, s, classes, train, val, test)


def _reuse(root: Path, info_path: Path, s: DemoSettings) -> DemoDataset:
    """The complete dataset at ``root`` when it was made with the settings ``s``, else a ZslError."""
    try:
        old = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        old = {}
    if old.get("settings") == asdict(s) and old.get("complete"):
        log.info("reusing the demo dataset in %s", root)
        return load_demo_dataset(root)
    raise ZslError(f"{root} already holds a demo dataset made with other settings",
                   hint="choose another folder or pass --overwrite")


def _write_media(root: Path, classes, s: DemoSettings) -> tuple[list, list, list]:
    """Every class's clips (WAV; with ``s.video`` an MP4 of frames and the same sound too) and pictures (PNG);
    returns the manifest rows of the audio clips, the videos and the crops."""
    import soundfile as sf

    from zsltool.testing import images as imgs
    from zsltool.testing import sounds

    audio_rows, video_rows, image_rows = [], [], []
    n_frames = max(1, int(round(s.duration * s.fps)))
    total = len(classes) * (s.n_per_class * (2 if s.video else 1) + s.n_images_per_class)
    with _progress(total, "demo data") as bar:
        for c in classes:
            for k in range(s.n_per_class):
                cid = clip_id(c, k)
                x = sounds.synth_clip(c.attrs, instance_rng(s.seed, c, k, 0), duration=s.duration, sr=SAMPLE_RATE)
                wav = root / "audio" / f"{cid}.wav"
                sf.write(str(wav), x, SAMPLE_RATE, subtype="PCM_16", format="WAV")
                audio_rows.append([cid, str(wav), c.id, "", ""])
                bar.update(1)
                if s.video:
                    from zsltool.testing.video import write_mp4

                    frames = imgs.draw_frames(c.attrs, instance_rng(s.seed, c, k, 1), n_frames=n_frames,
                                              fps=s.fps, size=s.image_size)
                    mp4 = root / "video" / f"{cid}.mp4"
                    write_mp4(mp4, frames, fps=s.fps, audio=x, sample_rate=SAMPLE_RATE)
                    video_rows.append([cid, str(mp4), c.id, "", ""])
                    bar.update(1)
            for k in range(s.n_images_per_class):
                iid = f"{c.slug}-img{k:03d}"
                png = root / "images" / f"{iid}.png"
                imgs.write_png(png, imgs.draw(c.attrs, instance_rng(s.seed, c, k, 2), size=s.image_size))
                image_rows.append([iid, iid, str(png), c.id, 0.0, 1.0, 0.0, 1.0, 0, 0, c.id])
                bar.update(1)
    return audio_rows, video_rows, image_rows


def _dataset(root: Path, s: DemoSettings, classes, train, val, test) -> DemoDataset:
    return DemoDataset(root=root, settings=s, classes=classes, train=train, val=val, test=test,
                       **_paths(root, s.video))


def load_demo_dataset(root: str | os.PathLike) -> DemoDataset:
    """Open a dataset written by ``make_demo_dataset`` (reads ``dataset.json`` and the split)."""
    from zsltool.classes.splits import load_split

    root = Path(root).resolve()
    info_path = root / "dataset.json"
    if not info_path.is_file():
        raise ZslError(f"{root} holds no demo dataset (no dataset.json)", hint="run `zsl demo --data-only`")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    if info.get("format") != FORMAT:
        raise ZslError(f"{info_path} is not a demo dataset description")
    s = DemoSettings(**info["settings"])
    t = load_split(root / "split.json").trial(0)
    return _dataset(root, s, class_design(small=s.small), t.train, t.val, t.test)
