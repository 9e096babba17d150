"""Root ``zsl`` app: global options, command registration, and the error -> exit code mapping.

Exit codes: 0 success, 1 user error (one ``Error: ...`` line on stderr), 2 usage error, 130 interrupted.
A traceback is shown only with ``ZSL_DEBUG=1``.
"""

from __future__ import annotations

import importlib
import logging
import os
import platform
import sys
from typing import Optional

import click
import typer
from typer.core import TyperGroup

from zsltool import __version__
from zsltool.cli.common import STATE, setup_logging
from zsltool.errors import ZslError

# Command modules under zsltool/cli/commands; each defines register(app). Order = order in --help.
COMMAND_MODULES = [
    "demo",
    "classes",
    "select",
    "split",
    "audio",
    "extract",
    "compose",
    "train",
    "evaluate",
    "experiment",
    "store",
]


def _debug() -> bool:
    return os.environ.get("ZSL_DEBUG", "") not in ("", "0")


def error_line(message: str, hint: Optional[str] = None) -> str:
    line = f"Error: {message}"
    if hint:
        line += f" (hint: {hint})"
    return line


def _fail(message: str, hint: Optional[str] = None, code: int = 1):
    sys.stderr.write(error_line(message, hint).replace("\n", " ") + "\n")
    sys.stderr.flush()
    raise click.exceptions.Exit(code)


class ZslGroup(TyperGroup):
    """Maps exceptions raised by commands to one error line and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except ZslError as e:
            if _debug():
                raise
            _fail(e.message, e.hint)
        except BrokenPipeError:
            # stdout was closed early (e.g. `zsl ... | head`): stop quietly.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            raise click.exceptions.Exit(141)
        except KeyboardInterrupt:
            if _debug():
                raise
            _fail("interrupted", code=130)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as e:
            if _debug():
                raise
            what = {FileNotFoundError: "no such file", IsADirectoryError: "is a directory",
                    NotADirectoryError: "not a directory", PermissionError: "permission denied"}[type(e)]
            _fail(f"{what}: {e.filename}" if e.filename else str(e), "check the path")
        except Exception as e:  # noqa: BLE001 - last resort: never a traceback without ZSL_DEBUG
            if _debug():
                raise
            _fail(f"internal error: {type(e).__name__}: {e}",
                  "this is a bug in zsl; rerun with ZSL_DEBUG=1 for the traceback and report it")


app = typer.Typer(
    name="zsl",
    cls=ZslGroup,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    help="zsl: zero-shot audio classification from the command line.\n\n"
    "Build class sets, extract audio/image/text/video embeddings to HDF5, train zero-shot models, "
    "evaluate and retrieve. Every command reads and writes files, so shell scripts chain them.",
)


def _version_callback(value: bool):
    if value:
        sys.stdout.write(f"zsl {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the version and exit."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="Debug log output on stderr."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors on stderr."),
    seed: int = typer.Option(0, "--seed", min=0, help="Global random seed (commands with their own --seed override it)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda.",
                               click_type=click.Choice(["auto", "cpu", "cuda"])),
):
    """zsl: zero-shot audio classification from the command line."""
    STATE.verbose, STATE.quiet, STATE.seed, STATE.device = verbose, quiet, seed, device
    setup_logging(verbose, quiet)
    logging.getLogger("zsltool.cli").debug(f"zsl {__version__} on Python {platform.python_version()}: seed {seed}, "
                                           f"device {device}")


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"zsltool.cli.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"zsltool.cli.commands.{name}":
                continue  # a command group not present in this build
            raise
        mod.register(app)
    # Every command: outputs never replace inputs, a full disk is a user error (zsltool.safety.guard_command).
    from zsltool.safety import guard_command

    for info in app.registered_commands:
        if info.callback is not None and not getattr(info.callback, "__zsl_guarded__", False):
            info.callback = guard_command(info.callback)


_register_all()


def main() -> None:
    """Console-script entry point."""
    app(prog_name="zsl")
