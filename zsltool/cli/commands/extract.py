"""``zsl extract-image``, ``zsl extract-video``, ``zsl extract-text``, ``zsl pretrain-image``,
``zsl pretrain-video`` and ``zsl models``: thin shims over zsltool.extract (no torch imported here)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import List, Optional

import typer

from zsltool.cli.common import JsonOpt, emit, kv_table, rows_table
from zsltool.cli.extractor_command import extract_command, kw, pretrain_command, progress
from zsltool.cli.types import check_choice
from zsltool.extract.registry import get_extractor, list_extractors
from zsltool.names import MODALITIES


def summary_table(res: dict):
    """The run summary as a key/value table, and the invalid rows (first 50) as a second one."""
    flat = {k: v for k, v in res.items() if k not in ("invalid_rows", "corrupt", "per_class", "padded_ids")}
    tables = [kv_table(flat, title="extraction")]
    if res.get("invalid_rows"):
        tables.append(rows_table(res["invalid_rows"][:50], title="invalid rows"))
    if res.get("corrupt"):
        tables.append(rows_table(res["corrupt"][:50], title="corrupt records"))
    return tables


def _inputs(help: str) -> inspect.Parameter:
    return kw("inputs", List[Path], typer.Argument(..., help=help))


def run_extract(modality: str):
    def run(*, model, options, inputs, out, classes, **kw):
        from zsltool.extract.pipeline import extract

        return extract(modality, model, inputs, out, classes=classes, progress=progress(), **kw, **options)

    return run


def _run_text(*, model, options, names, out, classes, **kw):
    from zsltool.extract.pipeline import extract

    return extract("text", model, [names] if names else [], out, classes=classes, **kw, **options)


extract_image_cmd = extract_command(
    "image", default_model="resnet101", run=run_extract("image"), table=summary_table, batch_size=32,
    inputs=_inputs("Image files, folders of images, or crop manifests (.csv) from select-images."),
    doc="Embed images or object crops with an image model (instance-level file).")

extract_video_cmd = extract_command(
    "video", default_model="s3d", run=run_extract("video"), table=summary_table, batch_size=2,
    inputs=_inputs("Video files, folders of videos, or clip manifests (.csv)."),
    doc="Embed videos with a video model (mean over uniformly sampled clips).")

extract_text_cmd = extract_command(
    "text", default_model="word2vec", run=_run_text, pipeline=False, batch_size=64,
    table=lambda r: kv_table(r, title="extract-text"),
    inputs=kw("names", Optional[Path], typer.Option(None, "--names", help="Plain list of class names, one per line "
                                                    "(instead of --classes).")),
    doc="Class embeddings from class labels or descriptions (word2vec/GloVe, sentence models; class-level file).")


def models_cmd(
    modality: Optional[str] = typer.Option(None, "--modality", help="Only this modality's models."),
    json_out: bool = JsonOpt,
):
    """List the registered models of every extract command: dim, weights, options and source."""
    check_choice(modality, MODALITIES, "--modality")
    rows = [get_extractor(n).summary() for n in list_extractors(modality)]
    if json_out:
        emit(rows, True)
        return
    emit([{"model": r["name"], "modality": r["modality"], "dim": r["dim"] or "-",
           "default weights": r["default_weights"] or "-", "extra": r["extra"] or "",
           "source": r["source"]} for r in rows], False, table=lambda rs: rows_table(rs, title="models"))


def _pretrain_image(*, inputs, out, classes, split, model, **kw) -> dict:
    from zsltool.extract.image_pretrain import pretrain_image

    check_choice(model, list_extractors("image"), "--model")
    return pretrain_image(inputs, out, classes_path=classes, split_path=split, model=model, **kw)


pretrain_image_cmd = pretrain_command(
    "image", inputs=kw("inputs", List[Path], typer.Argument(..., help="Crop manifests (.csv from select-images).")),
    default_model="resnet18", model_help="A registered image model (randomly initialised), e.g. resnet18, "
    "shufflenet_v2_x0_5 or smallcnn.", epochs=20, batch_size=32, batch_help="Crops per training batch.", lr=1e-3,
    options=[kw("image_size", int, typer.Option(224, "--image-size", min=16, help="Crops are resized to this "
                                                "square size.")),
             kw("augment", bool, typer.Option(True, "--augment/--no-augment", help="Random shift and horizontal "
                                              "flip.")),
             kw("workers", int, typer.Option(0, "--workers", min=0, help="DataLoader workers for decoding."))],
    run=_pretrain_image,
    doc="Train an image network from scratch on the seen classes' crops; extract-image --weights loads it.")


def _pretrain_video(*, inputs, out, classes, split, device, **kw) -> dict:
    from zsltool.extract.video_pretrain import pretrain_video

    res = pretrain_video(inputs, out, classes_path=classes, split_path=split, device=device, **kw)
    res.pop("info", None)
    return res


pretrain_video_cmd = pretrain_command(
    "video", inputs=kw("inputs", List[Path], typer.Argument(..., help="Clip manifests of the videos (.csv: "
                                                             "id,path,labels,start,end).")),
    default_model="small3d", model_help="small3d (a small 3-D CNN, 64-d penultimate) or tiny3d (tests).",
    split_help="Split JSON: only the trial's training (GZSL: seen) classes are used, and only instances.train "
    "when it lists them.", epochs=20, batch_size=16, batch_help="Videos per training batch.", lr=3e-3,
    options=[kw("frame_size", int, typer.Option(64, "--frame-size", min=8, help="Frames are resized to this "
                                                "square size (extract-video --crop-size must match).")),
             kw("clip_len", int, typer.Option(16, "--clip-len", min=1, help="Frames per training clip (random "
                                              "start).")),
             kw("augment", bool, typer.Option(True, "--augment/--no-augment", help="Random start, shift and "
                                              "horizontal flip."))],
    run=_pretrain_video,
    doc="Train a video network from scratch on the seen classes' training videos; extract-video --weights "
        "loads it.")


COMMANDS = {"extract-image": extract_image_cmd, "pretrain-image": pretrain_image_cmd, "extract-text": extract_text_cmd,
            "extract-video": extract_video_cmd, "pretrain-video": pretrain_video_cmd, "models": models_cmd}
