"""Compatibility methods F(x, y) = θ(x)ᵀ H(φ(y)) on audio: ``projection`` (nonlinear acoustic-semantic
projection, Xie, Räsänen & Virtanen, ICASSP 2021; Dogan et al. eq. 1-3), ``bilinear`` (Xie & Virtanen, WASPAA
2019) and the bilinear baselines ``devise``, ``ale`` and ``sje`` with their own ranking losses."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zsltool.errors import ZslError
from zsltool.methods.base import ZslMethod, check_modality, register_method
from zsltool.methods.losses import compatibility_loss


class _Compatibility(ZslMethod):
    """Shared loss / scores of audio-only compatibility methods: subclasses define ``project(class_emb)``
    -> (C, Da) class vectors in the audio space; the score is their dot product with the audio vector."""

    modalities = ("audio",)
    loss_kinds: tuple[str, ...] = ("hinge", "softmax")
    batched_kernel = "compatibility"  # zsltool.train.compatibility.CompatibilityKernel trains many at once

    def __init__(self, **kw):
        super().__init__(**kw)
        if self.args["loss"] not in self.loss_kinds:
            raise ZslError(f"{self.name}: unknown loss {self.args['loss']!r}",
                           hint="use one of " + ", ".join(self.loss_kinds))
        if self.args.get("hinge", "sum") not in ("sum", "max"):
            raise ZslError(f"{self.name}: hinge must be sum or max, got {self.args['hinge']!r}")

    def project(self, class_emb: Tensor) -> Tensor:
        raise NotImplementedError

    def compat(self, class_emb: Tensor, audio: Tensor) -> Tensor:
        return audio @ self.project(class_emb).T

    def loss(self, batch: dict) -> dict[str, Tensor]:
        s = self.compat(batch["class_emb"], batch["audio"])
        loss = compatibility_loss(self.args["loss"], s, batch["labels"], float(self.args["margin"]),
                                  self.args.get("hinge", "sum"))
        return {"total": loss, self.args["loss"]: loss.detach()}

    def scores(self, class_emb, audio=None, video=None, modality="both", audio_valid=None, video_valid=None):
        check_modality(self, modality, audio, None)
        return self.compat(class_emb, audio)

    def embed(self, class_emb=None, audio=None, video=None):
        out = {}
        if class_emb is not None:
            out["class"] = self.project(class_emb)
        if audio is not None:
            out["audio"] = audio
        return out


@register_method("projection")
class Projection(_Compatibility):
    """H(φ) = Vᵀ t(Uᵀ φ): two fully connected layers (U: d_s×r, V: r×d_a), t = tanh (or none)."""
    default_scaling = {"zscore": True, "l2_classes": True}  # measured: docs/methods.md, Feature scaling

    defaults = {"rank": 0, "activation": "tanh", "bias": True, "loss": "hinge", "hinge": "sum", "margin": 1.0}

    def __init__(self, **kw):
        super().__init__(**kw)
        if self.args["activation"] not in ("tanh", "none"):
            raise ZslError(f"unknown activation {self.args['activation']!r}", hint="use tanh or none")
        r = int(self.args["rank"]) or self.semantic_dim  # 0: r = d_s (the paper)
        self.args["rank"] = r
        self.U = nn.Linear(self.semantic_dim, r, bias=bool(self.args["bias"]))
        self.V = nn.Linear(r, self.audio_dim, bias=bool(self.args["bias"]))

    def project(self, class_emb: Tensor) -> Tensor:
        h = self.U(class_emb)
        if self.args["activation"] == "tanh":
            h = torch.tanh(h)
        return self.V(h)


class _BilinearBase(_Compatibility):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.W = nn.Parameter(torch.empty(self.audio_dim, self.semantic_dim))
        nn.init.xavier_uniform_(self.W)

    def project(self, class_emb: Tensor) -> Tensor:
        return class_emb @ self.W.T  # (C, Da): F(x, y) = xᵀ W φ(y)


@register_method("bilinear")
class Bilinear(_BilinearBase):
    """F(x, y) = θ(x)ᵀ W φ(y) (Xie & Virtanen, WASPAA 2019), trained with the same loss as projection."""
    default_scaling = {"l2_classes": True}  # measured: docs/methods.md, Feature scaling

    defaults = {"loss": "hinge", "hinge": "sum", "margin": 1.0}


@register_method("devise")
class Devise(_BilinearBase):
    """DeViSE (Frome et al. 2013): bilinear compatibility, hinge rank loss summed over wrong classes, margin 0.1."""
    default_scaling = {"l2_classes": True}  # measured: docs/methods.md, Feature scaling

    defaults = {"loss": "hinge", "hinge": "sum", "margin": 0.1}
    loss_kinds = ("hinge",)


@register_method("ale")
class Ale(_BilinearBase):
    """ALE (Akata et al. 2015): bilinear compatibility, weighted approximate ranking loss (rank-weighted hinge)."""
    default_scaling = {"l2_classes": True}  # measured: docs/methods.md, Feature scaling

    defaults = {"loss": "ale", "margin": 1.0}
    loss_kinds = ("ale",)


@register_method("sje")
class Sje(_BilinearBase):
    """SJE (Akata et al. 2015): bilinear compatibility, structured SVM loss (largest violating class)."""
    default_scaling = {"l2_classes": True}  # measured: docs/methods.md, Feature scaling

    defaults = {"loss": "hinge", "hinge": "max", "margin": 1.0}
    loss_kinds = ("hinge",)
