"""Building ``zsl extract-<modality>`` from the extractor registry, and ``zsl pretrain-<modality>``.

An extract command's ``--model`` choices are the registered models of the modality, and its model options are
the fields of their config dataclasses (one option per field name; an option only some models have says which,
and giving it with another model is a usage error). The pipeline options (batching, workers, shards,
resume, output) are the same for every modality.

A pretrain command's shared options (output, class set, split, trial, model, epochs, batch size, learning rate,
device, seed, overwrite, --json) are declared once here; a modality adds its own options and a ``run`` that
calls its library function (each on ``zsltool.extract.pretrain.train_classifier``).

No torch is imported to build or to parse.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import click
import typer

from zsltool.cli.common import (STATE, DeviceOpt, JsonOpt, OverwriteOpt, ResumeOpt, SeedOpt, ShardOpt, device_option,
                                device_or_global, emit, seed_or_global)
from zsltool.cli.types import FiniteFloat, float_option
from zsltool.extract.base import option_flag
from zsltool.extract.registry import get_extractor, list_extractors


def kw(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    """A keyword parameter of a built command (``default``: a typer.Option or typer.Argument)."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def config_fields(modality: str) -> dict[str, tuple[dataclasses.Field, type, list[str], list]]:
    """Field name -> (field, type, models that have it, their defaults), over the modality's models."""
    out: dict = {}
    for name in list_extractors(modality):
        cfg = get_extractor(name).config
        hints = typing.get_type_hints(cfg)
        for f in dataclasses.fields(cfg):
            args = [a for a in typing.get_args(hints[f.name]) if a is not type(None)]  # X of Optional[X]
            entry = out.setdefault(f.name, (f, args[0] if args else hints[f.name], [], []))
            entry[2].append(name)
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            if default not in entry[3]:
                entry[3].append(default)
    return out


def _option_param(name: str, f: dataclasses.Field, typ: type, models: list[str], defaults: list,
                  all_models: list[str]) -> inspect.Parameter:
    text = f.metadata.get("help", "")
    if len(models) < len(all_models):
        text += f" Models: {', '.join(models) if len(models) <= 6 else ', '.join(models[:6]) + ', ...'}."
    if len(defaults) == 1 and defaults[0] is not None and typ is not bool:
        text += f" [default: {defaults[0]}]"
    kwargs: dict[str, Any] = {"help": text, "show_default": False}
    if f.metadata.get("choices"):
        kwargs["click_type"] = click.Choice(list(f.metadata["choices"]))
    elif typ is float:  # every float option is finite (NaN / Inf refused), in its range
        positive = bool(f.metadata.get("positive"))
        kwargs["click_type"] = FiniteFloat(0.0 if positive else f.metadata.get("min"), min_open=positive)
    elif f.metadata.get("min") is not None and typ is int:
        kwargs["min"] = f.metadata["min"]
    flag = option_flag(f)
    decl = f"{flag}/--no-{flag[2:]}" if typ is bool else flag
    return kw(name, Optional[typ], typer.Option(None, decl, **kwargs))


def model_options(modality: str, model: str, given: dict) -> dict:
    """The config options given for ``model``; an option the model does not have is a usage error."""
    spec = get_extractor(model, modality)
    own = {f.name for f in dataclasses.fields(spec.config)}
    fields = config_fields(modality)
    for k, v in given.items():
        if v is not None and k not in own:
            raise typer.BadParameter(f"{option_flag(fields[k][0])} does not apply to --model {model}",
                                     param_hint=option_flag(fields[k][0]))
    return {k: v for k, v in given.items() if v is not None}


def extract_command(modality: str, *, default_model: str, inputs: inspect.Parameter, doc: str,
                    run: Callable[..., dict], table: Callable | None = None,
                    pipeline: bool = True, batch_size: int = 16, workers: int = 0) -> Callable:
    """A typer command for ``zsl extract-<modality>``: ``run(model=..., options=..., **pipeline, **rest)``."""
    models = list_extractors(modality)
    fields = config_fields(modality)
    params = [inputs,
              kw("out", str, typer.Option(..., "--out", "-o", help="Output embedding file (.h5).")),
              kw("model", str, typer.Option(default_model, "--model", click_type=click.Choice(models),
                                            help="Registered model (zsl models lists them).")),
              kw("classes", Optional[str], typer.Option(None, "--classes", help="Class-set file for the inputs' "
                                                        "labels.")),
              *(_option_param(n, f, t, m, d, models) for n, (f, t, m, d) in fields.items()),
              kw("batch_size", int, typer.Option(batch_size, "--batch-size", min=1, help="Inputs per batch."))]
    if pipeline:
        params += [kw("workers", int, typer.Option(workers, "--workers", min=0,
                                                  help="DataLoader workers for decoding and preprocessing.")),
                   kw("shard", Optional[str], ShardOpt),
                   kw("resume", bool, ResumeOpt)]
    params += [kw("device", Optional[str], device_option()),
               kw("overwrite", bool, OverwriteOpt),
               kw("json_out", bool, JsonOpt)]

    def command(**kw):
        model = kw.pop("model")
        options = model_options(modality, model, {n: kw.pop(n) for n in fields})
        json_out = kw.pop("json_out")
        if "shard" in kw:  # --shard K/N, else from torchrun / a SLURM array; each shard writes OUT.K-of-N.EXT
            from zsltool.runtime.env import parse_shard, shard_out

            spec = kw["shard"]
            kw["shard"] = parse_shard(spec)
            kw["out"] = shard_out(kw["out"], spec)
        kw["device"] = kw["device"] or STATE.device
        res = run(model=model, options=options, seed=STATE.seed, **kw)  # --seed: random weights follow it
        emit(res, json_out, table=table)

    command.__signature__ = inspect.Signature(params)
    command.__doc__ = doc
    command.__name__ = f"extract_{modality}_cmd"
    return command


def progress() -> bool:
    return not STATE.quiet


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
