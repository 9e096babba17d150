"""The evaluation protocols: their names, help and options (``PROTOCOLS``), and ``make_split``, the one entry
point. The generators, and the protocols' rules, live in ``zsltool.classes.split_classes`` (random, within,
across, folds: Dogan et al., Section IV-A) and ``zsltool.classes.split_gzsl`` (gzsl, AudioSetZSL-style).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from zsltool.classes.classset import ClassSet
from zsltool.classes.split_classes import split_across, split_folds, split_random, split_within
from zsltool.classes.split_gzsl import split_gzsl
from zsltool.errors import ZslError
from zsltool.files.checks import check_output
from zsltool.files.provenance import input_record


@dataclass(frozen=True)
class Protocol:
    """A split protocol of ``zsl split``. ``help``: one line for ``--protocol``'s help and the docs; ``options``:
    the keywords of :func:`make_split` (the ``zsl split`` options) it takes; ``caption``: how tables and reports
    name a split of it; ``make(cs, seed, given, strict) -> (Split, [extra input paths])`` generates it from the
    options given; ``column(params)``: the experiment table's column of such a split (None: the split file's
    stem, or "Accuracy" when it is the only split); ``requires``: the option it cannot do without, and a hint."""

    help: str
    options: frozenset
    caption: str
    make: Callable[..., tuple]
    column: Callable[[dict], str | None] = lambda params: None
    requires: tuple[str, str] | None = None


def _plain(generator: Callable) -> Callable[..., tuple]:
    """The ``make`` of a protocol whose generator takes the options as given and reads no other file."""
    return lambda cs, seed, given, strict: (generator(cs, seed=seed, **given), [])


def _random(cs, seed, given, strict):
    from zsltool.runtime.guards import report, split_remainder

    if "preset" in given and ("sizes" in given or "trials" in given):
        raise ZslError(f"--preset {given['preset']} fixes the classes of its one trial: "
                       f"--{'sizes' if 'sizes' in given else 'trials'} does not apply",
                       hint="drop --sizes/--trials, or drop --preset for seeded random trials")
    s = split_random(cs, seed=seed, **given)
    if "preset" not in given:
        warnings = report(split_remainder(list(cs.ids), s.trials), strict,
                          hint="give --sizes that add up to the number of classes (or leave --sizes out)")
        if warnings:
            s.params["warnings"] = warnings
    return s, []


def _gzsl(cs, seed, given, strict):
    if "instances" not in given:
        raise ZslError("--protocol gzsl needs --instances (a clip manifest .csv or an embedding file .h5)",
                       hint="e.g. --instances clips.csv")
    extra = [given["instances"]] + [given[k] for k in ("seen", "unseen")
                                    if isinstance(given.get(k), (str, os.PathLike))]
    return split_gzsl(cs, seed=seed, **given), extra


def _accuracy(params: dict) -> str:
    return "Accuracy"  # the caption names the protocol and sizes, not the file


# The registry: zsl split's --protocol choices (the names also in zsltool.names.SPLIT_PROTOCOLS, for split files).
PROTOCOLS: dict[str, Protocol] = {
    "random": Protocol(
        "disjoint train/val/test classes drawn at random, a third each by default (Dogan et al. Table III)",
        frozenset({"sizes", "trials", "preset"}), "random class split", _random, _accuracy),
    "within": Protocol(
        "zero-shot inside one category (--category): 2 test classes, the rest split train/val (Table IV)",
        frozenset({"category", "sizes", "trials", "membership"}), "within-category class split",
        _plain(split_within), lambda p: str(p["category"]) if p.get("category") else None,
        requires=("category", "e.g. --category Animal")),
    "across": Protocol(
        "2+ categories (--categories), the same number of train/val/test classes from each (Table V)",
        frozenset({"categories", "sizes", "trials", "membership"}), "across-category class split",
        _plain(split_across), lambda p: " + ".join(str(c) for c in p["categories"]) if p.get("categories") else None,
        requires=("categories", "e.g. --categories Animal,Vehicle")),
    "gzsl": Protocol(
        "generalized zero-shot: seen/unseen classes, each seen class's clips split into train/val/test_seen "
        "(--instances; AVGZSLNet)",
        frozenset({"seen", "unseen", "instances", "fractions", "trials", "unseen_val_fraction"}), "GZSL split",
        _gzsl),
    "folds": Protocol(
        "K class folds (--folds): trial k tests fold k, validates on the next fold, trains on the rest",
        frozenset({"folds", "val_folds"}), "class-fold split", _plain(split_folds), _accuracy),
}


def protocol_help() -> str:
    """``--protocol``'s help: every protocol's line."""
    return "; ".join(f"{k}: {p.help}" for k, p in PROTOCOLS.items()) + "."


def make_split(classes: str | os.PathLike, protocol: str, out: str | os.PathLike, *, seed: int = 0,
               overwrite: bool = False, strict: bool = False, **opts) -> dict:
    """Generate a split for ``protocol`` from the class-set file ``classes``, write it, return a summary.

    ``opts`` that are None are ignored; an option the protocol does not use is a ZslError. A random split
    whose ``sizes`` leave classes in no partition is warned about (``params.warnings``; with ``strict`` a
    ZslError), naming the classes.
    """
    if protocol not in PROTOCOLS:
        raise ZslError(f"unknown protocol {protocol!r}", hint=f"use one of {', '.join(PROTOCOLS)}")
    given = {k: v for k, v in opts.items() if v is not None}
    takes = PROTOCOLS[protocol].options
    bad = sorted(set(given) - takes)
    if bad:
        raise ZslError(f"--{bad[0].replace('_', '-')} does not apply to --protocol {protocol}",
                       hint=f"{protocol} takes: {', '.join('--' + o.replace('_', '-') for o in sorted(takes))}")
    check_output(out, overwrite)
    cs = ClassSet.load(classes)
    need = PROTOCOLS[protocol].requires
    if need and need[0] not in given:
        raise ZslError(f"--protocol {protocol} needs --{need[0]}", hint=need[1])
    s, extra = PROTOCOLS[protocol].make(cs, seed, given, strict)
    inputs = [input_record(classes)] + [input_record(p) for p in extra]
    if "membership" in given and Path(str(given["membership"])).exists():
        inputs.append(input_record(given["membership"]))
    p = s.save(out, overwrite=overwrite, inputs=inputs)
    names = dict(zip(cs.ids, cs.names))
    trials = []
    for k, t in enumerate(s.trials):
        row = {"trial": k, **t.sizes()}
        if t.is_gzsl:
            row["inst_test_unseen"] = s.params["n_test_unseen"][k]
        else:
            row["test_classes"] = [names[c] for c in t.test]
        trials.append(row)
    return {"out": str(p), "protocol": s.protocol, "seed": s.seed, "class_set_sha256": s.class_set_sha256,
            "params": {k: v for k, v in s.params.items() if k not in ("classes", "fold_classes")}, "trials": trials}
