"""``zsl demo``: zero-shot audio classification end to end on the embedded dataset, offline.

The same library functions as the subcommands, in the order ``examples/demo.sh`` runs them:
make the data (``zsltool.testing.synth``) -> class set from the class list (``build-classes``) ->
audio network trained from scratch on the training classes (``pretrain-audio``) -> clip embeddings
(``extract-audio``) -> word vectors of the labels (``extract-text``) and audio prototypes
(``prototypes``) -> projection model (``train``) -> accuracy on the unseen test classes with chance
beside it (evaluate), retrieval mAP per class text (retrieve), confusion matrix (plot).

Pictures and videos are made too (``--data-only`` shows them), but the pipeline uses audio and text
only: the image and video networks need pretrained weights (ImageNet, Kinetics) that are downloads.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from zsltool import __version__
from zsltool.errors import ZslError
from zsltool.utils import atomic_write_json, command_line, input_record, utc_now

log = logging.getLogger("zsltool.demo")

# Pipeline settings per size. The audio network is VGGish at 1/8 width (8..64 channels, 512 hidden).
# The projection model uses Adam (lr 1e-3) instead of the paper's SGD: steadier on this small data.
SETTINGS = {
    False: {"pretrain_epochs": 15, "pretrain_lr": 1e-3, "width": 0.125, "train_epochs": 100,
            "optimizer": "adam", "lr": 1e-3},
    True: {"pretrain_epochs": 40, "pretrain_lr": 1e-3, "width": 0.125, "train_epochs": 100,
           "optimizer": "adam", "lr": 1e-3},
}


def _step(name: str, t0: float) -> float:
    log.info(f"[demo] {name} done in {time.perf_counter() - t0:.1f} s")
    return time.perf_counter()


def _evaluate(ckpt_path: Path, classes: list[str]) -> dict:
    """Top-1 / mean per-class accuracy and retrieval mAP of a checkpoint among ``classes``."""
    from zsltool.train.checkpoint import build_model, load_checkpoint, semantic_matrix
    from zsltool.train.data import compute_scores, load_inputs_from_config, select_instances

    ckpt = load_checkpoint(ckpt_path)
    model = build_model(ckpt)
    inputs = load_inputs_from_config(ckpt["config"])
    inst = select_instances(inputs, classes)
    scores = compute_scores(model, semantic_matrix(ckpt, classes), inst)
    pred = scores.argmax(axis=1)
    y = inst.labels
    per_class = [float(np.mean(pred[y == c] == c)) for c in range(len(classes)) if np.any(y == c)]
    aps = []
    for c in range(len(classes)):  # retrieval: rank every test clip by its score for class text c
        rel = (y == c)[np.argsort(-scores[:, c], kind="stable")]
        if rel.any():
            hits = np.cumsum(rel)
            aps.append(float(np.mean((hits / np.arange(1, len(rel) + 1))[rel])))
    conf = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(conf, (y, pred), 1)
    return {"n": int(len(y)), "top1": float(np.mean(pred == y)) if len(y) else 0.0,
            "mean_per_class": float(np.mean(per_class)) if per_class else 0.0,
            "map": float(np.mean(aps)) if aps else 0.0, "confusion": conf.tolist(),
            "best_val": ckpt.get("best", {}).get("value")}


def _plot_confusion(conf: list[list[int]], classes: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = np.asarray(conf, dtype=float)
    c = c / np.maximum(c.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(classes), 1.0 + 0.5 * len(classes)))
    ax.imshow(c, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def run_demo(out_dir: str | os.PathLike = "zsl-demo", *, seed: int = 0, small: bool = False, video: bool = False,
             overwrite: bool = False, pretrain_epochs: int | None = None, train_epochs: int | None = None,
             threads: int | None = None, progress: bool = True) -> dict:
    """Run the demo under ``out_dir``; returns the results (rows per semantic space, chance, files)."""
    import torch

    from zsltool.classes.build import build_classes
    from zsltool.compose import prototypes
    from zsltool.extract.audio.extract import extract_audio
    from zsltool.extract.audio.pretrain import pretrain_audio
    from zsltool.extract.text import extract_text
    from zsltool.testing.synth import make_demo_dataset
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train

    out = Path(out_dir)
    results_path = out / "results.json"
    if results_path.exists() and not overwrite:
        raise ZslError(f"{out} already holds a demo run ({results_path})",
                       hint="pass --overwrite to run it again, or choose another --out")
    cfg = dict(SETTINGS[bool(small)])
    if pretrain_epochs is not None:
        cfg["pretrain_epochs"] = pretrain_epochs
    if train_epochs is not None:
        cfg["train_epochs"] = train_epochs
    threads = int(threads) if threads else 1  # one thread: fastest for this small network on a busy 2-core box
    torch.set_num_threads(threads)
    for sub in ("features", "models", "plots"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    t_start = t = time.perf_counter()

    ds = make_demo_dataset(out / "data", seed=seed, small=small, video=video, overwrite=overwrite)
    t = _step(f"dataset: {len(ds.classes)} classes ({len(ds.train)} train, {len(ds.val)} val, "
              f"{len(ds.test)} unseen test)", t)
    classes_json = out / "classes.json"
    cs = build_classes(classes_json, from_list=ds.classes_csv, name_column="name", id_column="id", overwrite=True)
    t = _step(f"build-classes: {cs['n_classes']} classes", t)

    net = out / "models" / "audio-net.pth"
    duration = ds.settings.duration
    pre = pretrain_audio(ds.audio_manifest, net, classes_path=classes_json, split_path=ds.split, trial=0,
                         epochs=cfg["pretrain_epochs"], lr=cfg["pretrain_lr"], width=cfg["width"], batch_size=8,
                         max_seconds=duration, seed=seed, overwrite=True, progress=progress)
    t = _step(f"pretrain-audio on {pre['clips']} clips of the {pre['classes']} training classes "
              f"(train top-1 {pre['final_train_top1']:.2f})", t)
    audio_h5 = out / "features" / "audio.h5"
    extract_audio(str(ds.audio_manifest), audio_h5, classes_path=classes_json, weights=str(net),
                  max_seconds=duration, overwrite=True, resume=False, progress=progress)
    t = _step("extract-audio", t)
    text_h5, proto_h5 = out / "features" / "text.h5", out / "features" / "audio-prototypes.h5"
    extract_text(text_h5, classes=classes_json, vectors=ds.word_vectors, overwrite=True)
    prototypes(audio_h5, proto_h5, overwrite=True)
    t = _step("extract-text, prototypes", t)

    rows, evals, files = [], {}, {}
    for semantic, label in (("text", "word vectors"), ("audio", "audio (upper bound)")):
        ckpt = out / "models" / f"projection-{semantic}.pt"
        train(TrainConfig(audio=str(audio_h5), split=str(ds.split), out=str(ckpt), semantic=semantic,
                          text=str(text_h5), audio_prototypes=str(proto_h5), method="projection",
                          epochs=cfg["train_epochs"], optimizer=cfg["optimizer"], lr=cfg["lr"], seed=seed,
                          threads=threads, overwrite=True, log_every=10 ** 6))
        ev = _evaluate(ckpt, ds.test)
        evals[semantic] = ev
        rows.append({"side information": label, "method": "projection", "val top-1": ev["best_val"],
                     "test top-1": ev["top1"], "chance": ds.chance_test, "per-class": ev["mean_per_class"],
                     "mAP": ev["map"], "clips": ev["n"]})
        files[f"model ({semantic})"] = str(ckpt)
        t = _step(f"train + evaluate ({semantic}): test top-1 {ev['top1']:.3f} (chance {ds.chance_test:.3f})", t)
    plot = out / "plots" / "confusion-text.png"
    _plot_confusion(evals["text"]["confusion"], ds.test, plot,
                    f"unseen classes, word-vector side information (top-1 {evals['text']['top1']:.2f})")
    files.update({"data": str(ds.root), "classes": str(classes_json), "split": str(ds.split),
                  "audio embeddings": str(audio_h5), "text embeddings": str(text_h5),
                  "confusion plot": str(plot), "results": str(results_path)})
    result = {"format": "zsl.results", "format_version": 1, "task": "zsl",
              "manifest": {"zsl_version": __version__, "command": command_line(), "created_utc": utc_now(),
                           "seed": seed, "config": {"small": small, **cfg},
                           "inputs": [input_record(p) for p in (classes_json, ds.split, audio_h5, text_h5)]},
              "n_test": len(ds.test), "test_classes": ds.test, "chance": ds.chance_test, "rows": rows,
              "metrics": {k: {m: v for m, v in e.items() if m != "confusion"} for k, e in evals.items()},
              "confusion": {k: e["confusion"] for k, e in evals.items()},
              "pretrain": pre, "seconds": round(time.perf_counter() - t_start, 1), "files": files}
    atomic_write_json(results_path, result)
    log.info(f"[demo] finished in {result['seconds']} s; results in {results_path}")
    return result
