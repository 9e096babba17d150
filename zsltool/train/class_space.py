"""Class-space coordinates: the exact, cheaper form of plain SGD for a layer that only ever sees the training
classes (generic engine machinery; a method opts in by naming such layers in ``ZslMethod.class_linear``).

A method's training loss may see the class embeddings C (C_train × d_s, after feature scaling) only through
``C @ W.T`` for some parameters W (out × d_s): the first layer U of ``projection``, the matrix W of the bilinear
family. Then every gradient of W is ``g_Hᵀ C`` and, with plain SGD (any momentum, no weight decay), W only ever
moves within the row space of C. With Q (d_s × k) an orthonormal basis of that space (QR of Cᵀ, k = C_train),
training W' = W Q (out × k) on the class embeddings L = C Q (C_train × k) is the same SGD trajectory in other
coordinates (C Wᵀ = L W'ᵀ; the gradient of W' is the gradient of W times Q; momentum buffers likewise), and at
any time W = W₀ + (W' − W₀ Q) Qᵀ. The method's own ``loss`` runs unchanged on (L, W'); a step then costs
C_train × k × out multiply-adds in that layer instead of C_train × d_s × out, independent of the semantic
dimension (Dogan et al.'s image and hybrid class embeddings: d_s = 1000 and 1300 against k = 23).
Adam and weight decay are not linear in the gradient's coordinates: they train W itself.
"""

from __future__ import annotations

import torch
from torch import Tensor


def applies(model, hyper: dict, class_emb: Tensor) -> bool:
    """Whether ``model`` trains in class-space coordinates with these optimiser settings and classes."""
    return (bool(getattr(model, "class_linear", ())) and hyper["optimizer"] == "sgd"
            and not float(hyper.get("weight_decay") or 0.0) and class_emb.shape[0] < class_emb.shape[1])


class ClassSpace:
    """The coordinates of one model: ``classes`` (L, to train on in place of C), ``reduce`` (its parameters in
    these coordinates) and ``full`` / ``full_state`` (a parameter or an optimiser buffer back in the model's)."""

    def __init__(self, model, class_emb: Tensor):
        self.names = tuple(model.class_linear)
        with torch.no_grad():
            self.Q = torch.linalg.qr(class_emb.T.to(torch.float64))[0].to(class_emb.dtype)  # d_s × k
            self.classes = class_emb @ self.Q
            params = dict(model.named_parameters())
            self._rest = {n: params[n].detach() - (params[n].detach() @ self.Q) @ self.Q.T for n in self.names}

    def reduce(self, params: dict[str, Tensor]) -> dict[str, Tensor]:
        """``params`` with each class-side W replaced by W Q (the others as they are)."""
        return {n: (p.detach() @ self.Q if n in self.names else p) for n, p in params.items()}

    def full(self, name: str, value: Tensor) -> Tensor:
        """A parameter in the model's coordinates (W₀'s part outside the classes' span kept as it was)."""
        return self._rest[name] + value @ self.Q.T if name in self.names else value

    def full_state(self, name: str, buf: Tensor) -> Tensor:
        """An optimiser buffer (momentum) in the model's coordinates."""
        return buf @ self.Q.T if name in self.names and buf.dim() == 2 else buf
