"""Every command has a one-line summary and every option and argument a help text."""

from __future__ import annotations

import click
import typer.main

from zsltool.cli.app import app


def test_every_option_has_help():
    group = typer.main.get_command(app)
    missing = []
    for name, cmd in group.commands.items():
        if not (cmd.help or "").strip():
            missing.append(f"{name}: no summary")
        for p in cmd.params:
            if isinstance(p, (click.Option, click.Argument)) and not (getattr(p, "help", None) or "").strip():
                missing.append(f"{name} {p.name}")
    # was: pretrain-audio --epochs/--max-seconds/--workers, extract-image --batch-size, extract-video
    # --workers/--device/--resume, import-embeddings --id-column/--labels-column
    assert missing == []
