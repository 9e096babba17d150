"""Audio commands: extract-audio, pretrain-audio, import-audioset (thin shims over zsltool.extract.audio)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from zsltool.cli.commands.extract import run_extract, summary_table
from zsltool.cli.common import JsonOpt, OverwriteOpt, emit, seed_option, seed_or_global
from zsltool.cli.extractor_command import extract_command, kw, pretrain_command
from zsltool.cli.types import check_choice, float_option
from zsltool.extract.registry import list_extractors

extract_audio_cmd = extract_command(
    "audio", default_model="vggish", run=run_extract("audio"), table=summary_table, batch_size=16, workers=2,
    inputs=kw("inputs", List[str], typer.Argument(..., help="Clip manifests (.csv from select-audio), folders of "
                                                   "audio files (recursive), audio files, or - to read paths from "
                                                   "stdin.")),
    doc="Audio files -> clip-level audio embeddings (mean over each model's examples) in an HDF5 file.")


def _pretrain_audio(*, manifest, out, classes, split, model, width, device, **kw) -> dict:
    from zsltool.extract.audio.pretrain import pretrain_audio

    check_choice(model, list_extractors("audio"), "--model")
    return pretrain_audio(manifest, out, classes_path=classes, split_path=split, model=model, width=width,
                          device=device, **kw)


pretrain_audio_cmd = pretrain_command(
    "audio", inputs=kw("manifest", Path, typer.Argument(..., help="Clip manifest (.csv from select-audio).")),
    default_model="vggish", model_help="Registered audio model to train from random weights (vggish, cnn14).",
    epochs=10, batch_size=8, batch_help="Clips per step (all their examples).", lr=1e-4,
    lr_help="Adam learning rate (VGGish used 1e-4).",
    options=[kw("width", float, float_option(1.0, "--width", min=0, min_open=True, help="Channel multiplier of "
                                             "the network (1.0 = the published size).")),
             kw("max_seconds", float, float_option(10.0, "--max-seconds", min=0, min_open=True,
                                                   help="Read at most this many seconds per clip.")),
             kw("workers", int, typer.Option(2, "--workers", min=0, help="DataLoader workers for decoding and "
                                             "log-mel."))],
    run=_pretrain_audio,
    doc="Train an audio network from scratch on the seen classes' clips; extract-audio --weights loads it.")


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


COMMANDS = {"extract-audio": extract_audio_cmd, "pretrain-audio": pretrain_audio_cmd,
            "import-audioset": import_audioset_cmd}
