"""The training engine: many models trained at once equal the same models trained alone, the batched kernel's
class-space SGD equals updating the method's own parameters, and experiment reads each input once."""

import numpy as np
import pytest
import torch

from zsltool.train.config import TrainConfig
from zsltool.train.data import compute_scores, select_instances
from zsltool.train.engine import train_jobs
from zsltool.train.loop import make_job, prepare
from zsltool.train.synthetic import make_synthetic

# docs/methods.md ("Training many models at once"): batched vs alone agree to float re-association in batched matrix products
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("syn"), n_classes=16, per_class=10, n_train=8, n_val=4,
                          noise=0.2, invalid_audio=4, video=False)


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
    """The kernel (class-space form for plain SGD, stacked parameters otherwise) trains the same model as
    torch.optim on the method's own loss (``batched=False``): same losses per epoch, same parameters."""
    j, _ = job(syn, method, semantic="hybrid", **kw)
    (a,) = train_jobs([j])
    (b,) = train_jobs([j], batched=False)
    np.testing.assert_allclose([h["loss_total"] for h in a.history], [h["loss_total"] for h in b.history],
                               rtol=1e-5)
    assert a.best_epoch == b.best_epoch
    for k in a.state:
        torch.testing.assert_close(a.state[k], b.state[k], rtol=RTOL, atol=ATOL, msg=k)
    assert a.optimizer["optimizer"] == "sgd" and a.optimizer["lr"] == pytest.approx(j.hyper["lr"])


def test_experiment_reads_and_hashes_each_input_once(syn, tmp_path, monkeypatch):
    import zsltool.store.reader as R
    import zsltool.provenance as U  # sha256_file lives there (zsltool.utils re-exports it)
    from zsltool.evaluate.experiment import ExperimentSpec, run_experiment

    reads, hashes = [], []
    real_read, real_hash = R._read_embeddings, U._sha256_file
    monkeypatch.setattr(R, "_read_embeddings", lambda p, v: reads.append(str(p)) or real_read(p, v))
    monkeypatch.setattr(U, "_sha256_file", lambda p, c: hashes.append(str(p)) or real_hash(p, c))
    spec = ExperimentSpec(audio=str(syn.audio), splits=[str(syn.split)], out_dir=str(tmp_path / "x"),
                          text=str(syn.text), image=str(syn.image), methods=["projection", "sje"], epochs=2)
    doc = run_experiment(spec)
    assert doc["ran"] == 6  # 2 methods x text, image, hybrid
    assert sorted(reads) == sorted(set(reads)) and len(reads) == 3
    assert sorted(hashes) == sorted(set(hashes))


def test_one_batch_on_a_gpu_and_wide_padding_is_exact(syn):
    """On a GPU every model of a group shares one batch, whatever its hidden size: padding a 16-d model to the
    widest one's size is exact (run here on the CPU as the GPU would run it)."""
    from zsltool.train.compatibility import CompatibilityKernel as K
    from zsltool.train.engine import build_model

    made = [job(syn, semantic=s, seed=1, method_args={"rank": r}) for s, r in (("text", 16), ("image", 64),
                                                                                ("hybrid", 96))]
    jobs = [j for j, _ in made]
    models = [build_model(j) for j in jobs]
    assert K.plan(jobs, models, [0, 1, 2], device="cpu") == [[0], [1], [2]]  # 16, 64, 96: beyond MAX_PAD
    assert K.plan(jobs, models, [0, 1, 2], device="cuda") == [[0, 1, 2]]
    together = K(jobs, models, "cpu").run()
    for j, a in zip(jobs, together):
        (b,) = train_jobs([j])
        assert a.best_epoch == b.best_epoch, j.name
        for k in a.state:
            torch.testing.assert_close(a.state[k], b.state[k], rtol=RTOL, atol=ATOL, msg=f"{j.name}: {k}")
