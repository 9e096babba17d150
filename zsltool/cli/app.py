"""Root ``zsl`` app: global options, command registration, and the error -> exit code mapping.

Exit codes: 0 success, 1 user error (one ``Error: ...`` line on stderr), 2 usage error (the usage line, then
one ``Error: ...`` line), 130 interrupted. A traceback is shown only with ``ZSL_DEBUG=1``.

Global options (-q, -v, --seed, --device) may come before or after the command: ``zsl train -v ...`` is
``zsl -v train ...``. A command that has an option of the same name (``extract-audio --device``,
``experiment --seed``) keeps it: after that command the option is the command's own.
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
from zsltool.errors import UsageError, ZslError
from zsltool.names import DEVICES

# Command modules under zsltool/cli/commands; each defines COMMANDS (name -> command function, or the typer app of
# a command group). Order = order in --help.
COMMAND_MODULES = [
    "demo",
    "prepare",
    "classes",
    "select",
    "split",
    "audio",
    "extract",
    "compose",
    "train",
    "evaluate",
    "classify",
    "experiment",
    "report",
    "store",
    "doctor",
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


# The root's global options: name -> whether it takes a value.
GLOBAL_OPTIONS = {"-q": False, "--quiet": False, "-v": False, "--verbose": False, "--seed": True, "--device": True}


def _takes_value(param: click.Parameter) -> bool:
    return isinstance(param, click.Option) and not param.is_flag and not param.count


def hoist_global_options(args: list[str], command_params) -> tuple[list[str], list[str]]:
    """Split the arguments after a command into (global options to move before it, the rest).

    A global option the command also defines stays with the command; so does every value of the command's own
    options, and everything after ``--``."""
    own = {}
    for p in command_params:
        for o in list(p.opts) + list(getattr(p, "secondary_opts", [])):
            own[o] = _takes_value(p)
    moved, rest, j = [], [], 0
    while j < len(args):
        a = args[j]
        if a == "--":
            rest += args[j:]
            break
        key, has_eq = a.split("=", 1)[0], "=" in a
        if a.startswith("-") and key in own:
            rest.append(a)
            if own[key] and not has_eq and j + 1 < len(args):
                rest.append(args[j + 1])
                j += 1
        elif a.startswith("-") and key in GLOBAL_OPTIONS:
            moved.append(a)
            if GLOBAL_OPTIONS[key] and not has_eq and j + 1 < len(args):
                moved.append(args[j + 1])
                j += 1
        else:
            rest.append(a)
        j += 1
    return moved, rest


def _usage_fail(e: click.UsageError, ctx: Optional[click.Context] = None, hint: Optional[str] = None):
    """A usage error: the command's usage line, then one ``Error:`` line with a hint; exit 2."""
    uctx = e.ctx or ctx
    usage, path = "", "zsl"
    if uctx is not None:
        try:
            usage = uctx.get_usage()
            path = uctx.command_path
        except Exception:  # noqa: BLE001 - the usage line is a courtesy
            usage = ""
    if usage:
        sys.stderr.write(usage.strip().splitlines()[0] + "\n")
    msg = "; ".join(" ".join(line.split()) for line in e.format_message().splitlines() if line.strip())
    _fail(msg, hint or f"see `{path} --help`", code=2)


def _help_hint(ctx: click.Context) -> str:
    """The hint of an error that brought none: where the command's inputs and options are described (every
    error line has a hint, issue 21)."""
    name = ctx.invoked_subcommand
    return f"see `zsl {name} --help` for what it expects" if name else "see `zsl --help`"


class ZslGroup(TyperGroup):
    """Maps exceptions raised by commands to one error line and an exit code; accepts the global options after
    the command too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = list(args)
        i = 0
        while i < len(args) and args[i].startswith("-") and args[i] != "--":
            key = args[i].split("=", 1)[0]
            i += 2 if GLOBAL_OPTIONS.get(key) and "=" not in args[i] else 1
        if i < len(args):
            cmd = self.get_command(ctx, args[i])
            if cmd is not None:
                moved, rest = hoist_global_options(args[i + 1:], cmd.params)
                args = args[:i] + moved + [args[i]] + rest
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            _usage_fail(e, ctx)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.UsageError, UsageError) as e:
            hint = e.hint if isinstance(e, UsageError) else None
            if isinstance(e, UsageError):  # raised by the library: a malformed option value
                e = click.BadParameter(e.message, param_hint=e.option)
            sub = None
            name = ctx.protected_args[0] if ctx.protected_args else ctx.invoked_subcommand
            cmd = self.get_command(ctx, name) if name else None
            if e.ctx is None and cmd is not None:
                sub = click.Context(cmd, info_name=name, parent=ctx)
            _usage_fail(e, sub or ctx, hint)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except ZslError as e:
            if _debug():
                raise
            _fail(e.message, e.hint or _help_hint(ctx))
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
    "evaluate and retrieve. Every command reads and writes files, so shell scripts chain them. "
    "The global options (-q, -v, --seed, --device) may also follow the command.",
)


def _version_callback(value: bool):
    if value:
        sys.stdout.write(f"zsl {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="More on stderr: per-epoch lines, debug log."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors on stderr."),
    seed: int = typer.Option(0, "--seed", min=0, help="Global random seed (commands with their own --seed override it)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda.",
                               click_type=click.Choice(list(DEVICES))),
):
    """zsl: zero-shot audio classification from the command line."""
    STATE.verbose, STATE.quiet, STATE.seed, STATE.device = int(verbose), quiet, seed, device
    setup_logging(verbose, quiet)
    logging.getLogger("zsltool.cli").debug(f"zsl {__version__} on Python {platform.python_version()}: seed {seed}, "
                                           f"device {device}")


def _register_all() -> None:
    for name in COMMAND_MODULES:
        for command, fn in importlib.import_module(f"zsltool.cli.commands.{name}").COMMANDS.items():
            if isinstance(fn, typer.Typer):
                app.add_typer(fn, name=command)
            else:
                app.command(command)(fn)
    # Every command: outputs never replace inputs, a full disk is a user error (zsltool.files.safety.guard_command).
    from zsltool.files.safety import guard_command

    def guard(t: typer.Typer) -> None:
        for info in t.registered_commands:
            if info.callback is not None and not getattr(info.callback, "__zsl_guarded__", False):
                info.callback = guard_command(info.callback)
        for g in t.registered_groups:  # command groups (zsl prepare ...)
            if g.typer_instance is not None:
                guard(g.typer_instance)

    guard(app)


_register_all()


def main() -> None:
    """Console-script entry point (``zsl``): the one place that changes the process, a command line being a
    process of its own: large allocations are kept in glibc malloc's heap (``zsltool.runtime.env.keep_heap``,
    docs/scaling.md; ``ZSL_KEEP_HEAP=0`` turns it off). A library call never changes the process."""
    from zsltool.runtime.env import keep_heap

    keep_heap()
    app(prog_name="zsl")
