"""The batched kernel: many models of one method and one shape trained as one computation, with the method's own
``loss`` (registered in ``zsltool.train.kernels.KERNELS`` as ``functional``). Every gradient-trained method with
``batched_kernel = "functional"`` trains here: the compatibility family (projection, bilinear, DeViSE, ALE, SJE)
and the audio-visual family of Mazumder et al. (``avgzslnet``, ``cjme-soft``, ``cjme`` without its BatchNorm
attention, the ``audio-only`` / ``video-only`` / ``concat`` baselines). A model with BatchNorm (running
statistics are state updated in place) or a learning-rate schedule (``zsltool.train.schedule``: one optimiser
steps every stacked model) declines and trains in the single-model loop.

The parameters of G models are stacked (G, ...) and the method's own ``loss(batch)`` runs under
``torch.func.vmap``, so the loss code is the single-model code: there is no second copy of
any method's loss. Generic machinery makes it fast:

* class-space coordinates (``zsltool.train.class_space``) for the layers a method names in ``class_linear``,
  with plain SGD: the exact SGD trajectory at a cost independent of the semantic dimension;
* every stacked parameter is stored in the memory layout of the gradient that ``vmap`` produces for it (found
  by one probe step), the gradients are handed over as autograd makes them, and on the CPU the update is
  torch.optim.SGD's rule as three foreach calls (``zsltool.train.sgd``): no gradient is copied into another
  layout at each step (on the CPU those copies of transposed (G, 128, 1300) gradients cost as much as the
  products themselves), and no per-step bookkeeping of torch.optim;
* the method's ``loss`` runs on a parameter-less copy of the model whose tensors are bound as plain attributes
  (``stateless_loss``), with flat tensors into ``vmap``.

Randomness is drawn outside the ``vmap``, per model, from the model's own generators, as in the lean
single-model loop (``zsltool.train.engine.train_single``): the epoch's order from a CPU ``torch.Generator``
seeded with the job's seed, and each step's negatives and dropout masks from the method's
``draws(labels, generator)`` with a second generator on the training device (``job.draws_generator``): one
vector of uniforms per model and step, which the loss turns into negatives and masks inside the ``vmap``
(zsltool.methods.draws). A model therefore gets the same draws whether it trains alone (a group of one) or
among 20, and the models of a group differ only in float re-association of the batched products.

Which jobs share a group: same method and arguments, same dimensions, same number of training rows and
training classes (no padding: every model takes the same steps), same optimiser settings (one fused
torch.optim step updates every stacked tensor, with the update rule of the single-model loop); epochs and
patience may differ (a model that has stopped keeps stepping, but its kept state is the one of its best epoch
and nothing after its stop is recorded).

Where it runs: on CUDA devices, and on the CPU for methods that declare ``stack_on_cpu`` (measured faster
there: the compatibility family, whose steps are small products and per-step overhead; benchmarks/RESULTS.md).
For the audio-visual family a batch on the CPU was measured no faster than one model at a time (0.8-1.1x; a
step is matrix products at the CPU's rate), so ``ON_CPU`` is False and each of those models trains alone there
(the same model: same draws); the tests set it.
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn

from zsltool.train.class_space import ClassSpace
from zsltool.train.class_space import applies as class_space_applies
from zsltool.train.sgd import PlainSGD
from zsltool.train.job import (BestKeeper, Job, Outcome, divergence, draws_generator, epoch_line, make_optimizer,
                               outcomes, patience_out, scaled_data, validate)

log = logging.getLogger("zsltool.train")


def stateless_loss(model: nn.Module):
    """``loss(params, buffers, batch)`` of G stacked models (every tensor with a leading G), under ``vmap``: the
    method's own ``loss(batch)`` on a parameter-less copy of ``model``
    whose parameters and buffers are the tensors given (what ``torch.func.functional_call`` does, without its
    per-call generality: this copy's tensors are bound as plain attributes, a few microseconds a call)."""
    base = copy.deepcopy(model).to("meta")
    base.train()
    slots = []
    for name in [n for n, _ in base.named_parameters()] + [n for n, _ in base.named_buffers()]:
        path, _, attr = name.rpartition(".")
        sub = base.get_submodule(path)
        sub._parameters.pop(attr, None)
        sub._buffers.pop(attr, None)
        slots.append((name, sub.__dict__, attr))

    names, n = [name for name, _, _ in slots], len(slots)
    vmapped: dict[tuple, object] = {}

    def batched(params: dict, buffers: dict, batch: dict) -> dict:
        """The loss of every stacked model: flat tensors in (vmap's walk of nested dicts is a tenth of a step)."""
        keys = tuple(batch)
        if keys not in vmapped:
            def one(*tensors):
                for (_, where, attr), t in zip(slots, tensors[:n]):
                    where[attr] = t
                return base.loss(dict(zip(keys, tensors[n:])))

            vmapped[keys] = torch.func.vmap(one)
        return vmapped[keys](*[params[k] if k in params else buffers[k] for k in names], *batch.values())

    return batched


class FunctionalKernel:
    """Models of one method and shape trained as one ``vmap``-ed computation (see the module docstring)."""

    #: batch the methods without ``stack_on_cpu`` on the CPU too (off: no reliable gain measured there,
    #: benchmarks/RESULTS.md; the tests turn it on)
    ON_CPU = False
    #: at most this many models per batch (memory: every model's training features sit on the device)
    MAX_GROUP = 64

    @classmethod
    def runs_on(cls, device: str, method_cls=None) -> bool:
        return (cls.ON_CPU or str(device).startswith("cuda")
                or bool(getattr(method_cls, "stack_on_cpu", False)))

    @classmethod
    def group_key(cls, job: Job, model, device: str = "cpu") -> tuple | None:
        if not cls.runs_on(device, job.cls) or job.cls.closed_form:
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
        self.jobs, self.device = jobs, device
        self.models = [m.to(device) for m in models]
        self.G = len(jobs)
        scaled = [scaled_data(j, m, device) for j, m in zip(jobs, self.models)]
        self.data = {k: torch.stack([d[k] for d, _ in scaled]) for k in scaled[0][0]}
        self.spaces = [ClassSpace(m, c) if class_space_applies(m, j.hyper, c) else None
                       for j, m, (_, c) in zip(jobs, self.models, scaled)]
        self.class_emb = torch.stack([c if cs is None else cs.classes for cs, (_, c) in zip(self.spaces, scaled)])
        own = [dict(m.named_parameters()) for m in self.models]
        own = [p if cs is None else cs.reduce(p) for cs, p in zip(self.spaces, own)]
        params = {k: torch.stack([p[k].detach() for p in own]) for k in own[0]}
        self.buffers = {k: torch.stack([dict(m.named_buffers())[k] for m in self.models]).clone()
                        for k, _ in self.models[0].named_buffers()}
        self.loss = stateless_loss(self.models[0])
        self.params = self._in_gradient_layout(params)
        self._plist = list(self.params.values())
        h, cuda = jobs[0].hyper, str(device).startswith("cuda")
        # on the CPU: torch.optim's SGD rule without its bookkeeping (zsltool/train/sgd.py), and foreach, not
        # fused (the fused step copies every gradient that vmap leaves transposed)
        self.opt = (PlainSGD(self._plist, h["lr"], h.get("momentum") or 0.0, h.get("weight_decay") or 0.0)
                    if h["optimizer"] == "sgd" and not cuda else make_optimizer(self._plist, h, device, fused=cuda))

    def _batch(self, idx: torch.Tensor, gens: list) -> dict:
        """The stacked batch of rows ``idx`` (G, b), with each model's draws from its generator ``gens[g]``."""
        G, b = idx.shape
        n, c = self.data["labels"].shape[1], self.class_emb.shape[1]
        flat = (idx + torch.arange(G, device=idx.device)[:, None] * n).reshape(-1)  # index_select: no gather
        batch = {k: v.reshape(G * n, *v.shape[2:]).index_select(0, flat).view(G, b, *v.shape[2:])
                 for k, v in self.data.items()}
        batch["class_emb"] = self.class_emb
        rows = (batch["labels"] + torch.arange(G, device=idx.device)[:, None] * c).reshape(-1)
        batch["semantic"] = self.class_emb.reshape(G * c, -1).index_select(0, rows).view(G, b, -1)
        drawn = [m.draws(batch["labels"][g], gens[g]) for g, m in enumerate(self.models) if gens[g] is not None]
        if drawn:
            batch.update({k: torch.stack([d[k] for d in drawn]) for k in drawn[0]})
        return batch

    def _in_gradient_layout(self, params: dict) -> dict:
        """The stacked parameters, each stored with the strides of the gradient ``vmap`` gives it (one probe step on
        the first rows, with throwaway draws), so that no update mixes two layouts (a strided, cache-hostile
        elementwise pass over every transposed (G, 128, 1300) gradient at each step)."""
        probe = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        bs = min(int(self.jobs[0].hyper["batch_size"]), int(self.data["labels"].shape[1]))
        idx = torch.arange(bs, device=self.device).expand(self.G, bs)
        gens = [torch.Generator(device=self.device).manual_seed(0) if hasattr(m, "draws") else None
                for m in self.models]
        total = self.loss(probe, self.buffers, self._batch(idx, gens))["total"].sum()
        grads = torch.autograd.grad(total, list(probe.values()), allow_unused=True)
        out = {}
        for (k, v), g in zip(params.items(), grads):
            stride = g.stride() if g is not None else v.stride()
            out[k] = torch.empty_strided(v.shape, stride, dtype=v.dtype, device=v.device).copy_(v).requires_grad_(True)
        return out

    def _step(self, total: torch.Tensor) -> None:
        """One optimiser step. The gradients are handed to the parameters as autograd produces them (no
        accumulation into ``.grad``, which would copy each one into its parameter's layout at every step)."""
        plist = self._plist
        for p, g in zip(plist, torch.autograd.grad(total, plist)):
            p.grad = g
        self.opt.step()

    # -- one model's state ----------------------------------------------------------------------------------
    @torch.no_grad()
    def _load(self, g: int) -> None:
        """Model g's slice of the stacked parameters into its own module (for validation and the result)."""
        cs = self.spaces[g]
        for k, t in self.models[g].named_parameters():
            t.copy_(self.params[k][g] if cs is None else cs.full(k, self.params[k][g]))

    def _snapshot(self, g: int) -> tuple[dict, dict]:
        """Model g's state dict and its slice of the optimiser's state, in torch.optim's format (after ``_load``)."""
        sd = {k: v.detach().clone() for k, v in self.models[g].state_dict().items()}
        st = self.opt.state_dict()
        cs, names = self.spaces[g], list(self.params)
        state = {i: {bk: (bv[g].clone() if bk != "step" and bv.dim() > 0 else bv.clone()) for bk, bv in s.items()}
                 for i, s in st["state"].items()}
        if cs is not None:
            state = {i: {bk: cs.full_state(names[i], bv) for bk, bv in s.items()} for i, s in state.items()}
        return sd, {"state": state, "param_groups": [dict(st["param_groups"][0])]}

    # -- the loop -------------------------------------------------------------------------------------------
    def run(self, tolerate_divergence: bool = False) -> list[Outcome]:
        from zsltool.runtime.progress import Progress

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
        what = jobs[0].cls.name if G == 1 else f"{G} models"
        bar = Progress(total=E, desc=f"train {what}", unit="epoch", enabled=log.isEnabledFor(logging.INFO))
        for m in self.models:
            m.train()
        for epoch in range(1, E + 1):
            perm = torch.stack([torch.randperm(n, generator=o) for o in order]).to(dev)
            sums: dict[str, torch.Tensor] = {}
            steps = 0
            for s in range(0, n, bs):
                terms = self.loss(self.params, self.buffers, self._batch(perm[:, s:s + bs], draws))
                self._step(terms["total"].sum())
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
                    rec.update(validate(self.models[g], job, dev))
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
