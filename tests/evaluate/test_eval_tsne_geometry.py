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
        # the model's feature scaling (zscore / l2_classes, recorded in the checkpoint) applies, as in scoring
        assert ld.model.args["zscore"] and ld.model.args["l2_classes"]
        e = ld.model.embed(class_emb=ld.model.prep_classes(semantic_matrix(ld.ckpt, classes)),
                           audio=ld.model.prep_audio(torch.as_tensor(inst.audio)))
    a, c = e["audio"].numpy().astype(np.float64), e["class"].numpy().astype(np.float64)
    c = c - c.mean(axis=0)
    np.testing.assert_allclose(seen["pts"], a / np.linalg.norm(a, axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(seen["stars"], c / np.linalg.norm(c, axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    assert seen["title"].endswith("(cosine)")


def test_gzsl_tsne_plots_only_test_clips_and_chosen_classes(tmp_path, monkeypatch):
    """GZSL: seen classes contribute their test_seen clips only (was: their training clips too); --classes N
    draws N seen classes (AVGZSLNet Fig. 6: 5 seen classes); named classes are kept in trial order."""
    from zsltool.classes.splits import load_split

    syn = make_synthetic(tmp_path, n_classes=10, per_class=8, n_train=4, n_val=2, video=False, gzsl=True)
    t = load_split(syn.split).trial(0)
    ck = train(TrainConfig(audio=str(syn.audio), split=str(syn.split), text=str(syn.text), out=str(tmp_path / "g.pt"),
                           method="projection", epochs=1, seed=0)).checkpoint
    seen = {}
    monkeypatch.setattr(figures.P, "plot_embedding", lambda out, pts, labels, classes, stars, **kw:
                        seen.update(n=len(pts), labels=labels, classes=list(classes)) or out)
    figures.tsne_from_checkpoint(ck, tmp_path / "t.png", seed=0)
    ld = load_for_evaluation(ck, modality="audio")
    a = ld.inputs.audio
    lab = a.label_index()
    test_seen = set(t.instances["test_seen"])
    n_unseen = sum(1 for k in lab if k >= 0 and a.classes[k] in set(t.unseen))
    assert seen["n"] == len(test_seen) + n_unseen
    assert seen["classes"] == list(t.seen) + list(t.unseen)
    figures.tsne_from_checkpoint(ck, tmp_path / "t.png", seed=0, classes=2)
    assert len(seen["classes"]) == 2 and set(seen["classes"]) <= set(t.seen)
    assert set(seen["labels"].tolist()) <= {0, 1}
    pick = [t.unseen[0], t.seen[1]]
    figures.tsne_from_checkpoint(ck, tmp_path / "t.png", seed=0, classes=",".join(pick))
    assert seen["classes"] == [t.seen[1], t.unseen[0]]
    import pytest

    from zsltool.errors import ZslError

    with pytest.raises(ZslError, match="not a test class"):
        figures.tsne_from_checkpoint(ck, tmp_path / "t.png", classes="no such class")
