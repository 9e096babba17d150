"""``zsl extract-image``, ``zsl pretrain-image``, ``zsl extract-text``, ``zsl extract-video``,
``zsl pretrain-video``: thin shims over zsltool.extract.*."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from zsltool.cli.common import (STATE, DeviceOpt, JsonOpt, OverwriteOpt, ResumeOpt, SeedOpt, ShardOpt, emit,
                               kv_table, seed_or_global)
from zsltool.cli.types import float_option

LAYERS = ("logits", "softmax", "penultimate")


def _choice(value, choices, option: str):
    if value is not None and value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=option)
    return value


def _summary_table(res: dict):
    flat = {k: v for k, v in res.items() if k != "invalid_rows"}
    return kv_table(flat, title="extraction")


def _device(device: Optional[str]) -> str:
    return device or STATE.device


def register(app: typer.Typer) -> None:
    @app.command("extract-image")
    def extract_image_cmd(
        inputs: List[Path] = typer.Argument(..., help="Image files, folders of images, or crop manifests (.csv) "
                                                      "from select-images."),
        out: Path = typer.Option(..., "--out", "-o", help="Output embedding file (.h5)."),
        model: str = typer.Option("resnet101", "--model", help="Any torchvision classification model name."),
        weights: Optional[str] = typer.Option(None, "--weights",
                                              help="Weights id (IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT), a local "
                                                   "state-dict path, or 'random' (default: DEFAULT; IMAGENET1K_V1 "
                                                   "with --preset paper)."),
        preset: Optional[str] = typer.Option(None, "--preset",
                                             help="paper: Dogan et al.'s setting, ResNet101 with the original "
                                                  "ImageNet weights (IMAGENET1K_V1), logits, paper preprocessing."),
        layer: str = typer.Option("logits", "--layer", help="logits (paper, 1000-d), softmax or penultimate."),
        preprocess: str = typer.Option("paper", "--preprocess",
                                       help="paper (crop, resize 224x224, ImageNet norm) or weights (their own "
                                            "transforms)."),
        classes: Optional[Path] = typer.Option(None, "--classes", help="Class-set file for crop-manifest labels."),
        image_size: int = typer.Option(224, "--image-size", min=16, help="Side of the resized crop with "
                                       "--preprocess paper (the size a pretrain-image network was trained at)."),
        batch_size: int = typer.Option(32, "--batch-size", min=1, help="Images per batch."),
        workers: int = typer.Option(0, "--workers", min=0, help="DataLoader workers for decoding."),
        device: Optional[str] = DeviceOpt,
        shard: Optional[str] = ShardOpt,
        resume: bool = ResumeOpt,
        overwrite: bool = OverwriteOpt,
        json_out: bool = JsonOpt,
    ):
        """Embed images or object crops with a torchvision classifier (instance-level file)."""
        from zsltool.extract.image import extract_image
        from zsltool.utils import parse_shard

        _choice(layer, LAYERS, "--layer")
        _choice(preprocess, ("paper", "weights"), "--preprocess")
        if preset is not None:
            _choice(preset, ("paper",), "--preset")
        if preset == "paper":
            if model != "resnet101" or layer != "logits" or preprocess != "paper":
                raise typer.BadParameter("--preset paper is ResNet101 logits with the paper's preprocessing: drop "
                                         "--model/--layer/--preprocess", param_hint="--preset")
            weights = weights or "IMAGENET1K_V1"
        weights = weights or "DEFAULT"
        res = extract_image(inputs, out, model=model, weights=weights, layer=layer, preprocess=preprocess,
                            classes=classes, image_size=image_size, batch_size=batch_size, workers=workers,
                            device=_device(device),
                            shard=parse_shard(shard), overwrite=overwrite, resume=resume,
                            progress=not STATE.quiet)
        emit(res, json_out, table=_summary_table)

    @app.command("pretrain-image")
    def pretrain_image_cmd(
        inputs: List[Path] = typer.Argument(..., help="Crop manifests (.csv from select-images)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output weights (.pth); OUT.json describes the run."),
        classes: Path = typer.Option(..., "--classes", help="Class set JSON."),
        split: Path = typer.Option(..., "--split", help="Split JSON: only the trial's training classes are used."),
        trial: int = typer.Option(0, "--trial", min=0, help="Trial of the split."),
        model: str = typer.Option("resnet18", "--model", help="Any torchvision classification model name "
                                  "(randomly initialised), e.g. resnet18 or shufflenet_v2_x0_5."),
        image_size: int = typer.Option(224, "--image-size", min=16, help="Crops are resized to this square size."),
        epochs: int = typer.Option(20, "--epochs", min=1, help="Training epochs."),
        batch_size: int = typer.Option(32, "--batch-size", min=1, help="Crops per training batch."),
        lr: float = float_option(1e-3, "--lr", min=0, min_open=True, help="Adam learning rate."),
        augment: bool = typer.Option(True, "--augment/--no-augment", help="Random shift and horizontal flip."),
        workers: int = typer.Option(0, "--workers", min=0, help="DataLoader workers for decoding."),
        device: Optional[str] = DeviceOpt,
        seed: Optional[int] = SeedOpt,
        overwrite: bool = OverwriteOpt,
        json_out: bool = JsonOpt,
    ):
        """Train an image network from scratch on the seen classes' crops; extract-image --weights loads it."""
        from zsltool.extract.image_pretrain import pretrain_image
        from zsltool.utils import resolve_device

        res = pretrain_image(inputs, out, classes_path=classes, split_path=split, trial=trial, model=model,
                             image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr, augment=augment,
                             workers=workers, device=resolve_device(_device(device)),
                             seed=seed_or_global(seed), overwrite=overwrite,
                             progress=not STATE.quiet)
        emit(res, json_out)

    @app.command("extract-text")
    def extract_text_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="Output class-level embedding file (.h5)."),
        classes: Optional[Path] = typer.Option(None, "--classes", help="Class-set file (ids and names)."),
        names: Optional[Path] = typer.Option(None, "--names", help="Plain list of class names, one per line."),
        descriptions: Optional[Path] = typer.Option(None, "--descriptions",
                                                    help="CSV with columns id (or name) and description."),
        model: str = typer.Option("word2vec", "--model", help="word2vec (also GloVe) or sentence."),
        vectors: Optional[Path] = typer.Option(None, "--vectors", help="Word vectors (word2vec .bin/.txt, GloVe "
                                                                       ".txt; gensim .kv only with --trust-pickle)."),
        fmt: str = typer.Option("auto", "--format", help="auto, word2vec-bin, word2vec-text, glove or kv."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Use only the first N words."),
        on_missing: str = typer.Option("error", "--on-missing", help="error, skip or zero for classes with no "
                                                                     "known word."),
        text: str = typer.Option("label", "--text", help="label or description (sentence model)."),
        sentence_model: Optional[str] = typer.Option(None, "--sentence-model",
                                                     help="sentence-transformers name or folder (default: the "
                                                          "offline all-MiniLM-L6-v2 when installed)."),
        device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda (sentence model)."),
        trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Load a gensim .kv file, which is a Python "
                                          "pickle: loading it runs any code it holds. Only for files you made; "
                                          "safer: convert it with gensim's save_word2vec_format."),
        overwrite: bool = OverwriteOpt,
        json_out: bool = JsonOpt,
    ):
        """Class embeddings from class labels (word2vec/GloVe) or sentences (class-level file)."""
        from zsltool.extract.text import ON_MISSING, VECTOR_FORMATS, extract_text

        _choice(model, ("word2vec", "sentence"), "--model")
        _choice(fmt, VECTOR_FORMATS, "--format")
        _choice(on_missing, ON_MISSING, "--on-missing")
        _choice(text, ("label", "description"), "--text")
        res = extract_text(out, classes=classes, names=names, descriptions=descriptions, model=model,
                           vectors=vectors, fmt=fmt, limit=limit, on_missing=on_missing, text=text,
                           sentence_model=sentence_model, device=_device(device), overwrite=overwrite,
                           trust_pickle=trust_pickle)
        emit(res, json_out, table=lambda r: kv_table(r, title="extract-text"))

    @app.command("extract-video")
    def extract_video_cmd(
        inputs: List[Path] = typer.Argument(..., help="Video files, folders of videos, or clip manifests (.csv)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output embedding file (.h5)."),
        model: str = typer.Option("s3d", "--model", help="s3d (1024-d), r3d_18, mc3_18, r2plus1d_18, mvit_v1_b, "
                                                         "mvit_v2_s, swin3d_t/s/b, small3d (trained with "
                                                         "pretrain-video) or tiny3d (tests)."),
        weights: str = typer.Option("DEFAULT", "--weights", help="KINETICS400_V1, DEFAULT, a state-dict path or "
                                                                 "'random'."),
        layer: str = typer.Option("penultimate", "--layer", help="penultimate (features), logits or softmax."),
        clip_len: int = typer.Option(16, "--clip-len", min=1, help="Frames per clip (T)."),
        clips: int = typer.Option(4, "--clips", min=1, help="Clips per video, uniformly spaced; averaged."),
        crop_size: Optional[int] = typer.Option(None, "--crop-size", min=1, help="Override the weights' crop size."),
        classes: Optional[Path] = typer.Option(None, "--classes", help="Class-set file for manifest labels."),
        extract_audio: Optional[Path] = typer.Option(None, "--extract-audio",
                                                     help="Write each video's audio to DIR/<id>.wav and "
                                                          "DIR/clips.csv (clips.K-of-N.csv with --shard K/N; an "
                                                          "existing one needs --overwrite)."),
        batch_size: int = typer.Option(2, "--batch-size", min=1, help="Videos per batch."),
        workers: int = typer.Option(0, "--workers", min=0, help="DataLoader workers for decoding."),
        device: Optional[str] = DeviceOpt,
        shard: Optional[str] = ShardOpt,
        resume: bool = ResumeOpt,
        overwrite: bool = OverwriteOpt,
        json_out: bool = JsonOpt,
    ):
        """Embed videos with a Kinetics-400 video model (mean over uniformly sampled clips)."""
        from zsltool.extract.registry import get_extractor
        from zsltool.extract.video import extract_video
        from zsltool.utils import parse_shard

        get_extractor(model, modality="video")
        _choice(layer, LAYERS, "--layer")
        res = extract_video(inputs, out, model=model, weights=weights, layer=layer, clip_len=clip_len, clips=clips,
                            crop_size=crop_size, classes=classes, extract_audio=extract_audio,
                            batch_size=batch_size, workers=workers, device=_device(device), shard=parse_shard(shard),
                            overwrite=overwrite, resume=resume, progress=not STATE.quiet)
        emit(res, json_out, table=_summary_table)

    @app.command("pretrain-video")
    def pretrain_video_cmd(
        inputs: List[Path] = typer.Argument(..., help="Clip manifests of the videos (.csv: id,path,labels,start,end)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output weights (.pth); OUT.json describes the run."),
        classes: Path = typer.Option(..., "--classes", help="Class set JSON."),
        split: Path = typer.Option(..., "--split", help="Split JSON: only the trial's training (GZSL: seen) classes "
                                                        "are used, and only instances.train when it lists them."),
        trial: int = typer.Option(0, "--trial", min=0, help="Trial of the split."),
        model: str = typer.Option("small3d", "--model", help="small3d (a small 3-D CNN, 64-d penultimate) or "
                                                             "tiny3d (tests)."),
        frame_size: int = typer.Option(64, "--frame-size", min=8, help="Frames are resized to this square size "
                                       "(extract-video --crop-size must match)."),
        clip_len: int = typer.Option(16, "--clip-len", min=1, help="Frames per training clip (random start)."),
        epochs: int = typer.Option(20, "--epochs", min=1, help="Training epochs."),
        batch_size: int = typer.Option(16, "--batch-size", min=1, help="Videos per training batch."),
        lr: float = float_option(3e-3, "--lr", min=0, min_open=True, help="Adam learning rate."),
        augment: bool = typer.Option(True, "--augment/--no-augment", help="Random start, shift and horizontal "
                                                                          "flip."),
        device: Optional[str] = DeviceOpt,
        seed: Optional[int] = SeedOpt,
        overwrite: bool = OverwriteOpt,
        json_out: bool = JsonOpt,
    ):
        """Train a video network from scratch on the seen classes' training videos; extract-video --weights
        loads it."""
        from zsltool.extract.video_pretrain import pretrain_video
        from zsltool.utils import resolve_device

        res = pretrain_video(inputs, out, classes_path=classes, split_path=split, trial=trial, model=model,
                             frame_size=frame_size, clip_len=clip_len, epochs=epochs, batch_size=batch_size, lr=lr,
                             augment=augment, device=resolve_device(_device(device)),
                             seed=seed_or_global(seed), overwrite=overwrite,
                             progress=not STATE.quiet)
        res.pop("info", None)
        emit(res, json_out)
