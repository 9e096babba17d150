"""Stacked training of G models at once: padding their arrays to one (G, ...) tensor, and the optimiser that
updates every model's slice with its own settings (used by the batched kernels of ``zsltool.train.kernels``)."""

from __future__ import annotations

import numpy as np
import torch


def pad_stack(arrs, shape, dtype=torch.float32, fill=0) -> torch.Tensor:
    """The arrays zero-padded (or ``fill``-padded) to ``shape`` and stacked: (len(arrs), *shape)."""
    out = torch.full((len(arrs), *shape), fill, dtype=dtype)
    for g, a in enumerate(arrs):
        a = torch.as_tensor(np.asarray(a))
        out[(g, *[slice(0, s) for s in a.shape])] = a.to(dtype)
    return out


class StackedOptimizer:
    """SGD (momentum, weight decay) or Adam over stacked (G, ...) parameters, each model with its own
    settings (torch.optim's update rules, dampening 0, no Nesterov / amsgrad); inactive models are skipped."""

    def __init__(self, names, kind: str, hypers: list[dict], device: str):
        self.kind = kind

        def col(key, default=0.0):
            return torch.tensor([float(h.get(key) or default) for h in hypers], device=device)

        self.lr, self.wd, self.mom = col("lr"), col("weight_decay"), col("momentum")
        self.b1, self.b2 = col("beta1", 0.9), col("beta2", 0.999)
        self.eps = col("eps", 1e-8)
        self.t = torch.zeros(len(hypers), device=device)
        self.has_wd = any(float(h.get("weight_decay") or 0.0) for h in hypers)
        self.has_mom = any(float(h.get("momentum") or 0.0) for h in hypers)
        self.state: dict[str, dict[str, torch.Tensor]] = {n: {} for n in names}

    @staticmethod
    def _b(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return v.view(-1, *([1] * (like.dim() - 1)))

    @torch.no_grad()
    def step(self, params: dict, grads: dict, active: torch.Tensor, all_active: bool = False) -> None:
        """One update of every active model; ``all_active`` (the common case) updates in place without masks."""
        self.t += active.to(self.t.dtype)
        for name, g in grads.items():
            p = params[name]
            st = self.state[name]
            lr = self._b(self.lr, p)
            if self.has_wd:
                g = g + self._b(self.wd, p) * p
            if self.kind == "adam":
                on = self._b(active, p)  # torch.where, not a product: a diverged model's NaN must not spread
                m = st.setdefault("exp_avg", torch.zeros_like(p))
                v = st.setdefault("exp_avg_sq", torch.zeros_like(p))
                b1, b2 = self._b(self.b1, p), self._b(self.b2, p)
                m.copy_(torch.where(on, m * b1 + (1 - b1) * g, m))
                v.copy_(torch.where(on, v * b2 + (1 - b2) * g * g, v))
                t = self.t.clamp_min(1)
                bc1 = self._b(1 - self.b1 ** t, p)
                bc2 = self._b(torch.sqrt(1 - self.b2 ** t), p)
                p.copy_(torch.where(on, p - lr / bc1 * m / (v.sqrt() / bc2 + self._b(self.eps, p)), p))
                continue
            if self.has_mom:
                buf = st.setdefault("momentum_buffer", torch.zeros_like(p))
                if all_active:
                    buf.mul_(self._b(self.mom, p)).add_(g)
                else:
                    buf.copy_(torch.where(self._b(active, p), buf * self._b(self.mom, p) + g, buf))
                g = buf
            if all_active:
                p.addcmul_(lr, g, value=-1.0)
            else:
                p.copy_(torch.where(self._b(active, p), p - lr * g, p))

    def snapshot(self, g: int) -> dict:
        return {n: {k: v[g].clone() for k, v in st.items()} for n, st in self.state.items()}
