"""Loss functions shared by the compatibility methods (projection, bilinear, DeViSE, ALE, SJE)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

RANKING_LOSSES = ("hinge", "softmax")


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


def triplet(d_pos: Tensor, d_neg: Tensor, margin: float) -> Tensor:
    """Per-row triplet hinge [d_pos - d_neg + margin]_+."""
    return (d_pos - d_neg + margin).clamp_min(0.0)
