"""Audio commands: extract-audio, pretrain-audio, import-audioset (thin shims over zsltool.extract.audio)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import click
import typer

from zsltool.cli.common import (STATE, DeviceOpt, JsonOpt, OverwriteOpt, ResumeOpt, SeedOpt, ShardOpt, emit,
                               kv_table, seed_option, seed_or_global)
from zsltool.cli.types import float_option

EMBEDDINGS = ["raw", "relu", "pca", "pca-quantized"]


def _audio_models() -> list[str]:
    from zsltool.extract.registry import list_extractors

    return list_extractors("audio") or ["vggish"]


def _summary_table(res: dict):
    from zsltool.cli.common import rows_table

    flat = {k: v for k, v in res.items() if k not in ("invalid_rows", "corrupt", "per_class", "padded_ids")}
    tables = [kv_table(flat)]
    if res.get("invalid_rows"):
        tables.append(rows_table(res["invalid_rows"][:50], title="invalid rows"))
    if res.get("corrupt"):
        tables.append(rows_table(res["corrupt"][:50], title="corrupt records"))
    return tables


def extract_audio_cmd(
    source: str = typer.Argument(..., help="Clip manifest (.csv from select-audio), a folder of audio files "
                                           "(recursive), one audio file, or - to read paths from stdin."),
    out: Path = typer.Option(..., "--out", "-o", help="Output embedding file (.h5)."),
    classes: Optional[Path] = typer.Option(None, "--classes", help="Class set JSON: labels of the manifest "
                                           "become the file's /labels (optional for unlabelled audio)."),
    model: str = typer.Option("vggish", "--model", help="Registered audio extractor.",
                              click_type=click.Choice(_audio_models())),
    weights: Optional[str] = typer.Option(None, "--weights", help="Weights: a path or URL (default: the "
                                          "torchvggish release, downloaded once into the torch hub cache)."),
    embedding: str = typer.Option("raw", "--embedding", help="raw: 128-d layer without ReLU; relu: with ReLU "
                                  "(torchvggish); pca: + PCA/whitening; pca-quantized: + 8-bit quantization "
                                  "(stored dequantized).", click_type=click.Choice(EMBEDDINGS)),
    pca_params: Optional[str] = typer.Option(None, "--pca-params", help="PCA parameter file (path or URL) "
                                             "for --embedding pca*; default: the torchvggish release."),
    frames: bool = typer.Option(False, "--frames", help="Also store the per-example (0.96 s) embeddings."),
    max_seconds: float = float_option(10.0, "--max-seconds", min=0, min_open=True,
                                      help="Read at most this many seconds per clip."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Clips per batch."),
    workers: int = typer.Option(2, "--workers", min=0, help="DataLoader workers for decoding and log-mel."),
    device: Optional[str] = DeviceOpt,
    shard: Optional[str] = ShardOpt,
    resume: bool = ResumeOpt,
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Audio files -> clip-level audio embeddings (VGGish: mean of 0.96 s examples) in an HDF5 file."""
    from zsltool.extract.audio.extract import extract_audio
    from zsltool.utils import parse_shard

    res = extract_audio(source, out, classes_path=classes, model=model, weights=weights, embedding=embedding,
                        pca_params=pca_params, frames=frames, max_seconds=max_seconds, batch_size=batch_size,
                        workers=workers, device=device or STATE.device, shard=parse_shard(shard),
                        overwrite=overwrite, resume=resume, progress=not STATE.quiet)
    emit(res, json_out, table=_summary_table)


def pretrain_audio_cmd(
    manifest: Path = typer.Argument(..., help="Clip manifest (.csv from select-audio)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output weights (.pth); OUT.json describes the run."),
    classes: Path = typer.Option(..., "--classes", help="Class set JSON."),
    split: Path = typer.Option(..., "--split", help="Split JSON: only the trial's training classes are used."),
    trial: int = typer.Option(0, "--trial", min=0, help="Trial of the split."),
    epochs: int = typer.Option(10, "--epochs", min=1, help="Training epochs."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Clips per step (all their examples)."),
    lr: float = float_option(1e-4, "--lr", min=0, min_open=True, help="Adam learning rate (VGGish used 1e-4)."),
    width: float = float_option(1.0, "--width", min=0, min_open=True, help="Channel/hidden-unit multiplier (1.0 = published VGGish)."),
    max_seconds: float = float_option(10.0, "--max-seconds", min=0, min_open=True,
                                      help="Read at most this many seconds per clip."),
    workers: int = typer.Option(2, "--workers", min=0, help="DataLoader workers for decoding and log-mel."),
    seed: Optional[int] = SeedOpt,
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Train the audio network from scratch on the seen classes' clips; extract-audio --weights loads it."""
    from zsltool.extract.audio.pretrain import pretrain_audio
    from zsltool.utils import resolve_device

    if not width > 0:
        raise typer.BadParameter("--width must be positive")
    res = pretrain_audio(manifest, out, classes_path=classes, split_path=split, trial=trial, epochs=epochs,
                         batch_size=batch_size, lr=lr, width=width, max_seconds=max_seconds, workers=workers,
                         device=resolve_device(STATE.device), seed=seed_or_global(seed),
                         overwrite=overwrite, progress=not STATE.quiet)
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
    emit(res, json_out, table=_summary_table)


def register(app: typer.Typer) -> None:
    app.command("extract-audio")(extract_audio_cmd)
    app.command("pretrain-audio")(pretrain_audio_cmd)
    app.command("import-audioset")(import_audioset_cmd)
