"""The papers' table layouts from per-trial experiment records.

* ZSL (paper 000 Tables III-V): rows = class embeddings (Audio / Image / Text / Hybrid), one row group per
  method when several are compared; one column per split file (Table III: "Accuracy"; Table IV: one column
  per category; Table V: one per category pair "A + MI"), cells "mean ± SD" of top-1 over the trials.
* GZSL (paper 004 Table 1): rows = method × test modality (× class embeddings), columns S, U, HM in %.
* Retrieval (paper 004 Table 2): rows = method × "T → A/V/AV", columns S, U, HM of mAP in %.

SD is the sample standard deviation (ddof = 1) over trials; 0 for a single trial.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

SEMANTIC_ORDER = ("audio", "image", "text", "hybrid")
SEMANTIC_LABEL = {"audio": "Audio", "image": "Image", "text": "Text", "hybrid": "Hybrid"}
MODALITY_ORDER = ("audio", "video", "both")
RETRIEVAL_LABEL = {"audio": "T → A", "video": "T → V", "both": "T → AV"}


def mean_sd(values: Iterable[float]) -> tuple[float, float, int]:
    v = np.array([x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))],
                 dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan"), 0
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return float(v.mean()), sd, int(v.size)


def fmt_cell(mean: float, sd: float, scale: float = 1.0, digits: int = 2) -> str:
    if math.isnan(mean):
        return "–"
    return f"{mean * scale:.{digits}f} ± {sd * scale:.{digits}f}"


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
                vals = [r["metrics"][r["modality"]][metric] for r in recs
                        if r["method"] == m and r["semantic"] == s and r["column"] == c]
                mu, sd, n = mean_sd(vals)
                row["cells"][c] = {"mean": mu, "sd": sd, "n": n, "text": fmt_cell(mu, sd, digits=digits)}
            if any(v["n"] for v in row["cells"].values()):
                rows.append(row)
    chance = {}
    for c in columns:
        ns = [r["metrics"][r["modality"]].get("n_classes") for r in recs if r["column"] == c]
        ns = [n for n in ns if n]
        if ns:
            chance[c] = 1.0 / ns[0]
    return {"kind": "zsl", "metric": metric, "columns": columns, "rows": rows, "chance": chance,
            "show_method": len(methods) > 1}


def gzsl_table(records: list[dict], keys=("S", "U", "HM"), scale: float = 100.0, digits: int = 2,
               retrieval: bool = False) -> dict:
    """Paper 004 Table 1 (or Table 2 with ``retrieval``): S, U, HM (mean ± SD over trials, in %)."""
    field = "retrieval" if retrieval else "metrics"
    recs = [r for r in records if r["task"] == "gzsl" and r.get(field)]
    methods = list(dict.fromkeys(r["method"] for r in recs))
    sems = _order([r["semantic"] for r in recs], SEMANTIC_ORDER)
    mods = _order([m for r in recs for m in r[field]], MODALITY_ORDER)
    rows = []
    for meth in methods:
        for s in sems:
            for mod in mods:
                sel = [r[field][mod] for r in recs if r["method"] == meth and r["semantic"] == s and mod in r[field]]
                if not sel:
                    continue
                cells = {}
                for k in keys:
                    mu, sd, n = mean_sd(x.get(k) for x in sel)
                    cells[k] = {"mean": mu, "sd": sd, "n": n, "text": fmt_cell(mu, sd, scale, digits)}
                rows.append({"method": meth, "class_embeddings": SEMANTIC_LABEL.get(s, s),
                             "test": RETRIEVAL_LABEL.get(mod, mod) if retrieval else mod, "cells": cells})
    return {"kind": "retrieval" if retrieval else "gzsl", "columns": list(keys), "rows": rows,
            "show_method": True}


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
    cap = table.get("caption")
    return _title(table) + (f"\n{cap}" if cap else "")


def _title(table: dict) -> str:
    if table["kind"] == "zsl":
        ch = ", ".join(f"{c}: {v:.2f}" for c, v in table.get("chance", {}).items())
        return f"Zero-shot top-1 accuracy [0-1] (mean ± SD over trials; random guess {ch})"
    if table["kind"] == "gzsl":
        return "Generalized zero-shot classification, mean class accuracy % (mean ± SD over trials)"
    return "Generalized zero-shot retrieval, mAP % (mean ± SD over trials)"
