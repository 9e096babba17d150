"""The generalized zero-shot split (AudioSetZSL-style, AVGZSLNet): seen and unseen classes, and each seen
class's instances split (per class, seeded: ``trial_rng``) into train/val/test_seen."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from zsltool.classes.classset import ClassSet
from zsltool.classes.split_classes import check_trials, trial_rng
from zsltool.classes.splits import Split, Trial
from zsltool.errors import ZslError


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
    check_trials(trials)
    if not (0.0 <= unseen_val_fraction < 1.0):
        raise ZslError(f"--unseen-val-fraction must be in [0, 1), got {unseen_val_fraction}",
                       hint="e.g. --unseen-val-fraction 0.2")
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ZslError(f"instance fractions must be three non-negative numbers summing to 1, got {list(fractions)}",
                       hint="e.g. --fractions 0.6,0.2,0.2 (train, val, test_seen)")
    seen_ids, unseen_ids = _seen_unseen(cs, seen, unseen)
    inst = read_instances(cs, instances)
    by_class, unseen_single, n_unseen, n_none = _by_class(inst, seen_ids, unseen_ids, instances)
    ts = []
    n_test_unseen = []
    for k in range(trials):
        parts = _trial_instances(trial_rng(seed, k), by_class, unseen_single, fractions, unseen_val_fraction)
        n_test_unseen.append(n_unseen - len(parts.get("val_unseen", [])))
        ts.append(Trial(train=list(seen_ids), val=list(seen_ids), test=list(seen_ids) + list(unseen_ids),
                        seen=list(seen_ids), unseen=list(unseen_ids), instances=parts))
    return Split(trials=ts, protocol="gzsl", seed=seed, class_set_sha256=cs.sha256,
                 params={"fractions": list(fractions), "unseen_val_fraction": unseen_val_fraction,
                         "trials": trials, "instances_file": str(instances),
                         "n_instances": len(inst), "n_unseen": n_unseen,
                         "n_test_unseen": n_test_unseen,  # per trial: unseen instances not in val_unseen
                         "n_ignored": n_none})


def _seen_unseen(cs: ClassSet, seen, unseen) -> tuple[list[str], list[str]]:
    """The seen and unseen class ids: from the lists (the classes not in one given list make up the other), else
    from the classes' ``zsl_split`` field; a ZslError unless both are non-empty and disjoint."""
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
        raise ZslError("gzsl needs at least one seen and one unseen class", hint="give a class set with more classes, "
                       "or fewer unseen ones")
    return seen_ids, unseen_ids


def _by_class(inst, seen_ids: list[str], unseen_ids: list[str], instances):
    """``(by_class, unseen_single, n_unseen, n_none)``: the seen-only instances by their first class, each unseen
    class's single-label instances, the number of instances with an unseen class and with no class of either.
    A ZslError when a class has no instance."""
    sset, uset = set(seen_ids), set(unseen_ids)
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
    return by_class, unseen_single, n_unseen, n_none


def _trial_instances(rng, by_class: dict, unseen_single: dict, fractions, unseen_val_fraction: float) -> dict:
    """One trial's instances: each seen class's split into val, test_seen and train by ``fractions``, and with
    ``unseen_val_fraction`` that share of each unseen class's single-label instances as val_unseen."""
    parts: dict[str, list[str]] = {"train": [], "val": [], "test_seen": []}
    for items in by_class.values():
        items = _shuffled(items, rng)
        n = len(items)
        nv, nt = int(round(n * fractions[1])), int(round(n * fractions[2]))
        nv, nt = min(nv, n), min(nt, max(0, n - nv))
        parts["val"] += items[:nv]
        parts["test_seen"] += items[nv:nv + nt]
        parts["train"] += items[nv + nt:]
    if unseen_val_fraction > 0:
        parts["val_unseen"] = []
        for items in unseen_single.values():
            items = _shuffled(items, rng)
            parts["val_unseen"] += items[:int(round(len(items) * unseen_val_fraction))]
    return parts


def _shuffled(ids: list[str], rng) -> list[str]:
    items = sorted(ids)
    return [items[i] for i in rng.permutation(len(items))]
