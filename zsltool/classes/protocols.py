"""The evaluation protocols: their names, help and options, and ``make_split``, the one entry point. The
generators live in ``zsltool.classes.split_classes`` (random, within, across, folds) and
``zsltool.classes.split_gzsl`` (gzsl); the split protocols of Dogan et al. (Section IV-A) and AudioSetZSL-style GZSL:

- ``random``: disjoint train/val/test classes (default: a third each; 23/23/23 of the 69 classes).
- ``within``: zero-shot inside one category: test 2, train = val = (n-2)//2 (MI 8, A 6, V 4 as in the paper).
- ``across``: 2+ categories, the same number from each in every subset, limited by the smallest category:
  train = val = (m-1)//2 and test 1 per category (4/4/1 with Vehicle's 10 classes).
- ``gzsl``: seen/unseen classes; the seen classes' instances split (per class, seeded) into train/val/test_seen.
- ``folds``: K class folds; trial k tests fold k, validates on the next ``val_folds`` folds, trains on the rest.

Every trial k draws from ``numpy.random.default_rng([seed, k])``: trial k does not depend on how many
trials are asked for, and the same seed gives the same split.
"""

from __future__ import annotations

import os
from pathlib import Path

from zsltool.classes.classset import ClassSet
from zsltool.classes.split_classes import split_across, split_folds, split_random, split_within
from zsltool.classes.split_gzsl import split_gzsl
from zsltool.errors import ZslError


# One line per protocol, for --protocol's help and the docs.
PROTOCOL_HELP = {
    "random": "disjoint train/val/test classes drawn at random, a third each by default (Dogan et al. Table III)",
    "within": "zero-shot inside one category (--category): 2 test classes, the rest split train/val (Table IV)",
    "across": "2+ categories (--categories), the same number of train/val/test classes from each (Table V)",
    "gzsl": "generalized zero-shot: seen/unseen classes, each seen class's clips split into train/val/test_seen "
            "(--instances; AVGZSLNet)",
    "folds": "K class folds (--folds): trial k tests fold k, validates on the next fold, trains on the rest",
}

PROTOCOL_OPTIONS = {
    "random": {"sizes", "trials", "preset"},
    "within": {"category", "sizes", "trials", "membership"},
    "across": {"categories", "sizes", "trials", "membership"},
    "gzsl": {"seen", "unseen", "instances", "fractions", "trials", "unseen_val_fraction"},
    "folds": {"folds", "val_folds"},
}


def make_split(classes: str | os.PathLike, protocol: str, out: str | os.PathLike, *, seed: int = 0,
               overwrite: bool = False, strict: bool = False, **opts) -> dict:
    """Generate a split for ``protocol`` from the class-set file ``classes``, write it, return a summary.

    ``opts`` that are None are ignored; an option the protocol does not use is a ZslError. A random split
    whose ``sizes`` leave classes in no partition is warned about (``params.warnings``; with ``strict`` a
    ZslError), naming the classes.
    """
    from zsltool.guards import report, split_remainder

    from zsltool.utils import check_output, input_record

    if protocol not in PROTOCOL_OPTIONS:
        raise ZslError(f"unknown protocol {protocol!r}", hint=f"use one of {', '.join(PROTOCOL_OPTIONS)}")
    given = {k: v for k, v in opts.items() if v is not None}
    bad = sorted(set(given) - PROTOCOL_OPTIONS[protocol])
    if bad:
        raise ZslError(f"--{bad[0].replace('_', '-')} does not apply to --protocol {protocol}",
                       hint=f"{protocol} takes: {', '.join('--' + o.replace('_', '-') for o in sorted(PROTOCOL_OPTIONS[protocol]))}")
    check_output(out, overwrite)
    cs = ClassSet.load(classes)
    inputs = [input_record(classes)]
    if protocol == "random":
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
    elif protocol == "within":
        if "category" not in given:
            raise ZslError("--protocol within needs --category", hint="e.g. --category Animal")
        s = split_within(cs, seed=seed, **given)
    elif protocol == "across":
        if "categories" not in given:
            raise ZslError("--protocol across needs --categories", hint="e.g. --categories Animal,Vehicle")
        s = split_across(cs, seed=seed, **given)
    elif protocol == "gzsl":
        if "instances" not in given:
            raise ZslError("--protocol gzsl needs --instances (a clip manifest .csv or an embedding file .h5)",
                       hint="e.g. --instances clips.csv")
        s = split_gzsl(cs, seed=seed, **given)
        inputs += [input_record(given["instances"])]
        inputs += [input_record(given[k]) for k in ("seen", "unseen")
                   if isinstance(given.get(k), (str, os.PathLike))]
    else:
        s = split_folds(cs, seed=seed, **given)
    if "membership" in given and Path(str(given["membership"])).exists():
        inputs.append(input_record(given["membership"]))
    p = s.save(out, overwrite=overwrite, inputs=inputs)
    names = dict(zip(cs.ids, cs.names))
    trials = []
    for k, t in enumerate(s.trials):
        row = {"trial": k}
        if t.is_gzsl:
            row.update(seen=len(t.seen), unseen=len(t.unseen),
                       **{f"inst_{a}": len(b) for a, b in t.instances.items()},
                       inst_test_unseen=s.params["n_test_unseen"][k])
        else:
            row.update(train=len(t.train), val=len(t.val), test=len(t.test),
                       test_classes=[names[c] for c in t.test])
        trials.append(row)
    return {"out": str(p), "protocol": s.protocol, "seed": s.seed, "class_set_sha256": s.class_set_sha256,
            "params": {k: v for k, v in s.params.items() if k not in ("classes", "fold_classes")}, "trials": trials}
