"""Split generators for the evaluation protocols of Dogan et al. (Section IV-A) and AudioSetZSL-style GZSL.

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
from typing import Sequence

from zsltool.classes.classset import ClassSet
from zsltool.classes.splits import Split, Trial
from zsltool.errors import ZslError


def _rng(seed: int, k: int):
    import numpy as np

    return np.random.default_rng([int(seed), int(k)])


def _check_trials(trials: int):
    if trials < 1:
        raise ZslError(f"--trials must be at least 1, got {trials}")


def _draw(ids: Sequence[str], sizes: Sequence[int], rng) -> list[list[str]]:
    perm = [ids[i] for i in rng.permutation(len(ids))]
    out, pos = [], 0
    for s in sizes:
        out.append(perm[pos:pos + s])
        pos += s
    return out


def _check_sizes(sizes: Sequence[int], n: int, what: str):
    if len(sizes) != 3 or any(s < 0 for s in sizes):
        raise ZslError(f"sizes must be three non-negative numbers (train,val,test), got {list(sizes)}")
    if sizes[0] < 1 or sizes[2] < 1:
        raise ZslError(f"sizes {list(sizes)}: train and test need at least one class")
    if sum(sizes) > n:
        raise ZslError(f"sizes {','.join(map(str, sizes))} need {sum(sizes)} classes but {what} has only {n}",
                       hint="use smaller --sizes")


def split_random(cs: ClassSet, sizes: Sequence[int] | None = None, trials: int = 5, seed: int = 0,
                 preset: str | None = None) -> Split:
    """``preset`` (e.g. ``paper-table1``): one trial with the preset's classes instead of a seeded draw."""
    if preset is not None:
        return split_preset(cs, preset, seed=seed)
    _check_trials(trials)
    n = len(cs)
    # default: thirds, the remainder to train then validation (50 classes: 17/17/16), so every class is used
    sizes = list(sizes) if sizes else [n // 3 + (1 if i < n % 3 else 0) for i in range(3)]
    _check_sizes(sizes, n, "the class set")
    ts = [Trial(*_draw(cs.ids, sizes, _rng(seed, k))) for k in range(trials)]
    return Split(trials=ts, protocol="random", params={"sizes": sizes, "trials": trials}, seed=seed,
                 class_set_sha256=cs.sha256)


def split_preset(cs: ClassSet, preset: str, seed: int = 0) -> Split:
    """One trial with the named preset's train/val/test classes (``paper-table1``: Table I of Dogan et al.),
    resolved in ``cs`` by name (paper, Open Images or AudioSet names all work)."""
    from zsltool.classes.presets import split_preset as preset_classes

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
        from zsltool.classes.presets import membership_preset

        return membership_preset(str(membership), cs)
    p = Path(membership)
    if not p.exists():
        raise ZslError(f"membership {str(membership)!r} is neither a preset nor a file",
                       hint="use --membership ontology, --membership paper or a JSON/CSV file")
    if p.suffix.lower() == ".json":
        from zsltool.formats import load_json

        data = load_json(p, "category membership (JSON)")
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise ZslError(f"{p}: expected a JSON object {{category: [class names or ids]}}")
        return {str(k): [cs.resolve(str(x)) for x in v] for k, v in data.items()}
    import csv

    from zsltool.utils import require_file

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
    _check_trials(trials)
    cat, ids = _category(category_membership(cs, membership), category)
    n = len(ids)
    if sizes:
        sizes = list(sizes)
    else:
        t = (n - 2) // 2
        sizes = [t, t, 2]
    _check_sizes(sizes, n, f"category {cat}")
    ts = [Trial(*_draw(ids, sizes, _rng(seed, k))) for k in range(trials)]
    return Split(trials=ts, protocol="within", seed=seed, class_set_sha256=cs.sha256,
                 params={"category": cat, "sizes": sizes, "trials": trials, "membership": str(membership),
                         "classes": ids})


def split_across(cs: ClassSet, categories: Sequence[str], sizes: Sequence[int] | None = None, trials: int = 5,
                 seed: int = 0, membership: str | os.PathLike = "ontology") -> Split:
    """``sizes`` are per category (train,val,test); every subset takes that many from each category."""
    _check_trials(trials)
    if len(categories) < 2:
        raise ZslError("the across protocol needs at least two categories", hint="e.g. --categories Animal,Vehicle")
    members = category_membership(cs, membership)
    cats = [_category(members, c) for c in categories]
    names = [c for c, _ in cats]
    if len(set(names)) != len(names):
        raise ZslError(f"categories repeat: {', '.join(names)}")
    m = min(len(v) for _, v in cats)
    smallest = [c for c, v in cats if len(v) == m][0]
    if sizes:
        sizes = list(sizes)
    else:
        t = (m - 1) // 2
        sizes = [t, t, 1]
    _check_sizes(sizes, m, f"the smallest category ({smallest})")
    ts = []
    for k in range(trials):
        rng = _rng(seed, k)
        parts = [[], [], []]
        for _, ids in cats:
            for i, sub in enumerate(_draw(ids, sizes, rng)):
                parts[i].extend(sub)
        ts.append(Trial(*parts))
    return Split(trials=ts, protocol="across", seed=seed, class_set_sha256=cs.sha256,
                 params={"categories": names, "sizes_per_category": sizes, "trials": trials,
                         "membership": str(membership), "limited_by": smallest})


# ---------------------------------------------------------------- gzsl

def _class_list(cs: ClassSet, path_or_names) -> list[str]:
    from zsltool.classes.ontology import read_name_list

    if isinstance(path_or_names, (list, tuple)):
        names = list(path_or_names)
    else:
        names = [r["name"] for r in read_name_list(path_or_names)]
    out = []
    for n in names:
        cid = cs.resolve(n)
        if cid not in out:
            out.append(cid)
    return out


def read_instances(cs: ClassSet, path: str | os.PathLike) -> list[tuple[str, list[str]]]:
    """(instance id, class ids) from a clip manifest (.csv) or an embedding file (.h5 / .hdf5)."""
    p = Path(path)
    from zsltool.store import check_same_class_set, is_hdf5, read_embeddings

    if p.suffix.lower() in (".h5", ".hdf5") or is_hdf5(p):
        emb = read_embeddings(p, kind="instance")
        check_same_class_set([emb], expected=cs.sha256, expected_name=f"the class set {cs.path or ''}".strip())
        import numpy as np

        out = [(iid, []) for iid in emb.ids]
        for i, j in zip(*np.nonzero(emb.labels)):  # row-major: each row's classes in class order
            out[i][1].append(emb.classes[j])
    else:
        from zsltool.classes.manifest import read_clip_manifest

        out = [(r["id"], r["labels"]) for r in read_clip_manifest(p)]
    m2c = cs.mid_to_class
    return [(iid, list(dict.fromkeys(m2c[x] for x in labs if x in m2c))) for iid, labs in out]


def split_gzsl(cs: ClassSet, instances: str | os.PathLike, seen=None, unseen=None,
               fractions: Sequence[float] = (0.6, 0.2, 0.2), trials: int = 1, seed: int = 0,
               unseen_val_fraction: float = 0.0) -> Split:
    """Seen/unseen from lists (names or ids, or files), else from the classes' ``zsl_split`` field; one of the
    two lists may be omitted (the other classes make it up). Seen-only instances are split per class.

    ``unseen_val_fraction`` of each unseen class's single-label instances go to ``instances.val_unseen``: never
    trained on, never tested on, used only to choose calibrated stacking's beta (AudioSetZSL has such
    validation clips for its unseen classes). The other unseen instances are the test-unseen set.
    """
    _check_trials(trials)
    if not (0.0 <= unseen_val_fraction < 1.0):
        raise ZslError(f"--unseen-val-fraction must be in [0, 1), got {unseen_val_fraction}")
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ZslError(f"instance fractions must be three non-negative numbers summing to 1, got {list(fractions)}")
    if seen is None and unseen is None:
        seen_ids = [c["id"] for c in cs.classes if c.get("zsl_split") == "seen"]
        unseen_ids = [c["id"] for c in cs.classes if c.get("zsl_split") == "unseen"]
        if bool(seen_ids) != bool(unseen_ids):  # one list recorded: the other classes make up the other
            rest = [c for c in cs.ids if c not in set(seen_ids) | set(unseen_ids)]
            seen_ids, unseen_ids = (seen_ids or rest), (unseen_ids or rest)
        if not seen_ids or not unseen_ids:
            raise ZslError("no seen/unseen classes given and the class set does not record them",
                           hint="pass --seen FILE and/or --unseen FILE")
    else:
        seen_ids = _class_list(cs, seen) if seen is not None else None
        unseen_ids = _class_list(cs, unseen) if unseen is not None else None
        if seen_ids is None:
            seen_ids = [c for c in cs.ids if c not in set(unseen_ids)]
        if unseen_ids is None:
            unseen_ids = [c for c in cs.ids if c not in set(seen_ids)]
    both = set(seen_ids) & set(unseen_ids)
    if both:
        raise ZslError(f"classes are both seen and unseen: {', '.join(sorted(both)[:5])}")
    if not seen_ids or not unseen_ids:
        raise ZslError("gzsl needs at least one seen and one unseen class")
    sset, uset = set(seen_ids), set(unseen_ids)
    inst = read_instances(cs, instances)
    by_class: dict[str, list[str]] = {c: [] for c in seen_ids}
    unseen_single: dict[str, list[str]] = {c: [] for c in unseen_ids}
    unseen_any: dict[str, int] = {c: 0 for c in unseen_ids}
    n_unseen = n_none = 0
    for iid, labs in inst:
        if any(x in uset for x in labs):
            n_unseen += 1
            for x in set(labs) & uset:
                unseen_any[x] += 1
            if len(set(labs)) == 1:
                unseen_single[labs[0]].append(iid)
        elif labs and all(x in sset for x in labs):
            by_class[labs[0]].append(iid)
        else:
            n_none += 1
    for which, counts in (("seen", {c: len(v) for c, v in by_class.items()}), ("unseen", unseen_any)):
        empty = [c for c, v in counts.items() if not v]
        if empty:
            raise ZslError(f"{len(empty)} {which} class(es) have no instances in {instances}: "
                           f"{', '.join(empty[:5])}", hint="check that the instance list was made with this class set")
    ts = []
    n_test_unseen = []
    for k in range(trials):
        rng = _rng(seed, k)
        parts: dict[str, list[str]] = {"train": [], "val": [], "test_seen": []}
        for c in seen_ids:
            items = sorted(by_class[c])
            items = [items[i] for i in rng.permutation(len(items))]
            n = len(items)
            nv, nt = int(round(n * fractions[1])), int(round(n * fractions[2]))
            nv, nt = min(nv, n), min(nt, max(0, n - nv))
            parts["val"] += items[:nv]
            parts["test_seen"] += items[nv:nv + nt]
            parts["train"] += items[nv + nt:]
        if unseen_val_fraction > 0:
            parts["val_unseen"] = []
            for c in unseen_ids:
                items = sorted(unseen_single[c])
                items = [items[i] for i in rng.permutation(len(items))]
                parts["val_unseen"] += items[:int(round(len(items) * unseen_val_fraction))]
        n_test_unseen.append(n_unseen - len(parts.get("val_unseen", [])))
        ts.append(Trial(train=list(seen_ids), val=list(seen_ids), test=list(seen_ids) + list(unseen_ids),
                        seen=list(seen_ids), unseen=list(unseen_ids), instances=parts))
    return Split(trials=ts, protocol="gzsl", seed=seed, class_set_sha256=cs.sha256,
                 params={"fractions": list(fractions), "unseen_val_fraction": unseen_val_fraction,
                         "trials": trials, "instances_file": str(instances),
                         "n_instances": len(inst), "n_unseen": n_unseen,
                         "n_test_unseen": n_test_unseen,  # per trial: unseen instances not in val_unseen
                         "n_ignored": n_none})


# ---------------------------------------------------------------- folds

def split_folds(cs: ClassSet, folds: int = 5, val_folds: int | None = None, seed: int = 0) -> Split:
    """``folds`` class folds; trial k tests fold k, validates on the next ``val_folds`` folds (default 1, or 0
    with 2 folds, which leave none to spare) and trains on the rest."""
    n = len(cs)
    if folds < 2 or folds > n:
        raise ZslError(f"--folds must be between 2 and the number of classes ({n}), got {folds}")
    if val_folds is None:
        val_folds = 1 if folds > 2 else 0
    elif val_folds < 0 or val_folds > folds - 2:
        raise ZslError(f"--val-folds must be between 0 and {folds - 2} with {folds} folds, got {val_folds}")
    rng = _rng(seed, 0)
    perm = [cs.ids[i] for i in rng.permutation(n)]
    base, extra = divmod(n, folds)
    fl, pos = [], 0
    for i in range(folds):
        s = base + (1 if i < extra else 0)
        fl.append(perm[pos:pos + s])
        pos += s
    ts = []
    for k in range(folds):
        vset = [(k + j) % folds for j in range(1, val_folds + 1)]
        val = [c for j in vset for c in fl[j]]
        train = [c for j in range(folds) if j != k and j not in vset for c in fl[j]]
        ts.append(Trial(train=train, val=val, test=list(fl[k])))
    return Split(trials=ts, protocol="folds", seed=seed, class_set_sha256=cs.sha256,
                 params={"folds": folds, "val_folds": val_folds, "fold_classes": fl})


# ---------------------------------------------------------------- one entry point

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
            raise ZslError("--protocol gzsl needs --instances (a clip manifest .csv or an embedding file .h5)")
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
