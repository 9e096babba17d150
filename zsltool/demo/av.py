"""The audio-visual generalized zero-shot part of ``zsl demo`` (Mazumder et al.: AVGZSLNet on audio + video + text).

The same library functions as the subcommands, in the order ``examples/demo.sh`` runs them:

1. ``split --protocol gzsl --unseen data/unseen.txt --unseen-val-fraction 0.2``: seen = the Table III
   training + validation classes, unseen = its test classes; the seen classes' clips 60/20/20 into train / val /
   test-seen, 20 % of each unseen class's clips into ``val_unseen`` (only for choosing calibrated stacking's
   beta), the rest is test-unseen;
2. ``pretrain-video --model small3d``: a small 3-D CNN trained from scratch on the seen classes' *training*
   videos only (``instances.train``); ``extract-video`` embeds every video with it (64-d);
3. ``experiment --method avgzslnet --method cjme --video ... --text ... --modalities audio,video,both
   --calibrate`` (``train`` + ``evaluate --calibrate`` + ``retrieve`` per model and test modality), and the
   ``audio-only`` baseline (audio test only);
4. Mazumder et al.'s Table 1 (S, U, HM of mean class accuracy) and Table 2 (retrieval mAP) layouts.

The audio embeddings are the Table III part's (``features/audio.h5``). ``zsl demo`` makes the GZSL split
(step 1, :func:`zsltool.demo.data.make_gzsl_split`) before it trains the audio network, and trains that network
only on the Table III training classes' clips that are in the GZSL ``instances.train``: no clip it learned from
is a GZSL validation, test-seen or val-unseen clip, and no unseen class ever shaped it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from zsltool.classes.splits import load_split
from zsltool.demo.data import UNSEEN_VAL_FRACTION, World, step
from zsltool.evaluate.aggregate import build_tables
from zsltool.evaluate.experiment import ExperimentSpec, run_experiment
from zsltool.extract.pipeline import extract_video
from zsltool.extract.video_pretrain import pretrain_video
from zsltool.store.reader import read_embeddings

_AV = {"video_model": "small3d", "frame_size": 32, "clip_len": 16, "video_epochs": 20, "video_batch": 16,
       "video_lr": 3e-3, "unseen_val_fraction": UNSEEN_VAL_FRACTION}
AV_SETTINGS = {False: _AV, True: {**_AV, "video_batch": 8}}  # by --small
AV_METHODS = ("avgzslnet", "cjme")  # audio + video models, tested on audio, video and both
AV_MODALITIES = ("audio", "video", "both")
AV_BASELINE = "audio-only"  # tested on audio only
AV_SEMANTIC = "text"  # Mazumder et al.'s class embeddings: word vectors of the class names


def retrieval_chance(split_path, audio_file) -> dict:
    """Random-ranking mAP of the GZSL retrieval pool (test-seen + test-unseen): AP of a random ranking is the
    share of relevant items, averaged over the seen (S) / unseen (U) classes; HM of the two."""
    t = load_split(split_path).trial(0)
    e = read_embeddings(audio_file, validate=False)
    ids, labels, classes = e.ids, e.labels.astype(bool), e.classes
    col = {c: i for i, c in enumerate(classes)}
    seen, unseen = [col[c] for c in t.seen], [col[c] for c in t.unseen]
    test_seen = set(t.instances.get("test_seen") or [])
    val_unseen = set(t.instances.get("val_unseen") or [])
    pool = [k for k, i in enumerate(ids) if i in test_seen or
            (i not in val_unseen and labels[k, unseen].any())]
    sub = labels[pool]
    s = float(sub[:, seen].sum(0).mean()) / len(pool)
    u = float(sub[:, unseen].sum(0).mean()) / len(pool)
    return {"S": s, "U": u, "HM": 2 * s * u / (s + u) if s + u else 0.0, "n_instances": len(pool)}


@dataclass(frozen=True)
class AvPart:
    """What the AV part made: its experiment records and tables, the table rows, chance levels, and files."""

    records: list[dict]
    tables: list[dict]
    rows: list[dict]
    chance: dict
    pretrain_video: dict
    settings: dict
    n_classes: int
    video_net: Path
    video: Path                 # video embeddings (instance level)
    experiment: Path            # zsl experiment folder of AVGZSLNet and CJME
    baseline: Path              # zsl experiment folder of the audio-only baseline

    def summary(self) -> dict:
        """The part of ``results.json``'s ``demo`` entry that the AV table prints."""
        return {"rows": self.rows, "chance": self.chance, "pretrain_video": self.pretrain_video,
                "n_classes": self.n_classes}

    def files(self) -> dict[str, Path]:
        return {"video network": self.video_net, "video embeddings": self.video, "av experiment": self.experiment,
                "av baseline": self.baseline}


def table_rows(records: list[dict]) -> list[dict]:
    """One row per model and test modality: S / U / HM (classification), beta, S / U / HM of mAP (retrieval)."""
    rows = []
    for rec in records:
        for mod, m in rec["metrics"].items():
            r = rec["retrieval"].get(mod, {})
            rows.append({"model": rec["method"], "test": mod, "S": m["S"], "U": m["U"], "HM": m["HM"],
                         "beta": m.get("beta"), "mAP S": r.get("S"), "mAP U": r.get("U"), "mAP HM": r.get("HM"),
                         "val seen": rec["train"]["best_value"]})
    return rows


def run_av(world: World, *, seed: int, threads: int | None, small: bool, progress: bool,
           video_epochs: int | None = None, av_epochs: int | None = None) -> AvPart:
    """Run the AV GZSL part under ``world.out`` on the world's audio, text and GZSL split."""
    out, ds = world.out, world.ds
    cfg = dict(AV_SETTINGS[bool(small)])
    if video_epochs is not None:
        cfg["video_epochs"] = int(video_epochs)
    t = time.perf_counter()
    video_net = out / "models" / "video-net.pth"
    vpre = pretrain_video([ds.video_manifest], video_net, classes_path=world.classes,
                          split_path=world.gzsl_split, model=cfg["video_model"], frame_size=cfg["frame_size"],
                          clip_len=cfg["clip_len"], epochs=cfg["video_epochs"], batch_size=cfg["video_batch"],
                          lr=cfg["video_lr"], seed=seed, overwrite=True, progress=progress)
    vpre.pop("info", None)
    t = step(f"pretrain-video on {vpre['videos']} training videos of the {vpre['classes']} seen classes "
             f"(train top-1 {vpre['final_train_top1']:.2f})", t)
    video = out / "features" / "video.h5"
    extract_video([ds.video_manifest], video, model=cfg["video_model"], weights=str(video_net),
                  crop_size=cfg["frame_size"], clip_len=cfg["clip_len"], clips=1, classes=world.classes,
                  batch_size=16, device="cpu", overwrite=True, resume=False, progress=progress)
    t = step("extract-video", t)
    common = dict(audio=str(world.audio), video=str(video), text=str(world.text), splits=[str(world.gzsl_split)],
                  semantics=[AV_SEMANTIC], calibrate=True, retrieval=True, epochs=av_epochs, seed=seed,
                  threads=threads, refit=False)  # Mazumder et al.'s protocol: no refit after selection
    experiment, baseline = out / "av", out / "av" / AV_BASELINE
    av = run_experiment(ExperimentSpec(out_dir=str(experiment), methods=list(AV_METHODS),
                                       modalities=list(AV_MODALITIES), **common))
    base = run_experiment(ExperimentSpec(out_dir=str(baseline), methods=[AV_BASELINE], modalities=["audio"],
                                         **common))
    records = av["trials"] + base["trials"]
    step(f"AV GZSL: train, evaluate --calibrate, retrieve ({', '.join(AV_METHODS)}, {AV_BASELINE})", t)
    n_classes = len(ds.classes)
    chance = {"classification": {"S": 1.0 / n_classes, "U": 1.0 / n_classes, "HM": 1.0 / n_classes},
              "retrieval": retrieval_chance(world.gzsl_split, world.audio)}
    return AvPart(records=records, tables=build_tables(records), rows=table_rows(records), chance=chance,
                  pretrain_video=vpre, settings=cfg, n_classes=n_classes, video_net=video_net, video=video,
                  experiment=experiment, baseline=baseline)
