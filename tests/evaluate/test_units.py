"""Experiment units: a just-trained unit is evaluated from the model in memory (its checkpoint still written),
with exactly the numbers of its checkpoint file evaluated from disk."""

from pathlib import Path

import pytest

from zsltool.evaluate.evaluate import evaluate_checkpoint, retrieve_checkpoint
from zsltool.evaluate.experiment import ExperimentSpec, plan
from zsltool.evaluate.units import run_units

pytestmark = pytest.mark.synthetic(n_classes=8, per_class=8, gzsl=True, video=False)


def test_a_trained_unit_is_evaluated_in_memory_with_the_numbers_of_its_written_checkpoint(syn, tmp_path, monkeypatch):
    import zsltool.train.checkpoint as C

    d = tmp_path
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


# -- typed units keep the config hashes of the unit dicts before them (trial files written then are resumed) ----
TRAIN = dict(audio="a.h5", video=None, split="s.json", trial=2, semantic="hybrid", text="t.h5", image="i.h5",
             audio_prototypes=None, method="devise", method_args={"margin": 0.2}, epochs=5, batch_size=None,
             lr=0.01, optimizer=None, patience=None, seed=3, semantic_file="h.h5")


@pytest.mark.parametrize("train, evalc, inputs, known", [
    ({}, dict(modalities=("both",), calibrate=False, retrieval=True), {"audio": "aa", "text": "tt"},
     "4e70be0f8276e3be8fbe446e08880514976a76aee8a8293c1de55a55a0234f5b"),
    (dict(grid={"lr": [0.1, 0.01]}, preset="paper"),
     dict(modalities=("both", "audio"), calibrate=False, retrieval=False, two_stage=(2, 3),
          transductive=("soft-kmeans",)), {"audio": "aa"},
     "bd5c7a61e8783851fad0653078a1030051f9062ea4530e4ffe27791a2ef83032"),
    ({}, dict(modalities=("both",), calibrate=True, retrieval=True, refit=True), {},
     "05203b92b527673dc7eeb4853d5377fbc06b960331210556a2a587a3ac396b95"),
])
def test_config_hash_is_the_hash_of_the_unit_dicts_of_earlier_versions(train, evalc, inputs, known):
    """The known hashes are sha256_json of the {"train", "eval", "inputs", "split_sha256"} dicts that plan()
    built before units were typed (main at 4b51884)."""
    from zsltool.evaluate.unit import UnitEval, UnitTrain, config_hash

    assert config_hash(UnitTrain(**TRAIN, **train), UnitEval(**evalc), inputs, "ss") == known


def test_a_planned_unit_hashes_and_records_as_the_unit_dict_did(syn, tmp_path):
    from zsltool.evaluate.unit import Unit
    from zsltool.files.provenance import sha256_file, sha256_json

    d = tmp_path
    (u,) = plan(ExperimentSpec(audio=str(syn.audio), splits=[str(syn.split)], out_dir=str(d / "p"), text=str(syn.text),
                               epochs=2, threads=1, lr=0.5, method_args={"projection": {"zscore": True}},
                               refit=False))
    assert isinstance(u, Unit) and u.name == f"{syn.split.stem}.t0.projection.text" and u.row == "text"
    train = {"audio": str(syn.audio), "video": None, "split": str(syn.split), "trial": 0, "semantic": "text",
             "text": str(syn.text), "image": None, "audio_prototypes": None, "method": "projection",
             "method_args": {"zscore": True}, "epochs": 2, "batch_size": None, "lr": 0.5, "optimizer": None,
             "patience": None, "seed": 0, "semantic_file": None}
    evalc = {"modalities": ["both"], "calibrate": False, "retrieval": True}
    key = {"train": train, "eval": evalc, "inputs": {"audio": sha256_file(syn.audio), "text": sha256_file(syn.text)},
           "split_sha256": sha256_file(syn.split)}
    assert u.config_hash == sha256_json(key)
    assert u.to_dict() == {"name": u.name, "config_hash": u.config_hash, "train": train, "eval": evalc,
                           "column": u.column, "protocol": "gzsl", "task": "gzsl", "threads": 1, "device": "cpu",
                           "strict": False, "out_dir": str(d / "p")}
    with pytest.raises(AttributeError):
        u.name = "other"  # frozen
