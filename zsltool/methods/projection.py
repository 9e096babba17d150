"""Compatibility methods F(x, y) = θ(x)ᵀ H(φ(y)) on audio: ``projection`` (nonlinear acoustic-semantic
projection, Xie, Räsänen & Virtanen, ICASSP 2021; Dogan et al. eq. 1-3), ``bilinear`` (Xie & Virtanen, WASPAA
2019) and the bilinear baselines ``devise``, ``ale`` and ``sje`` with their own ranking losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zsltool.errors import ZslError
from zsltool.methods.base import ZslMethod, check_modality, register_method


# -- the losses of the family (Dogan et al.; Akata et al. 2015 for ALE and SJE) --------------------------
def _margins(scores: Tensor, labels: Tensor, margin: float) -> Tensor:
    """(B, C) matrix of margin + F(x, y') - F(x, y), 0 at the true class."""
    true = scores.gather(1, labels[:, None])
    m = margin + scores - true
    return m.masked_fill(F.one_hot(labels, scores.shape[1]).bool(), 0.0)


def ranking_hinge(scores: Tensor, labels: Tensor, margin: float = 1.0, reduce: str = "sum") -> Tensor:
    """Ranking hinge loss per row: over wrong classes y' of max(0, margin + F(x,y') - F(x,y)),
    summed (``reduce="sum"``) or the largest (``"max"``, the structured SVM form of SJE). Mean over the batch."""
    m = _margins(scores, labels, margin).clamp_min(0.0)
    per_row = m.sum(1) if reduce == "sum" else m.max(1).values
    return per_row.mean()


def ale_loss(scores: Tensor, labels: Tensor, margin: float = 1.0) -> Tensor:
    """ALE's weighted approximate ranking: per row, (beta_r / r) * sum of positive hinge terms, where r is the
    number of violating classes and beta_r = sum_{i=1..r} 1/i (Akata et al. 2015)."""
    m = _margins(scores, labels, margin).clamp_min(0.0)
    r = (m > 0).sum(1)
    harmonic = torch.cumsum(1.0 / torch.arange(1, scores.shape[1] + 1, dtype=scores.dtype, device=scores.device), 0)
    beta = torch.where(r > 0, harmonic[(r - 1).clamp_min(0)], torch.zeros_like(r, dtype=scores.dtype))
    w = beta / r.clamp_min(1).to(scores.dtype)
    return (w * m.sum(1)).mean()


def softmax_ce(scores: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(scores, labels)


def compatibility_loss(kind: str, scores: Tensor, labels: Tensor, margin: float, reduce: str = "sum") -> Tensor:
    if kind == "hinge":
        return ranking_hinge(scores, labels, margin, reduce)
    if kind == "softmax":
        return softmax_ce(scores, labels)
    if kind == "ale":
        return ale_loss(scores, labels, margin)
    raise ValueError(kind)


class _Compatibility(ZslMethod):
    """Shared loss / scores of audio-only compatibility methods: subclasses define ``project(class_emb)``
    -> (C, Da) class vectors in the audio space; the score is their dot product with the audio vector."""

    modalities = ("audio",)
    loss_kinds: tuple[str, ...] = ("hinge", "softmax")
    batched_kernel = "functional"  # many models trained as one vmap of this loss (zsltool/train/functional.py)
    stack_on_cpu = True  # small products per step: stacking pays on the CPU too (benchmarks/RESULTS.md)

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

    def embedders(self):
        return {"class": self.project, "audio": lambda x: x}


@register_method("projection")
class Projection(_Compatibility):
    """H(φ) = Vᵀ t(Uᵀ φ): two fully connected layers (U: d_s×r, V: r×d_a), t = tanh (or none)."""
    default_scaling = {"zscore": True, "l2_classes": True}  # measured: docs/methods.md, Feature scaling

    defaults = {"rank": 0, "activation": "tanh", "bias": True, "loss": "hinge", "hinge": "sum", "margin": 1.0}
    class_linear = ("U.weight",)  # the classes enter only through U: exact class-space SGD (train/class_space.py)

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
    default_scaling = {"l2_classes": True}  # measured: docs/methods.md, Feature scaling
    class_linear = ("W",)  # the classes enter only through W: exact class-space SGD (train/class_space.py)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.W = nn.Parameter(torch.empty(self.audio_dim, self.semantic_dim))
        nn.init.xavier_uniform_(self.W)

    def project(self, class_emb: Tensor) -> Tensor:
        return class_emb @ self.W.T  # (C, Da): F(x, y) = xᵀ W φ(y)


@register_method("bilinear")
class Bilinear(_BilinearBase):
    """F(x, y) = θ(x)ᵀ W φ(y) (Xie & Virtanen, WASPAA 2019), trained with the same loss as projection."""

    defaults = {"loss": "hinge", "hinge": "sum", "margin": 1.0}


@register_method("devise")
class Devise(_BilinearBase):
    """DeViSE (Frome et al. 2013): bilinear compatibility, hinge rank loss summed over wrong classes, margin 0.1."""

    defaults = {"loss": "hinge", "hinge": "sum", "margin": 0.1}
    loss_kinds = ("hinge",)


@register_method("ale")
class Ale(_BilinearBase):
    """ALE (Akata et al. 2015): bilinear compatibility, weighted approximate ranking loss (rank-weighted hinge)."""

    defaults = {"loss": "ale", "margin": 1.0}
    loss_kinds = ("ale",)


@register_method("sje")
class Sje(_BilinearBase):
    """SJE (Akata et al. 2015): bilinear compatibility, structured SVM loss (largest violating class)."""

    defaults = {"loss": "hinge", "hinge": "max", "margin": 1.0}
    loss_kinds = ("hinge",)
