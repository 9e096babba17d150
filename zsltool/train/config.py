"""The training configuration (``TrainConfig``): everything ``zsl train`` needs, JSON-able for checkpoints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OPTIMIZERS = ("sgd", "adam")


@dataclass
class TrainConfig:
    """Inputs, method and optimiser settings of one training run.

    ``epochs``, ``batch_size``, ``optimizer``, ``lr``, ``weight_decay``, ``momentum`` left at None take the
    method's paper defaults (``METHODS[name].train_defaults``). ``patience`` (epochs without improvement of
    the validation metric) enables early stopping; None trains every epoch and keeps the best one.
    """

    audio: str
    split: str
    out: str
    video: str | None = None
    semantic: str = "text"
    text: str | None = None
    image: str | None = None
    audio_prototypes: str | None = None
    semantic_file: str | None = None
    trial: int = 0
    method: str = "projection"
    method_args: dict[str, Any] = field(default_factory=dict)
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    weight_decay: float | None = None
    momentum: float | None = None
    patience: int | None = None
    grid: dict[str, list] | None = None   # settings chosen on validation (zsltool.train.grid)
    preset: str | None = None             # "paper", or a method's named preset (explicit settings still win)
    lr_schedule: list[float] | None = None  # one learning rate per epoch, replayed (zsltool.train.schedule)
    strict: bool = False                  # validity warnings (zsltool.guards) are errors
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    overwrite: bool = False
    log_every: int = 10

    def to_dict(self) -> dict:
        return asdict(self)

