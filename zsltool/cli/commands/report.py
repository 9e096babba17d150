"""``zsl report``: an experiment's tables as Markdown, LaTeX or tidy CSV (a thin shim over evaluate.tables)."""

from __future__ import annotations

import sys
from typing import Optional

import click
import typer

from zsltool.cli.common import OverwriteOpt, info


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        results: str = typer.Argument(..., help="results.json of zsl experiment."),
        fmt: str = typer.Option("md", "--format", "-f", click_type=click.Choice(["md", "latex", "csv"]),
                                help="md (Markdown pipe tables), latex (booktabs table environments) or csv "
                                     "(tidy: one numeric row per cell with mean, sd, ci95, n)."),
        out: Optional[str] = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout."),
        overwrite: bool = OverwriteOpt,
    ):
        """Print an experiment's paper tables (with captions) as Markdown, LaTeX or tidy CSV."""
        from zsltool.evaluate.report import report_text

        text = report_text(results, fmt)
        if out:
            from zsltool.utils import atomic_write_text, check_output

            atomic_write_text(check_output(out, overwrite), text)
            info(f"wrote {out}")
            return
        sys.stdout.write(text)
        sys.stdout.flush()
