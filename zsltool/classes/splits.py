"""The split file (JSON, ``format: zsl.split``): class partitions (and GZSL instance partitions) per trial.

Generators for the protocols (random, within, across, gzsl, folds) live in ``zsltool.classes.protocols``;
this module holds the file format only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from zsltool.errors import ZslError
from zsltool.files.formats import load_json_file, register_inspector
from zsltool.files.checks import atomic_write_json, check_output
from zsltool.files.provenance import stamp, stamp_of
from zsltool.names import SPLIT_PROTOCOLS
from zsltool.runtime.progress import count_of

FORMAT = "zsl.split"
FORMAT_VERSION = 1
PROTOCOLS = SPLIT_PROTOCOLS + ("custom",)  # a split file may also be hand-made


@dataclass
class Trial:
    train: list[str]
    val: list[str]
    test: list[str]
    seen: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)
    instances: dict[str, list[str]] = field(default_factory=dict)  # gzsl: train / val / test_seen (/ val_unseen,
    # test_unseen: the unseen test rows when listed, else every row of an unseen class not in val_unseen) ids

    @property
    def is_gzsl(self) -> bool:
        return bool(self.unseen)

    def sizes(self) -> dict:
        """How many classes (and, for GZSL, instances per instance set) each part holds."""
        if self.is_gzsl:
            return {"seen": len(self.seen), "unseen": len(self.unseen),
                    **{f"inst_{k}": len(v) for k, v in self.instances.items()}}
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def to_dict(self) -> dict:
        d = {"train": self.train, "val": self.val, "test": self.test}
        if self.seen or self.unseen:
            d["seen"], d["unseen"] = self.seen, self.unseen
        if self.instances:
            d["instances"] = self.instances
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Trial":
        """A trial from its JSON form; a ZslError when a field is not a list of ids."""
        if not isinstance(d, dict):
            raise ZslError(f"a trial must be a JSON object, found {type(d).__name__}")
        inst = d.get("instances") or {}
        if not isinstance(inst, dict):
            raise ZslError("'instances' must be a JSON object of id lists")
        return cls(train=_ids(d, "train"), val=_ids(d, "val"), test=_ids(d, "test"), seen=_ids(d, "seen"),
                   unseen=_ids(d, "unseen"), instances={str(k): _ids(inst, k) for k in inst})


def _ids(d: dict, key: str) -> list[str]:
    v = d.get(key, [])
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ZslError(f"'{key}' must be a list of ids, found {json.dumps(v)[:60]}")
    return list(v)


def trial_problems(t: Trial, n: int | None = None) -> list[str]:
    where = f"trial {n}: " if n is not None else ""
    out = []
    if t.is_gzsl:
        if set(t.seen) & set(t.unseen):
            out.append(f"{where}seen and unseen classes overlap")
        inst = t.instances
        for a, b in (("train", "val"), ("train", "test_seen"), ("val", "test_seen"), ("val_unseen", "train"),
                     ("val_unseen", "val"), ("val_unseen", "test_seen"), ("test_unseen", "train"),
                     ("test_unseen", "val"), ("test_unseen", "val_unseen"), ("test_unseen", "test_seen")):
            if set(inst.get(a, [])) & set(inst.get(b, [])):
                out.append(f"{where}instance sets {a} and {b} overlap")
        if not t.seen or not t.unseen:
            out.append(f"{where}gzsl needs seen and unseen classes")
    else:
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            common = set(getattr(t, a)) & set(getattr(t, b))
            if common:
                out.append(f"{where}{a} and {b} classes overlap: {', '.join(sorted(common)[:5])}")
        if not t.train:
            out.append(f"{where}no training classes")
        if not t.test:
            out.append(f"{where}no test classes")
    return out


@dataclass
class Split:
    trials: list[Trial]
    protocol: str = "custom"
    params: dict = field(default_factory=dict)
    seed: int = 0
    class_set_sha256: str = ""
    provenance: dict = field(default_factory=dict)
    path: Path | None = None

    def trial(self, k: int) -> Trial:
        if not (0 <= k < len(self.trials)):
            raise ZslError(f"trial {k} does not exist: {self.path or 'the split'} has "
                           f"{count_of(len(self.trials), 'trial')}",
                           hint=f"use --trial 0..{len(self.trials) - 1}")
        return self.trials[k]

    def problems(self) -> list[str]:
        out = []
        if self.protocol not in PROTOCOLS:
            out.append(f"unknown protocol {self.protocol!r}")
        if not self.trials:
            out.append("the split has no trials")
        for i, t in enumerate(self.trials):
            out.extend(trial_problems(t, i))
        return out

    def to_dict(self) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "class_set_sha256": self.class_set_sha256,
                "protocol": self.protocol, "params": self.params, "seed": self.seed,
                "n_trials": len(self.trials), "trials": [t.to_dict() for t in self.trials], **self.provenance}

    def save(self, path: str | os.PathLike, overwrite: bool = False, inputs: list | None = None) -> Path:
        problems = self.problems()
        if problems:
            raise ZslError(f"refusing to write an invalid split: {problems[0]}")
        p = check_output(path, overwrite)
        self.provenance = {**stamp(), "inputs": inputs or []}
        atomic_write_json(p, self.to_dict())
        self.path = p
        return p


def split_from_dict(data: dict, path: str | os.PathLike | None = None) -> Split:
    """The Split of a split file's JSON content: the one place that checks its fields (``load_split`` and
    ``zsl inspect --check`` both use it). A ZslError (message without the path) when a field is malformed;
    consistency problems (overlaps, empty sets) are left to ``Split.problems()``."""
    if not isinstance(data, dict):
        raise ZslError("a split file must be a JSON object")
    trials = data.get("trials")
    if not isinstance(trials, list):
        raise ZslError("split has no trial list")
    parsed = []
    for n, t in enumerate(trials):
        try:
            parsed.append(Trial.from_dict(t))
        except ZslError as e:
            raise ZslError(f"trial {n}: {e.message}", hint=e.hint) from None
    seed, cs_hash = data.get("seed", 0), data.get("class_set_sha256", "")
    if not isinstance(seed, int) or isinstance(seed, bool) or not isinstance(cs_hash, str):
        raise ZslError("'seed' must be an integer and 'class_set_sha256' a string")
    protocol, params = data.get("protocol", "custom"), data.get("params", {})
    if not isinstance(protocol, str) or not isinstance(params, dict):
        raise ZslError("'protocol' must be a string and 'params' a JSON object")
    return Split(trials=parsed, protocol=protocol, params=params, seed=seed, class_set_sha256=cs_hash,
                 provenance=stamp_of(data), path=Path(path) if path is not None else None)


def load_split(path: str | os.PathLike) -> Split:
    data = load_json_file(path, FORMAT, "split")
    try:
        s = split_from_dict(data, path)
    except ZslError as e:
        raise ZslError(f"{path}: {e.message}", hint=f"run `zsl inspect --check {path}`") from None
    problems = s.problems()
    if problems:
        raise ZslError(f"{path}: {problems[0]}", hint=f"run `zsl inspect --check {path}`")
    return s


@register_inspector(FORMAT)
def _inspect(data: dict, path: Path) -> tuple[dict, list[str]]:
    try:
        s = split_from_dict(data, path)
    except ZslError as e:
        return {"type": "split"}, [e.message]
    summary = {"type": "split", "protocol": s.protocol, "params": s.params, "seed": s.seed,
               "trials": len(s.trials), "sizes": [t.sizes() for t in s.trials], "class_set_sha256": s.class_set_sha256}
    return summary, s.problems()
