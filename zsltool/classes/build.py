"""`zsl build-classes`: the mutual AudioSet / Open Images class set (Dogan et al., Section III-A) and custom sets.

Mutual classes are matched by Knowledge Graph MID, never by name. Hierarchy pruning follows the ontology's
``child_ids`` recursively: a mutual class with more than ``max_children`` mutual descendants is dropped
(on the real files: Animal, Musical instrument, Vehicle); a kept class with 1..max_children mutual
descendants keeps only itself and absorbs their MIDs into ``merged_ids`` (Bird, Insect, Car, Aircraft, Tools).
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from pathlib import Path

from zsltool.classes.classset import ClassSet
from zsltool.classes.ontology import (Ontology, load_audio_labels, load_image_classes, load_ontology,
                                      read_name_list)
from zsltool.classes.presets import NAME_STYLES, paper_name
from zsltool.errors import ZslError
from zsltool.files.checks import check_output
from zsltool.files.provenance import input_record

log = logging.getLogger("zsltool.classes.build")


def prune_hierarchy(ont: Ontology, mutual: list[str], max_children: int = 2) -> dict:
    """Pruning decisions for the ``mutual`` MIDs (in order).

    Returns ``{"final": [mids], "dropped": {mid: [mutual descendants]}, "merged": {parent: [children]},
    "category": {mid: dropped ancestor or None}}``.
    """
    if max_children < 0:
        raise ZslError(f"--max-children must be >= 0, got {max_children}", hint="0 keeps no child classes")
    mset = set(mutual)
    desc = {m: [d for d in ont.descendants(m) if d in mset] for m in mutual}
    dropped = {m: desc[m] for m in mutual if len(desc[m]) > max_children}
    kept = [m for m in mutual if m not in dropped]
    anc = {m: ont.ancestors(m) for m in mutual}
    absorbed: dict[str, str] = {}
    for m in kept:
        cands = [a for a in kept if a in anc[m]]
        if cands:
            top = [a for a in cands if not (anc[a] & set(cands))]
            absorbed[m] = (top or cands)[0]
    merged: dict[str, list[str]] = {}
    for child, parent in absorbed.items():
        merged.setdefault(parent, []).append(child)
    final = [m for m in kept if m not in absorbed]
    category: dict[str, str | None] = {}
    for m in final:
        on_path = [a for a in dropped if a in anc[m]]
        # the top-most dropped ancestor (the one with no dropped ancestor of its own)
        top = [a for a in on_path if not (anc[a] & set(on_path))]
        category[m] = (top or on_path or [None])[0]
    return {"final": final, "dropped": dropped, "merged": merged, "category": category}


def build_audioset_openimages(ontology: str | os.PathLike | None = None,
                              image_classes: str | os.PathLike | None = None,
                              audio_classes: str | os.PathLike | None = None, *, max_children: int = 2,
                              names: str = "openimages", name: str = "audioset-openimages",
                              fetch=None) -> ClassSet:
    """The mutual AudioSet/Open Images class set. Missing paths are fetched into the user cache
    (ontology, Open Images classes; and the AudioSet label list when the ontology is fetched)."""
    if names not in NAME_STYLES:
        raise ZslError(f"unknown name style {names!r}", hint=f"use one of {', '.join(NAME_STYLES)}")
    if ontology is None or image_classes is None:
        from zsltool.classes.download import official_file

        kw = {"fetch": fetch} if fetch is not None else {}
        if ontology is None:
            ontology = official_file("ontology", **kw)
            if audio_classes is None:
                audio_classes = official_file("audio-classes", **kw)
        if image_classes is None:
            image_classes = official_file("image-classes", **kw)
    ont = load_ontology(ontology)
    oi = load_image_classes(image_classes)
    audio = load_audio_labels(audio_classes) if audio_classes is not None else None
    order = list(audio) if audio is not None else ont.order
    unknown = [m for m in order if m not in ont.nodes]
    if unknown:
        log.warning("%d audio classes are not in the ontology (kept as roots): %s", len(unknown), unknown[:5])
    mutual = [m for m in order if m in oi]
    if not mutual:
        raise ZslError("the audio and image class lists have no MID in common",
                       hint="check that --image-classes is Open Images' class-descriptions-boxable.csv")
    pr = prune_hierarchy(ont, mutual, max_children)

    def aname(m):
        if audio is not None and m in audio:
            return audio[m]
        return ont.name(m) if m in ont.nodes else m

    classes = []
    for m in pr["final"]:
        disp = {"openimages": oi[m], "audioset": aname(m), "paper": paper_name(oi[m])}[names]
        cat = pr["category"][m]
        classes.append({"id": m, "name": disp, "audioset_name": aname(m), "openimages_name": oi[m],
                        "merged_ids": list(pr["merged"].get(m, [])), "category": aname(cat) if cat else None,
                        "path": ont.path(m) if m in ont.nodes else [aname(m)]})
    cats = dict(Counter(c["category"] or "none" for c in classes))
    report = {
        "counts": {"ontology_classes": len(ont.nodes), "audio_classes": len(audio) if audio is not None else None,
                   "image_classes": len(oi), "mutual": len(mutual), "dropped": len(pr["dropped"]),
                   "merged": sum(len(v) for v in pr["merged"].values()), "final": len(classes)},
        "max_children": max_children,
        "dropped": [{"id": m, "name": aname(m), "mutual_descendants": len(d), "descendants": [aname(x) for x in d]}
                    for m, d in pr["dropped"].items()],
        "merged": [{"into": p, "into_name": aname(p), "ids": ch, "names": [aname(x) for x in ch]}
                   for p, ch in pr["merged"].items()],
        "categories": cats,
    }
    inputs = [input_record(p) for p in (ontology, image_classes, audio_classes) if p is not None]
    source = {"type": "audioset-openimages", "ontology": str(ontology), "image_classes": str(image_classes),
              "audio_classes": str(audio_classes) if audio_classes is not None else None, "names": names}
    return ClassSet(classes=classes, name=name, source=source, report=report, provenance={"inputs": inputs})


def build_from_list(path: str | os.PathLike, *, name_column: str | None = None, id_column: str | None = None,
                    mid_column: str | None = None, category_column: str | None = None,
                    split_column: str | None = None, seen: str | os.PathLike | None = None,
                    unseen: str | os.PathLike | None = None, name: str | None = None) -> ClassSet:
    """A text-only / custom class set from a plain list of names or a CSV column (ids = names unless
    ``id_column``). ``mid_column`` records AudioSet MIDs that count as the class (``merged_ids``), so
    ``select-audio`` can map AudioSet labels onto it. Seen/unseen lists (or ``split_column``) are recorded per
    class as ``zsl_split`` and become the default of ``zsl split --protocol gzsl``."""
    rows = read_name_list(path, name_column)
    for col in (id_column, mid_column, category_column, split_column):
        if col and col not in rows[0]:
            raise ZslError(f"{path} has no column {col!r}",
                           hint="columns are only available with --name-column (a CSV with a header)")
    split_of: dict[str, str] = {}
    if split_column:
        split_of = {r["name"]: r.get(split_column, "") for r in rows}
    names = [r["name"] for r in rows]
    for kind, f in (("seen", seen), ("unseen", unseen)):
        if f is None:
            continue
        listed = [r["name"] for r in read_name_list(f)]
        missing = [n for n in listed if n not in names]
        if missing:
            raise ZslError(f"{f}: {kind} class(es) not in {path}: {', '.join(missing[:5])}")
        for n in listed:
            if split_of.get(n) and split_of[n] != kind:
                raise ZslError(f"class {n!r} is listed as both seen and unseen", hint="list each class once")
            split_of[n] = kind
    classes, seen_ids = [], set()
    for r in rows:
        cid = (r.get(id_column) if id_column else r["name"]) or r["name"]
        if cid in seen_ids:
            raise ZslError(f"{path}: duplicate class id {cid!r}", hint="list each class once")
        seen_ids.add(cid)
        c = {"id": cid, "name": r["name"], "audioset_name": None, "openimages_name": None,
             "merged_ids": [m for m in re.split(r"[;\s|]+", r.get(mid_column, "") or "") if m and m != cid]
             if mid_column else [],
             "category": (r.get(category_column) or None) if category_column else None, "path": [r["name"]]}
        sp = split_of.get(r["name"])
        if sp:
            if sp not in ("seen", "unseen"):
                raise ZslError(f"{path}: class {r['name']!r} has split {sp!r}, expected seen or unseen")
            c["zsl_split"] = sp
        classes.append(c)
    inputs = [input_record(p) for p in (path, seen, unseen) if p is not None]
    source = {"type": "list", "path": str(path), "name_column": name_column, "id_column": id_column,
              "mid_column": mid_column, "seen": str(seen) if seen else None, "unseen": str(unseen) if unseen else None}
    n_seen = sum(1 for c in classes if c.get("zsl_split") == "seen")
    n_unseen = sum(1 for c in classes if c.get("zsl_split") == "unseen")
    report = {"counts": {"listed": len(rows), "final": len(classes), "seen": n_seen, "unseen": n_unseen}}
    return ClassSet(classes=classes, name=name or Path(path).stem, source=source, report=report,
                    provenance={"inputs": inputs})


def build_classes(out: str | os.PathLike, *, from_list: str | os.PathLike | None = None,
                  overwrite: bool = False, **kw) -> dict:
    """Build a class set (AudioSet/Open Images, or ``from_list``), write it to ``out``, return a summary."""
    check_output(out, overwrite)  # fail before any download or parsing
    list_only = ("name_column", "id_column", "mid_column", "category_column", "split_column", "seen", "unseen")
    given = {k: v for k, v in kw.items() if v is not None}
    if from_list is not None:
        bad = [k for k in given if k not in list_only and k != "name"]
        if bad:
            raise ZslError(f"option(s) {', '.join(bad)} do not apply to a class list", hint="drop them")
        cs = build_from_list(from_list, **given)
    else:
        bad = [k for k in given if k in list_only]
        if bad:
            raise ZslError(f"option(s) {', '.join(bad)} need --from-list", hint="or drop them")
        cs = build_audioset_openimages(**given)
    p = cs.save(out, overwrite=overwrite)
    return {"out": str(p), "name": cs.name, "sha256": cs.sha256, "n_classes": len(cs), **cs.report,
            "classes": [{"id": c["id"], "name": c["name"], "category": c.get("category"),
                         "merged_ids": c.get("merged_ids") or [], **({"zsl_split": c["zsl_split"]}
                                                                    if c.get("zsl_split") else {})}
                        for c in cs.classes]}
