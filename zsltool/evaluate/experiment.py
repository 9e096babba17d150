"""Paper protocols end to end: for every split file × trial × method × class-embedding source, train a model,
evaluate it, and aggregate the trials into the papers' tables.

Output folder layout (``out_dir``)::

    trials/<split>.t<K>.<method>.<semantic>.json   one zsl.results file per trial (with its config hash)
    checkpoints/<same name>.pt                     the trained checkpoint of that trial
    results.json                                   zsl.results (task "experiment"): records + tables
    trials.csv                                     one row per trial and test modality
    table.csv, table.md, table.tex                 the tables: tidy numeric CSV, Markdown, LaTeX

A trial whose JSON already exists with the same config hash (training config, input file hashes, evaluation
settings) is read back instead of recomputed, so an interrupted run continues where it stopped.
Models of a method family with a batched kernel (projection, bilinear, DeViSE, ALE, SJE) train together as
one stacked computation (``zsltool.train.engine``); each input file is read and hashed once per process.
``jobs > 1`` splits the trials into that many worker processes (spawned, each with ``threads`` torch
threads): the batchable trials in ``jobs`` balanced batches, every other trial on its own.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from zsltool.errors import ZslError
from zsltool.evaluate import tables as T
from zsltool.evaluate.results import (csv_text, load_results, make_manifest, results_doc,
                                      write_results)
from zsltool.utils import atomic_write_text, jsonable, sha256_file, sha256_json

log = logging.getLogger("zsltool.evaluate.experiment")
SEMANTIC_SOURCES = {"audio": ("audio_prototypes",), "image": ("image",), "text": ("text",),
                    "hybrid": ("image", "text")}


@dataclass
class ExperimentSpec:
    audio: str
    splits: list[str]
    out_dir: str
    video: str | None = None
    text: str | None = None
    image: str | None = None
    audio_prototypes: str | None = None
    hybrid: str | None = None                   # a ready class-level hybrid file (else image ‖ text)
    semantics: list[str] | None = None          # default: every source whose file(s) are given
    methods: list[str] = field(default_factory=lambda: ["projection"])
    method_args: dict = field(default_factory=dict)   # {method: {arg: value}}
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    patience: int | None = None
    modalities: list[str] = field(default_factory=lambda: ["both"])   # GZSL test modalities
    trials: list[int] | None = None
    seed: int = 0
    jobs: int = 1
    threads: int | None = None
    calibrate: bool = False
    retrieval: bool = True                      # GZSL: also retrieval S/U/HM of mAP (Mazumder et al. Table 2)
    device: str = "cpu"                         # auto, cpu or cuda: where every trial trains and is evaluated
    grid: dict | None = None                    # settings chosen per trial on validation (zsltool.train.grid)
    texts: dict | None = None                   # {NAME: FILE}: several text backends side by side (rows text:NAME)
    preset: str | None = None                   # "paper": the papers' literal method settings
    strict: bool = False                        # validity warnings are errors (not in the config hash)


def _column_label(split, path: Path) -> str:
    p = split.params or {}
    if split.protocol == "within" and p.get("category"):
        return str(p["category"])
    if split.protocol == "across" and p.get("categories"):
        return " + ".join(str(c) for c in p["categories"])
    if split.protocol in ("random", "folds"):   # the caption names the protocol and sizes, not the file
        return "Accuracy"
    return path.stem


def _semantics(spec: ExperimentSpec) -> list[str]:
    given = {k for k in ("text", "image", "audio_prototypes") if getattr(spec, k)} | ({"text"} if spec.texts else set())
    sems = spec.semantics or [s for s in T.SEMANTIC_ORDER
                              if set(SEMANTIC_SOURCES[s]) <= given or (s == "hybrid" and spec.hybrid)]
    if not sems:
        raise ZslError("no class-embedding source", hint="pass --text, --image and/or --audio-prototypes")
    for s in sems:
        if s not in SEMANTIC_SOURCES:
            raise ZslError(f"unknown class-embedding source {s!r}", hint="use audio, image, text or hybrid")
        missing = [] if (s == "hybrid" and spec.hybrid) else [k for k in SEMANTIC_SOURCES[s] if k not in given]
        if missing:
            opt = ", ".join("--" + k.replace("_", "-") for k in missing)
            raise ZslError(f"class embeddings {s!r} need {opt}")
    return sems


def plan(spec: ExperimentSpec) -> list[dict]:
    """Every unit of work (one trained + evaluated model) with its config hash."""
    from zsltool.classes.splits import load_split
    from zsltool.methods import METHOD_NAMES

    if not spec.splits:
        raise ZslError("no split file given", hint="pass --split FILE (repeat it for several columns)")
    bad = [m for m in spec.methods if m not in METHOD_NAMES]
    if bad:
        raise ZslError(f"unknown method {bad[0]!r}", hint=f"choose from {', '.join(sorted(METHOD_NAMES))}")
    sems = _semantics(spec)
    if spec.grid:
        from zsltool.train.grid import check_grid

        check_grid(spec.grid, spec.methods)
    files = {k: getattr(spec, k) for k in ("audio", "video", "text", "image", "audio_prototypes", "hybrid")
             if getattr(spec, k)}
    files.update({f"text:{n}": f for n, f in (spec.texts or {}).items()})
    # one row per text backend: (row label, semantic, text file)
    variants = []
    for s in sems:
        if s == "text" and spec.texts:
            variants += [(f"text:{n}", "text", f) for n, f in spec.texts.items()]
        elif s == "hybrid" and spec.texts and not spec.text and not spec.hybrid:
            raise ZslError("hybrid class embeddings with named --text files need --hybrid FILE or a plain --text FILE")
        else:
            variants.append((s, s, spec.text))
    hashes = {k: sha256_file(v) for k, v in files.items()}
    threads = spec.threads or max(1, (os.cpu_count() or 1) // max(1, spec.jobs))
    units, labels = [], {}
    for sp_path in spec.splits:
        split = load_split(sp_path)
        label = _column_label(split, Path(sp_path))
        if label in labels.values():
            label = Path(sp_path).stem
        labels[sp_path] = label
        ks = spec.trials if spec.trials is not None else range(len(split.trials))
        for k in ks:
            trial = split.trial(k)
            for m in spec.methods:
                for row, s, text_file in variants:
                    train = {"audio": spec.audio, "video": spec.video, "split": str(sp_path), "trial": int(k),
                             "semantic": s, "text": text_file, "image": spec.image,
                             "audio_prototypes": spec.audio_prototypes, "method": m,
                             "method_args": dict(spec.method_args.get(m, {})), "epochs": spec.epochs,
                             "batch_size": spec.batch_size, "lr": spec.lr, "optimizer": spec.optimizer,
                             "patience": spec.patience, "seed": spec.seed,
                             "semantic_file": spec.hybrid if s == "hybrid" else None}
                    if spec.grid:  # only when given: configs (and so resumed trials) without one are unchanged
                        train["grid"] = spec.grid
                    if spec.preset:
                        train["preset"] = spec.preset
                    evalc = {"modalities": list(spec.modalities), "calibrate": spec.calibrate,
                             "retrieval": spec.retrieval}
                    key = {"train": train, "eval": evalc, "inputs": hashes, "split_sha256": sha256_file(sp_path)}
                    name = f"{Path(sp_path).stem}.t{k}.{m}.{row.replace(':', '-')}"
                    units.append({"name": name, "config_hash": sha256_json(key), "train": train, "eval": evalc,
                                  **({"semantic": row} if row != s else {}),
                                  "column": label, "protocol": split.protocol, "task": "gzsl" if trial.is_gzsl
                                  else "zsl", "threads": threads, "device": spec.device, "strict": spec.strict,
                                  "out_dir": str(spec.out_dir)})  # device: not in the config hash
    names = [u["name"] for u in units]
    if len(set(names)) != len(names):
        raise ZslError("two split files share a file name", hint="give each split file a distinct name")
    return units


def trial_path(unit: dict) -> Path:
    return Path(unit["out_dir"]) / "trials" / f"{unit['name']}.json"


def _unit_config(unit: dict):
    from zsltool.train.config import TrainConfig

    ckpt = Path(unit["out_dir"]) / "checkpoints" / f"{unit['name']}.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    return TrainConfig(out=str(ckpt), overwrite=True, threads=unit["threads"], device=unit.get("device", "cpu"),
                       strict=unit.get("strict", False), **unit["train"])


def _evaluate_unit(unit: dict, tr) -> dict:
    """Evaluate one trained unit's checkpoint and write its trial file; returns its record."""
    from zsltool.evaluate.evaluate import evaluate_checkpoint, retrieve_checkpoint

    ckpt = Path(tr.checkpoint)
    device = unit.get("device", "cpu")
    by_mod, retr, docs = {}, {}, {}
    mods = unit["eval"]["modalities"] if unit["task"] == "gzsl" else ["both"]
    for mod in mods:
        d = evaluate_checkpoint(ckpt, modality=mod, calibrate=unit["eval"]["calibrate"] and unit["task"] == "gzsl",
                                seed=unit["train"]["seed"], device=device)
        docs[mod] = d
        by_mod[mod] = d["metrics"]
        if unit["task"] == "gzsl" and unit["eval"]["retrieval"]:
            r = retrieve_checkpoint(ckpt, modality=mod, top=1, seed=unit["train"]["seed"], device=device)
            retr[mod] = r["metrics"]
    first = docs[mods[0]]
    record = {k: unit[k] for k in ("name", "config_hash", "task", "column", "protocol")}
    record.update(split=unit["train"]["split"], trial=unit["train"]["trial"], method=unit["train"]["method"],
                  semantic=unit.get("semantic", unit["train"]["semantic"]), modality=mods[0], metrics=by_mod, retrieval=retr,
                  train={"best_metric": tr.best_metric, "best_value": tr.best_value, "best_epoch": tr.best_epoch,
                         "epochs_run": tr.epochs_run, "checkpoint": str(ckpt)})
    if tr.warnings:
        record["warnings"] = tr.warnings
    if tr.selection:
        record["selection"] = {k: tr.selection[k] for k in ("metric", "chosen", "label", "epoch", "value",
                                                             "candidates")}
    doc = results_doc(unit["task"], first["manifest"] | {"config": {"unit": unit}}, first["metrics"],
                      per_class=first.get("per_class"), confusion=first.get("confusion"),
                      config_hash=unit["config_hash"], record=record)
    write_results(trial_path(unit), doc, overwrite=True)
    return jsonable(record)


def run_unit(unit: dict) -> dict:
    """Train + evaluate one unit and write its trial file; returns its record."""
    return run_units([unit])[0]


def run_units(units: list[dict], batched: bool = True) -> list[dict]:
    """Train every unit (models of one method family as one batched computation, see
    ``zsltool.train.engine``), then evaluate each and write its trial file; returns the records in order.
    Every input file is read and hashed once (``run_cache``). Runs in-process or in a worker process."""
    import torch

    from zsltool.runcache import run_cache
    from zsltool.train.engine import train_jobs
    from zsltool.train.loop import choose, grid_jobs, prepare, write_checkpoint
    from zsltool.utils import check_output, resolve_device

    if not units:
        return []
    if units[0]["threads"]:
        torch.set_num_threads(int(units[0]["threads"]))
    device = resolve_device(units[0].get("device", "cpu"))
    with run_cache():
        cfgs = [_unit_config(u) for u in units]
        preps = [prepare(c) for c in cfgs]
        grids = [grid_jobs(p, c, name=u["name"]) for p, c, u in zip(preps, cfgs, units)]  # settings, jobs
        jobs = [j for _, js in grids for j in js]
        n_batch = sum(1 for j in jobs if j.cls.batched_kernel) if batched else 0
        log.info(f"training {len(jobs)} model(s)" + (f", {n_batch} of them batched" if n_batch > 1 else ""))
        results = train_jobs(jobs, device=device, batched=batched, tolerate_divergence=True)
        records, k = [], 0
        for n, (u, p, c, (settings, js)) in enumerate(zip(units, preps, cfgs, grids), 1):
            outs, k = results[k:k + len(js)], k + len(js)
            if len(js) == 1 and outs[0].error:
                raise ZslError(f"{u['name']}: {outs[0].error}", hint="lower --lr, or standardize the features "
                               "(--arg zscore=true)")
            chosen, selection = choose(p, c, settings, outs)
            tr = write_checkpoint(p, c, chosen, check_output(c.out, True), selection, device=device)
            records.append(_evaluate_unit(u, tr))
            log.info(f"[{n}/{len(units)}] done {u['name']}")
    return records


def _unit_cost(u: dict) -> int:
    """A training-cost estimate of a unit: the width of its class embeddings (the projection's rank)."""
    import h5py

    t = u["train"]
    files = [t["semantic_file"]] if t.get("semantic_file") else [
        t[k] for k in SEMANTIC_SOURCES.get(t["semantic"], ()) if t.get(k)]
    width = 0
    for f in files:
        try:
            with h5py.File(f, "r") as h:
                width += int(h["embeddings"].shape[1])
        except (OSError, KeyError, IndexError):
            width += 1
    return max(width, 1)


def _shards(units: list[dict], jobs: int) -> list[list[dict]]:
    """``jobs`` lists of batchable units of about equal training cost (longest first, each to the lightest
    list), then every other unit on its own."""
    from zsltool.methods.base import get_method

    batchable = [u for u in units if get_method(u["train"]["method"]).batched_kernel]
    rest = [u for u in units if not get_method(u["train"]["method"]).batched_kernel]
    n = max(1, jobs)
    shards: list[list[dict]] = [[] for _ in range(n)]
    load = [0] * n
    for u in sorted(batchable, key=_unit_cost, reverse=True):
        k = load.index(min(load))
        shards[k].append(u)
        load[k] += _unit_cost(u)
    return [s for s in shards if s] + [[u] for u in rest]


def finished_record(unit: dict) -> dict | None:
    p = trial_path(unit)
    if not p.exists():
        return None
    try:
        doc = load_results(p)
    except ZslError:
        return None
    if doc.get("config_hash") != unit["config_hash"] or "record" not in doc:
        return None
    return doc["record"]


def run_experiment(spec: ExperimentSpec, progress=None) -> dict:
    """Run (or resume) every unit, then write results.json, trials.csv and the tables; returns the results doc.

    The output folder is locked for the run (one writer per output; see zsltool.safety.OutputLock); every
    input is read and hashed once in this process (zsltool.runcache)."""
    from zsltool.runcache import run_cache
    from zsltool.safety import OutputLock, output_folder, remove_if_empty

    created = not Path(spec.out_dir).exists()
    out = output_folder(spec.out_dir, "experiment")
    try:
        with OutputLock(out, out, name=".zsl-lock"), run_cache():
            return _run_experiment(spec, progress)
    except BaseException:
        if created:  # a run that failed before writing anything leaves no folder behind
            remove_if_empty(out, ignore=(".zsl-lock",))
        raise


def _run_experiment(spec: ExperimentSpec, progress=None) -> dict:
    import multiprocessing as mp

    units = plan(spec)
    out = Path(spec.out_dir)
    records: dict[str, dict] = {}
    todo = []
    for u in units:
        rec = finished_record(u)
        if rec is not None:
            records[u["name"]] = rec
        else:
            todo.append(u)
    log.info(f"experiment: {len(units)} trials, {len(units) - len(todo)} already done, {len(todo)} to run "
             f"with {spec.jobs} job(s)")
    if spec.jobs <= 1 or len(todo) <= 1:
        for u, rec in zip(todo, run_units(todo)):
            records[u["name"]] = rec
    else:
        shards = _shards(todo, spec.jobs)
        with ProcessPoolExecutor(max_workers=spec.jobs, mp_context=mp.get_context("spawn")) as ex:
            futs = [(shard, ex.submit(run_units, shard)) for shard in shards]
            for shard, f in futs:
                for u, rec in zip(shard, f.result()):
                    records[u["name"]] = rec
    ordered = [records[u["name"]] for u in units]
    tables = build_tables(ordered)
    inputs = [p for p in [spec.audio, spec.video, spec.text, *(spec.texts or {}).values(), spec.image,
                          spec.audio_prototypes, spec.hybrid,
                          *spec.splits] if p]
    warnings = list({w["message"]: w for r in ordered for w in r.get("warnings") or []}.values())
    doc = results_doc("experiment", make_manifest(asdict(spec), inputs, spec.seed), summary_metrics(tables),
                      tables=tables, trials=ordered, ran=len(todo), reused=len(units) - len(todo),
                      **({"warnings": warnings} if warnings else {}))
    write_results(out / "results.json", doc, overwrite=True)
    atomic_write_text(out / "trials.csv", csv_text(trial_rows(ordered)))
    T.write_table_files(out, tables)       # table.csv (tidy, numeric), table.md, table.tex
    return doc


def build_tables(records: list[dict]) -> list[dict]:
    tabs = []
    if any(r["task"] == "zsl" for r in records):
        tabs.append(T.zsl_table(records))
    if any(r["task"] == "gzsl" for r in records):
        tabs.append(T.gzsl_table(records))
        if any(r.get("retrieval") for r in records if r["task"] == "gzsl"):
            tabs.append(T.gzsl_table(records, retrieval=True))
    cap = selection_caption(records)
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
    return f"Settings chosen on validation ({', '.join(sorted(metric))}) per trial: " + "; ".join(parts) + "."


def summary_metrics(tables: list[dict]) -> dict:
    out = {}
    for t in tables:
        for r in t["rows"]:
            label = " / ".join(x for x in (r["method"], r["class_embeddings"], r.get("test")) if x)
            for c, cell in r["cells"].items():
                out[f"{t['kind']}: {label}: {c}"] = cell["mean"]
    return out


def trial_rows(records: list[dict]) -> list[dict]:
    rows = []
    for r in records:
        for mod, m in r["metrics"].items():
            row = {"split": r["split"], "column": r["column"], "trial": r["trial"], "method": r["method"],
                   "semantic": r["semantic"], "task": r["task"], "modality": mod}
            for k in ("top1", "mean_class_acc", "S", "U", "HM", "AUSUC", "beta"):
                row[k] = m.get(k)
            if r.get("selection"):
                row["chosen"] = r["selection"]["label"]
                row["chosen_epoch"] = r["selection"]["epoch"]
            ret = (r.get("retrieval") or {}).get(mod) or {}
            row.update({f"map_{k}": ret.get(k) for k in ("S", "U", "HM")})
            rows.append(row)
    return rows
