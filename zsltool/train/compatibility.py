"""The ``compatibility`` batched kernel (projection, bilinear, DeViSE, ALE, SJE): many models trained as one
stacked computation (registered in ``zsltool.train.kernels.KERNELS``).

Score F(x, y) = xᵀ P_y with the class matrix P = V t(U C) (projection) or P = W C (bilinear family), C the fixed
training-class embeddings. Parameters of G models are stacked (G, ...) and each step is a handful of batched
matrix products for all of them. Models of different sizes share a batch by zero padding, which is exact: padded
classes are masked out of the loss, padded rows carry weight 0, padded hidden units stay 0.

With plain SGD (any momentum) and no weight decay, the first layer is trained in its exact class-space
form: the gradient of U (or W) is always ``g_Hᵀ C`` (H = U C the hidden activations of the training
classes), so U = U₀ + Aᵀ C and H = H₀ + (C Cᵀ [+ 1 1ᵀ with a bias]) A; the kernel keeps A (C_train × r)
and never forms U during training (U is rebuilt once from A for the checkpoint). This is the same SGD
trajectory as updating U itself, up to float re-association, at a cost that no longer grows with the
semantic dimension. Adam or weight decay train U itself (same stacked code, no class-space form).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from zsltool.errors import ZslError
from zsltool.train.engine import (BestKeeper, Job, Outcome, divergence, epoch_line, metric_of, outcomes,
                                  patience_out, scaled_data)
from zsltool.train.stacked import StackedOptimizer, pad_stack

log = logging.getLogger("zsltool.train")
VAL_CHUNK = 8192


class CompatibilityKernel:
    """Projection / bilinear-family models trained as one stacked computation (see the module docstring)."""

    #: on the CPU a padded hidden size may be at most this factor of a model's own (more padding: another batch);
    #: on a GPU a step costs its kernel launches, not its arithmetic, so every model of a group shares one batch
    #: (the Table III protocol of Dogan et al. on an H200: 3 batches launched 43,200 steps each)
    MAX_PAD = 1.35

    @staticmethod
    def _form(model) -> str:
        return "projection" if hasattr(model, "U") else "bilinear"

    @classmethod
    def _fast(cls, job: Job) -> bool:
        return job.hyper["optimizer"] == "sgd" and not float(job.hyper.get("weight_decay") or 0.0)

    @classmethod
    def group_key(cls, job: Job, model, device: str = "cpu") -> tuple | None:
        form, a = cls._form(model), model.args
        fast = cls._fast(job)
        shape = None if fast else (model.semantic_dim, getattr(model, "args", {}).get("rank"))
        return (form, a.get("activation", "none"), bool(a.get("bias", False)), a["loss"], a.get("hinge", "sum"),
                fast, job.hyper["optimizer"], int(job.hyper["batch_size"]), model.audio_dim, shape)

    @classmethod
    def _width(cls, model) -> int:
        return int(model.args["rank"]) if cls._form(model) == "projection" else int(model.audio_dim)

    @classmethod
    def plan(cls, jobs, models, idx, device: str = "cpu") -> list[list[int]]:
        """Chunks of jobs with hidden sizes within ``MAX_PAD`` of each other (exact padding, bounded waste);
        one chunk on a GPU."""
        order = sorted(range(len(jobs)), key=lambda k: cls._width(models[k]))
        max_pad = float("inf") if str(device).startswith("cuda") else cls.MAX_PAD
        chunks: list[list[int]] = []
        lo = None
        for k in order:
            w = cls._width(models[k])
            if chunks and lo is not None and w <= max_pad * lo:
                chunks[-1].append(idx[k])
            else:
                chunks.append([idx[k]])
                lo = w
        return [sorted(c) for c in chunks]

    def __init__(self, jobs: list[Job], models: list, device: str):
        self.jobs, self.models, self.device = jobs, models, device
        m0 = models[0]
        self.form = self._form(m0)
        self.fast = self._fast(jobs[0])
        self.bias = bool(m0.args.get("bias", False)) and self.form == "projection"
        self.tanh = m0.args.get("activation") == "tanh"
        self.loss_kind, self.reduce = m0.args["loss"], m0.args.get("hinge", "sum")
        G = self.G = len(jobs)
        dev = device
        self.C = [int(j.class_emb.shape[0]) for j in jobs]
        self.Cmax = max(self.C)
        self.N = [len(j.train) for j in jobs]
        self.Nmax = max(self.N)
        self.Da = int(m0.audio_dim)
        self.r = [self._width(m) for m in models]
        self.rmax = max(self.r)
        scaled = [scaled_data(j, m, "cpu") for j, m in zip(jobs, models)]  # zscore / l2_classes of each model
        self.X = pad_stack([d["audio"] for d, _ in scaled], (self.Nmax, self.Da)).to(dev).reshape(G * self.Nmax, self.Da)
        self.Y = pad_stack([j.train.labels for j in jobs], (self.Nmax,), torch.long).to(dev).reshape(-1)
        self.cmask = pad_stack([np.ones(c, bool) for c in self.C], (self.Cmax,), torch.bool, False).to(dev)
        self.Ctr = [c.float() for _, c in scaled]
        self.margin = torch.tensor([float(m.args.get("margin", 1.0)) for m in models], device=dev).view(G, 1, 1)
        self._init_params()
        self._init_val()
        names = list(self.p)
        kind = jobs[0].hyper["optimizer"]
        self.opt = StackedOptimizer(names, kind, [j.hyper for j in jobs], dev)

    # -- parameters ---------------------------------------------------------------------------------------
    def _class_gram(self, A: list[torch.Tensor], B: list[torch.Tensor], rows: int, cols: int) -> torch.Tensor:
        """(G, rows, cols) of A_g B_gᵀ (+ 1 with a bias), zero padded."""
        out = torch.zeros(self.G, rows, cols)
        for g, (a, b) in enumerate(zip(A, B)):
            out[g, :a.shape[0], :b.shape[0]] = a @ b.T + (1.0 if self.bias else 0.0)
        return out.to(self.device)

    def _init_params(self) -> None:
        G, dev, ms = self.G, self.device, self.models
        p: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            if self.form == "projection":
                # parameters stored transposed, so every gradient is a bmm's own (contiguous) output
                p["Vt"] = pad_stack([m.V.weight.detach().T for m in ms], (self.rmax, self.Da)).to(dev)
                if self.bias:
                    p["bV"] = pad_stack([m.V.bias.detach() for m in ms], (self.Da,)).to(dev)
                U0 = [m.U.weight.detach() for m in ms]
                bU0 = [m.U.bias.detach() if self.bias else torch.zeros(m.U.weight.shape[0]) for m in ms]
                if self.fast:
                    self.H0 = pad_stack([c @ u.T + b for c, u, b in zip(self.Ctr, U0, bU0)],
                                   (self.Cmax, self.rmax)).to(dev)
                    self.M = self._class_gram(self.Ctr, self.Ctr, self.Cmax, self.Cmax)
                    p["A"] = torch.zeros(G, self.Cmax, self.rmax, device=dev)
                else:
                    p["Ut"] = torch.stack([u.T for u in U0]).contiguous().to(dev)
                    if self.bias:
                        p["bU"] = torch.stack(bU0).to(dev)
                    self.Cpad = pad_stack(self.Ctr, (self.Cmax, self.Ctr[0].shape[1])).to(dev)
            else:
                W0 = [m.W.detach() for m in ms]
                if self.fast:
                    self.H0 = pad_stack([c @ w.T for c, w in zip(self.Ctr, W0)], (self.Cmax, self.Da)).to(dev)
                    self.M = self._class_gram(self.Ctr, self.Ctr, self.Cmax, self.Cmax)
                    p["A"] = torch.zeros(G, self.Cmax, self.Da, device=dev)
                else:
                    p["Wt"] = torch.stack([w.T for w in W0]).contiguous().to(dev)
                    self.Cpad = pad_stack(self.Ctr, (self.Cmax, self.Ctr[0].shape[1])).to(dev)
        for name, t in p.items():
            t.requires_grad_(name != "A")  # A is updated through the surrogate H (class-space form)
        self.p = p

    def _class_matrix(self, train: bool, val: bool = False):
        """P (G, C, Da) of the training (or validation) classes, and the tensors whose grads update params."""
        p = self.p
        surrogate: dict[str, torch.Tensor] = {}
        if self.fast:
            H0, M = (self.Hv0, self.Mv) if val else (self.H0, self.M)
            H = torch.baddbmm(H0, M, p["A"])
            if train:
                H.requires_grad_(True)
                surrogate["A"] = H
        elif self.form == "projection":
            Cm = self.Cv if val else self.Cpad
            H = torch.bmm(Cm, p["Ut"])
            if self.bias:
                H = H + p["bU"][:, None, :]
        else:
            Cm = self.Cv if val else self.Cpad
            H = torch.bmm(Cm, p["Wt"])
        if self.form == "bilinear":
            return H, surrogate
        T = torch.tanh(H) if self.tanh else H
        P = torch.bmm(T, p["Vt"])
        if self.bias:
            P = P + p["bV"][:, None, :]
        return P, surrogate

    # -- loss ---------------------------------------------------------------------------------------------
    def _loss(self, S: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Per-model mean loss over the weighted rows: S (G, B, C), y (G, B), w (G, B) -> (G,)."""
        cm = self.cmask[:, None, :]
        true = S.gather(-1, y[..., None])
        if self.loss_kind == "softmax":
            per_row = torch.logsumexp(S.masked_fill(~cm, float("-inf")), -1) - true[..., 0]
        else:
            m = self.margin + S - true
            onehot = F.one_hot(y, S.shape[-1]).bool()
            m = m.masked_fill(onehot | ~cm, 0.0).clamp_min(0.0)
            if self.loss_kind == "ale":
                r = (m > 0).sum(-1)
                harm = torch.cumsum(1.0 / torch.arange(1, S.shape[-1] + 1, dtype=S.dtype, device=S.device), 0)
                beta = torch.where(r > 0, harm[(r - 1).clamp_min(0)], torch.zeros_like(r, dtype=S.dtype))
                per_row = beta / r.clamp_min(1).to(S.dtype) * m.sum(-1)
            elif self.reduce == "max":
                per_row = m.max(-1).values
            else:
                per_row = m.sum(-1)
        return (per_row * w).sum(-1) / w.sum(-1).clamp_min(1.0)

    # -- validation ---------------------------------------------------------------------------------------
    def _init_val(self) -> None:
        jobs, dev = self.jobs, self.device
        has = [j.val is not None for j in jobs]
        self.has_val = torch.tensor(has, device=dev)
        if not any(has):
            self.Nv = None
            return
        Cvt = [m.prep_classes(torch.as_tensor(np.asarray(
            j.val_class_emb if j.val is not None else np.zeros((1, j.class_emb.shape[1])), np.float32)))
            for j, m in zip(jobs, self.models)]
        self.Cvn = [c.shape[0] for c in Cvt]
        Cvmax = max(self.Cvn)
        self.cvmask = pad_stack([np.ones(c, bool) for c in self.Cvn], (Cvmax,), torch.bool, False).to(dev)
        if self.fast:
            ms = self.models
            if self.form == "projection":
                U0 = [m.U.weight.detach() for m in ms]
                bU0 = [m.U.bias.detach() if self.bias else torch.zeros(m.U.weight.shape[0]) for m in ms]
                self.Hv0 = pad_stack([c @ u.T + b for c, u, b in zip(Cvt, U0, bU0)], (Cvmax, self.rmax)).to(dev)
            else:
                self.Hv0 = pad_stack([c @ m.W.detach().T for c, m in zip(Cvt, ms)], (Cvmax, self.Da)).to(dev)
            self.Mv = self._class_gram(Cvt, self.Ctr, Cvmax, self.Cmax)
        else:
            self.Cv = pad_stack(Cvt, (Cvmax, Cvt[0].shape[1])).to(dev)
        vals = [j.val for j in jobs]
        self.Nv = [len(v) if v is not None else 0 for v in vals]
        nvmax = max(self.Nv)
        self.Xv = pad_stack([m.prep_audio(torch.as_tensor(v.audio)) if v is not None else np.zeros((0, self.Da))
                        for v, m in zip(vals, self.models)], (nvmax, self.Da)).to(dev)
        self.Yv = pad_stack([v.labels if v is not None else np.zeros(0) for v in vals], (nvmax,), torch.long).to(dev)
        self.rowv = pad_stack([np.ones(n, bool) for n in self.Nv], (nvmax,), torch.bool, False).to(dev)
        self.mca = torch.tensor([j.metric == "val_seen_mca" for j in jobs], device=dev)
        self.hm = [g for g, j in enumerate(jobs) if j.metric == "val_hm"]

    @torch.no_grad()
    def _validate(self) -> list[dict]:
        """The validation record of every model (``{}`` where a model has no validation data)."""
        P, _ = self._class_matrix(train=False, val=True)
        Pt = P.transpose(1, 2)
        preds, full = [], {g: [] for g in self.hm}
        for s in range(0, self.Xv.shape[1], VAL_CHUNK):
            S = torch.bmm(self.Xv[:, s:s + VAL_CHUNK], Pt).masked_fill(~self.cvmask[:, None, :], float("-inf"))
            preds.append(S.argmax(-1))
            for g in self.hm:  # calibrated HM needs the scores themselves
                full[g].append(S[g, :, :self.Cvn[g]].cpu().numpy())
        pred = torch.cat(preds, 1)
        correct = ((pred == self.Yv) & self.rowv).to(torch.float64)
        rows = self.rowv.to(torch.float64)
        top1 = correct.sum(1) / rows.sum(1).clamp_min(1)
        Cv = self.cvmask.shape[1]
        hit = torch.zeros(self.G, Cv, dtype=torch.float64, device=self.device).scatter_add_(1, self.Yv, correct)
        cnt = torch.zeros(self.G, Cv, dtype=torch.float64, device=self.device).scatter_add_(1, self.Yv, rows)
        present = cnt > 0
        mca = (torch.where(present, hit / cnt.clamp_min(1), 0.0)).sum(1) / present.sum(1).clamp_min(1)
        value = torch.where(self.mca, mca, top1).tolist()
        recs = [{j.metric: v} if j.val is not None else {} for j, v in zip(self.jobs, value)]
        for g in self.hm:
            recs[g] = metric_of(np.concatenate(full[g])[:self.Nv[g]], self.jobs[g])
        return recs

    # -- checkpoint state -----------------------------------------------------------------------------------
    def _snapshot(self, g: int):
        return ({k: v[g].detach().clone() for k, v in self.p.items()}, self.opt.snapshot(g))

    def _materialize(self, g: int, snap) -> tuple[dict, dict]:
        params, opt_state = snap
        m = self.models[g]
        r, C = self.r[g], self.C[g]
        Ct = self.Ctr[g].to(self.device)
        sd = {k: v.detach().clone() for k, v in m.state_dict().items()}
        state_named: dict[str, dict] = {}
        if self.form == "projection":
            sd["V.weight"] = params["Vt"][:r].T.contiguous()
            if self.bias:
                sd["V.bias"] = params["bV"].clone()
            if self.fast:
                A = params["A"][:C, :r]
                sd["U.weight"] = sd["U.weight"].to(self.device) + A.T @ Ct
                if self.bias:
                    sd["U.bias"] = sd["U.bias"].to(self.device) + A.sum(0)
            else:
                sd["U.weight"] = params["Ut"].T.contiguous()
                if self.bias:
                    sd["U.bias"] = params["bU"].clone()
            names = {"Ut": "U.weight", "bU": "U.bias", "Vt": "V.weight", "bV": "V.bias"}
        else:
            sd["W"] = (sd["W"].to(self.device) + params["A"][:C].T @ Ct) if self.fast else params["Wt"].T.contiguous()
            names = {"Wt": "W"}
        for k, st in opt_state.items():
            for bk, bv in st.items():
                if k == "A":  # a class-space buffer -> the buffers of U (or W) and its bias
                    if self.form == "projection":
                        state_named.setdefault("U.weight", {})[bk] = bv[:C, :r].T @ Ct
                        if self.bias:
                            state_named.setdefault("U.bias", {})[bk] = bv[:C, :r].sum(0)
                    else:
                        state_named.setdefault("W", {})[bk] = bv[:C].T @ Ct
                else:
                    if k == "Vt":
                        bv = bv[:r]
                    state_named.setdefault(names[k], {})[bk] = (bv.T if k.endswith("t") else bv).contiguous()
        sd = {k: v.cpu() for k, v in sd.items()}
        h = self.jobs[g].hyper
        opt = {"optimizer": h["optimizer"], "lr": float(h["lr"]), "momentum": float(h.get("momentum") or 0.0),
               "weight_decay": float(h.get("weight_decay") or 0.0), "step": int(self.opt.t[g].item()),
               "state": {k: {bk: bv.cpu() for bk, bv in st.items()} for k, st in state_named.items()}}
        return sd, opt

    # -- the loop -----------------------------------------------------------------------------------------
    def run(self, tolerate_divergence: bool = False) -> list[Outcome]:
        jobs, G, dev = self.jobs, self.G, self.device
        bs = int(jobs[0].hyper["batch_size"])
        epochs = [int(j.hyper["epochs"]) for j in jobs]
        E = max(epochs)
        steps = torch.tensor([-(-n // bs) for n in self.N], device=dev)
        smax, smin = int(steps.max()), int(steps.min())
        gens = [torch.Generator().manual_seed(int(j.seed)) for j in jobs]
        keepers = [BestKeeper(j.metric, j.patience) for j in jobs]
        histories: list[list[dict]] = [[] for _ in jobs]
        running = torch.ones(G, dtype=torch.bool, device=dev)
        offs = (torch.arange(G, device=dev) * self.Nmax)[:, None]
        pos = torch.arange(smax * bs)
        loss_name = f"loss_{self.loss_kind}"
        errors: dict[int, ZslError] = {}
        from zsltool.progress import Progress

        what = jobs[0].cls.name if G == 1 else f"{G} models"
        bar = Progress(total=E, desc=f"train {what}", unit="epoch", enabled=log.isEnabledFor(logging.INFO))
        for epoch in range(1, E + 1):
            idx = torch.zeros(G, smax * bs, dtype=torch.long)
            for g, n in enumerate(self.N):
                idx[g, :n] = torch.randperm(n, generator=gens[g])
            w = (pos[None, :] < torch.tensor(self.N)[:, None]).to(torch.float32).to(dev)
            rows = (idx.to(dev) + offs).view(G, smax, bs)
            w = w.view(G, smax, bs)
            ran = running & torch.tensor([epoch <= e for e in epochs], device=dev)
            total = torch.zeros(G, device=dev)
            ran_all = bool(ran.all())
            full = [ran_all and s < smin for s in range(smax)]  # every model steps: no masks needed
            for s in range(smax):
                r = rows[:, s]
                active = ran & (steps > s)
                Xb = self.X[r]
                yb = self.Y[r]
                P, sur = self._class_matrix(train=True)
                S = torch.bmm(Xb, P.transpose(1, 2))
                lg = self._loss(S, yb, w[:, s])
                lg.sum().backward()
                grads = {name: (sur[name].grad if name in sur else t.grad) for name, t in self.p.items()}
                for t in self.p.values():
                    t.grad = None
                self.opt.step(self.p, grads, active, all_active=full[s])
                total += torch.where(active, lg.detach(), 0.0)
            mean_loss = (total / steps).tolist()
            vals = self._validate() if self.Nv is not None else [{} for _ in range(G)]
            ran_l = ran.tolist()
            for g in range(G):
                if not ran_l[g]:
                    continue
                job = jobs[g]
                err = divergence(mean_loss[g], job, epoch, tolerate_divergence, bar)
                if err is not None:
                    errors[g], running[g] = err, False
                    continue
                rec = {"epoch": epoch, "loss_total": mean_loss[g], loss_name: mean_loss[g], **vals[g]}
                histories[g].append(rec)
                improved = keepers[g].consider(epoch, rec.get(job.metric), lambda g=g: self._snapshot(g))
                if G == 1 and (epoch == 1 or epoch == epochs[g] or epoch % max(1, job.log_every) == 0):
                    log.debug(epoch_line(rec, epoch, epochs[g], improved, job.name))
                if patience_out(keepers[g], job, epoch):
                    running[g] = False
            bar.update(1)
            if G > 1 and (epoch == 1 or epoch == E or epoch % max(1, jobs[0].log_every) == 0):
                live = [v[j.metric] for v, j, k in zip(vals, jobs, ran_l) if k and j.metric in v]
                log.debug(f"epoch {epoch}/{E}: {int(ran.sum())} of {G} models training"
                          + (f", validation {min(live):.4f} .. {max(live):.4f}" if live else ""))
            if not bool((running & torch.tensor([epoch < e for e in epochs], device=dev)).any()):
                break
        bar.close()
        return outcomes(jobs, self.models, keepers, histories, errors, self._materialize)
