"""``zsl classify``: which of these labels is this clip? (thin shim over ``zsltool.classify.run.classify_clips``, or
``zsltool.classify.joint.classify_joint`` with ``--model``)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import List, Optional

import click
import typer

from zsltool.cli.common import STATE, info
from zsltool.errors import ZslError
from zsltool.evaluate.transductive import REFINERS
from zsltool.files.provenance import jsonable
from zsltool.names import JOINT_MODELS, SCORE_MODALITIES


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
    setting = preds.info.get("setting", "inductive")
    title = f"zsl classify ({len(preds.labels)} labels" + (f", {setting})" if setting != "inductive" else ")")
    t = Table(title=title, caption=escape("\n".join(notes)) or None)
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
    model: Optional[Path] = typer.Argument(None, help="Checkpoint made by zsl train (none with --model)."),
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
    joint: Optional[str] = typer.Option(None, "--model", click_type=click.Choice(list(JOINT_MODELS)),
                                        help="Score with a joint audio-text model itself, no checkpoint (as HF's "
                                        "zero-shot-audio-classification pipeline); --weights picks its weights "
                                        "(a Hugging Face id or a save_pretrained folder)."),
    prompt: Optional[List[str]] = typer.Option(None, "--prompt", help='With --model: the template a label is '
                                               'embedded through (default "This is a sound of {}."); several '
                                               '--prompt are averaged (prompt ensembling).'),
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
    allow_other_extractor: bool = typer.Option(False, "--allow-other-extractor", help="Accept --embeddings / "
                                               "--video-embeddings made by another extractor or other weights "
                                               "than the training rows (their scores mean little), with a "
                                               "warning."),
    transductive: Optional[str] = typer.Option(
        None, "--transductive", click_type=click.Choice(list(REFINERS)),
        help="The transductive setting (off by default): refine the ranking with all the clips given taken "
             "together (soft-kmeans: soft k-means on their embeddings, started from the model's scores)."),
):
    """Rank candidate labels (any names) for new clips with a trained model, or with a joint audio-text model and
    no checkpoint (--model clap): scores and probabilities."""
    if sum([json_out, jsonl, csv_out]) > 1:
        raise typer.BadParameter("give one of --json, --jsonl, --csv", param_hint="--json")
    if joint or prompt:
        preds = _joint(joint, model, inputs, prompt, labels=labels, labels_file=labels_file, embeddings=embeddings,
                       weights=weights, top=top, batch_size=batch_size, workers=workers, device=STATE.device,
                       others={"--video-embeddings": video_embeddings, "--class-embeddings": class_embeddings,
                               "--vectors": vectors, "--video-weights": video_weights,
                               "--transductive": transductive,
                               "--allow-other-extractor": allow_other_extractor or None})
    else:
        preds = _checkpoint(model, inputs, labels=labels, labels_file=labels_file, embeddings=embeddings,
                            video_embeddings=video_embeddings, class_embeddings=class_embeddings, vectors=vectors,
                            allow_other_vectors=allow_other_vectors, weights=weights, video_weights=video_weights,
                            top=top, modality=modality, batch_size=batch_size, workers=workers,
                            device=STATE.device, strict=strict, transductive=transductive,
                            allow_other_extractor=allow_other_extractor)
    _print(preds, top, json_out, jsonl, csv_out)


def _joint(joint, model, inputs, prompt, *, others: dict, **kw):
    """``--model clap``: every positional argument is a clip (there is no checkpoint)."""
    from zsltool.classify.joint import classify_joint

    if not joint:
        raise typer.BadParameter("--prompt applies to --model (a checkpoint embeds labels as its training text "
                                 "file was made)", param_hint="--prompt")
    given = [k for k, v in others.items() if v is not None]
    if given:
        raise typer.BadParameter(f"{given[0]} does not apply to --model {joint}", param_hint=given[0])
    clips = ([model] if model is not None else []) + list(inputs or [])
    return classify_joint(clips, model=joint, prompts=prompt, progress=not STATE.quiet, **kw)


def _checkpoint(model, inputs, **kw):
    from zsltool.classify.run import classify_clips

    if model is None:
        raise typer.BadParameter("give a checkpoint made by zsl train, or --model clap", param_hint="MODEL")
    if not model.exists() and model.name in JOINT_MODELS:
        raise ZslError(f"checkpoint not found: {model}",
                       hint=f"to classify with {model.name} itself (no checkpoint): zsl classify --model {model.name} "
                            "CLIP... --labels ...")
    return classify_clips(model, inputs or [], progress=not STATE.quiet, **kw)


def _print(preds, top: int, json_out: bool, jsonl: bool, csv_out: bool) -> None:
    bad = [r for r in preds if not r["valid"]]
    setting = preds.info.get("setting", "inductive")
    info(f"{len(preds) - len(bad)} of {len(preds)} clips classified among {len(preds.labels)} labels"
         + (f" ({setting})" if setting != "inductive" else "")
         + f"; probabilities: temperature from {preds.info['temperature_source']}")
    if json_out:
        sys.stdout.write(json.dumps(jsonable(preds.to_dict()), indent=2, ensure_ascii=False) + "\n")
    elif jsonl:
        for r in preds:
            sys.stdout.write(json.dumps(jsonable(r), ensure_ascii=False) + "\n")
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


COMMANDS = {"classify": classify_cmd}
