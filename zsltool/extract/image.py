"""Image embeddings with any torchvision classification model (Dogan et al.: ResNet101 logits of object crops).

    summary = extract("image", "resnet101", ["crops.csv"], "image.h5", weights="IMAGENET1K_V1",
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

import os
from typing import Sequence

import numpy as np
import torch

from zsltool.errors import ZslError
from zsltool.extract.runner import InvalidInput, Item
from zsltool.extract.tvweights import PooledConvNet, TappedExtractor, build_torchvision_model, weights_enum_for

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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


# -- models -------------------------------------------------------------------------------------------
SMALL_MODELS = ("smallcnn",)


class SmallCNN(PooledConvNet):
    """A small VGG-style CNN (4 x conv3x3-BN-ReLU-maxpool, global average pooling, linear head) to train from
    scratch with ``pretrain-image`` when no pretrained image network is at hand; ``penultimate`` is 128-d."""

    def __init__(self, num_classes: int = 10, channels: Sequence[int] = (16, 32, 64, 128)):
        layers, c = [], 3
        for o in channels:
            layers += [torch.nn.Conv2d(c, o, 3, padding=1, bias=False), torch.nn.BatchNorm2d(o),
                       torch.nn.ReLU(inplace=True), torch.nn.MaxPool2d(2)]
            c = o
        super().__init__(layers, torch.nn.AdaptiveAvgPool2d(1), c, num_classes)


def build_image_model(name: str, weights: str | None, num_classes: int | None = None):
    """(model in eval mode, weights enum member or None, info) for a torchvision classifier or ``smallcnn``.

    ``smallcnn`` has no pretrained weights: random (``weights`` None / "random") or a state-dict path from
    ``pretrain-image`` (its head size is read from the file).
    """
    if name not in SMALL_MODELS:
        return build_torchvision_model(name, weights, num_classes=num_classes)
    from zsltool.extract.tvweights import build_small_network

    return build_small_network(SmallCNN, name, weights, num_classes, "pretrain-image")


# -- the extractor ------------------------------------------------------------------------------------
class TorchvisionImageExtractor(TappedExtractor):
    """A torchvision classifier (or ``smallcnn``) with a layer tap and a preprocessing transform."""

    modality = "image"
    unit = "img"

    def __init__(self, config, device: str = "cpu"):
        super().__init__(config, device)
        model, weights = self.spec.name, None
        if getattr(config, "preset", None) == "paper":
            if model != "resnet101" or config.layer != "logits" or config.preprocess != "paper":
                raise ZslError("--preset paper is resnet101 logits with the paper's preprocessing",
                               hint="drop --model/--layer/--preprocess, or drop --preset")
            weights = config.weights or "IMAGENET1K_V1"   # the ImageNet weights Dogan et al. used
        wenum = self.tap_network(build_image_model, weights)
        if config.preprocess == "weights":
            w = wenum
            if w is None:  # a local or random checkpoint: the transforms of the model's default weights
                enum = weights_enum_for(model) if model not in SMALL_MODELS else None
                if enum is None:
                    raise ZslError(f"{model} has no weights transforms", hint="use --preprocess paper")
                w = enum.DEFAULT
            self.transform = w.transforms()
            self.info["transforms"] = str(w)
        else:
            self.transform = paper_transform(config.image_size)
            self.info["transforms"] = f"resize {config.image_size}x{config.image_size}, ImageNet mean/std"

    def loader(self) -> "_ImageLoader":
        return _ImageLoader(self.transform)

    def meta(self) -> dict:
        return {**self.info, "layer": self.config.layer, "preprocess": self.config.preprocess, "dim": self.dim}

    def embed(self, samples: list[torch.Tensor]) -> list[dict]:
        out = self.forward(torch.stack(samples)).numpy()
        return [{"embedding": row} for row in out]
