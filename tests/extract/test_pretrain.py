"""pretrain.training_classes: one rule for the instances a pretrain-* network may see."""

import pytest

from zsltool.classes.classset import ClassSet
from zsltool.classes.splits import Split, Trial
from zsltool.errors import ZslError
from zsltool.extract.pretrain import training_classes


def test_gzsl_trial_gives_its_training_instances_any_other_trial_none(tmp_path):
    cs = ClassSet(classes=[{"id": c, "name": c} for c in "abcd"], name="t")
    cs.save(tmp_path / "cs.json")
    seen = ["a", "b"]
    inst = {"train": ["x1", "x2"], "val": ["x3"], "test_seen": ["x4"]}
    gzsl = Trial(train=seen, val=seen, test=seen + ["c"], seen=seen, unseen=["c"], instances=inst)
    zsl_with_instances = Trial(train=["a", "b"], val=["c"], test=["d"], instances={"train": ["x1"]})
    Split(trials=[gzsl, zsl_with_instances], protocol="custom", class_set_sha256=cs.sha256).save(tmp_path / "s.json")
    res = training_classes(tmp_path / "cs.json", tmp_path / "s.json", 0)
    assert res.train_ids == seen and res.train_pos == {0: 0, 1: 1} and res.allowed_ids == {"x1", "x2"}
    # was: pretrain-video used instances.train whenever a trial listed instances, pretrain-audio only for GZSL
    assert training_classes(tmp_path / "cs.json", tmp_path / "s.json", 1).allowed_ids is None
    # inputs whose ids are not instance ids (image crops): every instance of the training classes
    assert training_classes(tmp_path / "cs.json", tmp_path / "s.json", 0, instance_ids=False).allowed_ids is None

    Split(trials=[Trial(train=seen, val=seen, test=seen + ["c"], seen=seen, unseen=["c"])], protocol="gzsl",
          class_set_sha256=cs.sha256).save(tmp_path / "g.json")
    with pytest.raises(ZslError, match=r"lists no training instances \(instances.train\)") as e:
        training_classes(tmp_path / "cs.json", tmp_path / "g.json", 0)
    assert "zsl split --protocol gzsl" in e.value.hint


def test_save_pretrained_is_atomic_and_leaves_no_temp_file(tmp_path, monkeypatch):
    import torch

    from zsltool.extract.pretrain import save_pretrained

    net = torch.nn.Linear(3, 2)
    out = tmp_path / "w.pth"
    side, meta = save_pretrained(net, out, "zsl.test", {"x": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pth", "w.pth.json"]
    assert torch.equal(torch.load(out, weights_only=True)["weight"], net.weight.detach())
    before = out.read_bytes()

    def half_written(obj, f, *a, **k):  # dies after writing part of the file
        (f.write if hasattr(f, "write") else open(f, "wb").write)(b"partial")
        raise OSError("disk full")

    # was: a fixed temp name (.w.pth.tmp) written in place and left behind on failure
    monkeypatch.setattr(torch, "save", half_written)
    with pytest.raises(OSError, match="disk full"):
        save_pretrained(torch.nn.Linear(3, 2), out, "zsl.test", {"x": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pth", "w.pth.json"] and out.read_bytes() == before
