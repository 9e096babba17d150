"""``zsl classify``: which of these labels is this clip? (thin shim over ``zsltool.classify_clips.classify``)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import List, Optional

import click
import typer

from zsltool.cli.common import STATE, info, to_jsonable
from zsltool.names import SCORE_MODALITIES


def _clip_names(clips: list[str]) -> tuple[list[str], str]:
    """The clips as shown: paths without the folders they all share (returned, for the caption), so that two
    clips never look the same however narrow the table."""
    parts = [str(c).split("/") for c in clips]
    n = 0
    while len(parts) > 1 and all(len(p) > n + 1 for p in parts) and len({p[n] for p in parts}) == 1:
        n += 1
    common = "/".join(parts[0][:n]) if parts else ""
    if not common:
        return [str(c) for c in clips], ""
    return ["/".join(p[n:]) for p in parts], common


def _table(preds, top: int):
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    names, common = _clip_names([r["clip"] for r in preds])
    notes = ([f"clips under {common}/"] if common else []) + \
        [f"Warning: {w}" for w in preds.info.get("warnings") or []]
    t = Table(title=f"zsl classify ({len(preds.labels)} labels)", caption=escape("\n".join(notes)) or None)
    t.add_column("clip", overflow="fold")  # folded, never cut: the end of a path tells clips apart
    for k in range(1, min(top, len(preds.labels)) + 1):
        t.add_column(f"#{k} (p)")
    for r, name in zip(preds, names):
        if not r["valid"]:
            t.add_row(Text(name), Text(f"invalid: {r['reason']}"))
            continue
        t.add_row(Text(name), *[Text(f"{x['label']} ({x['probability']:.3f})") for x in r["top"]])
    return t


def classify_cmd(
    model: Path = typer.Argument(..., help="Checkpoint made by zsl train."),
    inputs: Optional[List[Path]] = typer.Argument(None, help="Audio files, folders of audio, or clip manifests "
                                                  "(.csv); video files or folders for audio-visual models; or "
                                                  "give --embeddings."),
    labels: Optional[str] = typer.Option(None, "--labels", help='Candidate labels, comma-separated: '
                                         '"dog,siren,church bells" (any names, seen in training or not).'),
    labels_file: Optional[Path] = typer.Option(None, "--labels-file", help="Candidate labels, one per line."),
    embeddings: Optional[Path] = typer.Option(None, "--embeddings", help="Precomputed instance-level audio "
                                              "embeddings to classify instead of audio files."),
    video_embeddings: Optional[Path] = typer.Option(None, "--video-embeddings", help="Precomputed video "
                                                    "embeddings (audio-visual checkpoints; ids shared with "
                                                    "--embeddings)."),
    class_embeddings: Optional[Path] = typer.Option(None, "--class-embeddings", help="A class-level file whose "
                                                    "ids are the labels (image, hybrid, prototypes...): replaces "
                                                    "embedding the labels on the fly."),
    vectors: Optional[Path] = typer.Option(None, "--vectors", help="Word vectors to embed the labels with, when "
                                           "the path recorded at training is gone (checked by sha256)."),
    allow_other_vectors: bool = typer.Option(False, "--allow-other-vectors", help="Accept a vectors file whose "
                                             "sha256 differs from the recorded one (the embedding space would "
                                             "differ)."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Audio network weights, when the recorded path "
                                          "is gone (same rules as extract-audio --weights; checked by sha256)."),
    video_weights: Optional[str] = typer.Option(None, "--video-weights", help="Video network weights for video "
                                                "inputs, when the recorded ones are gone."),
    top: int = typer.Option(3, "--top", min=1, help="Labels kept per clip."),
    modality: str = typer.Option("both", "--modality", click_type=click.Choice(list(SCORE_MODALITIES)),
                                 help="Audio-visual checkpoints: the modality to score with."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Clips per batch."),
    workers: int = typer.Option(0, "--workers", min=0, help="DataLoader workers for decoding."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
    jsonl: bool = typer.Option(False, "--jsonl", help="Print one JSON line per clip."),
    csv_out: bool = typer.Option(False, "--csv", help="Print a tidy CSV: clip, rank, label, score, probability."),
    strict: bool = typer.Option(False, "--strict", help="A label embedded from only some of its words (the "
                                "others not in the vocabulary) is an error instead of a warning."),
):
    """Rank candidate labels (any names) for new clips with a trained model: scores and probabilities."""
    from zsltool.classify_clips import classify

    if sum([json_out, jsonl, csv_out]) > 1:
        raise typer.BadParameter("give one of --json, --jsonl, --csv", param_hint="--json")
    preds = classify(model, inputs or [], labels=labels, labels_file=labels_file, embeddings=embeddings,
                     video_embeddings=video_embeddings, class_embeddings=class_embeddings, vectors=vectors,
                     allow_other_vectors=allow_other_vectors, weights=weights, video_weights=video_weights,
                     top=top, modality=modality,
                     batch_size=batch_size, workers=workers, device=STATE.device,
                     progress=not STATE.quiet, strict=strict)
    bad = [r for r in preds if not r["valid"]]
    info(f"{len(preds) - len(bad)} of {len(preds)} clips classified among {len(preds.labels)} labels; "
         f"probabilities: temperature from {preds.info['temperature_source']}")
    if json_out:
        sys.stdout.write(json.dumps(to_jsonable(preds.to_dict()), indent=2, ensure_ascii=False) + "\n")
    elif jsonl:
        for r in preds:
            sys.stdout.write(json.dumps(to_jsonable(r), ensure_ascii=False) + "\n")
    elif csv_out:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["clip", "rank", "label", "score", "probability", "reason"])
        for r in preds.rows():
            w.writerow(["" if r[k] is None else r[k] for k in ("clip", "rank", "label", "score", "probability",
                                                               "reason")])
    else:
        from zsltool.cli.common import _stdout_console

        _stdout_console().print(_table(preds, top))
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("classify")(classify_cmd)
