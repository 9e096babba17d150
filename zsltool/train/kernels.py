"""Batched kernels: many models of one method trained as one stacked computation, running the method's own loss.

A method opts in with ``batched_kernel = "<name>"`` (a ClassVar); ``KERNELS`` maps the name to a kernel class
with ``group_key(job, model, device)`` (None: this job trains alone), ``plan(jobs, models, idx, device)`` (chunks
of indices trained together), ``runs_on(device, method_cls)`` and ``Kernel(jobs, models, device).run() ->
[Outcome]``. The one kernel, ``functional`` (``zsltool/train/functional.py``), runs every method's own ``loss``
under ``torch.func.vmap``; what makes a family fast there is generic (class-space coordinates, gradient
layouts) or declared by the method (``class_linear``, ``stack_on_cpu``), never a second copy of a loss.
"""

from __future__ import annotations

from zsltool.train.functional import FunctionalKernel

KERNELS: dict[str, type] = {"functional": FunctionalKernel}


def batches_on(method_cls, device: str = "cpu") -> bool:
    """Whether models of this method are trained in batches on ``device`` (a kernel that runs there)."""
    k = KERNELS.get(getattr(method_cls, "batched_kernel", None) or "")
    return k is not None and k.runs_on(device, method_cls)
