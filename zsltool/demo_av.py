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
(step 1, :func:`make_gzsl_split`) before it trains the audio network, and trains that network only on the
Table III training classes' clips that are in the GZSL ``instances.train``: no clip it learned from is a GZSL
validation, test-seen or val-unseen clip, and no unseen class ever shaped it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger("zsltool.demo")

UNSEEN_VAL_FRACTION = 0.2  # share of each unseen class's clips kept for choosing beta (val_unseen)
AV_SETTINGS = {
    False: {"video_model": "small3d", "frame_size": 32, "clip_len": 16, "video_epochs": 20, "video_batch": 16,
            "video_lr": 3e-3, "unseen_val_fraction": UNSEEN_VAL_FRACTION},
    True: {"video_model": "small3d", "frame_size": 32, "clip_len": 16, "video_epochs": 20, "video_batch": 8,
           "video_lr": 3e-3, "unseen_val_fraction": UNSEEN_VAL_FRACTION},
}
AV_METHODS = ("avgzslnet", "cjme")  # audio + video models, tested on audio, video and both
AV_MODALITIES = ("audio", "video", "both")
AV_BASELINE = "audio-only"  # tested on audio only
AV_SEMANTIC = "text"  # Mazumder et al.'s class embeddings: word vectors of the class names


def retrieval_chance(split_path, audio_file) -> dict:
    """Random-ranking mAP of the GZSL retrieval pool (test-seen + test-unseen): AP of a random ranking is the
    share of relevant items, averaged over the seen (S) / unseen (U) classes; HM of the two."""
    from zsltool.classes.splits import load_split
    from zsltool.store.reader import read_embeddings

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


def make_gzsl_split(out: Path, ds, f: dict, seed: int) -> set[str]:
    """Write the GZSL split (``f["gzsl split"]``); return the clip ids the audio network may train on: the Table
    III training classes' clips minus the GZSL split's val, test_seen and val_unseen clips."""
    from zsltool.classes.manifest import read_clip_manifest
    from zsltool.classes.protocols import make_split
    from zsltool.classes.splits import load_split

    f["gzsl split"] = out / "split-gzsl.json"
    make_split(f["classes"], "gzsl", f["gzsl split"], seed=seed, overwrite=True, instances=ds.audio_manifest,
               unseen=ds.root / "unseen.txt", unseen_val_fraction=UNSEEN_VAL_FRACTION)
    inst = load_split(f["gzsl split"]).trial(0).instances
    held = {i for k in ("val", "test_seen", "val_unseen") for i in inst.get(k) or []}
    train = set(ds.train)
    return {r["id"] for r in read_clip_manifest(ds.audio_manifest)
            if r["labels"] and set(r["labels"]) <= train and r["id"] not in held}


def run_av(out: Path, ds, f: dict, seed: int, threads: int, small: bool, progress: bool,
           video_epochs: int | None = None, av_epochs: int | None = None) -> dict:
    """Run the AV GZSL part under ``out``; adds its files to ``f``; returns records, tables, rows and chance."""
    from zsltool.evaluate.experiment import ExperimentSpec, build_tables, run_experiment
    from zsltool.extract.video import extract_video
    from zsltool.extract.video_pretrain import pretrain_video

    cfg = dict(AV_SETTINGS[bool(small)])
    if video_epochs is not None:
        cfg["video_epochs"] = int(video_epochs)
    t = time.perf_counter()
    if "gzsl split" not in f:
        make_gzsl_split(out, ds, f, seed)
    f["video network"] = out / "models" / "video-net.pth"
    vpre = pretrain_video([ds.video_manifest], f["video network"], classes_path=f["classes"],
                          split_path=f["gzsl split"], model=cfg["video_model"], frame_size=cfg["frame_size"],
                          clip_len=cfg["clip_len"], epochs=cfg["video_epochs"], batch_size=cfg["video_batch"],
                          lr=cfg["video_lr"], seed=seed, overwrite=True, progress=progress)
    vpre.pop("info", None)
    log.info(f"[demo] pretrain-video on {vpre['videos']} training videos of the {vpre['classes']} seen classes "
             f"(train top-1 {vpre['final_train_top1']:.2f}) done in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    f["video embeddings"] = out / "features" / "video.h5"
    extract_video([ds.video_manifest], f["video embeddings"], model=cfg["video_model"],
                  weights=str(f["video network"]), crop_size=cfg["frame_size"], clip_len=cfg["clip_len"], clips=1,
                  classes=f["classes"], batch_size=16, device="cpu", overwrite=True, resume=False,
                  progress=progress)
    log.info(f"[demo] extract-video done in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    common = dict(audio=str(f["audio embeddings"]), video=str(f["video embeddings"]), text=str(f["text embeddings"]),
                  splits=[str(f["gzsl split"])], semantics=[AV_SEMANTIC], calibrate=True, retrieval=True,
                  epochs=av_epochs, seed=seed, threads=threads)
    f["av experiment"] = out / "av"
    av = run_experiment(ExperimentSpec(out_dir=str(f["av experiment"]), methods=list(AV_METHODS),
                                       modalities=list(AV_MODALITIES), **common))
    f["av baseline"] = out / "av" / AV_BASELINE
    base = run_experiment(ExperimentSpec(out_dir=str(f["av baseline"]), methods=[AV_BASELINE],
                                         modalities=["audio"], **common))
    records = av["trials"] + base["trials"]
    tables = build_tables(records)
    log.info(f"[demo] AV GZSL: train, evaluate --calibrate, retrieve ({', '.join(AV_METHODS)}, {AV_BASELINE}) "
             f"done in {time.perf_counter() - t:.1f} s")
    n_classes = len(ds.classes)
    chance = {"classification": {"S": 1.0 / n_classes, "U": 1.0 / n_classes, "HM": 1.0 / n_classes},
              "retrieval": retrieval_chance(f["gzsl split"], f["audio embeddings"])}
    rows = []
    for rec in records:
        for mod, m in rec["metrics"].items():
            r = rec["retrieval"].get(mod, {})
            rows.append({"model": rec["method"], "test": mod, "S": m["S"], "U": m["U"], "HM": m["HM"],
                         "beta": m.get("beta"), "mAP S": r.get("S"), "mAP U": r.get("U"), "mAP HM": r.get("HM"),
                         "val seen": rec["train"]["best_value"]})
    return {"records": records, "tables": tables, "rows": rows, "chance": chance, "pretrain_video": vpre,
            "settings": cfg, "n_classes": n_classes}
