"""Single-network baselines of Mazumder et al. (AVGZSLNet) / CJME: ``audio-only``, ``video-only`` (one projection network for one
modality) and ``concat`` (one network on audio ‖ video; an invalid modality enters as zeros).

Each maps its input with a two-layer network and the class text embedding with one layer to a shared
``embed_dim`` space, trained with the text-anchored and instance-anchored triplet losses (L_TA, L_AT of
Mazumder et al., margin 1, d = MSE); test: the nearest class by that distance.
"""

from __future__ import annotations

import torch
from torch import nn

from zsltool.errors import ZslError
from zsltool.methods.avgzslnet import AV_TRAIN_DEFAULTS
from zsltool.methods.base import ZslMethod, masked_mean, mse_dist, pair_mse, register_method, triplet
from zsltool.methods.draws import StepDraws, mlp2, run_mlp2


class _Single(StepDraws, ZslMethod):
    defaults = {"embed_dim": 64, "hidden": 512, "dropout": 0.2, "margin": 1.0, "disabled_losses": []}
    train_defaults = AV_TRAIN_DEFAULTS
    loss_terms = ("ta", "at")
    batched_kernel = "functional"  # zsltool.train.functional.FunctionalKernel trains many at once (on a GPU)
    source = "audio"

    def __init__(self, **kw):
        super().__init__(**kw)
        din = {"audio": self.audio_dim, "video": self.video_dim or 0,
               "concat": self.audio_dim + (self.video_dim or 0)}[self.source]
        e = int(self.args["embed_dim"])
        self.F = mlp2(din, int(self.args["hidden"]), e, float(self.args["dropout"]))
        self.FT = nn.Linear(self.semantic_dim, e)

    def _input(self, audio, video):
        if self.source == "audio":
            if audio is None:
                raise ZslError(f"{self.name} needs audio")
            return audio
        if video is None:
            raise ZslError(f"{self.name} needs video", hint="pass --video FILE")
        return video if self.source == "video" else torch.cat([audio, video], dim=1)

    def _row_valid(self, batch):
        av, vv = self._valid(batch, "audio_valid"), self._valid(batch, "video_valid")
        return {"audio": av, "video": vv, "concat": av | vv}[self.source]

    def dropout_sites(self) -> list[tuple[str, int, float]]:
        return [("drop_F", int(self.args["hidden"]), self._p())]

    def loss_terms_values(self, batch):
        x = run_mlp2(self.F, self._input(batch["audio"], batch.get("video")), batch.get("drop_F"))
        t = self.FT(batch["semantic"])
        ok_rows = self._row_valid(batch)
        q, ok = self._negatives(batch)
        m = float(self.args["margin"])
        return {"ta": masked_mean(triplet(pair_mse(x, t), pair_mse(x[q], t), m), ok & ok_rows & ok_rows[q]),
                "at": masked_mean(triplet(pair_mse(t, x), pair_mse(t[q], x), m), ok & ok_rows)}

    def scores(self, class_emb, audio=None, video=None, modality="both", audio_valid=None, video_valid=None):
        if modality not in ("both", self.source):
            raise ZslError(f"method {self.name!r} scores with modality {self.source!r} only (got {modality!r})")
        return -mse_dist(self.F(self._input(audio, video)), self.FT(class_emb))

    def embed(self, class_emb=None, audio=None, video=None):
        out = {}
        if class_emb is not None:
            out["class"] = self.FT(class_emb)
        if audio is not None or video is not None:
            out[self.source] = self.F(self._input(audio, video))
        return out


@register_method("audio-only")
class AudioOnly(_Single):
    modalities = ("audio",)
    source = "audio"


@register_method("video-only")
class VideoOnly(_Single):
    modalities = ("video",)
    requires_video = True
    source = "video"


@register_method("concat")
class Concat(_Single):
    modalities = ("audio", "video")
    requires_video = True
    source = "concat"
