"""Tables of a results file as text (``zsl report``)."""

from __future__ import annotations

import os

from zsltool.errors import ZslError


def report_tables(path: str | os.PathLike) -> list[dict]:
    """The paper tables of an experiment results file, rebuilt from its trial records (so an older file
    gets today's statistics: SD, 95 % CI, captions)."""
    from zsltool.evaluate.experiment import build_tables
    from zsltool.evaluate.results import load_results

    doc = load_results(path)
    if doc.get("task") != "experiment" or not doc.get("trials"):
        raise ZslError(f"{path} is a {doc.get('task')!r} results file, not an experiment's",
                       hint="give the results.json of a zsl experiment --out folder")
    return build_tables(doc["trials"])


def report_text(path: str | os.PathLike, fmt: str = "md") -> str:
    from zsltool.evaluate.tables import export_tables

    return export_tables(report_tables(path), fmt)
