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


def test_verbose_gives_debug_lines(qa, cli):
    # was: -v gave INFO, the same as no flag (only -vv changed anything), though --help promised more output
    import logging

    levels = {}
    for flags in (["-v"], [], ["-q"]):
        res = cli(*flags, "inspect", qa.syn.audio, "--json")
        assert res.exit_code == 0, res.stderr
        levels[" ".join(flags)] = logging.getLogger("zsltool").level
        assert ("device auto" in res.stderr) == (flags == ["-v"]), res.stderr
    assert levels == {"-v": logging.DEBUG, "": logging.INFO, "-q": logging.WARNING}
