"""Class partitions for the zero-shot protocols of Dogan et al. (Section IV-A), and K class folds.

- ``random``: disjoint train/val/test classes (default: a third each; 23/23/23 of the 69 classes).
- ``within``: zero-shot inside one category: test 2, train = val = (n-2)//2 (MI 8, A 6, V 4 as in the paper).
- ``across``: 2+ categories, the same number from each in every subset, limited by the smallest category:
  train = val = (m-1)//2 and test 1 per category (4/4/1 with Vehicle's 10 classes).
- ``folds``: K class folds; trial k tests fold k, validates on the next ``val_folds`` folds, trains on the rest.

Every trial k draws from ``numpy.random.default_rng([seed, k])``: trial k does not depend on how many
trials are asked for, and the same seed gives the same split.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Sequence

from zsltool.classes.classset import ClassSet
from zsltool.classes.presets import membership_preset, split_preset as preset_classes
from zsltool.classes.splits import Split, Trial
from zsltool.errors import ZslError
from zsltool.files.checks import require_file
from zsltool.files.formats import load_json


def trial_rng(seed: int, k: int):
    """Trial k's random generator: ``numpy.random.default_rng([seed, k])``."""
    import numpy as np

    return np.random.default_rng([int(seed), int(k)])


def check_trials(trials: int):
    if trials < 1:
        raise ZslError(f"--trials must be at least 1, got {trials}", hint="e.g. --trials 5")


def _draw(ids: Sequence[str], sizes: Sequence[int], rng) -> list[list[str]]:
    perm = [ids[i] for i in rng.permutation(len(ids))]
    out, pos = [], 0
    for s in sizes:
        out.append(perm[pos:pos + s])
        pos += s
    return out


def _check_sizes(sizes: Sequence[int], n: int, what: str):
    if len(sizes) != 3 or any(s < 0 for s in sizes):
        raise ZslError(f"sizes must be three non-negative numbers (train,val,test), got {list(sizes)}",
                       hint="e.g. --sizes 30,10,10 (class counts)")
    if sizes[0] < 1 or sizes[2] < 1:
        raise ZslError(f"sizes {list(sizes)}: train and test need at least one class", hint="e.g. --sizes 30,10,10")
    if sum(sizes) > n:
        raise ZslError(f"sizes {','.join(map(str, sizes))} need {sum(sizes)} classes but {what} has only {n}",
                       hint="use smaller --sizes")


def _sizes(sizes: Sequence[int] | None, n: int, n_test: int, what: str) -> list[int]:
    """The given (train, val, test) sizes, else ``n_test`` test classes and the rest halved between train and val;
    checked against the ``n`` classes of ``what``."""
    t = (n - n_test) // 2
    sizes = list(sizes) if sizes else [t, t, n_test]
    _check_sizes(sizes, n, what)
    return sizes


def split_random(cs: ClassSet, sizes: Sequence[int] | None = None, trials: int = 5, seed: int = 0,
                 preset: str | None = None) -> Split:
    """``preset`` (e.g. ``paper-table1``): one trial with the preset's classes instead of a seeded draw."""
    if preset is not None:
        return split_preset(cs, preset, seed=seed)
    check_trials(trials)
    n = len(cs)
    # default: thirds, the remainder to train then validation (50 classes: 17/17/16), so every class is used
    sizes = list(sizes) if sizes else [n // 3 + (1 if i < n % 3 else 0) for i in range(3)]
    _check_sizes(sizes, n, "the class set")
    ts = [Trial(*_draw(cs.ids, sizes, trial_rng(seed, k))) for k in range(trials)]
    return Split(trials=ts, protocol="random", params={"sizes": sizes, "trials": trials}, seed=seed,
                 class_set_sha256=cs.sha256)


def split_preset(cs: ClassSet, preset: str, seed: int = 0) -> Split:
    """One trial with the named preset's train/val/test classes (``paper-table1``: Table I of Dogan et al.),
    resolved in ``cs`` by name (paper, Open Images or AudioSet names all work)."""
    train, val, test = preset_classes(preset, cs)
    return Split(trials=[Trial(train, val, test)], protocol="random", seed=seed, class_set_sha256=cs.sha256,
                 params={"preset": preset, "sizes": [len(train), len(val), len(test)], "trials": 1})


# ---------------------------------------------------------------- categories

def category_membership(cs: ClassSet, membership: str | os.PathLike = "ontology") -> dict[str, list[str]]:
    """Category -> class ids. ``ontology`` uses each class's ``category``; ``paper`` is Table II of Dogan et al.;
    otherwise a file: JSON ``{category: [class names or ids]}`` or CSV ``class,category`` rows."""
    if str(membership) == "ontology":
        out: dict[str, list[str]] = {}
        for c in cs.classes:
            if c.get("category"):
                out.setdefault(c["category"], []).append(c["id"])
        return out
    if str(membership) in ("paper",):
        return membership_preset(str(membership), cs)
    p = Path(membership)
    if not p.exists():
        raise ZslError(f"membership {str(membership)!r} is neither a preset nor a file",
                       hint="use --membership ontology, --membership paper or a JSON/CSV file")
    if p.suffix.lower() == ".json":
        data = load_json(p, "category membership (JSON)")
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise ZslError(f"{p}: expected a JSON object {{category: [class names or ids]}}")
        return {str(k): [cs.resolve(str(x)) for x in v] for k, v in data.items()}
    try:
        text = require_file(p, "category membership file").read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ZslError(f"{p} is not a text file", hint="expected a CSV of class,category rows or a JSON "
                       "object {category: [classes]}") from None
    out = {}
    for n, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].startswith("#"):
            continue
        if len(row) < 2:
            raise ZslError(f"{p}: line {n} is not class,category")
        if n == 1 and row[0].strip().lower() in ("class", "name", "id") and row[1].strip().lower() == "category":
            continue
        out.setdefault(row[1].strip(), []).append(cs.resolve(row[0].strip()))
    return out


def _category(members: dict[str, list[str]], name: str) -> tuple[str, list[str]]:
    for k, v in members.items():
        if k.lower() == name.strip().lower():
            return k, v
    known = ", ".join(f"{k} ({len(v)})" for k, v in members.items()) or "none"
    raise ZslError(f"unknown category {name!r}", hint=f"categories in this class set: {known}")


def split_within(cs: ClassSet, category: str, sizes: Sequence[int] | None = None, trials: int = 5, seed: int = 0,
                 membership: str | os.PathLike = "ontology") -> Split:
    check_trials(trials)
    cat, ids = _category(category_membership(cs, membership), category)
    sizes = _sizes(sizes, len(ids), 2, f"category {cat}")
    ts = [Trial(*_draw(ids, sizes, trial_rng(seed, k))) for k in range(trials)]
    return Split(trials=ts, protocol="within", seed=seed, class_set_sha256=cs.sha256,
                 params={"category": cat, "sizes": sizes, "trials": trials, "membership": str(membership),
                         "classes": ids})


def split_across(cs: ClassSet, categories: Sequence[str], sizes: Sequence[int] | None = None, trials: int = 5,
                 seed: int = 0, membership: str | os.PathLike = "ontology") -> Split:
    """``sizes`` are per category (train,val,test); every subset takes that many from each category."""
    check_trials(trials)
    if len(categories) < 2:
        raise ZslError("the across protocol needs at least two categories", hint="e.g. --categories Animal,Vehicle")
    members = category_membership(cs, membership)
    cats = [_category(members, c) for c in categories]
    names = [c for c, _ in cats]
    if len(set(names)) != len(names):
        raise ZslError(f"categories repeat: {', '.join(names)}")
    m = min(len(v) for _, v in cats)
    smallest = [c for c, v in cats if len(v) == m][0]
    sizes = _sizes(sizes, m, 1, f"the smallest category ({smallest})")
    ts = []
    for k in range(trials):
        rng = trial_rng(seed, k)
        parts = [[], [], []]
        for _, ids in cats:
            for i, sub in enumerate(_draw(ids, sizes, rng)):
                parts[i].extend(sub)
        ts.append(Trial(*parts))
    return Split(trials=ts, protocol="across", seed=seed, class_set_sha256=cs.sha256,
                 params={"categories": names, "sizes_per_category": sizes, "trials": trials,
                         "membership": str(membership), "limited_by": smallest})


# ---------------------------------------------------------------- folds

def split_folds(cs: ClassSet, folds: int = 5, val_folds: int | None = None, seed: int = 0) -> Split:
    """``folds`` class folds; trial k tests fold k, validates on the next ``val_folds`` folds (default 1, or 0
    with 2 folds, which leave none to spare) and trains on the rest."""
    n = len(cs)
    if folds < 2 or folds > n:
        raise ZslError(f"--folds must be between 2 and the number of classes ({n}), got {folds}", hint="e.g. --folds 5")
    if val_folds is None:
        val_folds = 1 if folds > 2 else 0
    elif val_folds < 0 or val_folds > folds - 2:
        raise ZslError(f"--val-folds must be between 0 and {folds - 2} with {folds} folds, got {val_folds}",
                       hint="--val-folds 1 keeps one fold of classes for validation")
    base, extra = divmod(n, folds)
    fl = _draw(cs.ids, [base + (1 if i < extra else 0) for i in range(folds)], trial_rng(seed, 0))
    ts = []
    for k in range(folds):
        vset = [(k + j) % folds for j in range(1, val_folds + 1)]
        val = [c for j in vset for c in fl[j]]
        train = [c for j in range(folds) if j != k and j not in vset for c in fl[j]]
        ts.append(Trial(train=train, val=val, test=list(fl[k])))
    return Split(trials=ts, protocol="folds", seed=seed, class_set_sha256=cs.sha256,
                 params={"folds": folds, "val_folds": val_folds, "fold_classes": fl})
