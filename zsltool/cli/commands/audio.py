"""Audio commands: extract-audio, pretrain-audio, import-audioset (thin shims over zsltool.extract.audio)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import inspect

import typer

from zsltool.cli.commands.extract import run_extract, summary_table
from zsltool.cli.common import DeviceOpt, JsonOpt, OverwriteOpt, SeedOpt, device_or_global, emit, seed_option, seed_or_global
from zsltool.cli.extractor_command import extract_command, progress
from zsltool.cli.types import float_option

extract_audio_cmd = extract_command(
    "audio", default_model="vggish", run=run_extract("audio"), table=summary_table, batch_size=16, workers=2,
    inputs=inspect.Parameter("inputs", inspect.Parameter.KEYWORD_ONLY, annotation=List[str],
                             default=typer.Argument(..., help="Clip manifests (.csv from select-audio), folders of "
                                                    "audio files (recursive), audio files, or - to read paths "
                                                    "from stdin.")),
    doc="Audio files -> clip-level audio embeddings (mean over each model's examples) in an HDF5 file.")


def pretrain_audio_cmd(
    manifest: Path = typer.Argument(..., help="Clip manifest (.csv from select-audio)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output weights (.pth); OUT.json describes the run."),
    classes: Path = typer.Option(..., "--classes", help="Class set JSON."),
    split: Path = typer.Option(..., "--split", help="Split JSON: only the trial's training classes are used."),
    trial: int = typer.Option(0, "--trial", min=0, help="Trial of the split."),
    model: str = typer.Option("vggish", "--model", help="Registered audio model to train from random weights "
                              "(vggish, cnn14)."),
    epochs: int = typer.Option(10, "--epochs", min=1, help="Training epochs."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Clips per step (all their examples)."),
    lr: float = float_option(1e-4, "--lr", min=0, min_open=True, help="Adam learning rate (VGGish used 1e-4)."),
    width: float = float_option(1.0, "--width", min=0, min_open=True,
                               help="Channel multiplier of the network (1.0 = the published size)."),
    max_seconds: float = float_option(10.0, "--max-seconds", min=0, min_open=True,
                                      help="Read at most this many seconds per clip."),
    workers: int = typer.Option(2, "--workers", min=0, help="DataLoader workers for decoding and log-mel."),
    device: Optional[str] = DeviceOpt,
    seed: Optional[int] = SeedOpt,
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Train an audio network from scratch on the seen classes' clips; extract-audio --weights loads it."""
    from zsltool.extract.audio.pretrain import pretrain_audio

    from zsltool.cli.choices import check_choice
    from zsltool.extract.registry import list_extractors

    check_choice(model, list_extractors("audio"), "--model")
    if not width > 0:
        raise typer.BadParameter("--width must be positive")
    res = pretrain_audio(manifest, out, classes_path=classes, split_path=split, trial=trial, model=model, epochs=epochs,
                         batch_size=batch_size, lr=lr, width=width, max_seconds=max_seconds, workers=workers,
                         device=device_or_global(device), seed=seed_or_global(seed),
                         overwrite=overwrite, progress=progress())
    emit(res, json_out)


def import_audioset_cmd(
    tfrecords: List[Path] = typer.Argument(..., help="AudioSet embedding .tfrecord files or folders of them."),
    out: Path = typer.Option(..., "--out", "-o", help="Output embedding file (.h5)."),
    class_index: Path = typer.Option(..., "--class-index", help="AudioSet class_labels_indices.csv."),
    classes: Path = typer.Option(..., "--classes", help="Class set JSON (merged MIDs count as their parent)."),
    per_class: Optional[int] = typer.Option(None, "--per-class", min=1, help="At most this many clips per class."),
    single_label: bool = typer.Option(False, "--single-label", help="Keep only clips with exactly one class."),
    frames: bool = typer.Option(False, "--frames", help="Also store the per-second embeddings."),
    seed: Optional[int] = seed_option("Seed of the --per-class draw (default: global)."),
    no_crc: bool = typer.Option(False, "--no-crc", help="Skip CRC checks (faster; corrupt data goes unnoticed)."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """AudioSet's released embeddings (TFRecords, no TensorFlow needed) -> clip-level embedding file."""
    from zsltool.extract.audio.audioset_import import import_audioset

    res = import_audioset(tfrecords, out, class_index=class_index, classes_path=classes, per_class=per_class,
                          single_label=single_label, frames=frames, seed=seed_or_global(seed),
                          verify_crc=not no_crc, overwrite=overwrite)
    emit(res, json_out, table=summary_table)


def register(app: typer.Typer) -> None:
    app.command("extract-audio")(extract_audio_cmd)
    app.command("pretrain-audio")(pretrain_audio_cmd)
    app.command("import-audioset")(import_audioset_cmd)
