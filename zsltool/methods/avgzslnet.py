"""Audio-visual methods: ``avgzslnet`` (Mazumder et al., AVGZSLNet, Section 3) and ``cjme`` (Parida et al.,
WACV 2020, as summarised in Mazumder et al. §4.2.2), with the optional attention module ("w/ attn").

Embeddings: F_A, F_V two fully connected layers, F_T one layer, all to ``embed_dim`` (64); AVGZSLNet's
decoder F_DEC has two layers back to the text dimension. d = mean squared error, margin δ = 1.

AVGZSLNet's decoder triplets (L_CTA, L_CTV) compare decoder outputs, which L_REC pulls onto the text vectors.
Taken literally (margin 1 on the MSE), they cannot be met near the text: for unit-norm 300-d word vectors the MSE
between two class texts is at most about 0.013, so the triplets push the decoder's outputs away from the text
and L_REC rises while they fall. ``decoder_margin="relative"`` (the default) states the decoder triplets'
margin relative to the text scale: δ_dec = margin × the mean MSE between two distinct training class text
vectors (so margin 1 asks a wrong class's reconstruction to be as far as two class texts typically are);
``decoder_margin="absolute"`` keeps the literal form (for the ablation and reproduction).
Negatives: for each row p of a batch, q is a random row of the batch with another class (rows without such a
partner, or whose needed modality is invalid in p or q, are left out of that term's mean).
Test: the nearest class text embedding F_T(φ(y)) by the mean of the audio and video distances ("eq wt"), by one
modality when the other is invalid, or by attention weights ("w/ attn", ``--arg attention=true``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zsltool.errors import ZslError
from zsltool.methods.base import (ZslMethod, check_modality, combine_distances, masked_mean, mse_dist, pair_mse,
                                  register_method, triplet)
from zsltool.methods.draws import StepDraws, batch_norm, mlp2, run_mlp2

AV_TRAIN_DEFAULTS = {"epochs": 50, "batch_size": 128, "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0,
                     "momentum": 0.0}
# AVGZSLNet as AVCA-GZSL's run scripts train it (run_scripts/*-GZSL/avgzslnet.sh and src/args.py of
# ExplainableML/AVCA-GZSL): embedding networks 1024 wide with dropout 0.8, the text network one hidden layer of
# 300, decoder 64 wide with dropout 0.5, BatchNorm in both, L2-normalised decoder outputs, Adam 1e-3 for 50 epochs
# with ReduceLROnPlateau (patience 3, factor 0.1) on validation HM, batches of 256; the word vectors are unit
# norm. Not expressible here: its 500 class-balanced batches per epoch (zsl: one pass over the rows) and its L2
# distance (zsl: the mean squared error). ``--preset avca-gzsl`` / ``--grid preset=default,avca-gzsl``.
AVCA_GZSL = {"args": {"hidden": 1024, "dropout": 0.8, "text_hidden": 300, "dec_hidden": 64, "dec_dropout": 0.5,
                      "batch_norm": True, "dec_batch_norm": True, "normalize_decoder": True, "lr_plateau": 3,
                      "zscore": False, "l2_classes": True, "center_classes": False},
             "train": {"epochs": 50, "batch_size": 256, "optimizer": "adam", "lr": 1e-3}}


class Attention(nn.Module):
    """Weights (N, 2) for the audio and video distances from the two instance embeddings."""

    def __init__(self, dim: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, a: Tensor, v: Tensor) -> Tensor:
        return torch.softmax(self.net(torch.cat([a, v], dim=1)), dim=1)


class _AudioVisual(StepDraws, ZslMethod):
    modalities = ("audio", "video")
    requires_video = True
    train_defaults = AV_TRAIN_DEFAULTS
    soft_attention = True   # ``attention`` builds the soft, triplet-trained Attention module
    batched_kernel = "functional"  # zsltool.train.functional.FunctionalKernel trains many at once (on a GPU)

    def __init__(self, **kw):
        super().__init__(**kw)
        h, e, p = int(self.args["hidden"]), int(self.args["embed_dim"]), float(self.args["dropout"])
        bn, th = bool(self.args.get("batch_norm")), int(self.args.get("text_hidden") or 0)
        self.FA = mlp2(self.audio_dim, h, e, p, bn)
        self.FV = mlp2(self.video_dim, h, e, p, bn)
        self.FT = mlp2(self.semantic_dim, th, e, p, bn) if th else nn.Linear(self.semantic_dim, e)
        self.attn = Attention(e) if (self.args["attention"] and self.soft_attention) else None

    def dropout_sites(self) -> list[tuple[str, int, float]]:
        h, p, th = int(self.args["hidden"]), self._p(), int(self.args.get("text_hidden") or 0)
        return [("drop_FA", h, p), ("drop_FV", h, p)] + ([("drop_FT", th, p)] if th else [])

    def _fa(self, batch: dict) -> Tensor:
        return run_mlp2(self.FA, batch["audio"], batch.get("drop_FA"))

    def _fv(self, batch: dict) -> Tensor:
        return run_mlp2(self.FV, batch["video"], batch.get("drop_FV"))

    def _ft(self, batch: dict) -> Tensor:
        if isinstance(self.FT, nn.Linear):
            return self.FT(batch["semantic"])
        return run_mlp2(self.FT, batch["semantic"], batch.get("drop_FT"))

    def _step(self, batch: dict) -> tuple:
        """A batch's embeddings a, v, t (F_A, F_V, F_T), validity masks av, vv, negatives q (``ok``: the rows that
        have one) and the margin."""
        a, v, t = self._fa(batch), self._fv(batch), self._ft(batch)
        q, ok = self._negatives(batch)
        m = float(self.args["margin"])
        return a, v, t, self._valid(batch, "audio_valid"), self._valid(batch, "video_valid"), q, ok, m

    @staticmethod
    def _anchored(x: Tensor, t: Tensor, q: Tensor, ok: Tensor, valid: Tensor, m: float) -> tuple[Tensor, Tensor]:
        """The text-anchored triplet of instance embeddings ``x`` (L_TA, L_TV) per row, and the rows it counts."""
        return triplet(pair_mse(x, t), pair_mse(x[q], t), m), ok & valid & valid[q]

    def _attn_loss(self, a, v, t, q, ok, av, vv) -> Tensor:
        """Triplet on the attention-weighted distance, embeddings detached (only the attention learns)."""
        a, v, t = a.detach(), v.detach(), t.detach()
        w = self.attn(a, v)
        pos = w[:, 0] * pair_mse(a, t) + w[:, 1] * pair_mse(v, t)
        neg = w[:, 0] * pair_mse(a, t[q]) + w[:, 1] * pair_mse(v, t[q])
        return masked_mean(triplet(pos, neg, float(self.args["margin"])), ok & av & vv)

    def scores(self, class_emb, audio=None, video=None, modality="both", audio_valid=None, video_valid=None):
        mod = check_modality(self, modality, audio, video)
        t = self.FT(class_emb)
        a = self.FA(audio) if mod in ("both", "audio") else None
        v = self.FV(video) if mod in ("both", "video") else None
        da = mse_dist(a, t) if a is not None else None
        dv = mse_dist(v, t) if v is not None else None
        w = self.attn(a, v) if (self.attn is not None and a is not None and v is not None) else None
        return combine_distances(da, dv, audio_valid, video_valid, w)

    def embedders(self):
        return {"class": self.FT, "audio": self.FA, "video": self.FV}


@register_method("avgzslnet")
class AVGZSLNet(_AudioVisual):
    """L = L_CMD + L_CT; L_CMD = L_REC + L_CTA + L_CTV (eq. 3-6); L_CT = L_TA + L_AT + L_TV + L_VT (eq. 7-11)."""

    defaults = {"embed_dim": 64, "hidden": 512, "dec_hidden": 512, "dropout": 0.2, "margin": 1.0,
                "attention": False, "decoder_margin": "relative", "disabled_losses": [],
                # switches of AVCA-GZSL's re-implementation (its run scripts: the ``avca-gzsl`` preset)
                "dec_dropout": None, "batch_norm": False, "dec_batch_norm": False, "text_hidden": 0,
                "normalize_decoder": False, "lr_plateau": 0}
    loss_terms = ("rec", "cta", "ctv", "ta", "at", "tv", "vt")
    paper_args = {"decoder_margin": "absolute"}
    dropout_args = ("dropout", "dec_dropout")
    presets = {"avca-gzsl": AVCA_GZSL}

    def __init__(self, **kw):
        super().__init__(**kw)
        e = int(self.args["embed_dim"])
        self.DEC = mlp2(e, int(self.args["dec_hidden"]), self.semantic_dim, self._p("dec_dropout"),
                        bool(self.args["dec_batch_norm"]))
        if self.args["decoder_margin"] not in ("relative", "absolute"):
            raise ZslError(f"avgzslnet: decoder_margin must be relative or absolute, got {self.args['decoder_margin']!r}")

    def decoder_margin(self, class_emb: Tensor) -> Tensor | float:
        """δ for L_CTA / L_CTV: ``margin`` itself (absolute), or ``margin`` × the mean MSE between two distinct
        class text vectors of ``class_emb`` (relative; a tensor: the loss runs under ``vmap`` in the batched
        kernel)."""
        m = float(self.args["margin"])
        if self.args["decoder_margin"] == "absolute":
            return m
        c = class_emb.detach()
        n = c.shape[0]
        if n < 2:
            return m
        return m * (mse_dist(c, c).sum() / (n * (n - 1)))

    def dropout_sites(self) -> list[tuple[str, int, float]]:
        d, p = int(self.args["dec_hidden"]), self._p("dec_dropout")
        return super().dropout_sites() + [(f"drop_DEC_{k}", d, p) for k in ("a", "v", "t")]

    def _dec(self, batch: dict, key: str, x: Tensor) -> Tensor:
        """F_DEC(x) (L2-normalised with ``normalize_decoder``, as AVCA-GZSL's ``--normalize_decoder_outputs``)."""
        y = run_mlp2(self.DEC, x, batch.get(f"drop_DEC_{key}"))
        return nn.functional.normalize(y, dim=-1) if self.args["normalize_decoder"] else y

    def loss_terms_values(self, batch: dict) -> dict[str, Tensor]:
        """Every term (enabled or not) on one batch, before summing."""
        xt = batch["semantic"]
        a, v, t, av, vv, q, ok, m = self._step(batch)
        md = self.decoder_margin(batch["class_emb"]) if batch.get("class_emb") is not None else m
        da, dv, dt = (self._dec(batch, k, x) for k, x in (("a", a), ("v", v), ("t", t)))
        terms = {
            "rec": pair_mse(dt, xt).mean() + masked_mean(pair_mse(da, xt), av) + masked_mean(pair_mse(dv, xt), vv),
            "cta": masked_mean(triplet(pair_mse(dt, da), pair_mse(dt, da[q]), md), ok & av & av[q]),
            "ctv": masked_mean(triplet(pair_mse(dt, dv), pair_mse(dt, dv[q]), md), ok & vv & vv[q]),
            "ta": masked_mean(*self._anchored(a, t, q, ok, av, m)),
            "at": masked_mean(triplet(pair_mse(t, a), pair_mse(t[q], a), m), ok & av),
            "tv": masked_mean(*self._anchored(v, t, q, ok, vv, m)),
            "vt": masked_mean(triplet(pair_mse(t, v), pair_mse(t[q], v), m), ok & vv),
        }
        if self.attn is not None:
            terms["attn"] = self._attn_loss(a, v, t, q, ok, av, vv)
        return terms


@register_method("cjme-soft")
class CJMESoft(_AudioVisual):
    """zsl's earlier CJME-like variant: text-anchored triplets (ta, tv), a pairwise audio-video MSE (av) and the
    soft attention module (weights from the two instance embeddings, trained by a triplet on the weighted
    distance, used as soft weights at test time). Not CJME's attention: see ``cjme``."""

    defaults = {"embed_dim": 64, "hidden": 512, "dropout": 0.2, "margin": 1.0, "attention": True,
                "disabled_losses": []}
    loss_terms = ("ta", "tv", "av")

    def loss_terms_values(self, batch: dict) -> dict[str, Tensor]:
        a, v, t, av, vv, q, ok, m = self._step(batch)
        terms = {
            "ta": masked_mean(*self._anchored(a, t, q, ok, av, m)),
            "tv": masked_mean(*self._anchored(v, t, q, ok, vv, m)),
            "av": masked_mean(pair_mse(a, v), av & vv),
        }
        if self.attn is not None:
            terms["attn"] = self._attn_loss(a, v, t, q, ok, av, vv)
        return terms


@register_method("cjme")
class CJME(_AudioVisual):
    """CJME (Parida et al., WACV 2020): coordinated audio, video and text embeddings with a modality attention.

    * Attention: w = sigmoid(Linear(BatchNorm(x_a ‖ x_v))), computed from the two modality *inputs*; w is the
      weight of the video (1 - w of the audio).
    * Its supervision: per row, the entropies H_a, H_v of the class posteriors softmax(a · F_T(φ)ᵀ) and
      softmax(v · F_T(φ)ᵀ) over the training classes (embeddings detached); the target is 1 (video) when
      H_a - H_v > ε, 0 (audio) when H_v - H_a > ε, else 0.5; loss MSE(w, target) (ε = ``attn_epsilon`` 0.1).
    * Triplets anchored on the text: (1 - w) L_TA + w L_TV, plus the audio-video term L_AV = d(a, v).
    * Test: the attention selects one modality per clip, audio when w < 0.5, video otherwise (rows missing a
      modality use the other one).
    d = mean squared error as in the rest of zsl (the re-implementation in AVCA-GZSL uses the L2 distance).
    ``attention=false`` trains unweighted triplets and scores by the mean of the two distances.
    """

    defaults = {"embed_dim": 64, "hidden": 512, "dropout": 0.2, "margin": 1.0, "attention": True,
                "attn_epsilon": 0.1, "disabled_losses": []}
    loss_terms = ("ta", "tv", "av")
    soft_attention = False

    def __init__(self, **kw):
        super().__init__(**kw)
        d = self.audio_dim + self.video_dim
        self.gate = nn.Sequential(nn.BatchNorm1d(d), nn.Linear(d, 1), nn.Sigmoid()) if self.args["attention"] \
            else None

    def video_weight(self, audio: Tensor, video: Tensor) -> Tensor:
        """w (N,): the attention's weight of the video for each row."""
        x = batch_norm(self.gate[0], torch.cat([audio, video], dim=1))  # one-row batches: the running statistics
        return self.gate[2](self.gate[1](x))[:, 0]

    @staticmethod
    def attention_targets(a: Tensor, v: Tensor, t_classes: Tensor, eps: float) -> Tensor:
        """1 where the video's class posterior is more certain (lower entropy by more than ``eps``), 0 where the
        audio's is, 0.5 otherwise."""
        def entropy(x):
            p = torch.softmax(x @ t_classes.T, dim=1)
            return -(p * torch.log(p.clamp_min(1e-30))).sum(1)

        ha, hv = entropy(a.detach()), entropy(v.detach())
        target = torch.full_like(ha, 0.5)
        target = torch.where(ha - hv > eps, torch.ones_like(ha), target)
        return torch.where(hv - ha > eps, torch.zeros_like(ha), target)

    def loss_terms_values(self, batch: dict) -> dict[str, Tensor]:
        a, v, t, av, vv, q, ok, m = self._step(batch)
        (l_ta, ok_a), (l_tv, ok_v) = self._anchored(a, t, q, ok, av, m), self._anchored(v, t, q, ok, vv, m)
        terms = {"av": masked_mean(pair_mse(a, v), av & vv)}
        if self.gate is None:
            terms.update(ta=masked_mean(l_ta, ok_a), tv=masked_mean(l_tv, ok_v))
            return terms
        w_raw = self.video_weight(batch["audio"], batch["video"])
        w = torch.where(av & ~vv, torch.zeros_like(w_raw), torch.where(vv & ~av, torch.ones_like(w_raw), w_raw))
        terms.update(ta=masked_mean((1 - w) * l_ta, ok_a), tv=masked_mean(w * l_tv, ok_v))
        classes = batch.get("class_emb")
        t_cls = self.FT(classes).detach() if classes is not None else t.detach()
        target = self.attention_targets(a, v, t_cls, float(self.args["attn_epsilon"]))
        both = av & vv
        terms["attn"] = masked_mean((w_raw - target) ** 2, both)
        return terms

    def scores(self, class_emb, audio=None, video=None, modality="both", audio_valid=None, video_valid=None):
        mod = check_modality(self, modality, audio, video)
        if mod != "both" or self.gate is None:
            return super().scores(class_emb, audio=audio, video=video, modality=modality, audio_valid=audio_valid,
                                  video_valid=video_valid)
        t = self.FT(class_emb)
        da, dv = mse_dist(self.FA(audio), t), mse_dist(self.FV(video), t)
        use_video = (self.video_weight(audio, video) >= 0.5).to(da.dtype)
        weights = torch.stack([1 - use_video, use_video], dim=1)
        return combine_distances(da, dv, audio_valid, video_valid, weights)
