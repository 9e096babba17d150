"""``zsl train``: learn a zero-shot model and write a self-describing checkpoint (thin shim over
``zsltool.train.loop.train``)."""

from __future__ import annotations

import json
import math
from typing import List, Optional

import click
import typer

from zsltool.cli.common import STATE, JsonOpt, OverwriteOpt, SeedOpt, emit, kv_table, noted, seed_or_global
from zsltool.cli.types import NamesChoice, float_option
from zsltool.methods import names as method_names
from zsltool.methods.names import PRESETS
from zsltool.names import SEMANTIC_SOURCES
from zsltool.train.config import OPTIMIZERS, TrainConfig


def parse_method_args(pairs: list[str]) -> dict:
    """``KEY=VALUE`` pairs -> dict; values are parsed as JSON when they can be (numbers, true, null, lists)."""
    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise typer.BadParameter(f"{p!r} is not KEY=VALUE", param_hint="--arg")
        k, v = p.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
        if isinstance(out[k.strip()], float) and not math.isfinite(out[k.strip()]):
            raise typer.BadParameter(f"{p!r}: {v} is not a finite number", param_hint="--arg")
    return out


def _table(summary: dict):
    flat = {k: v for k, v in summary.items() if k not in ("last_epoch", "warnings")}
    flat.update({f"last {k}": v for k, v in summary.get("last_epoch", {}).items()})
    return noted(kv_table(flat, title="zsl train"), summary.get("warnings"))


def train_cmd(
    audio: str = typer.Option(..., "--audio", help="Instance-level audio embedding file (HDF5)."),
    split: str = typer.Option(..., "--split", help="Split file (zsl split)."),
    out: str = typer.Option(..., "--out", "-o", help="Checkpoint to write (.pt)."),
    video: Optional[str] = typer.Option(None, "--video", help="Instance-level video embedding file "
                                        "(ids shared with --audio)."),
    semantic: str = typer.Option("text", "--semantic", click_type=click.Choice(list(SEMANTIC_SOURCES)), help="Class-level side information: hybrid = image ‖ text."),
    text: Optional[str] = typer.Option(None, "--text", help="Class-level text embedding file."),
    image: Optional[str] = typer.Option(None, "--image", help="Class-level image embedding file."),
    audio_prototypes: Optional[str] = typer.Option(None, "--audio-prototypes",
                                                   help="Class-level audio prototype file."),
    semantic_file: Optional[str] = typer.Option(None, "--semantic-file",
                                                help="Any class-level file (overrides --semantic's file)."),
    trial: int = typer.Option(0, "--trial", help="Trial of the split (0-based)."),
    method: str = typer.Option("projection", "--method", click_type=NamesChoice(lambda: method_names.METHOD_NAMES),
                               help="Zero-shot method (see docs/methods.md)."),
    arg: List[str] = typer.Option([], "--arg", help="Method argument KEY=VALUE (repeatable), "
                                  "e.g. --arg activation=none --arg hidden=256."),
    disable_loss: List[str] = typer.Option([], "--disable-loss", help="Switch a loss term off "
                                           "(repeatable; avgzslnet: rec cta ctv ta at tv vt)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epochs (default: the method's)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Batch size."),
    lr: Optional[float] = float_option(None, "--lr", min=0, min_open=True, help="Learning rate."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", click_type=click.Choice(list(OPTIMIZERS)),
                                            help="Optimiser (default: the method's)."),
    weight_decay: Optional[float] = float_option(None, "--weight-decay", min=0, help="Weight decay."),
    momentum: Optional[float] = float_option(None, "--momentum", min=0, max=1, max_open=True,
                                             help="SGD momentum, at least 0 and below 1."),
    patience: Optional[int] = typer.Option(None, "--patience", min=1,
                                           help="Early stopping: epochs without validation improvement."),
    grid: List[str] = typer.Option([], "--grid", help="Settings chosen on validation data: KEY=V1,V2 (lr, "
                                   "optimizer, batch_size, epochs, weight_decay, momentum, a method "
                                   "argument or METHOD:preset), repeatable, or a JSON file {key: [values]}."),
    preset: Optional[str] = typer.Option(None, "--preset", click_type=click.Choice(list(PRESETS)),
                                         help="paper: the founding papers' literal settings (no feature "
                                              "scaling; AVGZSLNet's absolute decoder margin); avca-gzsl: "
                                              "AVGZSLNet as AVCA-GZSL's run scripts train it; --arg and "
                                              "training options win."),
    strict: bool = typer.Option(False, "--strict", help="Validity warnings (a feature network trained on "
                                "this trial's held-out classes) are errors."),
    seed: Optional[int] = SeedOpt,
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch CPU threads."),
    log_every: int = typer.Option(10, "--log-every", min=1, help="With -v: a line every N epochs (loss, validation)."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Train a zero-shot model on a split trial and write a checkpoint."""
    from zsltool.train.grid import parse_grid
    from zsltool.train.loop import train

    margs = parse_method_args(arg)
    if disable_loss:
        margs["disabled_losses"] = list(disable_loss)
    cfg = TrainConfig(audio=audio, split=split, out=out, video=video, semantic=semantic, text=text, image=image,
                      audio_prototypes=audio_prototypes, semantic_file=semantic_file, trial=trial,
                      method=method, method_args=margs, epochs=epochs, batch_size=batch_size, lr=lr,
                      optimizer=optimizer, weight_decay=weight_decay, momentum=momentum, patience=patience,
                      seed=seed_or_global(seed), device=STATE.device, threads=threads,
                      overwrite=overwrite, log_every=log_every, grid=parse_grid(grid),
                      preset=preset, strict=strict)
    result = train(cfg)
    emit(result.summary(), json_out, table=_table)


COMMANDS = {"train": train_cmd}
