"""``conse`` (Norouzi et al., ICLR 2014): a seen-class classifier on audio; an instance's semantic embedding is
the convex combination of the top-T seen classes' embeddings weighted by their probabilities; score =
cosine similarity with each candidate class embedding."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zsltool.methods.base import ZslMethod, check_modality, register_method


@register_method("conse")
class ConSE(ZslMethod):
    default_scaling = {"zscore": True, "l2_classes": True}  # measured: docs/methods.md, Feature scaling
    modalities = ("audio",)
    needs_train_classes = True
    defaults = {"n_train_classes": 0, "top_t": 10, "hidden": 0, "dropout": 0.0}
    train_defaults = {"epochs": 50, "batch_size": 64, "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0,
                      "momentum": 0.0}

    def __init__(self, **kw):
        super().__init__(**kw)
        n, h = int(self.args["n_train_classes"]), int(self.args["hidden"])
        if h:
            self.clf = nn.Sequential(nn.Linear(self.audio_dim, h), nn.ReLU(), nn.Dropout(float(self.args["dropout"])),
                                     nn.Linear(h, n))
        else:
            self.clf = nn.Linear(self.audio_dim, n)
        self.register_buffer("seen_emb", torch.zeros(n, self.semantic_dim))

    def set_train_classes(self, class_emb):
        self.seen_emb.copy_(class_emb)

    def loss(self, batch):
        ce = F.cross_entropy(self.clf(batch["audio"]), batch["labels"])
        return {"total": ce, "ce": ce.detach()}

    def semantic_of(self, audio):
        p = torch.softmax(self.clf(audio), dim=1)
        t = min(int(self.args["top_t"]), p.shape[1])
        top, idx = p.topk(t, dim=1)
        return (top[:, :, None] * self.seen_emb[idx]).sum(1) / top.sum(1, keepdim=True)

    def scores(self, class_emb, audio=None, video=None, modality="both", audio_valid=None, video_valid=None):
        check_modality(self, modality, audio, None)
        return F.normalize(self.semantic_of(audio), dim=1) @ F.normalize(class_emb, dim=1).T

    def embedders(self):
        return {"class": lambda c: c, "audio": self.semantic_of}
