"""JSON file formats (class set, split, results): loading with clear errors, and a registry of inspectors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from zsltool.errors import ZslError
from zsltool.files.kinds import binary_kind
from zsltool.files.checks import read_text, require_file

# format name -> function(data: dict, path: Path) -> (summary dict, list of violations)
INSPECTORS: dict[str, Callable[[dict, Path], tuple[dict, list[str]]]] = {}


def register_inspector(fmt: str):
    def deco(fn):
        INSPECTORS[fmt] = fn
        return fn

    return deco


def load_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    p = require_file(path, what)
    with open(p, "rb") as fh:
        kind = binary_kind(fh.read(8))
    if kind:
        raise ZslError(f"{p} is {kind}, not a {what}", hint=f"expected a {what}")
    text = read_text(p, what, hint=f"expected a {what}")  # UTF-8, a BOM dropped
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ZslError(f"{p} is not valid JSON (line {e.lineno}: {e.msg})", hint=f"expected a {what}") from None
    except RecursionError:
        raise ZslError(f"{p} is JSON nested too deeply to read", hint=f"expected a {what}; no zsl file nests "
                       "more than a few levels") from None


def load_json_file(path: str | os.PathLike, expected_format: str, what: str | None = None,
                   max_version: int = 1) -> dict:
    """Load a zsl JSON file and check its ``format`` and ``format_version``."""
    what = what or expected_format
    data = load_json(path, what)
    fmt = data.get("format") if isinstance(data, dict) else None
    if fmt != expected_format:
        raise ZslError(f"{path} is not a {what} file (format is {fmt!r}, expected {expected_format!r})",
                       hint="run `zsl inspect` on it to see what it is")
    ver = data.get("format_version", 0)
    if not isinstance(ver, int) or ver < 1 or ver > max_version:
        raise ZslError(f"{path}: {what} format version {ver!r} is not supported by this zsl (1..{max_version})",
                       hint="upgrade zsl or rebuild the file")
    return data
