"""Random draws of a training step as data: the negatives and dropout masks of the audio-visual methods.

A method with :class:`StepDraws` draws everything random in one training step as one vector of uniforms
(``draws(labels, generator) -> {"u": ...}``: one ``torch.rand`` call from the model's own generator), and its
``loss`` turns ``u`` into the step's negatives (``neg``) and dropout keep masks (``drop_<site>``) with tensor
operations only. So the lean single-model loop and the batched kernel (zsltool.train.functional, where the loss
runs under ``vmap`` and every model's ``u`` is a row of one stacked tensor) give a model the same draws, and a
batch of G models costs G generator calls per step, not G × (1 + number of dropout sites).

Layout of ``u`` for a batch of b rows: b × b uniforms for the negatives (row p's partner is the row q of another
class with the largest uniform, as :func:`zsltool.methods.base.sample_negatives`), then b × width per dropout
site in ``dropout_sites()`` order (kept where u >= p, scaled by 1/(1-p), as ``nn.Dropout``). Without ``u`` in
the batch (a loss called directly) the method draws from torch's global generator as before.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zsltool.errors import ZslError


def negatives_from(r: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """(q, ok) from uniforms r (b, b): q[p] the row of another label with the largest r[p, q]; ``ok`` False
    for rows with no such partner."""
    diff = labels[:, None] != labels[None, :]
    q = torch.where(diff, r, torch.full_like(r, -1.0)).argmax(1)
    return q, diff.any(1)


def run_mlp2(net: nn.Sequential, x: Tensor, keep: Tensor | None = None) -> Tensor:
    """``net(x)`` of a two-layer ``mlp2`` (Linear, ReLU, Dropout, Linear), with its dropout given as a scaled keep
    mask (0 or 1/(1-p) per hidden unit) when ``keep`` is not None."""
    if keep is None:
        return net(x)
    return net[3](torch.relu(net[0](x)) * keep)


class StepDraws:
    """Mixin of a ``ZslMethod`` whose training step draws negatives and dropout masks (see the module docstring)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        if not 0.0 <= self._p() < 1.0:  # p = 1 would keep no unit: every mask 0 / 0
            raise ZslError(f"method {self.name!r}: dropout must be at least 0 and below 1, got {self._p()}",
                           hint="e.g. --arg dropout=0.2")

    def dropout_sites(self) -> list[tuple[str, int]]:
        """The dropout masks of one step: (batch key, hidden width), in the order their uniforms sit in ``u``."""
        raise NotImplementedError

    def _p(self) -> float:
        return float(self.args["dropout"])

    def n_draws(self, b: int) -> int:
        """How many uniforms one step of ``b`` rows needs."""
        widths = sum(w for _, w in self.dropout_sites()) if self._p() > 0 else 0
        return b * b + b * widths

    def draws(self, labels: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Every random number of one training step: one call of ``generator`` (on the labels' device)."""
        return {"u": torch.rand(self.n_draws(labels.shape[0]), generator=generator, device=labels.device)}

    def expand_draws(self, batch: dict) -> dict:
        """The batch with ``u`` turned into ``neg`` and the ``drop_<site>`` keep masks (tensor operations only:
        it runs under ``vmap`` in the batched kernel)."""
        u = batch.get("u")
        if u is None:
            return batch
        labels = batch["labels"]
        b = labels.shape[0]
        out = {k: v for k, v in batch.items() if k != "u"}
        out["neg"] = negatives_from(u[:b * b].reshape(b, b), labels)[0]
        p, off = self._p(), b * b
        if p > 0:
            for key, width in self.dropout_sites():
                out[key] = (u[off:off + b * width].reshape(b, width) >= p).to(torch.float32) / (1.0 - p)
                off += b * width
        return out

    def loss(self, batch: dict) -> dict[str, Tensor]:
        return super().loss(self.expand_draws(batch))  # type: ignore[misc]
