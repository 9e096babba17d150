"""Image embeddings with any torchvision classification model (paper 000: ResNet101 logits of object crops).

    summary = extract_image(["crops.csv"], out="image.h5", model="resnet101", weights="IMAGENET1K_V1",
                            classes="classes.json", layer="logits")

Inputs are image files, folders of images (searched recursively), or crop manifests from ``zsl select-images``
(CSV with Open Images box corners ``xmin, xmax, ymin, ymax`` as fractions of the image size). Boxes are clamped
to the image and rounded to whole pixels (``left = round(xmin * W)``, ``right = round(xmax * W)``, same for
y); a box less than one pixel wide or high after clamping is an invalid row with its reason.

Preprocessing ``paper``: crop, resize to 224x224 (bilinear, aspect ratio not kept), ImageNet mean/std
normalisation. ``weights``: the weights' own transforms (torchvision's ``weights.transforms()``, e.g. resize
the short side to 232/256, centre-crop 224), applied to the crop.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from zsltool.errors import ZslError
from zsltool.extract.runner import InvalidInput, Item, run_extraction
from zsltool.extract.tvweights import LayerTap, build_torchvision_model, weights_enum_for
from zsltool.store import EmbeddingWriter, StoreMeta
from zsltool.utils import check_output, command_line, input_record, resolve_device

log = logging.getLogger("zsltool.extract.image")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")
PREPROCESS = ("paper", "weights")


def pixel_box(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """Open Images box ``(xmin, xmax, ymin, ymax)`` in [0, 1] -> clamped pixel box ``(left, top, right, bottom)``.

    Raises InvalidInput for a degenerate box (under one pixel wide or high after clamping, or not finite).
    """
    xmin, xmax, ymin, ymax = (float(v) for v in box)
    if not all(np.isfinite([xmin, xmax, ymin, ymax])):
        raise InvalidInput(f"box has a non-finite corner: {box}")
    c = lambda v: min(max(v, 0.0), 1.0)  # noqa: E731
    left, right = int(round(c(xmin) * width)), int(round(c(xmax) * width))
    top, bottom = int(round(c(ymin) * height)), int(round(c(ymax) * height))
    if right - left < 1 or bottom - top < 1:
        raise InvalidInput(f"degenerate box xmin={xmin:g} xmax={xmax:g} ymin={ymin:g} ymax={ymax:g} "
                           f"on a {width}x{height} image (under one pixel after clamping)")
    return left, top, right, bottom


def paper_transform(size: int = 224):
    """To float tensor in [0, 1], resize to size x size (bilinear, antialiased), ImageNet normalisation."""
    from torchvision.transforms import v2 as T

    # resize in float (no uint8 rounding of the resized pixels)
    return T.Compose([T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Resize((size, size), antialias=True),
                      T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def load_crop(path: str | os.PathLike, box=None):
    """Open an image as RGB PIL image and crop it to ``box`` (Open Images fractions) when given."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
    except FileNotFoundError:
        raise InvalidInput(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError) as e:
        raise InvalidInput(f"cannot decode image {path}: {e}") from None
    if box is not None:
        im = im.crop(pixel_box(box, im.width, im.height))
    return im


class _ImageLoader:
    """Picklable loader for DataLoader workers: path (+box) -> preprocessed tensor."""

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, item: Item) -> torch.Tensor:
        path, box = item.source
        return self.transform(load_crop(path, box))


# -- inputs -------------------------------------------------------------------------------------------
def _is_manifest(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in (".csv", ".tsv")


def collect_image_items(inputs: Sequence[str | os.PathLike], class_ids: Sequence[str] | None = None,
                        resolve=None) -> tuple[list[Item], list[str], list[dict]]:
    """Items, the file's class list and input records from image files, folders and crop manifests.

    Crop-manifest rows are labelled with their ``class`` (resolved through ``resolve`` to an id of
    ``class_ids`` when a class set is given; else the classes found in the manifests, sorted). Plain images
    get no label; their id is the file name without extension (the path under the folder for folders).
    """
    from zsltool.classes.manifest import read_crop_manifest, resolve_manifest_path

    rows: list[tuple[str, tuple, str | None]] = []  # (id, (path, box), class)
    records = []
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            raise ZslError(f"input not found: {p}", hint="give image files, folders or crop manifests (.csv)")
        if _is_manifest(p):
            records.append(input_record(p))
            for r in read_crop_manifest(p):
                path = resolve_manifest_path(p, r["path"])
                rows.append((r["id"], (str(path), (r["xmin"], r["xmax"], r["ymin"], r["ymax"])), r["class"]))
        elif p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
            if not files:
                raise ZslError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {p}")
            records.append({"path": str(p), "sha256": "", "files": len(files)})
            rows.extend((f.relative_to(p).with_suffix("").as_posix(), (str(f), None), None) for f in files)
        else:
            records.append(input_record(p))
            rows.append((p.stem, (str(p), None), None))
    if not rows:
        raise ZslError("no inputs to embed")
    seen: dict[str, str] = {}
    for rid, (path, _), _c in rows:
        if rid in seen:
            raise ZslError(f"two inputs have the same id {rid!r} ({seen[rid]} and {path})",
                           hint="put the images in one folder (ids are paths under it) or rename them")
        seen[rid] = path
    if class_ids is None:
        class_ids = sorted({c for _, _, c in rows if c})
        resolve = None
    index = {c: i for i, c in enumerate(class_ids)}
    items = []
    for rid, src, c in rows:
        labels = []
        if c:
            cid = resolve(c) if resolve else c
            if cid not in index:
                raise ZslError(f"crop {rid!r} has class {c!r}, which is not in the class set")
            labels = [index[cid]]
        items.append(Item(id=rid, source=src, labels=labels))
    return items, list(class_ids), records


# -- models -------------------------------------------------------------------------------------------
SMALL_MODELS = ("smallcnn",)


class SmallCNN(torch.nn.Module):
    """A small VGG-style CNN (4 x conv3x3-BN-ReLU-maxpool, global average pooling, linear head) to train from
    scratch with ``pretrain-image`` when no pretrained image network is at hand; ``penultimate`` is 128-d."""

    def __init__(self, num_classes: int = 10, channels: Sequence[int] = (16, 32, 64, 128)):
        super().__init__()
        layers, c = [], 3
        for o in channels:
            layers += [torch.nn.Conv2d(c, o, 3, padding=1, bias=False), torch.nn.BatchNorm2d(o),
                       torch.nn.ReLU(inplace=True), torch.nn.MaxPool2d(2)]
            c = o
        self.features = torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1))
        self.fc = torch.nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


def build_image_model(name: str, weights: str | None, num_classes: int | None = None):
    """(model in eval mode, weights enum member or None, info) for a torchvision classifier or ``smallcnn``.

    ``smallcnn`` has no pretrained weights: random (``weights`` None / "random") or a state-dict path from
    ``pretrain-image`` (its head size is read from the file).
    """
    if name not in SMALL_MODELS:
        return build_torchvision_model(name, weights, num_classes=num_classes)
    from zsltool.extract.tvweights import apply_state_dict, load_state_dict_file
    from zsltool.utils import sha256_file

    info = {"model": name, "weights": "random"}
    if weights is None or str(weights).lower() in ("none", "random"):
        return SmallCNN(num_classes or 10).eval(), None, info
    if not (os.sep in str(weights) or Path(str(weights)).suffix or Path(str(weights)).exists()):
        raise ZslError(f"{name} has no pretrained weights ({weights!r})",
                       hint="train it with `zsl pretrain-image --model smallcnn` and pass --weights PATH")
    sd = load_state_dict_file(weights)
    head = sd.get("fc.weight")
    model = SmallCNN(int(head.shape[0]) if head is not None and head.ndim == 2 else (num_classes or 10))
    apply_state_dict(model, sd, str(weights), name)
    info.update(weights=str(weights), weights_sha256=sha256_file(weights))
    return model.eval(), None, info


# -- the extractor ------------------------------------------------------------------------------------
class ImageExtractor:
    """A torchvision classifier with a layer tap and a preprocessing transform."""

    def __init__(self, model: str = "resnet101", weights: str | None = "DEFAULT", layer: str = "logits",
                 preprocess: str = "paper", device: str = "cpu", image_size: int = 224):
        if preprocess not in PREPROCESS:
            raise ZslError(f"unknown preprocessing {preprocess!r}", hint=f"choose one of {', '.join(PREPROCESS)}")
        self.net, wenum, self.info = build_image_model(model, weights)
        self.device = device
        self.net.to(device)
        self.tap = LayerTap(self.net, layer)
        self.layer, self.preprocess, self.model_name = layer, preprocess, model
        if preprocess == "weights":
            w = wenum
            if w is None:  # a local or random checkpoint: the transforms of the model's default weights
                enum = weights_enum_for(model) if model not in SMALL_MODELS else None
                if enum is None:
                    raise ZslError(f"{model} has no weights transforms", hint="use --preprocess paper")
                w = enum.DEFAULT
            self.transform = w.transforms()
            self.info["transforms"] = str(w)
        else:
            self.transform = paper_transform(image_size)
            self.info["transforms"] = f"resize {image_size}x{image_size}, ImageNet mean/std"
        self.dim = self.tap.dim

    def meta(self) -> dict:
        return {**self.info, "layer": self.layer, "preprocess": self.preprocess, "dim": self.dim}

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.tap(batch.to(self.device)).float().cpu()

    def embed(self, samples: list[torch.Tensor]) -> list[dict]:
        out = self.forward(torch.stack(samples)).numpy()
        return [{"embedding": row} for row in out]


def build(**kwargs) -> ImageExtractor:
    """Registry factory (``torchvision-image``)."""
    return ImageExtractor(**kwargs)


def extract_image(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, model: str = "resnet101",
                  weights: str | None = "DEFAULT", layer: str = "logits", preprocess: str = "paper",
                  classes: str | os.PathLike | None = None, image_size: int = 224, batch_size: int = 32,
                  workers: int = 0, device: str = "auto", shard: tuple[int, int] = (0, 1), overwrite: bool = False,
                  resume: bool = True, progress: bool = True) -> dict:
    """Embed images or crops into an instance-level file; returns the run summary as a dict.

    ``image_size``: the side of the resized crop with ``preprocess="paper"`` (224 for ImageNet weights; the
    size a network made by ``pretrain_image`` was trained at).
    """
    check_output(out, overwrite)  # before any model is built (weights may be downloaded)
    cs = None
    if classes is not None:
        from zsltool.classes.classset import ClassSet

        cs = ClassSet.load(classes)
    items, class_ids, records = collect_image_items(inputs, cs.ids if cs else None, cs.resolve if cs else None)
    if cs is not None:
        records.append(input_record(classes))
    dev = resolve_device(device)
    if image_size < 16:
        raise ZslError(f"--image-size must be at least 16 pixels, got {image_size}")
    ex = ImageExtractor(model=model, weights=weights, layer=layer, preprocess=preprocess, device=dev,
                        image_size=image_size)
    if ex.info.get("weights_sha256"):
        records.append({"path": ex.info["weights"], "sha256": ex.info["weights_sha256"]})
    meta = StoreMeta(kind="instance", modality="image", extractor="torchvision-image", extractor_meta=ex.meta(),
                     inputs=records, class_set_sha256=cs.sha256 if cs else "", command=command_line())
    with EmbeddingWriter(out, meta=meta, dim=ex.dim, classes=class_ids, overwrite=overwrite, resume=resume) as w:
        summary = run_extraction(items, load=_ImageLoader(ex.transform), embed=ex.embed, writer=w,
                                 batch_size=batch_size, workers=workers, shard=shard, desc=f"{model} images",
                                 progress=progress, unit="img")
    return {"out": str(out), "model": model, "weights": ex.info.get("weights"), "layer": layer, "dim": ex.dim,
            **summary.as_dict()}
