"""`zsl inspect`, `zsl import-embeddings`, `zsl merge`: working with zsl files."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import click
import typer

from zsltool.cli.common import JsonOpt, OverwriteOpt, emit, info, kv_table
from zsltool.errors import ZslError
from zsltool.store.schema import KINDS


def inspect(
    file: Path = typer.Argument(..., help="Any zsl file: embeddings (.h5), class set, split, checkpoint, results."),
    check: bool = typer.Option(False, "--check", help="Validate fully (every value scanned for NaN/Inf); any "
                               "violation found exits 1, with or without --check."),
    json_out: bool = JsonOpt,
):
    """Summarise any zsl file; exit 1 when it lists a violation (--check also scans every value)."""
    from zsltool.store.inspect import inspect_file

    result = inspect_file(file, check=check)

    def table(r):
        summary = dict(r["summary"])
        cal = summary.pop("calibration", None)  # a checkpoint's calibration record: a table of its own
        t = [kv_table(summary, title=f"{r['path']} ({r['type']})")]
        if cal:
            t.append(kv_table(cal, title="calibration record (the temperature of zsl classify's probabilities)"))
        if r["violations"]:
            return t + ["[red]violations:[/red]\n" + "\n".join(f"  - {v}" for v in r["violations"])]
        return t + ["[green]valid[/green]" if check else ""]

    emit(result, json_out, table)
    if result["violations"]:
        raise ZslError(f"{file}: {len(result['violations'])} violation(s): {result['violations'][0]}",
                       hint="the summary above says what the file holds; rebuild it with zsl, or import foreign "
                            "features with zsl import-embeddings")


def import_embeddings(
    matrix: Path = typer.Argument(..., help="Feature matrix: .npy, .npz or numeric .csv (rows x dims)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output embedding file (.h5)."),
    ids: Optional[Path] = typer.Option(None, "--ids", help="CSV with an id column (and optionally labels), one "
                                       "row per matrix row."),
    classes: Optional[Path] = typer.Option(None, "--classes", help="Class-set file: labels are checked against it "
                                           "and its hash is recorded."),
    kind: str = typer.Option("instance", "--kind", click_type=click.Choice(list(KINDS)),
                             help="instance: one row per clip/crop/video; class: one row per "
                             "class (its id is its label; a labels column is ignored, with a warning)."),
    modality: str = typer.Option("audio", "--modality", help="audio, image, text, video, ..."),
    extractor: str = typer.Option("imported", "--extractor", help="Name of the model that made the features."),
    id_column: str = typer.Option("id", "--id-column", help="Column of the ids CSV that holds the row ids."),
    labels_column: Optional[str] = typer.Option(None, "--labels-column", help="Column of the ids CSV that holds the "
                                                "labels (default: 'labels' when there is one, else no labels)."),
    label_sep: str = typer.Option(";", "--label-sep", help="Separator of several labels in one cell."),
    key: Optional[str] = typer.Option(None, "--key", help="Array name inside an .npz file."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Turn precomputed features (matrix + ids/labels CSV) into a zsl embedding file."""
    from zsltool.extract.importer import import_embeddings as run

    result = run(matrix, out, ids_csv=ids, classes=classes, kind=kind, modality=modality, extractor=extractor,
                 id_column=id_column, labels_column=labels_column, label_sep=label_sep, key=key,
                 overwrite=overwrite)
    info(f"wrote {result['out']}")
    emit(result, json_out)


def merge(
    inputs: List[Path] = typer.Argument(..., help="Shard files of one extraction run."),
    out: Path = typer.Option(..., "--out", "-o", help="Merged output file."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Merge shard outputs (same extractor and settings, disjoint ids) into one file."""
    from zsltool.store.merge import merge_embeddings

    result = merge_embeddings(inputs, out, overwrite=overwrite)
    info(f"wrote {result['out']}")
    emit(result, json_out)


COMMANDS = {"inspect": inspect, "import-embeddings": import_embeddings, "merge": merge}
