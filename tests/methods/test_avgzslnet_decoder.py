"""AVGZSLNet's decoder losses are scale-consistent: with unit-norm 300-d text vectors, L_REC does not rise while
the decoder triplets (L_CTA + L_CTV) fall; the literal form (absolute margin 1) shows the conflict."""

import numpy as np
import pytest

from zsltool.store import read_embeddings, write_embeddings
from zsltool.train.config import TrainConfig
from zsltool.train.loop import train

pytestmark = pytest.mark.synthetic(n_classes=12, per_class=8, n_train=8, n_val=2, text_dim=300, audio_dim=16,
                                   video_dim=12, noise=0.3, seed=0)


@pytest.fixture(scope="module")
def syn(syn):
    """The shared synthetic data with unit-norm text rows."""
    s = syn
    e = read_embeddings(s.text)
    X = e.X / np.linalg.norm(e.X, axis=1, keepdims=True)   # unit-norm text, like normalized word2vec
    write_embeddings(s.text, meta=e.meta, ids=e.ids, X=X, classes=e.classes, overwrite=True)
    return s


def history(syn, tmp_path, mode):
    r = train(TrainConfig(audio=str(syn.audio), video=str(syn.video), split=str(syn.split), text=str(syn.text),
                          out=str(tmp_path / f"{mode}.pt"), method="avgzslnet", epochs=40, lr=1e-2, seed=0,
                          method_args={"hidden": 32, "dec_hidden": 32, "decoder_margin": mode}))
    rec = np.array([h["loss_rec"] for h in r.history])
    dec = np.array([h["loss_cta"] + h["loss_ctv"] for h in r.history])
    return rec, dec


def test_relative_decoder_margin_rec_does_not_rise_while_triplets_fall(syn, tmp_path):
    rec, dec = history(syn, tmp_path, "relative")
    assert dec[-5:].mean() < 0.6 * dec[:5].mean()                  # the decoder triplets fall
    assert rec[-5:].mean() < 0.3 * rec[:5].mean()                  # and L_REC falls with them
    assert rec[10:].max() <= rec[:10].max()                        # never rises above its early values


def test_literal_decoder_margin_pushes_reconstructions_off_the_text(syn, tmp_path):
    rec, dec = history(syn, tmp_path, "absolute")
    assert dec[-5:].mean() < 0.8 * dec[:5].mean()                  # the triplets fall...
    assert rec[-10:].max() > 5 * rec[:10].min()                    # ...by moving the decoder outputs away
