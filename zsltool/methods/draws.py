"""Random draws of a training step as data: the negatives and dropout masks of the audio-visual methods.

A method with :class:`StepDraws` draws everything random in one training step as one vector of uniforms
(``draws(labels, generator) -> {"u": ...}``: one ``torch.rand`` call from the model's own generator), and its
``loss`` turns ``u`` into the step's negatives (``neg``) and dropout keep masks (``drop_<site>``) with tensor
operations only. So the lean single-model loop and the batched kernel (zsltool.train.functional, where the loss
runs under ``vmap`` and every model's ``u`` is a row of one stacked tensor) give a model the same draws, and a
batch of G models costs G generator calls per step, not G × (1 + number of dropout sites).

Layout of ``u`` for a batch of b rows: b × b uniforms for the negatives (row p's partner is the row q of another
class with the largest uniform), then b × width per dropout
site with p > 0 in ``dropout_sites()`` order (kept where u >= p, scaled by 1/(1-p), as ``nn.Dropout``; each site
has its own p, e.g. AVGZSLNet's ``dropout`` and ``dec_dropout``). Without ``u`` in the batch (a loss called
directly) the method draws from torch's global generator as before.
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


def mlp2(din: int, hidden: int, dout: int, dropout: float, batch_norm: bool = False) -> nn.Sequential:
    """Linear, [BatchNorm1d], ReLU, Dropout, Linear (without BatchNorm the layer indices are 0, 1, 2, 3)."""
    bn = [nn.BatchNorm1d(hidden)] if batch_norm else []
    return nn.Sequential(nn.Linear(din, hidden), *bn, nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, dout))


def batch_norm(bn: nn.BatchNorm1d, x: Tensor) -> Tensor:
    """``bn(x)``; a one-row training batch has no batch statistics and uses the running ones (not updated)."""
    if bn.training and x.shape[0] < 2:
        return nn.functional.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    return bn(x)


def run_mlp2(net: nn.Sequential, x: Tensor, keep: Tensor | None = None) -> Tensor:
    """``net(x)`` of an ``mlp2``, with its dropout given as a scaled keep mask (0 or 1/(1-p) per hidden unit) when
    ``keep`` is not None."""
    has_bn = isinstance(net[1], nn.BatchNorm1d)
    if keep is None and not has_bn:
        return net(x)
    h = net[0](x)
    h = torch.relu(batch_norm(net[1], h) if has_bn else h)
    return net[-1](net[-2](h) if keep is None else h * keep)


class StepDraws:
    """Mixin of a ``ZslMethod`` whose training step draws negatives and dropout masks (see the module docstring)."""

    dropout_args: tuple[str, ...] = ("dropout",)  # the method's dropout probabilities (None: as ``dropout``)

    def __init__(self, **kw):
        super().__init__(**kw)
        for name in self.dropout_args:
            v = self.args.get(name)
            ok = v is None and name != "dropout" or isinstance(v, (int, float)) and not isinstance(v, bool)
            if not ok or not 0.0 <= float(self._p(name)) < 1.0:  # p = 1 would keep no unit: every mask 0 / 0
                raise ZslError(f"method {self.name!r}: {name} must be at least 0 and below 1, got {v!r}",
                               hint=f"e.g. --arg {name}=0.2")

    def dropout_sites(self) -> list[tuple[str, int, float]]:
        """The dropout masks of one step: (batch key, hidden width, p), in the order their uniforms sit in ``u``."""
        raise NotImplementedError

    def _p(self, name: str = "dropout") -> float:
        """A dropout probability of the method's arguments (an unset one is ``dropout``)."""
        v = self.args.get(name)
        return float(self.args["dropout"] if v is None else v)

    def n_draws(self, b: int) -> int:
        """How many uniforms one step of ``b`` rows needs."""
        return b * b + b * sum(w for _, w, p in self.dropout_sites() if p > 0)

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
        off = b * b
        for key, width, p in self.dropout_sites():
            if p > 0:
                out[key] = (u[off:off + b * width].reshape(b, width) >= p).to(torch.float32) / (1.0 - p)
                off += b * width
        return out

    def loss(self, batch: dict) -> dict[str, Tensor]:
        return super().loss(self.expand_draws(batch))  # type: ignore[misc]

    @staticmethod
    def _negatives(batch: dict) -> tuple[Tensor, Tensor]:
        """(q, ok): the step's negatives (``neg``: drawn from ``u``, or given by a test), else drawn from torch's
        global generator."""
        labels, q = batch["labels"], batch.get("neg")
        if q is not None:
            return q, labels[q] != labels
        b = labels.shape[0]
        return negatives_from(torch.rand((b, b), device=labels.device), labels)

    @staticmethod
    def _valid(batch: dict, key: str) -> Tensor:
        """The batch's ``audio_valid`` / ``video_valid`` mask (every row when it has none)."""
        v = batch.get(key)
        return torch.ones_like(batch["labels"], dtype=torch.bool) if v is None else v.bool()
