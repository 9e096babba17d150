"""zsl's own video networks (``tiny3d`` for tests, ``small3d`` to train with pretrain-video) and the builder of
every video model: torchvision's Kinetics models with their weights, or these.

    model, weights_enum, info = build_video_model("s3d", "KINETICS400_V1")
"""

from __future__ import annotations

from typing import Sequence

import torch

from zsltool.extract.tvweights import PooledConvNet, build_torchvision_model

TEST_MODELS = ("tiny3d",)
SMALL_MODELS = ("small3d",)  # trained from scratch with pretrain-video; square frames, no resize


class TinyVideoNet(PooledConvNet):
    """A tiny 3-D CNN for tests and demos only (random weights; never for real embeddings)."""

    def __init__(self, num_classes: int = 10):
        super().__init__([torch.nn.Conv3d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU()],
                         torch.nn.AdaptiveAvgPool3d(1), 8, num_classes)


class Small3D(PooledConvNet):
    """A small 3-D CNN (3 x conv3x3x3-BN-ReLU, the first striding space only, the others space and time; global
    average pooling; linear head) to train from scratch with ``pretrain-video`` when no pretrained video
    network is at hand; ``penultimate`` is ``channels[-1]``-d (64)."""

    def __init__(self, num_classes: int = 10, channels: Sequence[int] = (16, 32, 64)):
        layers, c = [], 3
        for k, o in enumerate(channels):
            stride = (1, 2, 2) if k == 0 else (2, 2, 2)
            layers += [torch.nn.Conv3d(c, o, 3, stride=stride, padding=1, bias=False), torch.nn.BatchNorm3d(o),
                       torch.nn.ReLU(inplace=True)]
            c = o
        super().__init__(layers, torch.nn.AdaptiveAvgPool3d(1), c, num_classes)


def build_video_model(name: str, weights: str | None, num_classes: int | None = None):
    """(model, weights enum member or None, info) for a torchvision video model, ``small3d`` or a test model.

    ``small3d`` has no pretrained weights: random (``weights`` None / "random") or a state-dict path from
    ``pretrain-video`` (its head size is read from the file).
    """
    if name in TEST_MODELS:
        from zsltool.extract.tvweights import apply_state_dict, load_state_dict_file

        model = TinyVideoNet(num_classes or 10)
        info = {"model": name, "weights": "random"}
        if weights and str(weights).lower() not in ("none", "random", "default"):
            apply_state_dict(model, load_state_dict_file(weights), str(weights), name)
            info["weights"] = str(weights)
        return model.eval(), None, info
    if name in SMALL_MODELS:
        from zsltool.extract.tvweights import build_small_network

        return build_small_network(Small3D, name, weights, num_classes, "pretrain-video")
    import torchvision

    return build_torchvision_model(name, weights, module=torchvision.models.video, num_classes=num_classes)
