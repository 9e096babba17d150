"""`zsl demo`: zero-shot audio classification end to end on an embedded dataset, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from zsltool.cli.common import (STATE, JsonOpt, OverwriteOpt, SeedOpt, emit, info, kv_table, rows_table,
                                seed_or_global)


def _data_table(r: dict):
    head = {k: r[k] for k in ("data", "classes", "train", "val", "test", "audio", "images", "video")}
    head["chance (test)"] = f"{r['chance_test']:.3f}"
    return [kv_table(head, title="demo dataset"), rows_table([{"file": k, "path": v} for k, v in r["files"].items()],
                                                            title="files")]


def table3_caption(d: dict) -> str:
    """One line under the demo's Table III: data, split, chance, what the audio "upper bound" is, and the runs
    (``run_demo``'s summary)."""
    runs, seed = d["runs"], d["seed"]
    return (f"Synthetic demo sounds; projection trained on {d['n_train_classes']} classes, epoch chosen on "
            f"{d['n_val_classes']} validation classes, tested on {d['n_test']} unseen classes "
            f"({d['rows'][0]['clips']} clips); chance {d['chance']:.2f}. "
            "Audio (upper bound): each class embedded by the mean audio embedding of its own clips, the upper "
            "limit in Dogan et al.; it is not a guaranteed bound, and on this small synthetic set (an audio "
            "network trained on the training classes only, few clips per class) an image or hybrid row can "
            "score higher. val top-1: on the validation classes."
            + (f" Mean ± SD over {runs} training runs of the projection on the one split (seeds {seed}-"
               f"{seed + runs - 1})." if runs > 1 else ""))


def _table3_row(row: dict) -> dict:
    """A Table III row as printed: "mean ± SD" over the training runs (the mean alone with one run)."""
    def num(v):
        return f"{v:.3f}" if isinstance(v, float) else ("–" if v is None else v)

    out = {}
    for k, v in row.items():
        if k.endswith(" SD"):
            continue
        sd = row.get(f"{k} SD")
        out[k] = f"{num(v)} ± {sd:.3f}" if isinstance(sd, float) else num(v)
    return out


def _results_table(r: dict):
    d = r["demo"]
    rows = [_table3_row(row) for row in d["rows"]]
    t3 = rows_table(rows, title=f"Zero-shot classification of {d['n_test']} unseen classes (Dogan et al. "
                                f"Table III layout)")
    t3.caption = table3_caption(d)
    tables = [t3]
    if d.get("av"):
        tables.append(_av_table(d["av"], d))
    files = rows_table([{"what": k, "path": v} for k, v in d["files"].items()], title="files")
    files.caption = "Absolute paths."
    tables.append(files)
    if d.get("classify"):  # the last step: zsl classify on one unseen-class clip, with its command line
        c = d["classify"]
        ct = rows_table([{"rank": x["rank"], "label": x["label"], "probability": f"{x['probability']:.3f}",
                          "score": f"{x['score']:.3f}"} for x in c["top"]],
                        title=f"zsl classify: one clip of the unseen class {c['true_label']!r}")
        ct.caption = c["command"]
        tables.append(ct)
    return tables


def _av_table(av: dict, d: dict):
    """Mazumder et al. Tables 1 and 2 in one: model x test modality; S, U, HM of mean class accuracy and of mAP (%)."""
    def pct(v):
        return "" if v is None else f"{100 * v:.1f}"

    rows = [{"model": r["model"], "test": r["test"], "S": pct(r["S"]), "U": pct(r["U"]), "HM": pct(r["HM"]),
             "beta": "" if r["beta"] is None else f"{r['beta']:.2f}", "mAP S": pct(r["mAP S"]),
             "mAP U": pct(r["mAP U"]), "mAP HM": pct(r["mAP HM"])} for r in av["rows"]]
    c, cr = av["chance"]["classification"], av["chance"]["retrieval"]
    title = f"Audio-visual generalized zero-shot, {av['n_classes']} classes (AVGZSLNet Tables 1-2 layout, %)"
    sizes = f"{d['n_train_classes'] + d['n_val_classes']} seen + {d['n_test']} unseen classes, "
    t = rows_table(rows, title=title)
    t.caption = (f"Synthetic demo clips and videos, GZSL split ({sizes}seen clips 60/20/20 train/val/test); word "
                 f"vectors. S/U: mean class accuracy on seen/unseen test clips over all classes, HM their harmonic "
                 f"mean, after calibrated stacking (beta chosen on validation clips); mAP: retrieval from the class "
                 f"texts. Chance: S/U/HM {pct(c['S'])}; mAP S {pct(cr['S'])}, U {pct(cr['U'])}, HM {pct(cr['HM'])}.")
    return t


def demo(
    out: Path = typer.Option(Path("zsl-demo"), "--out", "-o", help="Folder for the data, features, models, "
                             "results and plots."),
    small: bool = typer.Option(False, "--small", help="A smaller, faster setting (18 classes, 1-s clips)."),
    seed: Optional[int] = SeedOpt,
    data_only: bool = typer.Option(False, "--data-only", help="Only write the dataset (OUT/data): sounds, "
                                   "images, videos, word vectors, class set, splits and manifests."),
    video: Optional[bool] = typer.Option(None, "--video/--no-video", help="Also make MP4 videos (with the "
                                         "sounds as their audio tracks); default: with --data-only or "
                                         "--av."),
    av: bool = typer.Option(True, "--av/--no-av", help="Also run Mazumder et al.'s audio-visual generalized "
                            "zero-shot part (video network, AVGZSLNet / CJME / audio-only; S, U, HM, mAP)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch CPU threads (default 1)."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Run the embedded demo: make described sound classes (a high whistle with fast clicking, a hissing
    low hum, ...), images, videos and word vectors, then classify unseen classes zero-shot."""
    seed = seed_or_global(seed)
    if data_only:
        from zsltool.testing.synth import make_demo_dataset

        ds = make_demo_dataset(out / "data", seed=seed, small=small, video=video is not False,
                               overwrite=overwrite)
        info(f"demo dataset in {ds.root}")
        files = {k: str(Path(getattr(ds, k)).resolve()) for k in ("classes_json", "classes_csv", "descriptions_csv",
                                                  "word_vectors", "split", "audio_manifest",
                                                  "image_manifest", "video_manifest") if getattr(ds, k)}
        counts = json.loads(ds.info.read_text(encoding="utf-8"))["counts"]  # classes, train, val, test, audio, ...
        result = {"data": str(Path(ds.root).resolve()), **counts, "chance_test": ds.chance_test, "seed": seed,
                  "files": files}
        emit(result, json_out, _data_table)
        return
    from zsltool.demo import run_demo

    result = run_demo(out, seed=seed, small=small, video=bool(video), av=av, overwrite=overwrite,
                      threads=threads, progress=not STATE.quiet)
    emit(result, json_out, _results_table)


COMMANDS = {"demo": demo}
