"""``run_demo``: the demo's parts (listed in :mod:`zsltool.demo`) in order, and its results document
(``OUT/results.json``). Each part returns a dataclass with its numbers and file paths; this module only strings
them together.
"""

from __future__ import annotations

import logging
import os
import shlex
import time
from pathlib import Path
from typing import Sequence

from zsltool.classes.classset import ClassSet
from zsltool.classes.manifest import read_clip_manifest, resolve_manifest_path
from zsltool.classify.run import classify_clips
from zsltool.demo.av import run_av
from zsltool.demo.data import NETWORKS, make_world, step
from zsltool.demo.table3 import TRAINING, run_table3
from zsltool.errors import ZslError
from zsltool.evaluate.aggregate import summary_metrics
from zsltool.evaluate.results import make_manifest, results_doc, write_results
from zsltool.evaluate.tables import tidy_csv
from zsltool.files.checks import atomic_write_text
from zsltool.testing.synth import make_demo_dataset

log = logging.getLogger("zsltool.demo")


def demo_settings(small: bool, **overrides) -> dict:
    """The networks' and the projection's settings of a size, with the non-None ``overrides`` applied."""
    cfg = {**NETWORKS[bool(small)], "train_epochs": TRAINING["epochs"], "optimizer": TRAINING["optimizer"],
           "lr": TRAINING["lr"]}
    cfg.update({k: int(v) for k, v in overrides.items() if v is not None})
    return cfg


def classify_unseen_clip(model: str | os.PathLike, audio_manifest: str | os.PathLike, classes: str | os.PathLike,
                         unseen: Sequence[str], *, top: int = 3) -> dict:
    """The demo's last step, ``zsl classify`` on one clip of an unseen class: the first manifest clip whose one
    label is an unseen class, with the unseen classes' names as the candidate labels. Returns the exact command
    line (to run again on the demo's files, or on one's own clip) and the ranked labels with probabilities:
    ``{"command", "clip", "true_label", "labels", "top", "temperature_source"}``."""
    cs = ClassSet.load(classes)
    wanted = set(unseen)
    row = next((r for r in read_clip_manifest(audio_manifest) if len(r["labels"]) == 1 and r["labels"][0] in wanted),
               None)
    if row is None:
        raise ZslError(f"{audio_manifest} has no clip of an unseen class")
    clip = resolve_manifest_path(audio_manifest, row["path"])
    labels = [cs.get(c).get("name") or c for c in unseen]
    top = min(top, len(labels))
    preds = classify_clips(model, clip, labels=labels, top=top)
    cmd = ["zsl", "classify", str(model), str(clip), "--labels", ",".join(labels), "--top", str(top)]
    return {"command": " ".join(shlex.quote(x) for x in cmd), "clip": str(Path(clip)),
            "true_label": cs.get(row["labels"][0]).get("name") or row["labels"][0], "labels": labels,
            "top": preds[0]["top"], "valid": preds[0]["valid"],
            "temperature_source": preds.info["temperature_source"]}


def run_demo(out_dir: str | os.PathLike = "zsl-demo", *, seed: int = 0, small: bool = False, video: bool = False,
             av: bool = True, overwrite: bool = False, pretrain_epochs: int | None = None,
             image_epochs: int | None = None, train_epochs: int | None = None, video_epochs: int | None = None,
             av_epochs: int | None = None, threads: int | None = None, progress: bool = True,
             repeats: int | None = None) -> dict:
    """Run the demo under ``out_dir``; returns the results document (Table III rows, chance, files; with ``av``
    also Mazumder et al.'s audio-visual GZSL tables, ``demo.av``). Each Table III row is the mean over
    ``repeats`` training runs of the projection (default ``TRAINING["repeats"]``, seeds seed … seed+repeats-1)."""
    import torch

    out = Path(out_dir)
    results_path = out / "results.json"
    if results_path.exists() and not overwrite:
        raise ZslError(f"{out} already holds a demo run ({results_path})",
                       hint="pass --overwrite to run it again, or choose another --out")
    cfg = demo_settings(small, pretrain_epochs=pretrain_epochs, image_epochs=image_epochs, train_epochs=train_epochs)
    threads = int(threads) if threads else 1  # one thread: fastest for these small networks on a busy 2-core box
    torch.set_num_threads(threads)
    (out / "results").mkdir(parents=True, exist_ok=True)
    t_start = t = time.perf_counter()

    video = bool(video or av)
    ds = make_demo_dataset(out / "data", seed=seed, small=small, video=video, overwrite=overwrite)
    if av and ds.video_manifest is None:
        raise ZslError(f"{ds.root} holds a demo dataset without videos", hint="pass --overwrite to remake it")
    t = step(f"dataset: {len(ds.classes)} classes ({len(ds.train)} train, {len(ds.val)} val, "
             f"{len(ds.test)} unseen test)", t)
    world = make_world(out, ds, cfg, seed=seed, progress=progress)
    t = time.perf_counter()
    repeats = int(repeats or TRAINING["repeats"])
    table3 = run_table3(world, epochs=cfg["train_epochs"], seed=seed, threads=threads, repeats=repeats)
    t = step("Table III (experiment, retrieve, plot per class-embedding source)", t)
    av_part = None
    if av:
        av_part = run_av(world, seed=seed, threads=threads, small=small, progress=progress,
                         video_epochs=video_epochs, av_epochs=av_epochs)
        t = step("audio-visual GZSL (pretrain-video, extract-video, experiment)", t)
    cls_demo = classify_unseen_clip(table3.source("text").checkpoint, ds.audio_manifest, world.classes, ds.test)
    step(f"classify: one clip of the unseen class {cls_demo['true_label']!r} -> "
         f"{cls_demo['top'][0]['label']!r} (p = {cls_demo['top'][0]['probability']:.2f}); "
         f"the command: {cls_demo['command']}", t)

    files = {**world.files(), **table3.files()}
    tables, records, inputs = list(table3.tables), list(table3.records), world.inputs()
    files["table"] = out / "results" / "table.csv"
    atomic_write_text(files["table"], tidy_csv(table3.tables[:1]))
    if av_part is not None:
        tables += av_part.tables
        records += av_part.records
        inputs.append(av_part.video)
        files.update(av_part.files())
        files["AV tables"] = out / "results" / "table-av.csv"
        atomic_write_text(files["AV tables"], tidy_csv(av_part.tables))   # tidy, numeric
    files["results"] = results_path
    config = {"small": small, "video": video, "av": av, **cfg, "repeats": repeats, "threads": threads,
              **(av_part.settings if av_part else {})}
    summary = {"n_test": len(ds.test), "test_classes": ds.test, "chance": ds.chance_test,
               "n_train_classes": len(ds.train), "n_val_classes": len(ds.val), "rows": table3.rows(),
               "runs": repeats, "seed": seed,
               "pretrain_audio": world.pretrain_audio, "pretrain_image": world.pretrain_image,
               "seconds": round(time.perf_counter() - t_start, 1),
               "files": {k: str(Path(v).resolve()) for k, v in files.items()},   # one kind of path: absolute
               "classify": cls_demo, **({"av": av_part.summary()} if av_part else {})}
    doc = results_doc("experiment", make_manifest(config, inputs, seed), summary_metrics(tables), tables=tables,
                      trials=records, demo=summary)
    write_results(results_path, doc, overwrite=True)
    log.info(f"[demo] finished in {summary['seconds']} s; results in {results_path}")
    return doc
