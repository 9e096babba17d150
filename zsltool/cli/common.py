"""Shared CLI pieces: consoles, result output, global state and common options."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zsltool.files.provenance import jsonable
from zsltool.names import DEVICES

# Everything that is not a result goes to stderr.
console = Console(stderr=True, highlight=False)


def _stdout_console() -> Console:
    # Built on demand so that CliRunner's captured sys.stdout is honoured.
    # Piped output gets a comfortable fixed width instead of rich's 80 columns.
    width = None if sys.stdout.isatty() else 120
    return Console(file=sys.stdout, highlight=False, width=width)


@dataclass
class GlobalOptions:
    verbose: int = 0
    quiet: bool = False
    seed: int = 0
    device: str = "auto"


STATE = GlobalOptions()


def setup_logging(verbose: int, quiet: bool) -> None:
    """zsltool's log lines on stderr: INFO by default, DEBUG with -v, WARNING (and errors) only with -q."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose >= 1 else logging.INFO)
    logger = logging.getLogger("zsltool")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def info(msg: str) -> None:
    """A progress or log line on stderr (silenced by --quiet)."""
    if not STATE.quiet:
        console.print(msg)


def noted(table: Table, warnings) -> Table:
    """``table`` with validity warnings (``{"code", "message"}`` issues or strings) as its caption."""
    if warnings:
        table.caption = escape("\n".join(f"Warning (validity): {w['message'] if isinstance(w, dict) else w}"
                                         for w in warnings))
    return table


def kv_table(d: dict, title: str | None = None) -> Table:
    """A two-column key/value table of a flat dict (nested values are shown as JSON)."""
    t = Table(title=title, show_header=False)
    t.add_column("key", style="bold")
    t.add_column("value")
    for k, v in d.items():
        if isinstance(v, (dict, list)):
            v = json.dumps(jsonable(v), ensure_ascii=False)
            if len(v) > 200:
                v = v[:197] + "..."
        t.add_row(escape(str(k)), escape(str(v)))   # values are data, not rich markup ("zsltool[pandas]")
    return t


def rows_table(rows: list[dict], title: str | None = None, columns: list[str] | None = None) -> Table:
    t = Table(title=title)
    columns = columns or (list(rows[0].keys()) if rows else [])
    for c in columns:
        t.add_column(str(c))
    for r in rows:
        t.add_row(*[escape(_fmt(r.get(c, ""))) for c in columns])
    return t


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


def emit(result: Any, json_out: bool, table: Optional[Callable[[Any], Any]] = None) -> None:
    """Print a command's result to stdout: JSON with ``--json``, else a rich table (or tables)."""
    if json_out:
        sys.stdout.write(json.dumps(jsonable(result), indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    out = _stdout_console()
    if table is not None:
        rendered = table(result)
        for r in rendered if isinstance(rendered, (list, tuple)) else [rendered]:
            out.print(r)
    elif isinstance(result, dict):
        out.print(kv_table(result))
    elif isinstance(result, list) and result and isinstance(result[0], dict):
        out.print(rows_table(result))
    else:
        out.print(result)


JsonOpt = typer.Option(False, "--json", help="Print the result as JSON on stdout.")
OverwriteOpt = typer.Option(False, "--overwrite", help="Replace an existing output file.")
# Options every extractor shares.
def device_option(help: str = "auto, cpu or cuda (default: the global --device).") -> Any:
    """The one ``--device`` option of commands that run a network (None = the global --device)."""
    return typer.Option(None, "--device", help=help, click_type=click.Choice(list(DEVICES)))


def device_or_global(device: Optional[str]) -> str:
    """A command's --device, or the global --device when it was not given."""
    return device or STATE.device


DeviceOpt = device_option()
ShardOpt = typer.Option(None, "--shard", help="K/N: process only share K of N of the inputs (by id hash; default: "
                        "from RANK/WORLD_SIZE when set); join the shards with zsl merge.")
ResumeOpt = typer.Option(True, "--resume/--no-resume", help="Continue a killed run from what it had written.")


def seed_option(help: str = "Random seed (default: the global --seed).") -> Any:
    """A command's own ``--seed`` (>= 0; None = the global --seed, see seed_or_global)."""
    return typer.Option(None, "--seed", min=0, help=help)


SeedOpt = seed_option()


def seed_or_global(seed: Optional[int]) -> int:
    """A command's --seed, or the global --seed when it was not given."""
    return STATE.seed if seed is None else seed
