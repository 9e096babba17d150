"""The results file (JSON, ``format: zsl.results``): run manifest, metrics, per-class rows, confusion matrix.

Every file written here is atomic and refuses to replace an existing file without ``overwrite``.
Per-class accuracy and the confusion matrix also go to CSV next to the JSON (``<stem>.per_class.csv``,
``<stem>.confusion.csv``).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Sequence

from zsltool.errors import ZslError
from zsltool.files.formats import load_json_file, register_inspector
from zsltool.files.checks import atomic_write_json, atomic_write_text, check_output
from zsltool.files.provenance import input_record, jsonable, stamp

FORMAT = "zsl.results"
FORMAT_VERSION = 1
TASKS = ("zsl", "gzsl", "retrieval", "experiment", "compare")


def make_manifest(config: dict, inputs: Sequence[str | os.PathLike | dict] = (), seed: int | None = None) -> dict:
    """The run manifest: zsl version, command line, config, input files with sha256, seed, time."""
    recs = [i if isinstance(i, dict) else input_record(i) for i in inputs if i is not None]
    return {**stamp(), "config": jsonable(config), "inputs": recs, "seed": seed}


def results_doc(task: str, manifest: dict, metrics: dict, **extra) -> dict:
    if task not in TASKS:
        raise ValueError(f"unknown results task {task!r}")
    return jsonable({"format": FORMAT, "format_version": FORMAT_VERSION, "task": task, "manifest": manifest,
                     "metrics": metrics, **extra})


def write_results(path: str | os.PathLike, doc: dict, overwrite: bool = False) -> Path:
    p = check_output(path, overwrite)
    atomic_write_json(p, jsonable(doc))
    return p


def load_results(path: str | os.PathLike) -> dict:
    data = load_json_file(path, FORMAT, "results")
    if "metrics" not in data or "manifest" not in data:
        raise ZslError(f"{path}: results file has no metrics or manifest", hint=f"run `zsl inspect --check {path}`")
    return data


def csv_text(rows: list[dict], columns: list[str] | None = None) -> str:
    columns = columns or (list(rows[0].keys()) if rows else [])
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in jsonable(r).items()})
    return buf.getvalue()


def write_csv(path: str | os.PathLike, rows: list[dict], columns: list[str] | None = None,
              overwrite: bool = False) -> Path:
    p = check_output(path, overwrite)
    atomic_write_text(p, csv_text(rows, columns))
    return p


def confusion_csv_text(cm, class_ids: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["true\\pred", *class_ids])
    for cid, row in zip(class_ids, jsonable(cm)):
        w.writerow([cid, *row])
    return buf.getvalue()


def sidecar_paths(path: str | os.PathLike) -> dict[str, Path]:
    p = Path(path)
    stem = p.name[:-5] if p.name.endswith(".json") else p.name
    return {"per_class": p.with_name(stem + ".per_class.csv"), "confusion": p.with_name(stem + ".confusion.csv")}


def write_evaluation(path: str | os.PathLike, doc: dict, overwrite: bool = False) -> dict[str, Path]:
    """Write the results JSON and its CSV side files (per-class rows, confusion matrix when present)."""
    side = sidecar_paths(path)
    targets = {"results": Path(path), **{k: side[k] for k in ("per_class", "confusion") if doc.get(k)}}
    for t in targets.values():  # check all before writing any
        check_output(t, overwrite)
    written = {"results": write_results(path, doc, overwrite=True)}
    if "per_class" in targets:
        written["per_class"] = write_csv(targets["per_class"], doc["per_class"], overwrite=True)
    if "confusion" in targets:
        conf = doc["confusion"]
        atomic_write_text(targets["confusion"], confusion_csv_text(conf["matrix"], conf["classes"]))
        written["confusion"] = targets["confusion"]
    return written


@register_inspector(FORMAT)
def _inspect(data: dict, path: Path) -> tuple[dict, list[str]]:
    problems = []
    man = data.get("manifest")
    if not isinstance(man, dict):
        problems.append("no run manifest")
        man = {}
    else:
        for k in ("zsl_version", "command", "config", "inputs", "seed"):
            if k not in man:
                problems.append(f"manifest lacks {k!r}")
    if data.get("task") not in TASKS:
        problems.append(f"unknown task {data.get('task')!r}")
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        problems.append("no metrics")
        metrics = {}
    flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) or v is None}
    summary = {"type": "results", "task": data.get("task"), "metrics": flat,
               "inputs": len(man.get("inputs", []) or []), "seed": man.get("seed"),
               "created_utc": man.get("created_utc"), "per_class_rows": len(data.get("per_class", []) or [])}
    if "trials" in data:
        summary["trials"] = len(data.get("trials") or [])
    return summary, problems
