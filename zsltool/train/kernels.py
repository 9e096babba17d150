"""Batched kernels: many models of one method family trained as one stacked computation.

A method opts in with ``batched_kernel = "<name>"`` (a ClassVar); ``KERNELS`` maps the name to a kernel class
with ``group_key(job, model)`` (None: this job trains alone), ``plan(jobs, models, idx, device)`` (chunks
of indices trained together) and ``Kernel(jobs, models, device).run() -> [Outcome]``. A new kernel is one module
(as ``zsltool/train/compatibility.py``, on ``zsltool/train/stacked.py``) plus its entry here.
"""

from __future__ import annotations

from zsltool.train.compatibility import CompatibilityKernel

KERNELS: dict[str, type] = {"compatibility": CompatibilityKernel}
