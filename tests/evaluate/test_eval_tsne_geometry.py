"""t-SNE of a dot-product model (projection): instance rows and centred class rows are L2-normalised."""

import numpy as np
import torch

from zsltool.evaluate import figures
from zsltool.evaluate.evaluate import load_for_evaluation
from zsltool.train.checkpoint import semantic_matrix
from zsltool.train.config import TrainConfig
from zsltool.train.data import select_instances
from zsltool.train.loop import train
from zsltool.train.synthetic import make_synthetic


def test_projection_tsne_uses_cosine_geometry(tmp_path, monkeypatch):
    syn = make_synthetic(tmp_path, n_classes=8, per_class=6, n_train=4, n_val=2, video=False)
    ck = train(TrainConfig(audio=str(syn.audio), split=str(syn.split), text=str(syn.text), out=str(tmp_path / "p.pt"),
                           method="projection", epochs=2, seed=0)).checkpoint
    seen = {}
    monkeypatch.setattr(figures.P, "plot_embedding", lambda out, pts, labels, classes, stars, **kw:
                        seen.update(pts=pts, stars=stars, title=kw["title"]) or out)
    figures.tsne_from_checkpoint(ck, tmp_path / "t.png", seed=0)
    ld = load_for_evaluation(ck, modality="audio")
    classes = list(ld.trial.test)
    inst = select_instances(ld.inputs, classes, modalities=("audio",))
    with torch.no_grad():
        e = ld.model.embed(class_emb=semantic_matrix(ld.ckpt, classes), audio=torch.as_tensor(inst.audio))
    a, c = e["audio"].numpy().astype(np.float64), e["class"].numpy().astype(np.float64)
    c = c - c.mean(axis=0)
    np.testing.assert_allclose(seen["pts"], a / np.linalg.norm(a, axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(seen["stars"], c / np.linalg.norm(c, axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    assert seen["title"].endswith("(cosine)")
