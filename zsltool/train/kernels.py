"""Batched kernels: many models of one method family trained as one stacked computation.

A method opts in with ``batched_kernel = "<name>"`` (a ClassVar); ``KERNELS`` maps the name to a kernel class
with ``group_key(job, model, device)`` (None: this job trains alone), ``plan(jobs, models, idx, device)`` (chunks
of indices trained together) and ``Kernel(jobs, models, device).run() -> [Outcome]``. A new kernel is one module
(as ``zsltool/train/compatibility.py``, on ``zsltool/train/stacked.py``) plus its entry here.
"""

from __future__ import annotations

from zsltool.train.compatibility import CompatibilityKernel
from zsltool.train.functional import FunctionalKernel

KERNELS: dict[str, type] = {"compatibility": CompatibilityKernel, "functional": FunctionalKernel}


def batches_on(method_cls, device: str = "cpu") -> bool:
    """Whether models of this method are trained in batches on ``device`` (a kernel that runs there)."""
    k = KERNELS.get(getattr(method_cls, "batched_kernel", None) or "")
    return k is not None and getattr(k, "runs_on", lambda d: True)(device)
