"""``zsl report``: an experiment's tables, or a split's class lists, as Markdown, LaTeX or CSV (a thin shim over
zsltool.evaluate.report)."""

from __future__ import annotations

import json
import sys
from typing import Optional

import click
import typer

from zsltool.cli.common import OverwriteOpt, info
from zsltool.evaluate.tables import TABLE_FORMATS
from zsltool.files.checks import atomic_write_text, check_output
from zsltool.files.provenance import jsonable


def report_cmd(
    results: str = typer.Argument(..., help="results.json of zsl experiment, or a split file of zsl split."),
    fmt: str = typer.Option("md", "--format", "-f", click_type=click.Choice(list(TABLE_FORMATS)),
                            help="md (Markdown pipe tables), latex (booktabs table environments) or csv "
                                 "(tidy: one numeric row per cell with mean, sd, ci95, n)."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Split file: the class-set file, for class "
                                          "names instead of ids."),
    trials: Optional[str] = typer.Option(None, "--trials", help="Split file: comma list of trials (default: "
                                         "all)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = typer.Option(False, "--json", help="Print the tables as one JSON document (source, kind, "
                                  "tables with their cells, warnings) instead of --format."),
):
    """Print an experiment's paper tables (with captions), or the classes of a split's subsets, as Markdown,
    LaTeX or CSV."""
    from zsltool.evaluate.report import report_text

    try:
        ks = [int(x) for x in trials.split(",")] if trials else None
    except ValueError:
        raise typer.BadParameter(f"{trials!r} is not a comma list of integers", param_hint="--trials") from None
    if json_out:
        from zsltool.evaluate.report import report_data

        text = json.dumps(jsonable(report_data(results, classes=classes, trials=ks)), indent=2,
                          ensure_ascii=False) + "\n"
    else:
        text = report_text(results, fmt, classes=classes, trials=ks)
    if out:
        atomic_write_text(check_output(out, overwrite), text)
        info(f"wrote {out}")
        return
    sys.stdout.write(text)
    sys.stdout.flush()


COMMANDS = {"report": report_cmd}
