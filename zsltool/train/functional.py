"""The ``functional`` batched kernel: many networks of one method and one shape trained as one computation
(the audio-visual family of Mazumder et al.: ``avgzslnet`` without BatchNorm or a learning-rate schedule,
``cjme-soft``, ``cjme`` without its BatchNorm attention, and the ``audio-only`` / ``video-only`` / ``concat``
baselines; registered in ``zsltool.train.kernels.KERNELS``). A model with BatchNorm (running statistics are
state updated in place) or a schedule (``zsltool.train.schedule``: one optimiser steps every stacked model)
declines and trains in the single-model loop.

The parameters of G models are stacked (``torch.func.stack_module_state``) and the method's own
``loss(batch)`` runs under ``torch.func.vmap`` of ``functional_call``, so the loss code is the single-model
code. Randomness is drawn outside the ``vmap``, per model, from the model's own generators, as in the lean
single-model loop (``zsltool.train.engine.train_single``): the epoch's order from a CPU ``torch.Generator``
seeded with the job's seed, and each step's negatives and dropout masks from the method's
``draws(labels, generator)`` with a second generator on the training device (``engine.draws_generator``): one
vector of uniforms per model and step, which the loss turns into negatives and masks inside the ``vmap``
(zsltool.methods.draws). A model therefore gets the same draws whether it trains alone (a group of one) or
among 20, and the models of a group differ only in float re-association of the batched products.

Which jobs share a group: same method and arguments, same dimensions, same number of training rows and
training classes (no padding: every model takes the same steps), same optimiser settings (one fused
torch.optim step updates every stacked tensor, with the update rule of the single-model loop); epochs and
patience may differ (a model that has stopped keeps stepping, but its kept state is the one of its best epoch
and nothing after its stop is recorded).

Where it runs: on CUDA devices. On the CPU a batch was measured no faster than one model at a time
(benchmarks/RESULTS.md: 0.8-1.1x; a step is matrix products at the CPU's rate, and the batched products of
``vmap`` ran at about 0.7 of the plain ones), so ``ON_CPU`` is False and each model trains alone there (the same
model: same draws); the tests set it.
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn

from zsltool.train.engine import (BestKeeper, Job, Outcome, _validate_single, divergence, draws_generator,
                                  epoch_line, make_optimizer, outcomes, patience_out, scaled_data)

log = logging.getLogger("zsltool.train")


class _Loss(nn.Module):
    """``method.loss(batch)`` as a module's forward (what ``functional_call`` calls)."""

    def __init__(self, m: nn.Module):
        super().__init__()
        self.m = m

    def forward(self, batch: dict) -> dict:
        return self.m.loss(batch)


class FunctionalKernel:
    """Networks of one method and shape trained as one ``vmap``-ed computation (see the module docstring)."""

    #: batch on the CPU too (off: no reliable gain measured there, benchmarks/RESULTS.md; the tests turn it on)
    ON_CPU = False
    #: at most this many models per batch (memory: every model's training features sit on the device)
    MAX_GROUP = 64

    @classmethod
    def runs_on(cls, device: str) -> bool:
        return cls.ON_CPU or str(device).startswith("cuda")

    @classmethod
    def group_key(cls, job: Job, model, device: str = "cpu") -> tuple | None:
        if not cls.runs_on(device) or job.cls.closed_form or not hasattr(model, "draws"):
            return None
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            return None  # running statistics are state updated in place: not under vmap
        from zsltool.train.schedule import has_schedule

        if has_schedule(job, model):
            return None  # one optimiser steps every stacked model: no per-model learning rate
        h = job.hyper
        hyper = tuple(sorted((k, repr(v)) for k, v in h.items() if k not in ("epochs",)))
        return (job.cls.name, repr(sorted(job.args.items())), model.audio_dim, model.semantic_dim,
                getattr(model, "video_dim", None), len(job.train), int(job.class_emb.shape[0]),
                job.train.video is not None, hyper)

    @classmethod
    def plan(cls, jobs, models, idx, device: str = "cpu") -> list[list[int]]:
        return [idx[k:k + cls.MAX_GROUP] for k in range(0, len(idx), cls.MAX_GROUP)]

    def __init__(self, jobs: list[Job], models: list, device: str):
        from torch.func import stack_module_state

        self.jobs, self.device = jobs, device
        self.models = [m.to(device) for m in models]
        self.G = len(jobs)
        scaled = [scaled_data(j, m, device) for j, m in zip(jobs, self.models)]
        self.data = {k: torch.stack([d[k] for d, _ in scaled]) for k in scaled[0][0]}
        self.class_emb = torch.stack([c for _, c in scaled])
        params, buffers = stack_module_state(self.models)
        self.params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        self.buffers = {k: v.detach().clone() for k, v in buffers.items()}
        self.opt = make_optimizer(list(self.params.values()), jobs[0].hyper, device)
        base = _Loss(copy.deepcopy(self.models[0])).to("meta")
        base.train()

        def one(p, b, batch):
            return torch.func.functional_call(base, ({"m." + k: v for k, v in p.items()},
                                                     {"m." + k: v for k, v in b.items()}), (batch,))

        self.loss = torch.func.vmap(one)

    # -- one model's state ----------------------------------------------------------------------------------
    @torch.no_grad()
    def _load(self, g: int) -> None:
        """Model g's slice of the stacked parameters into its own module (for validation and the result)."""
        m = self.models[g]
        for k, t in m.named_parameters():
            t.copy_(self.params[k][g])

    def _snapshot(self, g: int) -> tuple[dict, dict]:
        """Model g's state dict and its slice of the optimiser's state, in torch.optim's format."""
        sd = {k: v.detach().clone() for k, v in self.models[g].state_dict().items()}
        st = self.opt.state_dict()
        state = {i: {bk: (bv[g].clone() if bk != "step" and bv.dim() > 0 else bv.clone()) for bk, bv in s.items()}
                 for i, s in st["state"].items()}
        return sd, {"state": state, "param_groups": [dict(st["param_groups"][0])]}

    # -- the loop -------------------------------------------------------------------------------------------
    def run(self, tolerate_divergence: bool = False) -> list[Outcome]:
        from zsltool.progress import Progress

        jobs, G, dev = self.jobs, self.G, self.device
        n = int(self.data["labels"].shape[1])
        bs = int(jobs[0].hyper["batch_size"])
        epochs = [int(j.hyper["epochs"]) for j in jobs]
        E = max(epochs)
        order = [torch.Generator().manual_seed(int(j.seed)) for j in jobs]
        draws = [draws_generator(j, m, dev) for j, m in zip(jobs, self.models)]
        keepers = [BestKeeper(j.metric, j.patience) for j in jobs]
        histories: list[list[dict]] = [[] for _ in jobs]
        running = [True] * G
        errors: dict[int, Exception] = {}
        rows = torch.arange(G, device=dev)[:, None]
        what = jobs[0].cls.name if G == 1 else f"{G} models"
        bar = Progress(total=E, desc=f"train {what}", unit="epoch", enabled=log.isEnabledFor(logging.INFO))
        for m in self.models:
            m.train()
        for epoch in range(1, E + 1):
            perm = torch.stack([torch.randperm(n, generator=o) for o in order]).to(dev)
            sums: dict[str, torch.Tensor] = {}
            steps = 0
            for s in range(0, n, bs):
                idx = perm[:, s:s + bs]
                batch = {k: v[rows, idx] for k, v in self.data.items()}
                batch["class_emb"] = self.class_emb
                batch["semantic"] = self.class_emb[rows, batch["labels"]]
                drawn = [m.draws(batch["labels"][g], draws[g]) for g, m in enumerate(self.models)]
                batch.update({k: torch.stack([d[k] for d in drawn]) for k in drawn[0]})
                terms = self.loss(self.params, self.buffers, batch)
                self.opt.zero_grad(set_to_none=True)
                terms["total"].sum().backward()
                self.opt.step()
                for k, v in terms.items():
                    v = v.detach()
                    sums[k] = sums[k] + v if k in sums else v
                steps += 1
            means = {k: (v / max(steps, 1)).tolist() for k, v in sums.items()}
            for g, job in enumerate(jobs):
                if not running[g] or epoch > epochs[g]:
                    continue
                rec = {"epoch": epoch, **{f"loss_{k}": means[k][g] for k in means}}
                err = divergence(rec["loss_total"], job, epoch, tolerate_divergence, bar)
                if err is not None:
                    errors[g], running[g] = err, False
                    continue
                self._load(g)
                if job.val is not None:
                    rec.update(_validate_single(self.models[g], job, dev))
                    self.models[g].train()
                histories[g].append(rec)
                improved = keepers[g].consider(epoch, rec.get(job.metric), lambda g=g: self._snapshot(g))
                if epoch == 1 or epoch == epochs[g] or epoch % max(1, job.log_every) == 0:
                    log.debug(epoch_line(rec, epoch, epochs[g], improved, job.name))
                if patience_out(keepers[g], job, epoch):
                    running[g] = False
            bar.update(1)
            if not any(r and epoch < e for r, e in zip(running, epochs)):
                break
        bar.close()
        return outcomes(jobs, self.models, keepers, histories, errors, lambda g, snapshot: snapshot)
