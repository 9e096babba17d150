"""The class-set file (JSON, ``format: zsl.classset``): the classes every later file refers to."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from zsltool.errors import ZslError
from zsltool.files.formats import load_json_file, register_inspector
from zsltool.files.checks import atomic_write_json, check_output
from zsltool.files.provenance import sha256_json, stamp, stamp_of

FORMAT = "zsl.classset"
FORMAT_VERSION = 1


def classset_hash(classes: Sequence[dict]) -> str:
    """Content hash of a class list: sha256 of its canonical JSON."""
    return sha256_json(list(classes))


@dataclass
class ClassSet:
    classes: list[dict]
    name: str = "classes"
    source: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self):
        problems = validate_classes(self.classes)
        if problems:
            raise ZslError(f"invalid class set{' ' + str(self.path) if self.path else ''}: {problems[0]}")
        self._by_key = {c["id"]: c["id"] for c in self.classes}  # ids are unique (validate_classes)
        for c in self.classes:
            for m in c.get("merged_ids") or []:
                self._by_key.setdefault(m, c["id"])
        self._by_name = {}
        for c in self.classes:
            for n in (c.get("name"), c.get("audioset_name"), c.get("openimages_name")):
                if n:
                    self._by_name.setdefault(n.lower(), c["id"])
        # A class set is not edited after construction: derived views are computed once.
        self._ids = [c["id"] for c in self.classes]
        self._names = [c.get("name") or c["id"] for c in self.classes]
        self._position = {cid: i for i, cid in enumerate(self._ids)}
        self._sha256 = classset_hash(self.classes)

    @property
    def sha256(self) -> str:
        return self._sha256

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def mid_to_class(self) -> dict[str, str]:
        """Every class id and merged id -> the class id it counts as."""
        return dict(self._by_key)

    def resolve(self, key: str) -> str:
        """Class id for an id, merged id or (case-insensitive) name; ZslError when unknown."""
        if key in self._by_key:
            return self._by_key[key]
        hit = self._by_name.get(str(key).lower())
        if hit is not None:
            return hit
        raise ZslError(f"unknown class {key!r}", hint=f"the class set has {len(self)} classes; "
                       "run `zsl inspect CLASSES.json` to list them")

    def index(self, key: str) -> int:
        return self._position[self.resolve(key)]

    def get(self, key: str) -> dict:
        return self.classes[self.index(key)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "sha256": self.sha256,
            "n_classes": len(self.classes),
            "classes": self.classes,
            "source": self.source,
            "report": self.report,
            **self.provenance,
        }

    def save(self, path: str | os.PathLike, overwrite: bool = False, inputs: list | None = None) -> Path:
        p = check_output(path, overwrite)
        self.provenance = {**stamp(), "inputs": inputs if inputs is not None else self.provenance.get("inputs", [])}
        atomic_write_json(p, self.to_dict())
        self.path = p
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ClassSet":
        data = load_json_file(path, FORMAT, "class set")
        classes = data.get("classes")
        if not isinstance(classes, list):
            raise ZslError(f"{path}: class set has no class list")
        problems = validate_classes(classes)
        if problems:
            raise ZslError(f"{path}: {problems[0]}")
        stored = data.get("sha256")
        if stored and stored != classset_hash(classes):
            raise ZslError(f"{path}: the class list does not match its sha256 (the file was edited by hand?)",
                           hint="rebuild it with zsl build-classes")
        return cls(classes=classes, name=data.get("name", "classes"), source=data.get("source", {}),
                   report=data.get("report", {}), provenance=stamp_of(data), path=Path(path))


def validate_classes(classes: Sequence[Any]) -> list[str]:
    out = []
    seen: set[str] = set()
    for i, c in enumerate(classes):
        if not isinstance(c, dict) or not isinstance(c.get("id"), str) or not c.get("id"):
            out.append(f"class #{i} has no string id")
            continue
        if c["id"] in seen:
            out.append(f"duplicate class id {c['id']!r}")
        seen.add(c["id"])
    if not classes:
        out.append("the class set is empty")
    return out


@register_inspector(FORMAT)
def _inspect(data: dict, path: Path) -> tuple[dict, list[str]]:
    classes = data.get("classes") or []
    problems = validate_classes(classes) if isinstance(classes, list) else ["classes is not a list"]
    if not problems and data.get("sha256") and data["sha256"] != classset_hash(classes):
        problems.append("the class list does not match its sha256")
    cats = Counter(c.get("category") or "none" for c in (classes if isinstance(classes, list) else [])
                   if isinstance(c, dict))
    summary = {"type": "class set", "name": data.get("name"), "classes": len(classes), "sha256": data.get("sha256"),
               "categories": dict(cats),
               "names": [c.get("name") or c.get("id") for c in classes if isinstance(c, dict)][:100]}
    return summary, problems
