"""Training on synthetic data with a shared latent class structure: every method above chance on unseen
classes, determinism, checkpoint round trip, early stopping, GZSL selection and input errors."""

import numpy as np
import pytest
import torch

from zsltool.errors import ZslError
from zsltool.methods import METHOD_NAMES, METHODS
from zsltool.store import StoreMeta, write_embeddings
from zsltool.train.checkpoint import build_model, load_checkpoint, semantic_matrix
from zsltool.train.config import TrainConfig
from zsltool.train.data import (check_model_inputs, compute_scores, load_inputs, load_inputs_from_config,
                                select_instances)
from zsltool.train.loop import train
from zsltool.train.synthetic import make_synthetic

pytestmark = pytest.mark.synthetic(
    n_classes=20, per_class=15, n_train=12, n_val=4, noise=0.2, invalid_audio=6, invalid_video=6)

SMALL = {"hidden": 32, "dec_hidden": 32}
# Settings for methods whose paper defaults are tuned for other data (documented in docs/methods.md).
EXTRA = {"eszsl": {"gamma": 1.0, "lam": 0.01}, "conse": {"top_t": 2}}


def cfg(syn, tmp_path, method="projection", **kw):
    cls = METHODS[method]
    args = {k: v for k, v in SMALL.items() if k in cls.defaults}
    args.update(EXTRA.get(method, {}))
    args.update(kw.pop("method_args", {}))
    base = dict(audio=str(syn.audio), video=str(syn.video), split=str(syn.split), text=str(syn.text),
                out=str(tmp_path / f"{method}.pt"), method=method, method_args=args, epochs=15, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def unseen_accuracy(ckpt_path):
    ck = load_checkpoint(ckpt_path)
    model = build_model(ck)
    inputs = load_inputs_from_config(ck["config"])
    test = ck["classes"]["test"]
    inst = select_instances(inputs, test, modalities=model.modalities)
    s = compute_scores(model, semantic_matrix(ck, test), inst)
    return float((s.argmax(1) == inst.labels).mean()), len(test)


@pytest.mark.parametrize("method", sorted(m for m in METHOD_NAMES if not METHODS[m].training_free))
def test_every_method_well_above_chance_on_unseen_classes(syn, tmp_path, method):
    """Trained methods (the training-free cosine needs audio and classes of one space: tests/methods/test_cosine.py)."""
    r = train(cfg(syn, tmp_path, method))
    acc, n = unseen_accuracy(r.checkpoint)
    assert acc >= 1.0 / n + 0.2, f"{method}: unseen-class top-1 {acc:.3f}, chance {1 / n:.3f}"
    assert r.best_metric == "val_top1" and 1 <= r.best_epoch <= r.epochs_run


def test_projection_on_par_with_or_better_than_linear(tmp_path):
    """Mean unseen-class top-1 over 4 synthetic data draws: tanh projection vs its factored-linear form
    (activation none) and the bilinear model (measured: 0.74 vs 0.70 and 0.69)."""
    accs = {"tanh": [], "none": [], "bilinear": []}
    for seed in range(4):
        syn = make_synthetic(tmp_path / f"d{seed}", n_classes=24, per_class=12, n_train=12, n_val=6, noise=0.2,
                             seed=seed, video=False)
        for name, method, args in (("tanh", "projection", {}), ("none", "projection", {"activation": "none"}),
                                   ("bilinear", "bilinear", {})):
            r = train(cfg(syn, tmp_path, method, video=None, out=str(tmp_path / f"{seed}_{name}.pt"),
                          method_args=args, epochs=20))
            accs[name].append(unseen_accuracy(r.checkpoint)[0])
    mean = {k: float(np.mean(v)) for k, v in accs.items()}
    assert mean["tanh"] >= max(mean["none"], mean["bilinear"]) - 0.03, mean
    assert mean["tanh"] >= 0.6, mean


def _states(path):
    return load_checkpoint(path)["state_dict"]


@pytest.mark.parametrize("method", ["projection", "avgzslnet"])
def test_same_seed_identical_checkpoint(syn, tmp_path, method):
    a = train(cfg(syn, tmp_path, method, out=str(tmp_path / "a.pt"), epochs=3))
    b = train(cfg(syn, tmp_path, method, out=str(tmp_path / "b.pt"), epochs=3))
    c = train(cfg(syn, tmp_path, method, out=str(tmp_path / "c.pt"), epochs=3, seed=1))
    sa, sb, sc = _states(a.checkpoint), _states(b.checkpoint), _states(c.checkpoint)
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert a.history == b.history


def test_checkpoint_round_trip(syn, tmp_path):
    r = train(cfg(syn, tmp_path, "avgzslnet", epochs=4))
    ck = load_checkpoint(r.checkpoint)
    assert ck["format"] == "zsl.checkpoint" and ck["method"] == "avgzslnet"
    assert ck["class_set_sha256"] == syn.class_set_sha256
    assert ck["best"] == {"metric": "val_top1", "value": r.best_value, "epoch": r.best_epoch}
    assert [h["epoch"] for h in ck["history"]] == [1, 2, 3, 4]
    assert {"loss_rec", "loss_ta", "loss_vt", "val_top1"} <= set(ck["history"][0])
    assert ck["optimizer"] is not None and ck["config"]["resolved"]["optimizer"] == "adam"
    assert len(ck["inputs"]) == 4 and all(len(i["sha256"]) == 64 for i in ck["inputs"])
    model = build_model(ck)
    assert not model.training
    # the rebuilt model reproduces the recorded best validation metric
    inputs = load_inputs_from_config(ck["config"])
    val = ck["classes"]["val"]
    inst = select_instances(inputs, val, modalities=model.modalities)
    acc = (compute_scores(model, semantic_matrix(ck, val), inst).argmax(1) == inst.labels).mean()
    assert acc == pytest.approx(r.best_value)


def test_training_uses_single_labelled_valid_rows_only(syn, tmp_path):
    inputs = load_inputs(audio=syn.audio, video=syn.video, text=syn.text)
    train_classes = syn.classes[:12]
    a_only = select_instances(inputs, train_classes, modalities=("audio",))
    both = select_instances(inputs, train_classes, modalities=("audio", "video"))
    n_all = 12 * 15
    assert len(a_only) == n_all - int((~inputs.audio.valid[:n_all]).sum())
    assert len(both) == n_all  # invalid audio and invalid video never hit the same row here
    assert a_only.audio_valid.all()
    assert set(a_only.labels.tolist()) == set(range(12))


def test_early_stopping(syn, tmp_path):
    r = train(cfg(syn, tmp_path, epochs=60, patience=2, lr=0.05))
    assert r.epochs_run < 60
    assert r.epochs_run - r.best_epoch == 2


def test_gzsl_selects_on_seen_validation_instances(tmp_path):
    g = make_synthetic(tmp_path / "g", n_classes=8, per_class=10, n_train=4, n_val=2, gzsl=True)
    r = train(TrainConfig(audio=str(g.audio), split=str(g.split), text=str(g.text), out=str(tmp_path / "g.pt"),
                          epochs=3))
    ck = load_checkpoint(r.checkpoint)
    assert r.best_metric == "val_seen_mca"
    assert r.n_train == 6 * 6 and r.n_val == 6 * 2
    assert ck["classes"]["seen"] == g.classes[:6] and ck["classes"]["unseen"] == g.classes[6:]


def test_hybrid_semantic_is_image_then_text(syn, tmp_path):
    r = train(cfg(syn, tmp_path, semantic="hybrid", image=str(syn.image), epochs=1))
    ck = load_checkpoint(r.checkpoint)
    inputs = load_inputs(audio=syn.audio, semantic="hybrid", text=syn.text, image=syn.image)
    assert ck["method_args"]["semantic_dim"] == 6 + 8
    c = syn.classes[:3]
    want = np.concatenate([load_inputs(audio=syn.audio, semantic="image", image=syn.image).semantic.matrix(c),
                           load_inputs(audio=syn.audio, text=syn.text).semantic.matrix(c)], axis=1)
    assert np.array_equal(inputs.semantic.matrix(c), want)


# -- errors before training -------------------------------------------------------------------------------------

def _class_file(path, ids, dim, h):
    return write_embeddings(path, meta=StoreMeta(kind="class", modality="text", class_set_sha256=h), ids=ids,
                            X=np.ones((len(ids), dim)), classes=ids)


def test_other_class_set_is_rejected(syn, tmp_path):
    other = _class_file(tmp_path / "o.h5", syn.classes, 8, "f" * 64)
    with pytest.raises(ZslError, match="different class sets"):
        train(cfg(syn, tmp_path, text=str(other)))
    assert not (tmp_path / "projection.pt").exists()


def test_missing_split_classes_in_semantic_file(syn, tmp_path):
    part = _class_file(tmp_path / "p.h5", syn.classes[:15], 8, syn.class_set_sha256)
    with pytest.raises(ZslError, match="5 classes of the split have no text embedding"):
        train(cfg(syn, tmp_path, text=str(part)))


def test_instance_file_as_semantic_is_rejected(syn, tmp_path):
    with pytest.raises(ZslError, match="must be a class-level file"):
        train(cfg(syn, tmp_path, text=str(syn.audio)))


def test_empty_training_set(syn, tmp_path):
    from zsltool.classes.splits import Split, Trial

    Split(trials=[Trial(train=["nope1", "nope2"], val=[], test=syn.classes[:2])]).save(tmp_path / "s.json")
    other = _class_file(tmp_path / "t.h5", syn.classes + ["nope1", "nope2"], 8, syn.class_set_sha256)
    with pytest.raises(ZslError, match="no usable training instances"):
        train(cfg(syn, tmp_path, split=str(tmp_path / "s.json"), text=str(other)))


def test_semantic_dimension_mismatch_for_a_trained_model(syn, tmp_path):
    r = train(cfg(syn, tmp_path, epochs=1))
    model = build_model(load_checkpoint(r.checkpoint))
    with pytest.raises(ZslError, match="6-d, but the model expects 8-d"):
        check_model_inputs(model, load_inputs(audio=syn.audio, semantic="image", image=syn.image))


def test_video_method_without_video(syn, tmp_path):
    with pytest.raises(ZslError, match="needs a video"):
        train(cfg(syn, tmp_path, "avgzslnet", video=None))


def test_refuses_existing_output(syn, tmp_path):
    (tmp_path / "projection.pt").write_bytes(b"x")
    with pytest.raises(ZslError, match="already exists"):
        train(cfg(syn, tmp_path))


def test_bad_checkpoint_is_user_error(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ZslError, match="is not a checkpoint"):
        load_checkpoint(tmp_path / "bad.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ZslError, match="not a valid zsl checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
