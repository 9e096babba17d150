"""The training configuration (``TrainConfig``): everything ``zsl train`` needs, JSON-able for checkpoints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OPTIMIZERS = ("sgd", "adam")
INTEGER_SETTINGS = ("epochs", "batch_size")
FLOAT_SETTINGS = {"lr": True, "weight_decay": False, "momentum": False}  # name -> must be above 0


def setting_problem(key: str, value: Any) -> str | None:
    """Why ``value`` cannot be the training setting ``key`` (None when it can): epochs and batch size are whole
    numbers of at least 1 (1.5 epochs is refused, not truncated), the optimiser one of OPTIMIZERS, lr a finite
    number above 0, weight decay a finite number of at least 0, momentum at least 0 and below 1 (torch.optim.SGD
    takes any momentum of at least 0, but at 1 or more past gradients never decay: training never converges)."""
    import math

    if key in INTEGER_SETTINGS:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
        return None if value >= 1 else "must be at least 1"
    if key == "optimizer":
        return None if value in OPTIMIZERS else f"must be one of {', '.join(OPTIMIZERS)}"
    if key in FLOAT_SETTINGS:
        positive = FLOAT_SETTINGS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            return f"must be a finite number {'above' if positive else 'of at least'} 0"
        if key == "momentum" and value >= 1:
            return "must be at least 0 and below 1"
    return None


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
    strict: bool = False                  # validity warnings (zsltool.runtime.guards) are errors
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    overwrite: bool = False
    log_every: int = 10

    def to_dict(self) -> dict:
        return asdict(self)

