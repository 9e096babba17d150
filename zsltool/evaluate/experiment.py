"""Paper protocols end to end: for every split file × trial × method × class-embedding source, train a model,
evaluate it, and aggregate the trials into the papers' tables.

Output folder layout (``out_dir``)::

    trials/<split>.t<K>.<method>.<semantic>.json   one zsl.results file per trial (with its config hash)
    checkpoints/<same name>.pt                     the trained checkpoint of that trial
    results.json                                   zsl.results (task "experiment"): records + tables
    trials.csv                                     one row per trial and test modality
    table.csv, table.md, table.tex                 the tables: tidy numeric CSV, Markdown, LaTeX

With ``two_stage`` each trial is a pair of split trials run as the two-stage GZSL protocol
(``zsltool.evaluate.two_stage``); with ``refit`` each trial with validation data is run the same way, its
stage 2 retraining on training + validation (refit after selection; the default, ``refit=False`` trains on
the training classes only, as the papers' protocols do). Units are trained and evaluated in ``zsltool.evaluate.units``; records become
tables, captions and ``trials.csv`` rows in ``zsltool.evaluate.aggregate``.

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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from zsltool.classes.protocols import PROTOCOLS
from zsltool.errors import ZslError
from zsltool.names import SEMANTIC_INPUTS, SEMANTIC_SOURCES, file_option
from zsltool.runtime.progress import count_of
from zsltool.evaluate import tables as T
from zsltool.evaluate.aggregate import build_tables, summary_metrics, trial_columns, trial_rows
from zsltool.evaluate.results import csv_text, make_manifest, results_doc, write_results
from zsltool.evaluate.trialfiles import PER_TRIAL, expand, input_files, templates
from zsltool.evaluate.unit import Stages, Unit, UnitEval, UnitTrain, config_hash
from zsltool.evaluate.units import (finished_record, run_unit, run_units,  # noqa: F401
                                    transductive_records)
from zsltool.files.checks import atomic_write_text
from zsltool.files.provenance import sha256_file, sha256_json

log = logging.getLogger("zsltool.evaluate.experiment")


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
    two_stage: bool = False                     # the two-stage GZSL protocol (zsltool.evaluate.two_stage)
    repeats: int = 1                            # each trial trained this many times, seeds seed … seed+N-1
    transductive: list[str] | None = None       # refiners (zsltool.evaluate.transductive): rows of their own
    refit: bool | None = None                   # refit after selection on train + validation (same module);
    # None: on for every trial with validation data (decided by benchmarks/bench_refit.py; docs/evaluate.md)


def _column_label(split, path: Path, only: bool = False) -> str:
    """The table column of one split: its protocol's ``column`` (within: the category; random, folds: "Accuracy"),
    else "Accuracy" for the only ZSL split given, else the file's stem."""
    proto = PROTOCOLS.get(split.protocol)
    label = proto.column(split.params or {}) if proto else None
    if label:
        return label
    if only and not any(t.is_gzsl for t in split.trials):
        return "Accuracy"  # the caption names the protocol and sizes, not the file
    return path.stem


def _semantics(spec: ExperimentSpec) -> list[str]:
    given = {f for fs in SEMANTIC_INPUTS.values() for f in fs if getattr(spec, f)} | ({"text"} if spec.texts else set())
    sems = spec.semantics or [s for s in T.SEMANTIC_ORDER
                              if set(SEMANTIC_INPUTS[s]) <= given or (s == "hybrid" and spec.hybrid)]
    if not sems:
        raise ZslError("no class-embedding source", hint="pass --text, --image and/or --audio-prototypes")
    for s in sems:
        if s not in SEMANTIC_INPUTS:
            raise ZslError(f"unknown class-embedding source {s!r}", hint=f"use {', '.join(SEMANTIC_SOURCES)}")
        missing = [] if (s == "hybrid" and spec.hybrid) else [k for k in SEMANTIC_INPUTS[s] if k not in given]
        if missing:
            opt = ", ".join(file_option(k) for k in missing)
            raise ZslError(f"class embeddings {s!r} need {opt}")
    return sems


def eval_config(spec: ExperimentSpec, stages, refit: bool) -> UnitEval:
    """A unit's evaluation settings (part of its config hash). Refit: GZSL's beta from stage 1's validation
    rows (when they include unseen ones); a two-stage pair: beta from stage 1, so --calibrate does not apply."""
    return UnitEval(modalities=tuple(spec.modalities), calibrate=spec.calibrate and not (stages and not refit),
                    retrieval=spec.retrieval, refit=refit, two_stage=tuple(stages) if stages and not refit else None,
                    transductive=tuple(dict.fromkeys(spec.transductive or ())))


def plan(spec: ExperimentSpec) -> list[Unit]:
    """Every unit of work (one trained + evaluated model) with its config hash."""
    from zsltool.classes.splits import load_split
    from zsltool.evaluate.two_stage import stage_pairs, unit_stages
    from zsltool.methods.names import METHOD_NAMES

    if not spec.splits:
        raise ZslError("no split file given", hint="pass --split FILE (repeat it for several columns)")
    bad = [m for m in spec.methods if m not in METHOD_NAMES]
    if bad:
        raise ZslError(f"unknown method {bad[0]!r}", hint=f"choose from {', '.join(sorted(METHOD_NAMES))}")
    sems = _semantics(spec)
    if spec.two_stage and spec.calibrate:  # the protocol's own beta: --calibrate asks for nothing more (eval_config)
        log.info("--two-stage always uses calibrated stacking: beta is chosen on stage 1's validation rows (seen and "
                 "unseen validation classes) and stage 2 is tested with it; --calibrate changes nothing")
    if spec.grid:
        from zsltool.train.grid import check_grid

        check_grid(spec.grid, spec.methods)
    if spec.transductive:
        from zsltool.evaluate.transductive import refiner

        for name in spec.transductive:
            refiner(name)
    per_trial = templates(spec)  # --audio 'audio.fold{fold}.h5': one file per trial (zsltool.evaluate.trialfiles)
    files = {k: getattr(spec, k) for k in ("audio", "video", "text", "image", "audio_prototypes", "hybrid")
             if getattr(spec, k) and k not in per_trial}
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
        label = _column_label(split, Path(sp_path), only=len(spec.splits) == 1)
        if label in labels.values():
            label = Path(sp_path).stem
        labels[sp_path] = label
        pairs = stage_pairs(split, two_stage=spec.two_stage)  # two-stage: (stage-1, stage-2) trials
        ks = spec.trials if spec.trials is not None else range(len(pairs) if pairs else len(split.trials))
        for k in ks:
            stages, refit = unit_stages(split, pairs, k, spec.refit is not False)  # refit: stage 2 on train + val
            trial = split.trial(stages[0] if stages else k)
            own = {n: expand(t, sp_path, k, file_option(n)) for n, t in per_trial.items()}
            f = {n: own.get(n, getattr(spec, n)) for n in PER_TRIAL}  # this trial's feature files
            own_hashes = {**hashes, **{n: sha256_file(f) for n, f in own.items()}}
            for m in spec.methods:
                for row, s, text_file in variants:
                    train = UnitTrain(audio=f["audio"], video=f["video"], split=str(sp_path),
                                      trial=int(stages[0] if stages else k), semantic=s, text=text_file,
                                      image=f["image"], audio_prototypes=f["audio_prototypes"], method=m,
                                      method_args=dict(spec.method_args.get(m, {})), epochs=spec.epochs,
                                      batch_size=spec.batch_size, lr=spec.lr, optimizer=spec.optimizer,
                                      patience=spec.patience, seed=spec.seed,
                                      semantic_file=f["hybrid"] if s == "hybrid" else None,
                                      grid=spec.grid or None, preset=spec.preset or None)
                    evalc = eval_config(spec, stages, refit)
                    units.append(Unit(
                        name=f"{Path(sp_path).stem}.t{k}.{m}.{row.replace(':', '-')}",
                        config_hash=config_hash(train, evalc, own_hashes, sha256_file(sp_path)), train=train,
                        eval=evalc, semantic=row if row != s else None,
                        two_stage=Stages(int(stages[0]), int(stages[1]), refit) if stages else None, column=label,
                        protocol="two-stage" if stages and not refit else split.protocol,
                        task="gzsl" if trial.is_gzsl else "zsl", threads=threads, device=spec.device,
                        strict=spec.strict, out_dir=str(spec.out_dir)))  # device: not in the config hash
    units = repeat_units(units, spec.repeats)
    _check_distinct(spec, [u.name for u in units])
    return units


def repeat_units(units: list[Unit], repeats: int) -> list[Unit]:
    """Each unit ``repeats`` times, repeat r trained with seed + r (named ``<split>.t<K>.r<r>.<method>.<row>``,
    its config hash the unit's and the seed's); the units unchanged with one repeat. The tables average over
    trials × repeats, so a row of one split is an estimate over training runs, not one run's luck."""
    if int(repeats) < 1:
        raise ZslError(f"--repeats must be at least 1, not {repeats}", hint="e.g. --repeats 5")
    if int(repeats) == 1:
        return units
    out = []
    for u in units:
        head, method, row = u.name.rsplit(".", 2)
        for r in range(int(repeats)):
            seed = int(u.train.seed) + r
            out.append(replace(u, name=f"{head}.r{r}.{method}.{row}", train=replace(u.train, seed=seed),
                               config_hash=sha256_json({"unit": u.config_hash, "seed": seed}), repeat=r))
    return out


def _check_distinct(spec: ExperimentSpec, names: list[str]) -> None:
    """ZslError naming why two units would share a name (and so a trial file)."""
    if len(set(names)) == len(names):
        return
    for what, values in (("method", list(spec.methods)), ("trial", list(spec.trials or [])),
                         ("split file", [str(Path(s).resolve()) for s in spec.splits])):
        twice = [v for v in dict.fromkeys(values) if values.count(v) > 1]
        if twice:
            raise ZslError(f"{what} {twice[0]!r} is given twice", hint=f"give each {what} once")
    raise ZslError("two split files share a file name", hint="give each split file a distinct name")


def _unit_cost(u: Unit) -> int:
    """A training-cost estimate of a unit: the width of its class embeddings (the projection's rank)."""
    import h5py

    t = u.train
    files = [t.semantic_file] if t.semantic_file else [
        getattr(t, k) for k in SEMANTIC_INPUTS.get(t.semantic, ()) if getattr(t, k)]
    width = 0
    for f in files:
        try:
            with h5py.File(f, "r") as h:
                width += int(h["embeddings"].shape[1])
        except (OSError, KeyError, IndexError):
            width += 1
    return max(width, 1)


def _shards(units: list[Unit], jobs: int) -> list[list[Unit]]:
    """``jobs`` lists of batchable units of about equal training cost (longest first, each to the lightest
    list), then every other unit on its own."""
    from zsltool.methods.base import get_method
    from zsltool.train.kernels import batches_on
    from zsltool.runtime.env import resolve_device

    def batched(u):  # on this device (``auto`` resolved: the audio-visual kernel batches on a GPU only)
        return batches_on(get_method(u.train.method), resolve_device(u.device))

    batchable = [u for u in units if batched(u)]
    rest = [u for u in units if not batched(u)]
    n = max(1, jobs)
    shards: list[list[Unit]] = [[] for _ in range(n)]
    load = [0] * n
    for u in sorted(batchable, key=_unit_cost, reverse=True):
        k = load.index(min(load))
        shards[k].append(u)
        load[k] += _unit_cost(u)
    return [s for s in shards if s] + [[u] for u in rest]


def run_experiment(spec: ExperimentSpec, progress=None) -> dict:
    """Run (or resume) every unit, then write results.json, trials.csv and the tables; returns the results doc.

    The output folder is locked for the run (one writer per output; see zsltool.files.safety.OutputLock); every
    input is read once in this process (zsltool.files.runcache)."""
    from zsltool.files.runcache import run_cache
    from zsltool.files.checks import output_folder
    from zsltool.files.safety import OutputLock, remove_if_empty

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
    units = plan(spec)
    out = Path(spec.out_dir)
    records = {u.name: rec for u in units if (rec := finished_record(u)) is not None}
    todo = [u for u in units if u.name not in records]
    log.info(f"experiment: {count_of(len(units), 'trial')}, {len(units) - len(todo)} already done, {len(todo)} "
             f"to run with {count_of(spec.jobs, 'job')}")
    if spec.jobs <= 1 or len(todo) <= 1:
        shards, done = [todo], [run_units(todo)]
    else:
        from zsltool.evaluate.workers import run_in_workers

        shards = _shards(todo, spec.jobs)
        done = run_in_workers(run_units, shards, spec.jobs)
    records |= {u.name: rec for shard, recs in zip(shards, done) for u, rec in zip(shard, recs)}
    ordered = [r for u in units for r in transductive_records(records[u.name])]
    tables = build_tables(ordered)
    inputs = [p for p in [*input_files(spec, units), spec.text, *(spec.texts or {}).values(),
                          *spec.splits] if p]
    warnings = list({w["message"]: w for r in ordered for w in r.get("warnings") or []}.values())
    doc = results_doc("experiment", make_manifest(asdict(spec), inputs, spec.seed), summary_metrics(tables),
                      tables=tables, trials=ordered, ran=len(todo), reused=len(units) - len(todo),
                      **({"warnings": warnings} if warnings else {}))
    write_results(out / "results.json", doc, overwrite=True)
    rows = trial_rows(ordered)
    atomic_write_text(out / "trials.csv", csv_text(rows, trial_columns(rows)))
    T.write_table_files(out, tables)       # table.csv (tidy, numeric), table.md, table.tex
    return doc
