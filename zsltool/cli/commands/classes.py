"""`zsl build-classes`: the class-set file every later command refers to."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click
import typer

from zsltool.cli.common import JsonOpt, OverwriteOpt, emit, info, kv_table, rows_table


def build_classes(
    out: Path = typer.Option(..., "--out", "-o", help="Output class-set file (.json)."),
    ontology: Optional[Path] = typer.Option(None, "--ontology", help="AudioSet ontology.json (downloaded into the "
                                            "cache when omitted and online)."),
    image_classes: Optional[Path] = typer.Option(None, "--image-classes", help="Open Images "
                                                 "class-descriptions-boxable.csv (MID,Name)."),
    audio_classes: Optional[Path] = typer.Option(None, "--audio-classes", help="AudioSet class_labels_indices.csv: "
                                                 "restrict the ontology to its labelled classes."),
    max_children: int = typer.Option(2, "--max-children", min=0, help="Drop a class with more mutual descendants "
                                     "than this; merge 1..N descendants into their parent."),
    names: str = typer.Option("openimages", "--names", click_type=click.Choice(["openimages", "audioset", "paper"]),
                              help="Display names: Open Images, AudioSet, or the paper's lower-case names."),
    from_list: Optional[Path] = typer.Option(None, "--from-list", help="Custom/text-only set: a plain list of names "
                                             "(one per line) or a CSV (with --name-column)."),
    name_column: Optional[str] = typer.Option(None, "--name-column", help="CSV column with the class names."),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="CSV column with class ids (default: names)."),
    mid_column: Optional[str] = typer.Option(None, "--mid-column", help="CSV column with AudioSet MIDs counted as "
                                             "the class (';'-separated)."),
    category_column: Optional[str] = typer.Option(None, "--category-column", help="CSV column with categories."),
    split_column: Optional[str] = typer.Option(None, "--split-column", help="CSV column with seen/unseen."),
    seen: Optional[Path] = typer.Option(None, "--seen", help="List of seen classes (recorded for gzsl splits)."),
    unseen: Optional[Path] = typer.Option(None, "--unseen", help="List of unseen classes."),
    set_name: Optional[str] = typer.Option(None, "--name", help="Name stored in the class set."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Build a class set: AudioSet/Open Images mutual classes by MID with hierarchy pruning, or a custom list."""
    from zsltool.classes.build import build_classes as run

    kw = dict(name_column=name_column, id_column=id_column, mid_column=mid_column, category_column=category_column,
              split_column=split_column, seen=seen, unseen=unseen, name=set_name)
    if from_list is None:
        kw.update(ontology=ontology, image_classes=image_classes, audio_classes=audio_classes,
                  max_children=max_children, names=names)
    elif any(v is not None for v in (ontology, image_classes, audio_classes)):
        raise typer.BadParameter("--from-list cannot be combined with --ontology/--image-classes/--audio-classes")
    result = run(out, from_list=from_list, overwrite=overwrite, **kw)
    info(f"wrote {result['out']} ({result['n_classes']} classes, sha256 {result['sha256'][:12]})")

    def table(r):
        head = {"out": r["out"], "classes": r["n_classes"], "sha256": r["sha256"], **r.get("counts", {})}
        tables = [kv_table(head, title="class set")]
        decisions = [{"action": "drop", "class": d["name"], "mutual descendants": d["mutual_descendants"],
                      "detail": "; ".join(d["descendants"])} for d in r.get("dropped", [])]
        decisions += [{"action": "merge", "class": m["into_name"], "mutual descendants": len(m["ids"]),
                       "detail": "; ".join(m["names"])} for m in r.get("merged", [])]
        if decisions:
            tables.append(rows_table(decisions, title="pruning decisions"))
        return tables

    emit(result, json_out, table)


COMMANDS = {"build-classes": build_classes}
