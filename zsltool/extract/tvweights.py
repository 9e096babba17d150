"""Building torchvision models (image and video) with their weights: a weights id or a local state dict.

    model, weights_enum, info = build_torchvision_model("resnet101", "IMAGENET1K_V1")
    model, weights_enum, info = build_torchvision_model("resnet18", "/path/state_dict.pt")

Weights ids go through torchvision's multi-weight API (``get_model_weights(name).verify(id)``); the download
goes through torch hub's cache (``torch.hub.get_dir()/checkpoints``). Offline and not cached: one
:class:`ZslError` naming the URL and ``--weights PATH``. A local file is loaded with
``torch.load(weights_only=True)`` and ``load_state_dict(strict=True)``; a key or shape mismatch is a ZslError.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from zsltool.errors import ZslError
from zsltool.extract.base import Extractor
from zsltool.files.provenance import sha256_file

log = logging.getLogger("zsltool.extract")


class PooledConvNet(torch.nn.Module):
    """zsl's own small networks: conv layers, global average pooling and a linear head. ``features`` ends at the
    pooled (penultimate) vector and ``fc`` is the classifier: the names their state dicts and ``penultimate``
    use."""

    def __init__(self, layers: list, pool: torch.nn.Module, width: int, num_classes: int):
        super().__init__()
        self.features = torch.nn.Sequential(*layers, pool)
        self.fc = torch.nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


def weights_enum_for(name: str):
    """The weights enum class of a torchvision model (None when it has none)."""
    import torchvision

    try:
        return torchvision.models.get_model_weights(name)
    except (ValueError, KeyError):
        return None


def _looks_like_path(weights: str) -> bool:
    return os.sep in weights or weights.endswith((".pt", ".pth", ".bin", ".ckpt")) or Path(weights).exists()


def load_state_dict_file(path: str | os.PathLike) -> dict:
    """A state dict from a local file (:func:`zsltool.extract.weights.load_state_dict`)."""
    from zsltool.extract.weights import load_state_dict

    if not Path(path).exists():
        raise ZslError(f"weights file not found: {Path(path)}", hint="give a torchvision weights id (e.g. DEFAULT) or a "
                       "path")
    return load_state_dict(path, hint="the file must be a state dict saved with torch.save(model.state_dict(), path)")


def apply_state_dict(model: torch.nn.Module, sd: dict, source: str, name: str) -> None:
    """``load_state_dict(strict=True)`` with a readable error on key or shape mismatch."""
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f"{k} {tuple(sd[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in sd and tuple(sd[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches (e.g. {'; '.join(shapes[:2])})")
        raise ZslError(f"weights {source} do not fit model {name}: " + ", ".join(parts),
                       hint=f"use weights saved from torchvision's {name} (torch.save(model.state_dict(), path))")
    model.load_state_dict(sd, strict=True)


def build_torchvision_model(name: str, weights: str | None, *, module=None, num_classes: int | None = None):
    """Return ``(model in eval mode, weights enum member or None, info dict)``.

    ``weights``: a weights id of the model (``IMAGENET1K_V1``, ``KINETICS400_V1``, ``DEFAULT``), a local
    state-dict path, or None / "none" / "random" for random initialisation (tests, benchmarks).
    """
    import torchvision

    available = sorted(torchvision.models.list_models(module=module))
    if name not in available:
        import difflib

        close = difflib.get_close_matches(name, available, n=5)
        raise ZslError(f"unknown torchvision model {name!r}",
                       hint=f"did you mean {', '.join(close)}?" if close else
                       f"choose one of {len(available)} models, e.g. {', '.join(available[:8])}")
    enum = weights_enum_for(name)
    info: dict = {"model": name, "weights": weights or "random"}
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    if weights is None or str(weights).lower() in ("none", "random"):
        model = torchvision.models.get_model(name, weights=None, **kwargs)
        info["weights"] = "random"
        return model.eval(), None, info
    if _looks_like_path(str(weights)):
        sd = load_state_dict_file(weights)
        model = torchvision.models.get_model(name, weights=None, **kwargs)
        key = f"{_last(model, torch.nn.Linear)[0]}.weight"  # the classification head's
        if num_classes is None and key in sd and sd[key].ndim == 2 \
                and sd[key].shape[0] != model.state_dict()[key].shape[0]:
            # a fine-tuned head (another number of classes): build the model with that head
            model = torchvision.models.get_model(name, weights=None, num_classes=int(sd[key].shape[0]))
        apply_state_dict(model, sd, str(weights), name)
        info.update(weights=str(weights), weights_sha256=sha256_file(weights))
        return model.eval(), None, info
    if enum is None:
        raise ZslError(f"torchvision model {name!r} has no pretrained weights", hint="pass --weights PATH")
    try:
        w = enum.verify(str(weights))
    except (ValueError, KeyError, TypeError):
        ids = ", ".join(["DEFAULT"] + [m.name for m in enum])
        raise ZslError(f"unknown weights {weights!r} for {name}", hint=f"choose one of {ids}, or --weights PATH") from None
    from zsltool.extract.weights import cache_path

    cached = cache_path(w.url)
    try:
        model = torchvision.models.get_model(name, weights=w, **kwargs)
    except (OSError, RuntimeError) as e:  # URLError is an OSError; a bad download a RuntimeError
        if cached.exists():
            raise ZslError(f"cannot load cached weights {cached}: {e}",
                           hint="delete the file to download it again, or pass --weights PATH") from None
        raise ZslError(f"cannot download weights {w} from {w.url} ({type(e).__name__}: {e})",
                       hint=f"download it on a machine with internet into {cached.parent}, "
                            "or pass --weights PATH to a local state dict") from None
    info.update(weights=str(w).split(".")[-1], weights_url=w.url)
    return model.eval(), w, info


def _last(model: torch.nn.Module, kinds) -> tuple[str | None, torch.nn.Module | None]:
    """``(name, module)`` of the model's last submodule of ``kinds``, ``(None, None)`` when it has none."""
    return next(((n, m) for n, m in reversed(list(model.named_modules())) if isinstance(m, kinds)), (None, None))


def last_linear(model: torch.nn.Module) -> torch.nn.Module:
    """The model's classification layer: its last ``nn.Linear``, else its last convolution (s3d's head)."""
    last = _last(model, torch.nn.Linear)[1] or _last(model, (torch.nn.Conv2d, torch.nn.Conv3d))[1]
    if last is None:
        raise ZslError("the model has no linear classification layer, so --layer penultimate is not available")
    return last


def _in_out(layer: torch.nn.Module) -> tuple[int, int]:
    if isinstance(layer, torch.nn.Linear):
        return int(layer.in_features), int(layer.out_features)
    return int(layer.in_channels), int(layer.out_channels)


class LayerTap:
    """Select the output of a model: ``logits``, ``softmax`` or ``penultimate`` (input of the last Linear)."""

    LAYERS = ("logits", "softmax", "penultimate")

    def __init__(self, model: torch.nn.Module, layer: str):
        if layer not in self.LAYERS:
            raise ZslError(f"unknown layer {layer!r}", hint=f"choose one of {', '.join(self.LAYERS)}")
        self.model, self.layer = model, layer
        self.head = last_linear(model) if layer == "penultimate" else None
        self._captured = None
        if self.head is not None:
            self.head.register_forward_hook(self._hook)

    def _hook(self, _module, inputs, _output):
        self._captured = inputs[0]

    @property
    def dim(self) -> int:
        if self.layer == "penultimate":
            return _in_out(self.head)[0]
        return _in_out(last_linear(self.model))[1]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        if self.layer == "logits":
            return logits
        if self.layer == "softmax":
            return torch.softmax(logits, dim=-1)
        out = self._captured
        self._captured = None
        if out.ndim > 2:  # the input of a convolutional head (B, C, T, H, W): average over positions
            out = out.mean(dim=tuple(range(2, out.ndim)))
        return out


class TappedExtractor(Extractor):
    """Base of the image and video extractors: a classifier network with its weights, tapped at ``--layer``."""

    def tap_network(self, build, weights: str | None = None) -> object:
        """Build the network (``build(name, weights)`` -> model, weights enum member or None, info) with
        ``weights`` (default: the config's, else the registered default), tap it; returns the weights enum member."""
        if weights is None:
            weights = self.config.weights if self.config.weights is not None else self.spec.default_weights
        self.net, wenum, self.info = build(self.spec.name, weights)
        self.tap = LayerTap(self.net.to(self.device), self.config.layer)
        self.dim = self.tap.dim
        if self.info.get("weights_sha256"):
            self.weight_records = [{"path": self.info["weights"], "sha256": self.info["weights_sha256"]}]
        return wenum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tap(x.to(self.device)).float().cpu()


def build_small_network(cls, name: str, weights, num_classes: int | None, command: str):
    """``(model in eval mode, None, info)`` for one of zsl's own small networks (``smallcnn``, ``small3d``),
    which have no published weights: random (``weights`` None / "random"), or a state-dict path written by
    ``command`` (``pretrain-image`` / ``pretrain-video``), whose head size is read from the file."""
    info = {"model": name, "weights": "random"}
    if weights is None or str(weights).lower() in ("none", "random"):
        return cls(num_classes or 10).eval(), None, info
    if not (os.sep in str(weights) or Path(str(weights)).suffix or Path(str(weights)).exists()):
        raise ZslError(f"{name} has no pretrained weights ({weights!r})",
                       hint=f"train it with `zsl {command} --model {name}` and pass --weights PATH")
    sd = load_state_dict_file(weights)
    head = sd.get("fc.weight")
    model = cls(int(head.shape[0]) if head is not None and head.ndim == 2 else (num_classes or 10))
    apply_state_dict(model, sd, str(weights), name)
    info.update(weights=str(weights), weights_sha256=sha256_file(weights))
    return model.eval(), None, info
