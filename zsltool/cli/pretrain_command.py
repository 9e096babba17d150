"""Building ``zsl pretrain-<modality>``: the options every pretrain command shares (output, class set, split,
trial, model, epochs, batch size, learning rate, device, seed, overwrite, --json) are declared once here; a
modality adds its own options and a ``run`` that calls its library function (each on
``zsltool.extract.pretrain.train_classifier``). No torch is imported to build or to parse.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Callable, Optional, Sequence

import typer

from zsltool.cli.common import (DeviceOpt, JsonOpt, OverwriteOpt, SeedOpt, device_or_global, emit,
                                seed_or_global)
from zsltool.cli.extractor_command import kw, progress
from zsltool.cli.types import float_option

TRAINING_CLASSES = "Split JSON: only the trial's training classes are used."


def pretrain_command(modality: str, *, inputs: inspect.Parameter, default_model: str, model_help: str,
                     epochs: int, batch_size: int, batch_help: str, lr: float, lr_help: str = "Adam learning rate.",
                     split_help: str = TRAINING_CLASSES, options: Sequence[inspect.Parameter] = (),
                     run: Callable[..., dict], doc: str) -> Callable:
    """A typer command for ``zsl pretrain-<modality>``: ``run(**every option, progress=...)`` returns the result
    (device and seed already default to the global ones)."""
    params = [
        inputs,
        kw("out", Path, typer.Option(..., "--out", "-o", help="Output weights (.pth); OUT.json describes the run.")),
        kw("classes", Path, typer.Option(..., "--classes", help="Class set JSON.")),
        kw("split", Path, typer.Option(..., "--split", help=split_help)),
        kw("trial", int, typer.Option(0, "--trial", min=0, help="Trial of the split.")),
        kw("model", str, typer.Option(default_model, "--model", help=model_help)),
        kw("epochs", int, typer.Option(epochs, "--epochs", min=1, help="Training epochs.")),
        kw("batch_size", int, typer.Option(batch_size, "--batch-size", min=1, help=batch_help)),
        kw("lr", float, float_option(lr, "--lr", min=0, min_open=True, help=lr_help)),
        *options,
        kw("device", Optional[str], DeviceOpt),
        kw("seed", Optional[int], SeedOpt),
        kw("overwrite", bool, OverwriteOpt),
        kw("resume", bool, typer.Option(True, "--resume/--no-resume", help="Continue a killed run after its last "
                                        "finished epoch (OUT.last-epoch.pt; removed when the run ends).")),
        kw("json_out", bool, JsonOpt),
    ]

    def command(**kwargs):
        json_out = kwargs.pop("json_out")
        kwargs["device"], kwargs["seed"] = device_or_global(kwargs["device"]), seed_or_global(kwargs["seed"])
        emit(run(**kwargs, progress=progress()), json_out)

    command.__signature__ = inspect.Signature(params)
    command.__doc__ = doc
    command.__name__ = f"pretrain_{modality}_cmd"
    return command
