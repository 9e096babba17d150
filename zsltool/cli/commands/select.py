"""`zsl select-audio`, `zsl select-images`: file lists (manifests) of the clips and crops to extract."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from zsltool.cli.common import JsonOpt, OverwriteOpt, SeedOpt, emit, info, kv_table, rows_table, seed_or_global


def _table(r):
    head = {k: v for k, v in r.items() if k not in ("counts", "empty_classes")}
    head["empty classes"] = len(r["empty_classes"])
    counts = [{"class": k, "selected": v} for k, v in r["counts"].items()]
    return [kv_table(head, title="selection"), rows_table(counts, title="per class")]


def select_audio(
    segments: List[Path] = typer.Argument(..., help="AudioSet segment CSVs (e.g. balanced_train_segments.csv)."),
    classes: Path = typer.Option(..., "--classes", "-c", help="Class-set file from `zsl build-classes`."),
    out: Path = typer.Option(..., "--out", "-o", help="Output clip manifest (.csv)."),
    per_class: int = typer.Option(300, "--per-class", min=1, help="At most this many clips per class."),
    seed: Optional[int] = SeedOpt,
    single_label: bool = typer.Option(False, "--single-label", help="Keep only clips with exactly one class of the "
                                      "set (AudioSetZSL's rule)."),
    path_template: str = typer.Option("{id}.wav", "--path-template", help="Where the audio files live; fields "
                                      "{id} {ytid} {start} {end} {start_ms} {start_int} {end_int}."),
    trimmed: bool = typer.Option(True, "--trimmed/--full-videos", help="Files hold only the 10 s segment "
                                 "(default), or the whole video (the manifest then records start/end)."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Select AudioSet clips of the class set (merged MIDs count as their parent) into a clip manifest."""
    from zsltool.classes.select import select_audio as run

    r = run(segments, classes, out, per_class=per_class, seed=seed_or_global(seed),
            single_label=single_label, path_template=path_template, trimmed=trimmed, overwrite=overwrite)
    info(f"wrote {r['out']} ({r['selected']} clips)")
    emit(r, json_out, _table)


def select_images(
    annotations: List[Path] = typer.Argument(..., help="Open Images box CSVs (e.g. train-annotations-bbox.csv)."),
    classes: Path = typer.Option(..., "--classes", "-c", help="Class-set file from `zsl build-classes`."),
    out: Path = typer.Option(..., "--out", "-o", help="Output crop manifest (.csv)."),
    per_class: int = typer.Option(1000, "--per-class", min=1, help="At most this many crops per class."),
    seed: Optional[int] = SeedOpt,
    drop_group_of: bool = typer.Option(False, "--drop-group-of", help="Skip IsGroupOf=1 boxes."),
    drop_depiction: bool = typer.Option(False, "--drop-depiction", help="Skip IsDepiction=1 boxes (drawings...)."),
    path_template: str = typer.Option("{image_id}.jpg", "--path-template", help="Where the images live; fields "
                                      "{image_id} {source}."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Select Open Images boxes of the class set into a crop manifest (image, box, class)."""
    from zsltool.classes.select import select_images as run

    r = run(annotations, classes, out, per_class=per_class, seed=seed_or_global(seed),
            drop_group_of=drop_group_of, drop_depiction=drop_depiction, path_template=path_template,
            overwrite=overwrite)
    info(f"wrote {r['out']} ({r['selected']} crops)")
    emit(r, json_out, _table)


COMMANDS = {"select-audio": select_audio, "select-images": select_images}
