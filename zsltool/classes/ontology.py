"""Readers for the AudioSet ontology, the AudioSet label list and the Open Images class lists.

All classes are keyed by their Knowledge Graph MID. Readers validate what they read and raise
:class:`ZslError` naming the file when it is not what was expected.
"""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from zsltool.errors import ZslError
from zsltool.files.formats import load_json
from zsltool.files.checks import require_file


@dataclass
class Ontology:
    """The AudioSet ontology: classes by MID, children in file order, and the parents of each class."""

    nodes: dict[str, dict]
    order: list[str]
    parents: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self):
        self.parents = {}
        for mid in self.order:
            for ch in self.nodes[mid].get("child_ids") or []:
                self.parents.setdefault(ch, []).append(mid)

    def name(self, mid: str) -> str:
        return self.nodes[mid].get("name", mid)

    def descendants(self, mid: str) -> list[str]:
        """Every class below ``mid`` (children, grandchildren, ...), in depth-first file order, no repeats."""
        out: list[str] = []
        seen = {mid}
        stack = list(reversed(self.nodes.get(mid, {}).get("child_ids") or []))
        while stack:
            c = stack.pop()
            if c in seen or c not in self.nodes:
                continue
            seen.add(c)
            out.append(c)
            stack.extend(reversed(self.nodes[c].get("child_ids") or []))
        return out

    def ancestors(self, mid: str) -> set[str]:
        out: set[str] = set()
        stack = list(self.parents.get(mid, []))
        while stack:
            p = stack.pop()
            if p not in out:
                out.add(p)
                stack.extend(self.parents.get(p, []))
        return out

    def path(self, mid: str) -> list[str]:
        """Names from a root down to ``mid``, following each class's first parent in file order."""
        names, cur, seen = [], mid, set()
        while cur is not None and cur not in seen:
            seen.add(cur)
            names.append(self.name(cur))
            ps = self.parents.get(cur)
            cur = ps[0] if ps else None
        return list(reversed(names))


def load_ontology(path: str | os.PathLike) -> Ontology:
    p = require_file(path, "AudioSet ontology")
    data = load_json(p, "AudioSet ontology (ontology.json)")
    if not isinstance(data, list) or not all(isinstance(c, dict) and "id" in c for c in data):
        raise ZslError(f"{p} is not an AudioSet ontology: expected a JSON list of classes with 'id' and 'child_ids'",
                       hint="use ontology.json from https://github.com/audioset/ontology")
    nodes = {c["id"]: c for c in data}
    return Ontology(nodes=nodes, order=[c["id"] for c in data])


def _read_csv_rows(p: Path, what: str) -> list[list[str]]:
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ZslError(f"{p} is not a text file", hint=f"expected {what}") from None
    return [r for r in csv.reader(text.splitlines()) if r and any(x.strip() for x in r)]


def load_audio_labels(path: str | os.PathLike) -> dict[str, str]:
    """AudioSet ``class_labels_indices.csv`` (index,mid,display_name) -> {mid: display_name} in file order."""
    p = require_file(path, "AudioSet class list")
    rows = _read_csv_rows(p, "class_labels_indices.csv")
    if not rows or [x.strip() for x in rows[0][:3]] != ["index", "mid", "display_name"]:
        raise ZslError(f"{p} is not an AudioSet class list: the header must be index,mid,display_name",
                       hint="use class_labels_indices.csv from the AudioSet download page")
    out = {}
    for n, r in enumerate(rows[1:], start=2):
        if len(r) < 3 or not r[1].startswith("/"):
            raise ZslError(f"{p}: line {n} is not index,mid,display_name")
        out[r[1].strip()] = r[2].strip()
    return out


def load_image_classes(path: str | os.PathLike) -> dict[str, str]:
    """Open Images ``class-descriptions-boxable.csv`` (MID,Name; no header) -> {mid: name} in file order.

    A header line (``LabelName,DisplayName``, as in later Open Images versions) is skipped.
    """
    p = require_file(path, "Open Images class list")
    rows = _read_csv_rows(p, "class-descriptions-boxable.csv")
    out = {}
    for n, r in enumerate(rows, start=1):
        if n == 1 and not r[0].startswith("/"):
            continue  # header
        if len(r) < 2 or not r[0].strip().startswith("/"):
            raise ZslError(f"{p}: line {n} is not MID,Name", hint="expected class-descriptions-boxable.csv")
        out[r[0].strip()] = r[1].strip()
    if not out:
        raise ZslError(f"{p} has no classes")
    return out


def read_name_list(path: str | os.PathLike, column: str | None = None) -> list[dict]:
    """Names from a plain list (one per line; quotes and trailing commas stripped, e.g. AudioSetZSL's
    ``'dog',``) or, when ``column`` is given, from that column of a CSV with a header.

    Returns rows as dicts (``name`` plus every CSV column), unique by name, in order of first appearance.
    """
    p = require_file(path, "class list")
    if column is None:
        try:
            lines = p.read_text(encoding="utf-8-sig").splitlines()
        except UnicodeDecodeError:
            raise ZslError(f"{p} is not a text file", hint="expected one class name per line") from None
        first = next((ln for ln in lines if ln.strip()), "")
        if p.suffix.lower() == ".csv" and len(next(csv.reader([first]), [])) > 1:
            header = [h.strip() for h in next(csv.reader([first]))]
            raise ZslError(f"{p} is a CSV with several columns: which one holds the class names?",
                           hint=f"name it with --name-column (columns: {', '.join(header)})")
        names = (ln.strip().rstrip(",").strip().strip("'\"").strip() for ln in lines)
        rows = [{"name": n} for n in names if n and not n.startswith("#")]
    else:
        lines = _read_csv_rows(p, "a CSV with a header")
        if not lines:
            raise ZslError(f"{p} is empty")
        header = [h.strip() for h in lines[0]]
        if column not in header:
            raise ZslError(f"{p} has no column {column!r}", hint=f"columns: {', '.join(header)}")
        rows = [{**d, "name": d[column]} for d in (dict(zip(header, [x.strip() for x in r])) for r in lines[1:])
                if d.get(column)]
    out, seen, dups = [], set(), []
    for r in rows:
        if r["name"] in seen:
            dups.append(r["name"])
        else:
            seen.add(r["name"])
            out.append(r)
    if not out:
        raise ZslError(f"{p} lists no class names", hint="one class name per line (lines starting with # are "
                       "comments)")
    if dups:
        names = list(dict.fromkeys(dups))
        logging.getLogger("zsltool.classes").warning(
            f"warning: {p} lists {len(names)} class name(s) more than once; each is kept once (the first row): "
            + ", ".join(repr(n) for n in names[:10]) + (" ..." if len(names) > 10 else ""))
    return out
