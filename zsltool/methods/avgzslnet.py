"""Audio-visual methods: ``avgzslnet`` (Mazumder et al., AVGZSLNet, Section 3) and ``cjme`` (Parida et al.,
WACV 2020, as summarised in Mazumder et al. §4.2.2), with the optional attention module ("w/ attn").

Embeddings: F_A, F_V two fully connected layers, F_T one layer, all to ``embed_dim`` (64); AVGZSLNet's
decoder F_DEC has two layers back to the text dimension. d = mean squared error, margin δ = 1.
Negatives: for each row p of a batch, q is a random row of the batch with another class (rows without such a
partner, or whose needed modality is invalid in p or q, are left out of that term's mean).
Test: the nearest class text embedding F_T(φ(y)) by the mean of the audio and video distances ("eq wt"), by one
modality when the other is invalid, or by attention weights ("w/ attn", ``--arg attention=true``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zsltool.methods.base import (ZslMethod, check_modality, combine_distances, masked_mean, mse_dist, pair_mse,
                                  register_method, sample_negatives)
from zsltool.methods.losses import triplet

AV_TRAIN_DEFAULTS = {"epochs": 50, "batch_size": 128, "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0,
                     "momentum": 0.0}


def mlp2(din: int, hidden: int, dout: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(din, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, dout))


class Attention(nn.Module):
    """Weights (N, 2) for the audio and video distances from the two instance embeddings."""

    def __init__(self, dim: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, a: Tensor, v: Tensor) -> Tensor:
        return torch.softmax(self.net(torch.cat([a, v], dim=1)), dim=1)


class _AudioVisual(ZslMethod):
    modalities = ("audio", "video")
    requires_video = True
    train_defaults = AV_TRAIN_DEFAULTS

    def __init__(self, **kw):
        super().__init__(**kw)
        h, e, p = int(self.args["hidden"]), int(self.args["embed_dim"]), float(self.args["dropout"])
        self.FA = mlp2(self.audio_dim, h, e, p)
        self.FV = mlp2(self.video_dim, h, e, p)
        self.FT = nn.Linear(self.semantic_dim, e)
        self.attn = Attention(e) if self.args["attention"] else None

    def _negatives(self, batch: dict) -> tuple[Tensor, Tensor]:
        if batch.get("neg") is not None:  # fixed negatives (tests)
            q = batch["neg"]
            return q, batch["labels"][q] != batch["labels"]
        return sample_negatives(batch["labels"])

    @staticmethod
    def _valid(batch: dict, key: str) -> Tensor:
        v = batch.get(key)
        return torch.ones_like(batch["labels"], dtype=torch.bool) if v is None else v.bool()

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

    def embed(self, class_emb=None, audio=None, video=None):
        out = {}
        if class_emb is not None:
            out["class"] = self.FT(class_emb)
        if audio is not None:
            out["audio"] = self.FA(audio)
        if video is not None:
            out["video"] = self.FV(video)
        return out


@register_method("avgzslnet")
class AVGZSLNet(_AudioVisual):
    """L = L_CMD + L_CT; L_CMD = L_REC + L_CTA + L_CTV (eq. 3-6); L_CT = L_TA + L_AT + L_TV + L_VT (eq. 7-11)."""

    defaults = {"embed_dim": 64, "hidden": 512, "dec_hidden": 512, "dropout": 0.2, "margin": 1.0,
                "attention": False, "disabled_losses": []}
    loss_terms = ("rec", "cta", "ctv", "ta", "at", "tv", "vt")

    def __init__(self, **kw):
        super().__init__(**kw)
        e = int(self.args["embed_dim"])
        self.DEC = mlp2(e, int(self.args["dec_hidden"]), self.semantic_dim, float(self.args["dropout"]))

    def loss_terms_values(self, batch: dict) -> dict[str, Tensor]:
        """Every term (enabled or not) on one batch, before summing."""
        xt = batch["semantic"]
        a, v, t = self.FA(batch["audio"]), self.FV(batch["video"]), self.FT(xt)
        av, vv = self._valid(batch, "audio_valid"), self._valid(batch, "video_valid")
        q, ok = self._negatives(batch)
        m = float(self.args["margin"])
        da, dv, dt = self.DEC(a), self.DEC(v), self.DEC(t)
        terms = {
            "rec": pair_mse(dt, xt).mean() + masked_mean(pair_mse(da, xt), av) + masked_mean(pair_mse(dv, xt), vv),
            "cta": masked_mean(triplet(pair_mse(dt, da), pair_mse(dt, da[q]), m), ok & av & av[q]),
            "ctv": masked_mean(triplet(pair_mse(dt, dv), pair_mse(dt, dv[q]), m), ok & vv & vv[q]),
            "ta": masked_mean(triplet(pair_mse(a, t), pair_mse(a[q], t), m), ok & av & av[q]),
            "at": masked_mean(triplet(pair_mse(t, a), pair_mse(t[q], a), m), ok & av),
            "tv": masked_mean(triplet(pair_mse(v, t), pair_mse(v[q], t), m), ok & vv & vv[q]),
            "vt": masked_mean(triplet(pair_mse(t, v), pair_mse(t[q], v), m), ok & vv),
        }
        if self.attn is not None:
            terms["attn"] = self._attn_loss(a, v, t, q, ok, av, vv)
        return terms


@register_method("cjme")
class CJME(_AudioVisual):
    """Triplet losses with the text embedding as anchor (audio and video positives/negatives), a pairwise
    audio-video similarity loss d(a_p, v_p), and the attention module (on by default)."""

    defaults = {"embed_dim": 64, "hidden": 512, "dropout": 0.2, "margin": 1.0, "attention": True,
                "disabled_losses": []}
    loss_terms = ("ta", "tv", "av")

    def loss_terms_values(self, batch: dict) -> dict[str, Tensor]:
        a, v, t = self.FA(batch["audio"]), self.FV(batch["video"]), self.FT(batch["semantic"])
        av, vv = self._valid(batch, "audio_valid"), self._valid(batch, "video_valid")
        q, ok = self._negatives(batch)
        m = float(self.args["margin"])
        terms = {
            "ta": masked_mean(triplet(pair_mse(a, t), pair_mse(a[q], t), m), ok & av & av[q]),
            "tv": masked_mean(triplet(pair_mse(v, t), pair_mse(v[q], t), m), ok & vv & vv[q]),
            "av": masked_mean(pair_mse(a, v), av & vv),
        }
        if self.attn is not None:
            terms["attn"] = self._attn_loss(a, v, t, q, ok, av, vv)
        return terms

