"""The training engine: many models trained at once equal the same models trained alone, the batched kernel's
class-space SGD equals updating the method's own parameters, and experiment reads each input once."""

import numpy as np
import pytest
import torch

from zsltool.train.config import TrainConfig
from zsltool.train.data import compute_scores, select_instances
from zsltool.train.engine import train_jobs
from zsltool.train.loop import make_job, prepare

pytestmark = pytest.mark.synthetic(
    n_classes=16, per_class=10, n_train=8, n_val=4, noise=0.2, invalid_audio=4, video=False)

# docs/methods.md ("Training many models at once"): batched vs alone agree to float re-association in batched matrix products
RTOL, ATOL = 1e-4, 1e-5


def job(syn, method="projection", seed=0, semantic="text", epochs=4, trial=0, **kw):
    c = TrainConfig(audio=str(syn.audio), split=str(syn.split), text=str(syn.text), image=str(syn.image),
                    semantic=semantic, out="unused.pt", method=method, epochs=epochs, seed=seed, trial=trial, **kw)
    p = prepare(c)
    return make_job(p, c, name=f"{method}.{semantic}.{seed}"), p


def test_batch_of_20_equals_each_model_alone(syn):
    """20 models of mixed methods, class embeddings (sizes), seeds, learning rates and early stopping: each is
    the model trained alone (same best epoch and history length, same test predictions, parameters within
    re-association tolerance)."""
    specs = []
    for seed in range(2):
        for sem in ("text", "image", "hybrid"):
            specs.append(dict(method="projection", seed=seed, semantic=sem))
            specs.append(dict(method="sje", seed=seed, semantic=sem))
        specs.append(dict(method="projection", seed=seed, lr=0.05, patience=1, epochs=8))
        specs.append(dict(method="ale", seed=seed, momentum=0.5))
        specs.append(dict(method="bilinear", seed=seed, semantic="image"))
        specs.append(dict(method="projection", seed=seed, optimizer="adam", lr=1e-3, method_args={"rank": 16}))
    assert len(specs) == 20
    made = [job(syn, **s) for s in specs]
    together = train_jobs([j for j, _ in made])
    for (j, p), a in zip(made, together):
        (b,) = train_jobs([j])
        assert a.best_epoch == b.best_epoch and len(a.history) == len(b.history), j.name
        for k in a.state:
            torch.testing.assert_close(a.state[k], b.state[k], rtol=RTOL, atol=ATOL, msg=f"{j.name}: {k}")
        test = list(p.trial.test)
        inst = select_instances(p.inputs, test)
        C = p.inputs.semantic.matrix(test)
        assert np.array_equal(compute_scores(a.model, C, inst).argmax(1), compute_scores(b.model, C, inst).argmax(1))
    # a model's randomness is its own: another seed is another model
    assert not torch.equal(together[0].state["V.weight"], together[10].state["V.weight"])


@pytest.mark.parametrize("method,kw", [("projection", {}), ("projection", {"momentum": 0.9}),
                                       ("projection", {"method_args": {"loss": "softmax", "activation": "none",
                                                                       "bias": False}}),
                                       ("bilinear", {}), ("devise", {}), ("ale", {}), ("sje", {}),
                                       ("projection", {"weight_decay": 1e-3})])
def test_kernel_is_the_methods_own_sgd(syn, method, kw):
    """The batched engine (the method's own loss under vmap; class-space coordinates for plain SGD) trains the
    same model as torch.optim on the method's own loss and parameters (``batched=False``): same losses per
    epoch, same parameters, same optimiser state (momentum buffers back in the parameters' coordinates)."""
    j, _ = job(syn, method, semantic="hybrid", **kw)
    (a,) = train_jobs([j])
    (b,) = train_jobs([j], batched=False)
    np.testing.assert_allclose([h["loss_total"] for h in a.history], [h["loss_total"] for h in b.history],
                               rtol=1e-5)
    assert a.best_epoch == b.best_epoch
    for k in a.state:
        torch.testing.assert_close(a.state[k], b.state[k], rtol=RTOL, atol=ATOL, msg=k)
    assert a.optimizer["param_groups"][0]["lr"] == pytest.approx(j.hyper["lr"])
    sa, sb = a.optimizer["state"], b.optimizer["state"]
    assert len(sa) == len(sb)
    for i in sb:
        for k, v in sb[i].items():
            if torch.is_tensor(v) and v.dim() > 0:
                torch.testing.assert_close(sa[i][k], v, rtol=RTOL, atol=ATOL, msg=f"optimizer {i} {k}")


def test_experiment_reads_and_hashes_each_input_once(syn, tmp_path, monkeypatch, sha256_reads):
    """Each input is read once per run (zsltool.files.runcache) and hashed once while it is unchanged (the
    sha256 cache; here every file counts as large and settled)."""
    import zsltool.store.reader as R
    from zsltool.evaluate.experiment import ExperimentSpec, run_experiment

    reads, hashes = [], sha256_reads
    real_read = R._read_embeddings
    monkeypatch.setattr(R, "_read_embeddings", lambda p, v: reads.append(str(p)) or real_read(p, v))
    spec = ExperimentSpec(audio=str(syn.audio), splits=[str(syn.split)], out_dir=str(tmp_path / "x"),
                          text=str(syn.text), image=str(syn.image), methods=["projection", "sje"], epochs=2)
    doc = run_experiment(spec)
    assert doc["ran"] == 6  # 2 methods x text, image, hybrid
    assert sorted(reads) == sorted(set(reads)) and len(reads) == 3
    assert sorted(hashes) == sorted(set(hashes))
    assert {p.name for p in (syn.audio, syn.text, syn.image, syn.split)} <= set(hashes)


@pytest.mark.parametrize("method,kw,reduced", [("projection", {}, True), ("bilinear", {"momentum": 0.5}, True),
                                               ("projection", {"optimizer": "adam", "lr": 1e-3}, False),
                                               ("sje", {"weight_decay": 1e-3}, False)])
def test_class_space_coordinates_engage_only_for_plain_sgd(syn, method, kw, reduced):
    """The layer a method names in ``class_linear`` trains in class space (8 training classes: 8 columns instead
    of the 14-d hybrid embedding) exactly when the optimiser is SGD without weight decay; the model it gives
    back has its own shapes."""
    from zsltool.train.job import build_model
    from zsltool.train.functional import FunctionalKernel

    j, _ = job(syn, method, semantic="hybrid", epochs=1, **kw)
    k = FunctionalKernel([j], [build_model(j)], "cpu")
    name = build_model(j).class_linear[0]
    width = k.params[name].shape[-1]
    assert (k.spaces[0] is not None) == reduced and width == (8 if reduced else 14)
    (out,) = k.run()
    assert out.state[name].shape[-1] == 14
