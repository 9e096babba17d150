"""torch.optim.SGD's update rule without its per-step bookkeeping, for the batched kernel on the CPU.

On the CPU a step of a small stacked model (Dogan et al.'s projection at d_s = 300: a few products of
5 × 23 × 300 × 128) costs about as much as ``torch.optim.SGD.step``'s Python bookkeeping (grouping tensors by
device and dtype, profiler records, hooks); this is the same update (momentum, dampening 0, weight decay, no
Nesterov) as three foreach calls, and ``state_dict()`` in torch.optim.SGD's format.
"""

from __future__ import annotations

import torch


class PlainSGD:
    """SGD over a list of tensors with ``.grad`` set: d = g + wd·p; buf = momentum·buf + d (buf = d at the first
    step); p -= lr·buf (torch.optim.SGD's rule)."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        self.bufs: list[torch.Tensor] | None = None

    @torch.no_grad()
    def step(self) -> None:
        d = [p.grad for p in self.params]
        if self.weight_decay:
            d = torch._foreach_add(d, self.params, alpha=self.weight_decay)
        if self.momentum:
            if self.bufs is None:
                self.bufs = [t.detach().clone() for t in d]
            else:
                torch._foreach_mul_(self.bufs, self.momentum)
                torch._foreach_add_(self.bufs, d)
            d = self.bufs
        torch._foreach_add_(self.params, d, alpha=-self.lr)

    def state_dict(self) -> dict:
        state = {i: {"momentum_buffer": b} for i, b in enumerate(self.bufs)} if self.bufs is not None else {}
        return {"state": state, "param_groups": [{
            "lr": self.lr, "momentum": self.momentum, "dampening": 0, "weight_decay": self.weight_decay,
            "nesterov": False, "maximize": False, "params": list(range(len(self.params)))}]}
