"""From an experiment's trial records to its outputs: the tables (``zsltool.evaluate.tables``) with their
captions (settings chosen on validation, the two-stage protocol's stage-1 choices), the summary metrics of
``results.json`` and the rows of ``trials.csv``."""

from __future__ import annotations

from zsltool.evaluate import tables as T
from zsltool.scores.metrics import METRICS

TRIAL_COLUMNS = ("split", "column", "trial", "method", "semantic", "task", "modality")


def metric_columns() -> list[str]:
    """The metric columns of ``trials.csv``: every registered ZSL and GZSL metric (``METRICS``), then beta."""
    return [m.name for m in METRICS.values() if {"zsl", "gzsl"} & set(m.tasks)] + ["beta"]


def build_tables(records: list[dict]) -> list[dict]:
    tabs = []
    if any(r["task"] == "zsl" for r in records):
        tabs.append(T.zsl_table(records))
    if any(r["task"] == "gzsl" for r in records):
        tabs.append(T.gzsl_table(records))
        if any(r.get("retrieval") for r in records if r["task"] == "gzsl"):
            tabs.append(T.gzsl_table(records, retrieval=True))
    cap = " ".join(c for c in (two_stage_caption(records), selection_caption(records),
                               transductive_caption(records)) if c)
    for t in tabs:
        if cap:
            t["selection"] = cap
    return tabs


def selection_caption(records: list[dict]) -> str:
    """'settings chosen on validation (val_top1) per trial: projection: lr=0.01 optimizer=adam ×3, ...'."""
    by: dict[str, dict[str, int]] = {}
    metric = set()
    for r in records:
        sel = r.get("selection")
        if not sel:
            continue
        metric.add(sel["metric"])
        counts = by.setdefault(r["method"], {})
        counts[sel["label"]] = counts.get(sel["label"], 0) + 1
    if not by:
        return ""
    parts = [f"{m}: " + ", ".join(f"{lab} ×{n}" for lab, n in sorted(c.items(), key=lambda x: -x[1]))
             for m, c in by.items()]
    where = "stage-1 validation" if any(r.get("stage1") for r in records) else "validation"
    return f"Settings chosen on {where} ({', '.join(sorted(metric))}) per trial: " + "; ".join(parts) + "."


def two_stage_caption(records: list[dict]) -> str:
    """'Two-stage protocol: ... Stage 1 (per trial): avgzslnet: epoch 12 (val HM 45.1), β 0.31 (both) / 0.2
    (audio); ...'. The val HM is the value that chose the epoch (stage 1's selection), β the one chosen per test
    modality. Refit trials (``stage2.refit``) have their own caption (:func:`refit_caption`), put first."""
    refit = refit_caption(records)
    by: dict[str, list[str]] = {}
    for r in records:
        s1 = r.get("stage1")
        if not s1 or (r.get("stage2") or {}).get("refit"):
            continue
        value = s1.get("value")
        betas = " / ".join(f"{v.get('beta', float('nan')):.3g} ({m})" for m, v in (s1.get("validation") or {}).items())
        by.setdefault(r["method"], []).append(
            f"epoch {s1['epoch']} (val HM {100 * (float('nan') if value is None else value):.1f}), β {betas}")
    if not by:
        return refit
    parts = [f"{m}: " + " / ".join(v) for m, v in by.items()]
    return (refit + " " if refit else "") + (
            "Two-stage protocol: stage 1 trains on the stage-1 training classes and chooses the epoch and "
            "calibrated stacking's β on seen and unseen validation classes; stage 2 retrains on training + "
            "validation classes for that many epochs and tests with that β. Stage 1" + (" (per trial)"
            if any(len(v) > 1 for v in by.values()) else "") + ": " + "; ".join(parts) + ".")


def transductive_caption(records: list[dict]) -> str:
    """'Rows marked (transductive: …) ...' when an experiment ran the transductive setting."""
    settings = sorted({r["setting"] for r in records if r.get("setting")})
    if not settings:
        return ""
    return ("Rows marked (transductive: …) are the transductive setting: the same models, the assignment refined "
            "with the unlabelled test rows taken together (never their labels); every other row is inductive.")


def refit_caption(records: list[dict]) -> str:
    """'Refit after selection: ... Stage 1 (per trial): projection: epoch 40 (val_top1 0.61) / ...'."""
    by: dict[str, list[str]] = {}
    for r in records:
        s1, s2 = r.get("stage1"), r.get("stage2") or {}
        if s1 and s2.get("refit"):
            by.setdefault(r["method"], []).append(f"epoch {s1['epoch']} ({s1['metric']} {s1['value']:.3f})")
    if not by:
        return ""
    parts = [f"{m}: " + " / ".join(v) for m, v in by.items()]
    return ("Refit after selection: stage 1 trains on the training classes and chooses the setting and the epoch "
            "on validation; stage 2 retrains on training + validation (classes, or GZSL rows) with that setting "
            "for that many epochs and is tested on the same test classes. Stage 1 (" + ("per trial" if any(
                len(v) > 1 for v in by.values()) else "chosen") + "): " + "; ".join(parts) + ".")


def summary_metrics(tables: list[dict]) -> dict:
    out = {}
    for t in tables:
        for r in t["rows"]:
            label = " / ".join(x for x in (r["method"], r["class_embeddings"], r.get("test")) if x)
            for c, cell in r["cells"].items():
                out[f"{t['kind']}: {label}: {c}"] = cell["mean"]
    return out


def trial_rows(records: list[dict]) -> list[dict]:
    """One row per trial and test modality (the columns of ``trial_columns``)."""
    rows = []
    for r in records:
        for mod, m in r["metrics"].items():
            row = {k: r[k] for k in TRIAL_COLUMNS[:6]} | {"setting": r.get("setting", "inductive"), "modality": mod}
            if "repeat" in r:  # zsl experiment --repeats
                row.update(repeat=r["repeat"], seed=r["seed"])
            for k in metric_columns():
                row[k] = m.get(k)
            if r.get("selection"):
                row["chosen"] = r["selection"]["label"]
                row["chosen_epoch"] = r["selection"]["epoch"]
            if r.get("stage1"):
                v = (r["stage1"].get("validation") or {}).get(mod) or {}
                row.update(stage1_epoch=r["stage1"]["epoch"], stage1_beta=v.get("beta"),
                           **{f"val_{k}": v.get(k) for k in ("S", "U", "HM")})
                if (r.get("stage2") or {}).get("refit"):
                    row.update(refit=True, stage1_metric=r["stage1"]["metric"], stage1_value=r["stage1"]["value"])
            ret = (r.get("retrieval") or {}).get(mod) or {}
            row.update({f"map_{k}": ret.get(k) for k in ("S", "U", "HM")})
            row["warnings"] = "; ".join(T.warning_messages([r]))  # validity warnings (zsltool.runtime.guards); "" if none
            rows.append(row)
    return rows


def trial_columns(rows: list[dict]) -> list[str]:
    """Every key of ``rows`` in first-seen order (rows of some trials have more columns than others), the
    validity warnings last."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    return [k for k in cols if k != "warnings"] + (["warnings"] if "warnings" in cols else [])
