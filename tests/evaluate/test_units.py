"""Experiment units: a just-trained unit is evaluated from the model in memory (its checkpoint still written),
with exactly the numbers of its checkpoint file evaluated from disk."""

from pathlib import Path

import pytest

from zsltool.evaluate.evaluate import evaluate_checkpoint, retrieve_checkpoint
from zsltool.evaluate.experiment import ExperimentSpec, plan
from zsltool.evaluate.units import run_units
from zsltool.train.synthetic import make_synthetic


@pytest.fixture(scope="module")
def gzsl(tmp_path_factory):
    d = tmp_path_factory.mktemp("units")
    return make_synthetic(d, n_classes=8, per_class=8, gzsl=True, video=False), d


def test_a_trained_unit_is_evaluated_in_memory_with_the_numbers_of_its_written_checkpoint(gzsl, monkeypatch):
    import zsltool.train.checkpoint as C

    syn, d = gzsl
    units = plan(ExperimentSpec(audio=str(syn.audio), splits=[str(syn.split)], out_dir=str(d / "o"),
                                text=str(syn.text), epochs=2, threads=1, transductive=["soft-kmeans"]))

    def no_reload(path):
        raise AssertionError(f"evaluation reloaded {path} from disk")

    monkeypatch.setattr(C, "load_checkpoint", no_reload)
    (rec,) = run_units(units)
    monkeypatch.undo()
    ckpt = Path(rec["train"]["checkpoint"])
    assert ckpt.is_file() and ckpt.parent.name == "checkpoints"
    disk = evaluate_checkpoint(ckpt, seed=0)
    assert rec["metrics"]["both"] == disk["metrics"] and 0 < disk["metrics"]["HM"] <= 1
    assert rec["retrieval"]["both"] == retrieve_checkpoint(ckpt, top=1)["metrics"]
    (variant,) = rec["transductive"]
    assert variant["metrics"]["both"] == evaluate_checkpoint(ckpt, seed=0, transductive="soft-kmeans")["metrics"]
