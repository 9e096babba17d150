"""Data-parallel training across processes (``torchrun --nproc-per-node N``), for the pretraining loop.

Under torchrun (``WORLD_SIZE`` > 1 in the environment) :func:`setup` joins the process group (gloo on the
CPU, nccl on CUDA, one GPU per local rank); otherwise it returns a single-process context and nothing
changes. :func:`wrap` puts a network in DistributedDataParallel, :func:`rank_batches` gives each rank its
share of an epoch's batches, :func:`all_sum` adds per-epoch statistics over the ranks, and only the main
rank (``ctx.main``) writes files.

Equivalence: with a mean loss, N ranks taking ``batch`` items each from the same shuffled order train the
network that one process would train with batches of ``N * batch`` (DDP averages the gradients), up to float
re-association (tests/extract/test_distributed.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"
    started: bool = False  # this call joined the process group (and closes it in teardown)

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup(device: str = "cpu") -> DistContext:
    """Join torchrun's process group when ``WORLD_SIZE`` > 1 (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return DistContext(device=device)
    import torch
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if device.startswith("cuda"):
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    started = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
        started = True
    return DistContext(rank=rank, world=world, local_rank=local, device=device, started=started)


def teardown(ctx: DistContext) -> None:
    if ctx.started:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


def wrap(net, ctx: DistContext):
    """``net`` in DistributedDataParallel under torchrun, else ``net`` itself."""
    if not ctx.active:
        return net
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.local_rank] if ctx.device.startswith("cuda") else None
    return DistributedDataParallel(net, device_ids=ids)


def rank_batches(order, batch_size: int, ctx: DistContext) -> list:
    """This rank's batches of one epoch: the same shuffled ``order`` on every rank, cut into global batches
    of ``world * batch_size`` items, of which rank r takes the r-th slice. Every rank gets the same number of
    batches (a last global batch too small for every rank is dropped), so DDP's all-reduce never waits."""
    n, w = len(order), ctx.world
    g = batch_size * w
    out = []
    for s in range(0, n, g):
        chunk = order[s:s + g]
        if len(chunk) < w:
            break
        per = -(-len(chunk) // w)
        part = chunk[ctx.rank * per:(ctx.rank + 1) * per]
        if len(part) == 0:
            break
        out.append(part)
    return out


def all_sum(values: list[float], ctx: DistContext) -> list[float]:
    """Sum ``values`` over the ranks (unchanged in one process)."""
    if not ctx.active:
        return values
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return t.tolist()
