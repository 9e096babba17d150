"""Tables of a results or split file as text (``zsl report``).

* an experiment's ``results.json``: its paper tables (Dogan et al. Tables III-V, AVGZSLNet Tables 1-4);
* a split file: the classes of each subset per trial (Dogan et al. Table I for a random split, Table II — the
  classes of a category — for a within-category split), names from ``--classes`` (the class-set file).
"""

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
                       hint="give the results.json of a zsl experiment --out folder, or a split file")
    return build_tables(doc["trials"])


def split_table(path: str | os.PathLike, classes: str | os.PathLike | None = None,
                trials: list[int] | None = None) -> dict:
    """The classes of each subset of each trial of a split file (names from the class-set file if given)."""
    from zsltool.classes.protocols import PROTOCOLS
    from zsltool.classes.splits import load_split
    from zsltool.evaluate.tables import plain_table, protocol_caption

    sp = load_split(path)
    names: dict[str, str] = {}
    if classes:
        from zsltool.classes.classset import ClassSet

        cs = ClassSet.load(classes)
        if sp.class_set_sha256 and cs.sha256 != sp.class_set_sha256:
            raise ZslError(f"{classes} is not the class set {path} was made from (sha256 differs)",
                           hint="give the classes.json the split was made from")
        names = dict(zip(cs.ids, cs.names))

    def label(ids) -> str:
        return ", ".join(sorted(names.get(i, i) for i in ids))

    rows = []
    ks = trials if trials is not None else range(len(sp.trials))
    for k in ks:
        t = sp.trial(k)
        subsets = (("seen", t.seen), ("unseen", t.unseen)) if t.is_gzsl else \
            (("train", t.train), ("val", t.val), ("test", t.test))
        rows += [[str(k), name, str(len(ids)), label(ids)] for name, ids in subsets]
    what = protocol_caption(sp.protocol, f"{sp.protocol} split")
    p = sp.params or {}
    extra = ""
    if sp.protocol == "within" and p.get("category"):
        extra = f"; category {p['category']}: {len(p.get('classes') or [])} classes ({label(p.get('classes') or [])})"
    n = len(sp.trials)
    desc = PROTOCOLS[sp.protocol].help if sp.protocol in PROTOCOLS else None
    caption = (f"{what[0].upper() + what[1:]}, seed {sp.seed}, {n} trial{'s' if n != 1 else ''}"
               f"{': ' + desc if desc else ''}{extra}.")
    warnings = [w["message"] for w in p.get("warnings") or [] if isinstance(w, dict) and w.get("message")]
    return plain_table(f"Classes of the {what}", caption, ["trial", "subset", "classes", "names"], rows,
                       warnings=warnings)


def report_data(path: str | os.PathLike, classes=None, trials=None) -> dict:
    """The tables of ``path`` (experiment results or split file) as data: ``{"source", "kind": "experiment" |
    "split", "tables", "warnings"}``; ``warnings`` are the validity warnings of every table (messages), each
    table's own under its ``warnings``."""
    from zsltool.files.formats import load_json

    data = load_json(path, "results or split file")
    if isinstance(data, dict) and data.get("format") == "zsl.results":
        kind, tables = "experiment", report_tables(path)
    elif isinstance(data, dict) and "trials" in data and "protocol" in data:
        kind, tables = "split", [split_table(path, classes, trials)]
    else:
        raise ZslError(f"{path} is neither an experiment's results.json nor a split file",
                       hint="give the results.json of zsl experiment, or a split file of zsl split")
    warnings = list(dict.fromkeys(w for t in tables for w in t.get("warnings") or []))
    return {"source": str(path), "kind": kind, "tables": tables, "warnings": warnings}


def report_text(path: str | os.PathLike, fmt: str = "md", classes=None, trials=None) -> str:
    """The tables of ``path`` (experiment results or split file) as md, latex or csv; validity warnings as a
    note under each table (md, latex) or a column (csv)."""
    from zsltool.evaluate.tables import export_plain, export_tables

    d = report_data(path, classes, trials)
    if d["kind"] == "experiment":
        return export_tables(d["tables"], fmt)
    return export_plain(d["tables"][0], fmt)
