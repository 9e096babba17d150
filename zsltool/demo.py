"""``zsl demo``: zero-shot audio classification end to end on the embedded dataset, offline.

The same library functions as the subcommands, in the order ``examples/demo.sh`` runs them:

1. make the data (``zsltool.testing.synth``) and the class set from its class list (``build-classes``);
2. audio network trained from scratch on the training classes' clips (``pretrain-audio``), clip embeddings
   (``extract-audio``); the GZSL split of the AV part is made first (``split --protocol gzsl``) and the audio
   network trains only on the training classes' clips that the GZSL split also puts in ``instances.train``,
   so that no clip it learned from is a GZSL validation or test clip;
3. image network trained from scratch on the training classes' pictures (``pretrain-image``), picture
   embeddings of every class (``extract-image``) and their class means (``prototypes``);
4. word vectors of the labels (``extract-text``), audio prototypes (``prototypes``, the upper bound) and
   hybrid = image || text (``combine --l2``);
5. per class-embedding source (audio, image, text, hybrid): projection model (``train``), accuracy on the
   unseen test classes (``evaluate``), retrieval mAP (``retrieve``), figures (``plot``: confusion matrix,
   per-class bars, t-SNE of the learned space with the class embeddings as stars);
6. the results in Dogan et al.'s Table III layout (``OUT/results.json``, task ``experiment``);
7. last, ``zsl classify`` on one clip of an unseen class with the text model, the unseen classes' names as
   candidate labels (the command line is printed, so the step can be rerun on any clip).

No network ever sees a validation or test class: the audio and image networks and the projection are trained
on the training classes only; the unseen classes enter only through their side information (their word
vectors or the mean embedding of their pictures).

With ``av`` (the default) the demo goes on with Mazumder et al.'s audio-visual generalized zero-shot part
(``zsltool.demo_av``): GZSL split, a video network trained on the seen classes' training videos, AVGZSLNet /
CJME / audio-only on audio + video + word vectors, evaluated per test modality with calibrated stacking and
retrieval mAP.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from zsltool.errors import ZslError
from zsltool.utils import atomic_write_text
from zsltool.names import SEMANTIC_SOURCES

log = logging.getLogger("zsltool.demo")

# Pipeline settings per size. The audio network is VGGish at 1/8 width (8..64 channels, 512 hidden); the image
# network the small CNN of ``extract-image`` (16..128 channels) at the pictures' 64 x 64 pixels. The projection
# model uses Adam (lr 1e-3) instead of the paper's SGD: steadier on this small data.
SETTINGS = {
    False: {"pretrain_epochs": 15, "pretrain_lr": 1e-3, "width": 0.125, "image_model": "smallcnn",
            "image_epochs": 20, "image_lr": 3e-3, "image_batch": 16, "train_epochs": 100, "optimizer": "adam",
            "lr": 1e-3},
    True: {"pretrain_epochs": 40, "pretrain_lr": 1e-3, "width": 0.125, "image_model": "smallcnn",
           "image_epochs": 30, "image_lr": 3e-3, "image_batch": 8, "train_epochs": 100, "optimizer": "adam",
           "lr": 1e-3},
}
SEMANTICS = SEMANTIC_SOURCES  # Dogan et al. Table III's rows
LABELS = {"audio": "Audio (upper bound)", "image": "Image", "text": "Text", "hybrid": "Hybrid"}


def _step(name: str, t0: float) -> float:
    log.info(f"[demo] {name} done in {time.perf_counter() - t0:.1f} s")
    return time.perf_counter()


def _semantic_inputs(semantic: str, f: dict) -> dict:
    """TrainConfig keyword arguments of one class-embedding source."""
    if semantic == "audio":
        return {"audio_prototypes": str(f["audio prototypes"])}
    if semantic == "image":
        return {"image": str(f["image prototypes"])}
    if semantic == "text":
        return {"text": str(f["text embeddings"])}
    return {"semantic_file": str(f["hybrid embeddings"])}


def _evaluate_semantic(semantic: str, out: Path, ds, files: dict, cfg: dict, seed: int, threads: int) -> dict:
    """train -> evaluate -> retrieve -> plot for one class-embedding source; returns its experiment record."""
    from zsltool.evaluate.evaluate import evaluate_checkpoint, retrieve_checkpoint
    from zsltool.evaluate.figures import make_plots
    from zsltool.evaluate.results import write_evaluation, write_results
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train

    ckpt = out / "models" / f"projection-{semantic}.pt"
    tr = train(TrainConfig(audio=str(files["audio embeddings"]), split=str(ds.split), out=str(ckpt),
                           semantic=semantic, method="projection", epochs=cfg["train_epochs"],
                           optimizer=cfg["optimizer"], lr=cfg["lr"], seed=seed, threads=threads, overwrite=True,
                           log_every=10 ** 6, **_semantic_inputs(semantic, files)))
    doc = evaluate_checkpoint(ckpt, seed=seed)  # the checkpoint's own audio file, split and trial
    zsl_json = out / "results" / f"zsl-{semantic}.json"
    write_evaluation(zsl_json, doc, overwrite=True)
    ret = retrieve_checkpoint(ckpt, top=10, seed=seed)
    write_results(out / "results" / f"retrieval-{semantic}.json", ret, overwrite=True)
    plot_dir = out / "plots" / semantic
    make_plots("auto", [zsl_json], plot_dir, seed=seed, overwrite=True)  # confusion.png, per-class.png
    make_plots("tsne", [ckpt], plot_dir, seed=seed, overwrite=True)  # tsne.png: learned space, class stars
    files[f"model ({semantic})"] = str(ckpt)
    files[f"results ({semantic})"] = str(zsl_json)
    files[f"plots ({semantic})"] = str(plot_dir)
    m = doc["metrics"]
    return {"name": f"demo.t0.projection.{semantic}", "task": "zsl", "column": "Accuracy", "protocol": "custom",
            "split": str(ds.split), "trial": 0, "method": "projection", "semantic": semantic, "modality": "both",
            "metrics": {"both": m}, "retrieval": {"both": ret["metrics"]},
            "train": {"best_metric": tr.best_metric, "best_value": tr.best_value, "best_epoch": tr.best_epoch,
                      "epochs_run": tr.epochs_run, "checkpoint": str(ckpt)}}


def _row(rec: dict) -> dict:
    m, r = rec["metrics"]["both"], rec["retrieval"]["both"]
    return {"class embeddings": LABELS[rec["semantic"]], "top-1": m["top1"], "chance": m["chance"],
            "mean per-class": m["mean_class_acc"], "mAP": r["mAP"], "val top-1": rec["train"]["best_value"],
            "clips": m["n_test"]}


def run_demo(out_dir: str | os.PathLike = "zsl-demo", *, seed: int = 0, small: bool = False, video: bool = False,
             av: bool = True, overwrite: bool = False, pretrain_epochs: int | None = None,
             image_epochs: int | None = None, train_epochs: int | None = None, video_epochs: int | None = None,
             av_epochs: int | None = None, threads: int | None = None, progress: bool = True) -> dict:
    """Run the demo under ``out_dir``; returns the results document (Table III rows, chance, files; with ``av``
    also Mazumder et al.'s audio-visual GZSL tables, ``demo.av``)."""
    import torch

    from zsltool.classes.build import build_classes
    from zsltool.compose import combine, prototypes
    from zsltool.demo_av import make_gzsl_split
    from zsltool.evaluate.experiment import build_tables, summary_metrics
    from zsltool.evaluate.results import make_manifest, results_doc, write_results
    from zsltool.evaluate.tables import tidy_csv
    from zsltool.extract.audio.extract import extract_audio
    from zsltool.extract.audio.pretrain import pretrain_audio
    from zsltool.extract.image import extract_image
    from zsltool.extract.image_pretrain import pretrain_image
    from zsltool.extract.text import extract_text
    from zsltool.testing.synth import make_demo_dataset

    out = Path(out_dir)
    results_path = out / "results.json"
    if results_path.exists() and not overwrite:
        raise ZslError(f"{out} already holds a demo run ({results_path})",
                       hint="pass --overwrite to run it again, or choose another --out")
    cfg = dict(SETTINGS[bool(small)])
    for key, val in (("pretrain_epochs", pretrain_epochs), ("image_epochs", image_epochs),
                     ("train_epochs", train_epochs)):
        if val is not None:
            cfg[key] = int(val)
    threads = int(threads) if threads else 1  # one thread: fastest for these small networks on a busy 2-core box
    torch.set_num_threads(threads)
    for sub in ("features", "models", "plots", "results"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    t_start = t = time.perf_counter()

    video = bool(video or av)
    ds = make_demo_dataset(out / "data", seed=seed, small=small, video=video, overwrite=overwrite)
    if av and ds.video_manifest is None:
        raise ZslError(f"{ds.root} holds a demo dataset without videos", hint="pass --overwrite to remake it")
    t = _step(f"dataset: {len(ds.classes)} classes ({len(ds.train)} train, {len(ds.val)} val, "
              f"{len(ds.test)} unseen test)", t)
    classes_json = out / "classes.json"
    cs = build_classes(classes_json, from_list=ds.classes_csv, name_column="name", id_column="id", overwrite=True)
    t = _step(f"build-classes: {cs['n_classes']} classes", t)

    f = {"data": str(ds.root), "classes": str(classes_json), "split": str(ds.split)}
    only_ids = make_gzsl_split(out, ds, f, seed)  # before pretrain-audio: its held-out clips stay unseen
    t = _step(f"split --protocol gzsl: {len(only_ids)} training-class clips left for the audio network", t)
    net = out / "models" / "audio-net.pth"
    duration = ds.settings.duration
    pre = pretrain_audio(ds.audio_manifest, net, classes_path=classes_json, split_path=ds.split, trial=0,
                         epochs=cfg["pretrain_epochs"], lr=cfg["pretrain_lr"], width=cfg["width"], batch_size=8,
                         max_seconds=duration, seed=seed, overwrite=True, progress=progress, only_ids=only_ids)
    t = _step(f"pretrain-audio on {pre['clips']} clips of the {pre['classes']} training classes "
              f"(train top-1 {pre['final_train_top1']:.2f})", t)
    f["audio embeddings"] = out / "features" / "audio.h5"
    extract_audio(str(ds.audio_manifest), f["audio embeddings"], classes_path=classes_json, weights=str(net),
                  max_seconds=duration, overwrite=True, resume=False, progress=progress)
    t = _step("extract-audio", t)

    inet = out / "models" / "image-net.pth"
    size = ds.settings.image_size
    ipre = pretrain_image([ds.image_manifest], inet, classes_path=classes_json, split_path=ds.split, trial=0,
                          model=cfg["image_model"], image_size=size, epochs=cfg["image_epochs"],
                          batch_size=cfg["image_batch"], lr=cfg["image_lr"], seed=seed, overwrite=True,
                          progress=progress)
    t = _step(f"pretrain-image on {ipre['crops']} pictures of the {ipre['classes']} training classes "
              f"(train top-1 {ipre['final_train_top1']:.2f})", t)
    f["image embeddings"] = out / "features" / "image.h5"
    extract_image([ds.image_manifest], f["image embeddings"], model=cfg["image_model"], weights=str(inet),
                  layer="penultimate", classes=classes_json, image_size=size, device="cpu", overwrite=True,
                  resume=False, progress=progress)
    t = _step("extract-image (every class's pictures)", t)

    f["text embeddings"] = out / "features" / "text.h5"
    f["audio prototypes"] = out / "features" / "audio-prototypes.h5"
    f["image prototypes"] = out / "features" / "image-prototypes.h5"
    f["hybrid embeddings"] = out / "features" / "hybrid.h5"
    extract_text(f["text embeddings"], classes=classes_json, vectors=ds.word_vectors, overwrite=True)
    prototypes(f["audio embeddings"], f["audio prototypes"], overwrite=True)
    prototypes(f["image embeddings"], f["image prototypes"], overwrite=True)
    combine([f["image prototypes"], f["text embeddings"]], f["hybrid embeddings"], l2=True, overwrite=True)
    t = _step("extract-text, prototypes (audio, image), combine (hybrid = image || text)", t)

    records = []
    for semantic in SEMANTICS:
        rec = _evaluate_semantic(semantic, out, ds, f, cfg, seed, threads)
        records.append(rec)
        m = rec["metrics"]["both"]
        t = _step(f"train, evaluate, retrieve, plot ({semantic}): unseen top-1 {m['top1']:.3f} "
                  f"(chance {m['chance']:.3f}), mAP {rec['retrieval']['both']['mAP']:.3f}", t)

    av_part = None
    if av:
        from zsltool.demo_av import run_av

        av_part = run_av(out, ds, f, seed, threads, small, progress, video_epochs=video_epochs, av_epochs=av_epochs)
        t = _step("audio-visual GZSL (split, pretrain-video, extract-video, experiment)", t)

    from zsltool.classify_demo import classify_unseen_clip

    cls_demo = classify_unseen_clip(f["model (text)"], ds.audio_manifest, classes_json, ds.test)
    t = _step(f"classify: one clip of the unseen class {cls_demo['true_label']!r} -> "
              f"{cls_demo['top'][0]['label']!r} (p = {cls_demo['top'][0]['probability']:.2f}); "
              f"the command: {cls_demo['command']}", t)

    tables = build_tables(records)
    if av_part is not None:
        tables += av_part["tables"]

        atomic_write_text(out / "results" / "table-av.csv", tidy_csv(av_part["tables"]))   # tidy, numeric
        f["AV tables"] = out / "results" / "table-av.csv"
    f["table"] = out / "results" / "table.csv"
    atomic_write_text(f["table"], tidy_csv(tables[:1]))
    f["results"] = results_path
    files = {k: str(Path(v).resolve()) for k, v in f.items()}   # one kind of path: absolute
    config = {"small": small, "video": video, "av": av, **cfg, "threads": threads,
              **(av_part["settings"] if av_part else {})}
    inputs = [classes_json, ds.split, f["gzsl split"]] + [
        f[k] for k in ("audio embeddings", "image embeddings", "text embeddings", "audio prototypes",
                       "image prototypes", "hybrid embeddings")]
    if av_part is not None:
        inputs += [f["video embeddings"]]
    doc = results_doc("experiment", make_manifest(config, inputs, seed), summary_metrics(tables), tables=tables,
                      trials=records + (av_part["records"] if av_part else []), demo={
                          "n_test": len(ds.test), "test_classes": ds.test, "chance": ds.chance_test,
                          "n_train_classes": len(ds.train), "n_val_classes": len(ds.val),
                          "rows": [_row(r) for r in records], "pretrain_audio": pre, "pretrain_image": ipre,
                          "seconds": round(time.perf_counter() - t_start, 1), "files": files,
                          "classify": cls_demo,
                          **({"av": {k: av_part[k] for k in ("rows", "chance", "pretrain_video", "n_classes")}}
                             if av_part else {})})
    write_results(results_path, doc, overwrite=True)
    log.info(f"[demo] finished in {doc['demo']['seconds']} s; results in {results_path}")
    return doc
