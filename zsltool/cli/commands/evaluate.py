"""``zsl evaluate`` and ``zsl retrieve``: thin shims over ``zsltool.evaluate.evaluate``."""

from __future__ import annotations

import json
import sys
from typing import Optional

import click
import typer

from zsltool.cli.common import STATE, JsonOpt, OverwriteOpt, emit, info, kv_table, noted, rows_table
from zsltool.cli.types import float_option
from zsltool.evaluate.transductive import REFINERS
from zsltool.files.checks import check_output
from zsltool.files.provenance import jsonable
from zsltool.names import SCORE_MODALITIES
from zsltool.scores.metrics import GZSL_COLUMNS

_MODALITY = click.Choice(list(SCORE_MODALITIES))
AllowOtherExtractorOpt = typer.Option(False, "--allow-other-extractor", help="Accept instance rows embedded by "
                                      "another extractor or other weights than the model's training rows (their "
                                      "scores mean little); the results carry a warning.")


def _metrics_flat(doc: dict) -> dict:
    m = dict(doc["metrics"])
    unc = m.pop("uncalibrated", None)
    if unc:
        m.update({f"uncalibrated {k}": v for k, v in unc.items() if k in GZSL_COLUMNS})
    return m


def _eval_tables(doc: dict):
    setting = (doc.get("manifest", {}).get("config") or {}).get("transductive")
    title = f"zsl evaluate ({doc['task']}" + (f", transductive: {setting})" if setting else ")")
    cols = ["class", "n", "correct", "accuracy"] + (["seen"] if doc["task"] == "gzsl" else [])
    return [noted(kv_table(_metrics_flat(doc), title=title), doc.get("warnings")), rows_table(doc.get("per_class", []), columns=cols)]


def _ranked_rows(doc: dict, top: int) -> tuple[list[dict], str]:
    """Per-class rows with the ranked instance ids (best first) of ``--top``, for the retrieve table."""
    ranked = {r["class"]: r["ranked"] for r in doc.get("ranked", [])}
    rows = []
    for pc in doc["per_class"]:
        row = dict(pc)
        row[f"top {top} (best first)"] = " ".join(x["id"] for x in ranked.get(pc["class"], []))
        rows.append(row)
    return rows, f"per class: average precision and the {top} best-ranked test instances"


def evaluate_cmd(
    checkpoint: str = typer.Argument(..., help="Checkpoint made by zsl train."),
    audio: Optional[str] = typer.Option(None, "--audio", help="Instance-level audio file (default: the "
                                        "training one)."),
    video: Optional[str] = typer.Option(None, "--video", help="Instance-level video file (default: the "
                                        "training one)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split file (default: the training one)."),
    trial: Optional[int] = typer.Option(None, "--trial", min=0, help="Trial (default: the training one)."),
    modality: str = typer.Option("both", "--modality", click_type=_MODALITY,
                                 help="Test modality: both (missing modality falls back), audio or video."),
    beta: Optional[float] = float_option(None, "--beta", help="GZSL calibrated stacking: fixed beta "
                                         "subtracted from seen-class scores (default 0)."),
    calibrate: bool = typer.Option(False, "--calibrate", help="GZSL: choose beta on validation data "
                                   "(never on test) by validation HM."),
    transductive: Optional[str] = typer.Option(
        None, "--transductive", click_type=click.Choice(list(REFINERS)),
        help="The transductive setting (off by default): refine the assignment with the unlabelled test rows "
             "taken together (soft-kmeans: soft k-means in the audio space, started from the model's scores). "
             "Named in the results; never reads a test label."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Results JSON to write (+ .per_class.csv "
                                      "and .confusion.csv next to it)."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
    allow_other_extractor: bool = AllowOtherExtractorOpt,
):
    """Evaluate a checkpoint: ZSL top-1 / mean per-class accuracy, or GZSL S, U, HM; and the calibration of
    its probabilities (ECE of the top-1 probability, NLL)."""
    from zsltool.evaluate.evaluate import evaluate_checkpoint

    if beta is not None and calibrate:
        raise typer.BadParameter("give either --beta or --calibrate, not both", param_hint="--beta")
    if out:
        check_output(out, overwrite)
    doc = evaluate_checkpoint(checkpoint, audio=audio, video=video, split=split, trial=trial,
                              modality=modality, beta=beta, calibrate=calibrate, seed=STATE.seed,
                              device=STATE.device, transductive=transductive,
                              allow_other_extractor=allow_other_extractor)
    if out:
        from zsltool.evaluate.results import write_evaluation

        for kind, path in write_evaluation(out, doc, overwrite=overwrite).items():
            info(f"wrote {kind}: {path}")
    emit(doc, json_out, table=_eval_tables)


def retrieve_cmd(
    checkpoint: str = typer.Argument(..., help="Checkpoint made by zsl train."),
    audio: Optional[str] = typer.Option(None, "--audio", help="Instance-level audio file."),
    video: Optional[str] = typer.Option(None, "--video", help="Instance-level video file."),
    split: Optional[str] = typer.Option(None, "--split", help="Split file (default: the training one)."),
    trial: Optional[int] = typer.Option(None, "--trial", min=0, help="Trial (default: the training one)."),
    modality: str = typer.Option("both", "--modality", click_type=_MODALITY, help="Instance modality."),
    top: int = typer.Option(10, "--top", min=1, help="Ranked ids kept per class."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Results JSON to write."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = typer.Option(False, "--json", help="Print the results (metrics, per-class AP, ranked "
                                  "ids) as one JSON document."),
    jsonl: bool = typer.Option(False, "--jsonl", help="Print one JSON line per class: class, AP and the top "
                               "ranked ids with their scores (the metrics go to stderr)."),
    allow_other_extractor: bool = AllowOtherExtractorOpt,
):
    """Rank the test instances for each class text: AP per class, mAP, and S/U/HM of mAP for GZSL."""
    from zsltool.evaluate.evaluate import retrieve_checkpoint

    if json_out and jsonl:
        raise typer.BadParameter("give either --json or --jsonl, not both", param_hint="--jsonl")
    if out:
        check_output(out, overwrite)
    doc = retrieve_checkpoint(checkpoint, audio=audio, video=video, split=split, trial=trial,
                              modality=modality, top=top, seed=STATE.seed, device=STATE.device,
                              allow_other_extractor=allow_other_extractor)
    if out:
        from zsltool.evaluate.results import write_results

        write_results(out, doc, overwrite=overwrite)
        info(f"wrote {out}")
    if jsonl:
        info("retrieval: " + json.dumps(jsonable(doc["metrics"])))
        for pc, rk in zip(doc["per_class"], doc["ranked"]):
            line = {"class": pc["class"], "ap": pc["ap"], "ids": [r["id"] for r in rk["ranked"]],
                    "scores": [r["score"] for r in rk["ranked"]]}
            if "seen" in pc:
                line["seen"] = pc["seen"]
            sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        return
    emit(doc, json_out, table=lambda d: [noted(kv_table(d["metrics"], title="zsl retrieve"), d.get("warnings")),
                                         rows_table(*_ranked_rows(d, top))])


COMMANDS = {"evaluate": evaluate_cmd, "retrieve": retrieve_cmd}
