"""One checker of written `zsl` command lines against the CLI itself (README and docs pages: tests/test_docs.py;
examples/*.sh: tests/test_examples.py): the command is registered (a command group's sub-command too), every
option is one of the command's parameters or a global option, and a literal value of a choice option is one of
its choices."""

from __future__ import annotations

import re

import click
import typer.main


def _options(cmd: click.Command) -> dict[str, click.Parameter]:
    return {o: p for p in cmd.params for o in [*p.opts, *p.secondary_opts] if o.startswith("-")}


def _takes_no_value(p: click.Parameter) -> bool:
    return bool(getattr(p, "is_flag", False) or getattr(p, "count", False))


def check_call(call: list[str]) -> list[str]:
    """Problems of one call: the tokens after ``zsl`` (global options, the command, its arguments); empty when it
    fits the CLI. A command held in a shell variable (``$CMD``) is not checked."""
    from zsltool.cli.app import app

    root = typer.main.get_command(app)
    glob = _options(root)
    i = 0
    while i < len(call) and call[i].startswith("-"):  # global options before the command
        opt = call[i].split("=", 1)[0]
        if opt not in glob:
            return [f"unknown global option {opt}"]
        i += 1 if (_takes_no_value(glob[opt]) or "=" in call[i]) else 2
    if i >= len(call) or call[i].startswith("$"):
        return []
    name, cmd = call[i], root.commands.get(call[i])
    if cmd is None:
        return [f"unknown command {name!r}"]
    while isinstance(cmd, click.Group) and i + 1 < len(call) and call[i + 1] in cmd.commands:
        i += 1  # a command group (zsl prepare RECIPE): check the sub-command's options
        name, cmd = f"{name} {call[i]}", cmd.commands[call[i]]
    known = {**glob, **_options(cmd)}  # a global option may also follow the command
    problems, args = [], call[i + 1:]
    for k, tok in enumerate(args):
        if not tok.startswith("-") or tok in ("-", "--") or re.match(r"-\d", tok) or tok == "--help":
            continue
        opt, _, inline = tok.partition("=")
        p = known.get(opt)
        if p is None:
            problems.append(f"zsl {name}: unknown option {opt}")
        elif isinstance(p.type, click.Choice) and not _takes_no_value(p):
            val = inline or (args[k + 1] if k + 1 < len(args) else "")
            if val and "$" not in val and val not in p.type.choices:
                problems.append(f"zsl {name} {opt}: {val!r} is not one of {list(p.type.choices)}")
    return problems
