"""`zsl demo`: zero-shot audio classification end to end on an embedded dataset, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from zsltool.cli.common import JsonOpt, OverwriteOpt, SeedOpt, emit, info, kv_table, rows_table, seed_or_global


def _data_table(r: dict):
    head = {k: r[k] for k in ("data", "classes", "train", "val", "test", "audio", "images", "video")}
    head["chance (test)"] = f"{r['chance_test']:.3f}"
    return [kv_table(head, title="demo dataset"), rows_table([{"file": k, "path": v} for k, v in r["files"].items()],
                                                            title="files")]


def _results_table(r: dict):
    d = r["demo"]
    rows = [{k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in row.items()} for row in d["rows"]]
    tables = [rows_table(rows, title=f"zero-shot classification of {d['n_test']} unseen classes (paper 000 "
                                     f"Table III layout; projection; chance {d['chance']:.3f})")]
    if d.get("av"):
        tables.append(_av_table(d["av"]))
    tables.append(rows_table([{"what": k, "path": v} for k, v in d["files"].items()], title="files"))
    return tables


def _av_table(av: dict):
    """Paper 004 Tables 1 and 2 in one: model x test modality; S, U, HM of mean class accuracy and of mAP (%)."""
    def pct(v):
        return "" if v is None else f"{100 * v:.1f}"

    rows = [{"model": r["model"], "test": r["test"], "S": pct(r["S"]), "U": pct(r["U"]), "HM": pct(r["HM"]),
             "beta": "" if r["beta"] is None else f"{r['beta']:.2f}", "mAP S": pct(r["mAP S"]),
             "mAP U": pct(r["mAP U"]), "mAP HM": pct(r["mAP HM"])} for r in av["rows"]]
    c, cr = av["chance"]["classification"], av["chance"]["retrieval"]
    title = (f"audio-visual generalized zero-shot, {av['n_classes']} classes (paper 004 Tables 1-2 layout; word "
             f"vectors; calibrated stacking, beta chosen on validation; %): chance S/U/HM {pct(c['S'])}, "
             f"mAP chance S {pct(cr['S'])}, U {pct(cr['U'])}, HM {pct(cr['HM'])}")
    return rows_table(rows, title=title)


def register(app: typer.Typer) -> None:
    @app.command("demo")
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
        av: bool = typer.Option(True, "--av/--no-av", help="Also run paper 004's audio-visual generalized "
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
            counts = {"classes": len(ds.classes), "train": len(ds.train), "val": len(ds.val), "test": len(ds.test)}
            files = {k: str(getattr(ds, k)) for k in ("classes_json", "classes_csv", "descriptions_csv",
                                                      "word_vectors", "split", "audio_manifest",
                                                      "image_manifest", "video_manifest") if getattr(ds, k)}
            import json

            n = json.loads(ds.info.read_text(encoding="utf-8"))["counts"]
            result = {"data": str(ds.root), **counts, "audio": n["audio"], "images": n["images"],
                      "video": n["video"], "chance_test": ds.chance_test, "seed": seed, "files": files}
            emit(result, json_out, _data_table)
            return
        from zsltool.demo import run_demo

        result = run_demo(out, seed=seed, small=small, video=bool(video), av=av, overwrite=overwrite,
                          threads=threads)
        emit(result, json_out, _results_table)
