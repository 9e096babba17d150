"""What one unit of ``zsl experiment`` is: one model trained and evaluated on one split trial (or, in the
two-stage protocol and with refit, a stage-1 model and its stage-2 retraining), as typed, frozen records.

``Unit.train`` (:class:`UnitTrain`) and ``Unit.eval`` (:class:`UnitEval`) are the parts of the config hash:
``config_hash(train, eval, inputs, split_sha256)`` is the sha256 of their ``to_dict()`` forms with the input
files' hashes, the same JSON as the unit dicts of earlier versions hashed, so trial files written by them are
resumed. ``Unit.to_dict()`` is what a trial file records of its unit (``manifest.config.unit``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from pathlib import Path

from zsltool.files.provenance import sha256_json


def _plain(obj, omit_unset: tuple[str, ...] = ()) -> dict:
    """The fields of a frozen record as a dict (tuples as lists); ``omit_unset``: fields left out when unset."""
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if f.name in omit_unset and not v:
            continue
        out[f.name] = list(v) if isinstance(v, tuple) else copy.deepcopy(v) if isinstance(v, dict) else v
    return out


@dataclass(frozen=True)
class UnitTrain:
    """What a unit trains (``TrainConfig`` fields; the unit adds the checkpoint path, threads and device)."""

    audio: str
    split: str
    trial: int
    semantic: str
    method: str
    video: str | None = None
    text: str | None = None
    image: str | None = None
    audio_prototypes: str | None = None
    method_args: dict = field(default_factory=dict)
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    patience: int | None = None
    seed: int = 0
    semantic_file: str | None = None
    grid: dict | None = None        # settings chosen on validation; in the hash only when given
    preset: str | None = None       # in the hash only when given

    def to_dict(self) -> dict:
        return _plain(self, omit_unset=("grid", "preset"))


@dataclass(frozen=True)
class UnitEval:
    """How a unit is evaluated: GZSL test modalities, calibrated stacking's beta, retrieval rows, and the
    protocol's choices (a refit's beta from stage 1; a two-stage pair's beta from stage 1: no --calibrate)."""

    modalities: tuple[str, ...]
    calibrate: bool
    retrieval: bool
    refit: bool = False                          # in the hash only when set
    two_stage: tuple[int, int] | None = None     # the (stage-1, stage-2) trials; in the hash only when set
    transductive: tuple[str, ...] = ()           # refiners; in the hash only when given

    def to_dict(self) -> dict:
        return _plain(self, omit_unset=("refit", "two_stage", "transductive"))


@dataclass(frozen=True)
class Stages:
    """A unit's two stages: stage 1 chooses on validation, stage 2 retrains (``zsltool.evaluate.two_stage``)."""

    stage1_trial: int
    stage2_trial: int
    refit: bool = False     # stage 2 is stage 1's trial refit on training + validation

    def to_dict(self) -> dict:
        return _plain(self, omit_unset=("refit",))


@dataclass(frozen=True)
class Unit:
    """One unit of work of an experiment, with its config hash (not hashed: threads, device, strict, out_dir)."""

    name: str
    config_hash: str
    train: UnitTrain
    eval: UnitEval
    column: str
    protocol: str
    task: str                      # "zsl" or "gzsl"
    out_dir: str
    threads: int | None = None
    device: str = "cpu"
    strict: bool = False
    semantic: str | None = None    # the table row when it is not train.semantic (text:NAME)
    two_stage: Stages | None = None
    repeat: int | None = None      # zsl experiment --repeats: which training run (train.seed = the spec's + repeat)

    @property
    def row(self) -> str:
        """The class-embedding row of the tables (``text:NAME`` for a named text file)."""
        return self.semantic or self.train.semantic

    @property
    def modalities(self) -> list[str]:
        """The test modalities evaluated (a ZSL trial: ``both`` only)."""
        return list(self.eval.modalities) if self.task == "gzsl" else ["both"]

    @property
    def trial_file(self) -> Path:
        return trial_path(self.out_dir, self.name)

    def to_dict(self) -> dict:
        d = {"name": self.name, "config_hash": self.config_hash, "train": self.train.to_dict(),
             "eval": self.eval.to_dict()}
        if self.semantic:
            d["semantic"] = self.semantic
        if self.two_stage:
            d["two_stage"] = self.two_stage.to_dict()
        return d | {"column": self.column, "protocol": self.protocol, "task": self.task, "threads": self.threads,
                    "device": self.device, "strict": self.strict, "out_dir": self.out_dir} | (
            {"repeat": self.repeat} if self.repeat is not None else {})


def config_hash(train: UnitTrain, evalc: UnitEval, inputs: dict, split_sha256: str) -> str:
    """The sha256 that decides whether a finished trial file is this unit's: training and evaluation settings,
    the input files' hashes ``{name: sha256}`` and the split file's."""
    return sha256_json({"train": train.to_dict(), "eval": evalc.to_dict(), "inputs": inputs,
                        "split_sha256": split_sha256})


def trial_path(out_dir, name: str) -> Path:
    """``trials/<name>.json`` under an experiment's output folder."""
    return Path(out_dir) / "trials" / f"{name}.json"
