"""The papers' table layouts from per-trial experiment records, and their exports.

* ZSL (Dogan et al. Tables III-V): rows = class embeddings (Audio / Image / Text / Hybrid), one row group per
  method when several are compared; one column per split file (Table III: "Accuracy"; Table IV: one column
  per category; Table V: one per category pair "A + MI"), cells "mean ± SD" of top-1 over the trials.
* GZSL (AVGZSLNet Table 1): rows = method × test modality (× class embeddings), columns S, U, HM in %.
* Retrieval (AVGZSLNet Table 2): rows = method × "T → A/V/AV", columns S, U, HM of mAP in %.

Every cell holds ``summarize`` of its trials (zsltool.scores.stats): mean, sample SD (ddof = 1), the
half-width of the t-based 95 % confidence interval, and n; with one trial SD and CI are undefined (None) and
the cell text is the mean alone. Every table has a ``title`` (what is measured) and a one-line ``caption``
naming each column's split by its protocol and sizes, with chance level.

Exports (``export_tables``): ``csv`` is tidy and numeric (one row per cell: table, metric, labels, column,
protocol, mean, sd, ci95, n; values as fractions in [0, 1] even where the table shows %), ``md`` a Markdown
pipe table per table with its caption, ``latex`` a booktabs ``table`` environment per table.
"""

from __future__ import annotations

import math
from typing import Iterable

from zsltool.names import SEMANTIC_SOURCES
from zsltool.runtime.progress import count_of
from zsltool.scores.metrics import GZSL_COLUMNS, METRICS
from zsltool.scores.stats import summarize

SEMANTIC_ORDER = SEMANTIC_SOURCES
SEMANTIC_LABEL = {"audio": "Audio", "image": "Image", "text": "Text", "hybrid": "Hybrid"}
MODALITY_ORDER = ("audio", "video", "both")
RETRIEVAL_LABEL = {"audio": "T → A", "video": "T → V", "both": "T → AV"}
TABLE_FORMATS = ("csv", "md", "latex")
# how a caption names a split that no protocol of zsl split made (the protocols' own: Protocol.caption)
OTHER_CAPTIONS = {"custom": "custom class split", "two-stage": "two-stage GZSL protocol"}


def protocol_caption(protocol: str | None, default: str) -> str:
    """How a caption names a split of ``protocol`` (``zsltool.classes.protocols.PROTOCOLS``)."""
    from zsltool.classes.protocols import PROTOCOLS

    p = PROTOCOLS.get(protocol)
    return p.caption if p else OTHER_CAPTIONS.get(protocol, default)


def fmt_cell(mean: float | None, sd: float | None, scale: float = 1.0, digits: int = 2) -> str:
    """"0.50 ± 0.15"; the mean alone when SD is undefined (one trial); "–" when there is no value."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if sd is None:
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {sd * scale:.{digits}f}"


def _cell(values, scale: float = 1.0, digits: int = 2) -> dict:
    s = summarize(values)
    return {**s, "text": fmt_cell(s["mean"], s["sd"], scale, digits)}


def _repeats(records: list[dict]) -> dict:
    """``{"repeats": N}`` when the trials were trained N > 1 times each (``zsl experiment --repeats``)."""
    n = len({r.get("repeat") for r in records})
    return {"repeats": n} if n > 1 else {}


def _trials_text(sp: dict) -> str | None:
    """'5 trials', or '1 trial × 5 seeds' with repeats."""
    if not sp.get("trials"):
        return None
    text = count_of(sp["trials"], "trial")
    return text + (f" × {sp['repeats']} seeds" if sp.get("repeats") else "")


def warning_messages(records: Iterable[dict]) -> list[str]:
    """The distinct validity-warning messages of ``records`` (``zsltool.runtime.guards``), in first-seen order."""
    return list(dict.fromkeys(w["message"] for r in records for w in r.get("warnings") or []))


def _order(values, preferred) -> list:
    seen = list(dict.fromkeys(values))
    return [p for p in preferred if p in seen] + [v for v in seen if v not in preferred]


def zsl_table(records: list[dict], metric: str = "top1", digits: int = 2) -> dict:
    """Table III/IV/V layout from ZSL records ``{method, semantic, column, trial, metrics: {modality: {...}}}``."""
    recs = [r for r in records if r["task"] == "zsl"]
    columns = list(dict.fromkeys(r["column"] for r in recs))
    methods = list(dict.fromkeys(r["method"] for r in recs))
    sems = _order([r["semantic"] for r in recs], SEMANTIC_ORDER)
    rows = []
    for m in methods:
        for s in sems:
            row = {"method": m, "class_embeddings": SEMANTIC_LABEL.get(s, s), "cells": {}}
            for c in columns:
                sel = [r for r in recs if r["method"] == m and r["semantic"] == s and r["column"] == c]
                row["cells"][c] = _cell([r["metrics"][r["modality"]][metric] for r in sel], digits=digits)
                row["cells"][c]["warnings"] = warning_messages(sel)
            if any(v["n"] for v in row["cells"].values()):
                rows.append(row)
    chance, splits = {}, {}
    for c in columns:
        sel = [r for r in recs if r["column"] == c]
        ns = [n for n in (r["metrics"][r["modality"]].get("n_classes") for r in sel) if n]
        if ns:
            chance[c] = 1.0 / ns[0]
        splits[c] = {"protocol": sel[0].get("protocol"), "n_test_classes": ns[0] if ns else None,
                     "trials": len({(r.get("split"), r.get("trial")) for r in sel}), **_repeats(sel)}
    return {"kind": "zsl", "metric": metric, "columns": columns, "rows": rows, "chance": chance,
            "splits": splits, "show_method": len(methods) > 1, "warnings": warning_messages(recs)}


def gzsl_table(records: list[dict], keys=GZSL_COLUMNS, scale: float = 100.0, digits: int = 2,
               retrieval: bool = False) -> dict:
    """AVGZSLNet Table 1 (or Table 2 with ``retrieval``): S, U, HM (mean ± SD over trials, in %)."""
    field = "retrieval" if retrieval else "metrics"
    recs = [r for r in records if r["task"] == "gzsl" and r.get(field)]
    methods = list(dict.fromkeys(r["method"] for r in recs))
    sems = _order([r["semantic"] for r in recs], SEMANTIC_ORDER)
    mods = _order([m for r in recs for m in r[field]], MODALITY_ORDER)
    rows = []
    for meth in methods:
        for s in sems:
            for mod in mods:
                rs = [r for r in recs if r["method"] == meth and r["semantic"] == s and mod in r[field]]
                if not rs:
                    continue
                cells = {k: {**_cell([r[field][mod].get(k) for r in rs], scale, digits),
                             "warnings": warning_messages(rs)} for k in keys}
                rows.append({"method": meth, "class_embeddings": SEMANTIC_LABEL.get(s, s),
                             "test": RETRIEVAL_LABEL.get(mod, mod) if retrieval else mod, "cells": cells})
    sizes = {}
    for r in recs:
        m = r["metrics"].get(r["modality"]) or next(iter(r["metrics"].values()), {})
        sizes.setdefault((r.get("split"), r.get("trial")), (r.get("protocol"), m.get("n_classes"),
                                                            m.get("n_test_seen"), m.get("n_test_unseen")))
    first = next(iter(sizes.values()), (None, None, None, None))
    splits = {"all": {"protocol": first[0], "n_classes": first[1], "n_test_seen": first[2],
                      "n_test_unseen": first[3], "trials": len(sizes), **_repeats(recs)}}
    return {"kind": "retrieval" if retrieval else "gzsl", "columns": list(keys), "rows": rows, "scale": scale,
            "splits": splits, "show_method": True, "warnings": warning_messages(recs)}


def table_rows(table: dict) -> list[dict]:
    """Flat rows (for CSV / rich): label columns then one text cell per column."""
    out = []
    for r in table["rows"]:
        row = {}
        if table.get("show_method", False):
            row["method"] = r["method"]
        row["class embeddings"] = r["class_embeddings"]
        if "test" in r:
            row["test"] = r["test"]
        for c in table["columns"]:
            row[c] = r["cells"][c]["text"]
        out.append(row)
    return out


def table_title(table: dict) -> str:
    """What a table measures (one line)."""
    if table["kind"] == "zsl":
        m = METRICS.get(table.get("metric", "top1"))
        return f"Zero-shot {m.label if m else table['metric']} [0-1] (mean ± SD over trials)"
    if table["kind"] == "gzsl":
        return "Generalized zero-shot classification, mean class accuracy % (mean ± SD over trials)"
    return "Generalized zero-shot retrieval, mAP % (mean ± SD over trials)"


def table_caption(table: dict) -> str:
    """One line: the splits (below) and, when settings were chosen on validation (``--grid``), which."""
    sel = table.get("selection")
    return _split_caption(table) + (f" {sel}" if sel else "")


def _split_caption(table: dict) -> str:
    """Each column's split by protocol and sizes, trials and chance; what S, U and HM are."""
    splits = table.get("splits") or {}
    if table["kind"] == "zsl":
        parts = []
        for c in table["columns"]:
            sp = splits.get(c) or {}
            what = protocol_caption(sp.get("protocol"), f"{sp.get('protocol') or 'unknown'} split")
            bits = [f"{sp['n_test_classes']} unseen test classes" if sp.get("n_test_classes") else None,
                    _trials_text(sp),
                    f"chance {table['chance'][c]:.2f}" if c in table.get("chance", {}) else None]
            parts.append(f"{c}: {what} ({', '.join(b for b in bits if b)})")
        return "; ".join(parts) + "."
    sp = splits.get("all") or {}
    what = protocol_caption(sp.get("protocol"), "GZSL split")
    bits = [f"{sp['n_classes']} classes" if sp.get("n_classes") else None,
            f"{sp['n_test_seen']} seen / {sp['n_test_unseen']} unseen test clips"
            if sp.get("n_test_seen") is not None and sp.get("n_test_unseen") is not None else None,
            _trials_text(sp)]
    head = f"{what} ({', '.join(b for b in bits if b)})" if any(bits) else what
    if table["kind"] == "gzsl":
        return (f"{head}. S: accuracy on seen-class test clips, U: on unseen-class clips, both over all classes; "
                "HM: their harmonic mean.")
    return (f"{head}. Each class text ranks the test clips; S/U: mAP over seen/unseen classes; HM: their "
            "harmonic mean.")


def _label_columns(table: dict) -> list[str]:
    cols = ["method"] if table.get("show_method", False) else []
    cols.append("class embeddings")
    if any("test" in r for r in table["rows"]):
        cols.append("test")
    return cols


def tidy_rows(tables: list[dict]) -> list[dict]:
    """One row per table cell, numeric: values as fractions in [0, 1]; sd/ci95 empty for a single trial."""
    out = []
    for t in tables:
        metric_of = (lambda c: t.get("metric", "top1")) if t["kind"] == "zsl" else (lambda c: c)
        for r in t["rows"]:
            for c in t["columns"]:
                cell = r["cells"][c]
                sp = (t.get("splits") or {}).get(c if t["kind"] == "zsl" else "all") or {}
                out.append({"table": t["kind"], "metric": metric_of(c), "method": r["method"],
                            "class_embeddings": r["class_embeddings"], "test": r.get("test", ""),
                            "column": c if t["kind"] == "zsl" else "", "protocol": sp.get("protocol") or "",
                            "mean": cell["mean"], "sd": cell["sd"], "ci95": cell["ci95"], "n": cell["n"],
                            "warnings": "; ".join(cell.get("warnings") or [])})
    return out


# warnings: the validity warnings of the cell's trials (zsltool.runtime.guards), "; "-separated; empty when none
TIDY_COLUMNS = ["table", "metric", "method", "class_embeddings", "test", "column", "protocol", "mean", "sd",
                "ci95", "n", "warnings"]


def _num(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return repr(float(v)) if isinstance(v, float) else str(v)


def _csv(header: list, rows) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def tidy_csv(tables: list[dict]) -> str:
    return _csv(TIDY_COLUMNS, [[_num(row[k]) if k in ("mean", "sd", "ci95", "n") else row[k] for k in TIDY_COLUMNS]
                               for row in tidy_rows(tables)])


WARNING_NOTE = "Warning (validity):"  # the note under a table, one per warning of its trials


def _md_escape(s: str) -> str:
    return str(s).replace("|", "\\|")


def _md(title: str, caption: str, cols: list, rows, n_labels: int, warnings) -> str:
    """A Markdown pipe table, its title in bold before it, its caption and one paragraph per validity warning
    after it; the first ``n_labels`` columns left-aligned, the others (values) right-aligned."""
    lines = [f"**{title}**", "", "| " + " | ".join(_md_escape(c) for c in cols) + " |",
             "|" + "|".join(":---" if i < n_labels else "---:" for i in range(len(cols))) + "|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in rows]
    lines += ["", f"*{caption}*"] + [x for w in warnings or [] for x in ("", f"**{WARNING_NOTE}** {_md_escape(w)}")]
    return "\n".join(lines) + "\n"


def markdown(tables: list[dict]) -> str:
    """Each table as a Markdown pipe table, its title in bold before it and its caption after it."""
    parts = []
    for t in tables:
        cols = _label_columns(t) + list(t["columns"])
        rows = [[r.get(c, "") for c in cols] for r in table_rows(t)]
        parts.append(_md(table_title(t), table_caption(t), cols, rows, len(cols) - len(t["columns"]),
                         t.get("warnings")))
    return "\n".join(parts)


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "→": r"$\rightarrow$",
        "±": r"$\pm$", "–": "--", "‖": r"$\|$"}


def tex_escape(s: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in str(s))


def _tex(title: str, caption: str, header: list, rows, spec: str, warnings, label: str | None = None) -> str:
    """A LaTeX ``table`` environment (booktabs rules) with one line per validity warning under the tabular."""
    lines = [r"\begin{table}[t]", r"\centering", r"\caption{" + tex_escape(title) + ". " + tex_escape(caption) + "}",
             *([r"\label{" + label + "}"] if label else []), r"\begin{tabular}{" + spec + "}", r"\toprule",
             " & ".join(tex_escape(c) for c in header) + r" \\", r"\midrule"]
    lines += [" & ".join(tex_escape(c) for c in r) + r" \\" for r in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [r"\par\smallskip{\footnotesize\textbf{" + WARNING_NOTE + "} " + tex_escape(w) + r"\par}"
              for w in warnings or []]
    return "\n".join(lines + [r"\end{table}"]) + "\n"


def latex(tables: list[dict], label_prefix: str = "tab:zsl-") -> str:
    """Each table as a LaTeX ``table`` environment (booktabs rules; needs ``\\usepackage{booktabs}``)."""
    parts = []
    for t in tables:
        lab = _label_columns(t)
        cols = lab + list(t["columns"])
        rows = [[r.get(c, "") for c in cols] for r in table_rows(t)]
        parts.append(_tex(table_title(t), table_caption(t), [c[:1].upper() + c[1:] for c in cols], rows,
                          "l" * len(lab) + "c" * len(t["columns"]), t.get("warnings"), label_prefix + t["kind"]))
    return "\n".join(parts)


def _exporter(fmt: str, exporters: dict):
    if fmt not in exporters:
        from zsltool.errors import ZslError

        raise ZslError(f"unknown table format {fmt!r}", hint=f"use one of {', '.join(TABLE_FORMATS)}")
    return exporters[fmt]


def export_tables(tables: list[dict], fmt: str) -> str:
    """The tables as text: ``csv`` (tidy, numeric), ``md`` (Markdown) or ``latex``."""
    return _exporter(fmt, {"csv": tidy_csv, "md": markdown, "latex": latex})(tables)


TABLE_FILES = {"csv": "table.csv", "md": "table.md", "latex": "table.tex"}


def write_table_files(out_dir, tables: list[dict]) -> dict:
    """table.csv (tidy), table.md and table.tex in ``out_dir`` (atomic); returns {format: path}."""
    from pathlib import Path

    from zsltool.files.checks import atomic_write_text

    paths = {}
    for fmt, name in TABLE_FILES.items():
        p = Path(out_dir) / name
        atomic_write_text(p, export_tables(tables, fmt))
        paths[fmt] = p
    return paths


# ------------------------------------------------------------------ plain tables (class lists of a split)

def plain_table(title: str, caption: str, columns: list[str], rows: list[list], warnings=()) -> dict:
    """A table of text cells (no statistics): Dogan et al.'s Tables I and II (the classes of a split), with the
    validity warnings (messages) to print under it."""
    return {"kind": "plain", "title": title, "caption": caption, "columns": columns, "rows": rows,
            "warnings": list(warnings)}


def export_plain(t: dict, fmt: str) -> str:
    """A ``plain_table`` as csv, md or latex (the same shapes as ``export_tables``)."""
    cols, rows, warnings = t["columns"], t["rows"], t["warnings"]
    return _exporter(fmt, {
        "csv": lambda: _csv(cols, [[str(c) for c in r] for r in rows]),
        "md": lambda: _md(t["title"], t["caption"], cols, rows, len(cols), warnings),
        "latex": lambda: _tex(t["title"], t["caption"], cols, rows, "l" * (len(cols) - 1) + "p{0.6\\linewidth}",
                              warnings)})()
