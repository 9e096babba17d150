"""``gcca``: generalized CCA (MAX-VAR, Kettenring 1971) over audio, video (when given) and the class text
embedding of each training row. The shared representation G (m×k) holds the top-k left singular vectors of the
concatenated whitened views; each view's projection is the ridge regression W_j = (X_jᵀX_j + εI)⁻¹ X_jᵀ G.
Test: cosine similarity of projected instances and projected class embeddings (mean of audio and video
similarities; one modality when the other is invalid)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from zsltool.errors import ZslError
from zsltool.methods.base import ZslMethod, check_modality, combine_distances, register_method


def gcca_fit(views: list[np.ndarray], k: int, eps: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """views: list of (m, d_j) arrays -> [(mean_j, W_j (d_j, k))]."""
    bases, centred = [], []
    for X in views:
        Xc = X - X.mean(0)
        centred.append(Xc)
        U, s, _ = np.linalg.svd(Xc, full_matrices=False)
        bases.append(U[:, s > 1e-10 * max(s.max(), 1e-30)])
    G = np.linalg.svd(np.concatenate(bases, axis=1), full_matrices=False)[0][:, :k]
    if G.shape[1] < k:
        raise ZslError(f"gcca finds only {G.shape[1]} shared directions in {len(views[0])} usable training rows, "
                       f"fewer than dim={k}", hint=f"pass --arg dim={G.shape[1]} or use more training data")
    out = []
    for X, Xc in zip(views, centred):
        C = Xc.T @ Xc
        reg = eps * max(np.trace(C) / C.shape[0], 1e-12)
        out.append((X.mean(0), np.linalg.solve(C + reg * np.eye(C.shape[0]), Xc.T @ G)))
    return out


@register_method("gcca")
class GCCA(ZslMethod):
    closed_form = True
    modalities = ("audio", "video")
    defaults = {"dim": 64, "eps": 1e-3}
    train_defaults = {**ZslMethod.train_defaults, "epochs": 1}

    def __init__(self, **kw):
        super().__init__(**kw)
        dims = [self.audio_dim, self.semantic_dim] + ([self.video_dim] if self.video_dim else [])
        self.k = min([int(self.args["dim"])] + dims)
        for name, d in (("a", self.audio_dim), ("t", self.semantic_dim), ("v", self.video_dim)):
            if d:
                self.register_buffer(f"mean_{name}", torch.zeros(d))
                self.register_buffer(f"W_{name}", torch.zeros(d, self.k))

    def fit_closed_form(self, audio, semantic_per_row, labels, class_emb, video=None, audio_valid=None,
                        video_valid=None, **kw):
        keep = torch.ones(len(audio), dtype=torch.bool) if audio_valid is None else audio_valid.bool().cpu()
        if video is not None and self.video_dim:
            keep &= torch.ones_like(keep) if video_valid is None else video_valid.bool().cpu()
        keep = keep.numpy()
        views = [audio.double().cpu().numpy()[keep], semantic_per_row.double().cpu().numpy()[keep]]
        names = ["a", "t"]
        if video is not None and self.video_dim:
            views.append(video.double().cpu().numpy()[keep])
            names.append("v")
        for name, (mu, W) in zip(names, gcca_fit(views, self.k, float(self.args["eps"]))):
            getattr(self, f"mean_{name}").copy_(torch.as_tensor(mu))
            getattr(self, f"W_{name}").copy_(torch.as_tensor(W))

    def project(self, x, name):
        return (x - getattr(self, f"mean_{name}")) @ getattr(self, f"W_{name}")

    def scores(self, class_emb, audio=None, video=None, modality="both", audio_valid=None, video_valid=None):
        mod = check_modality(self, modality, audio, video)
        t = F.normalize(self.project(class_emb, "t"), dim=1)
        da = -(F.normalize(self.project(audio, "a"), dim=1) @ t.T) if mod in ("both", "audio") else None
        dv = -(F.normalize(self.project(video, "v"), dim=1) @ t.T) if mod in ("both", "video") else None
        return combine_distances(da, dv, audio_valid, video_valid)

    def embedders(self):
        views = {"class": "t", "audio": "a", **({"video": "v"} if self.video_dim else {})}
        return {k: (lambda x, name=name: self.project(x, name)) for k, name in views.items()}
