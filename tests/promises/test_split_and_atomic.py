"""Hand-edited GZSL splits with overlapping instance sets are refused by load_split and inspect --check, and a
failed atomic write leaves the old bytes and no temporary file."""

from __future__ import annotations

import json
import os

import pytest

from zsltool.classes.splits import Split, Trial, load_split
from zsltool.errors import ZslError
from zsltool.files.checks import atomic_write_bytes, atomic_write_json


def _gzsl_split(path, **instances):
    inst = {"train": ["a1", "a2"], "val": ["a3"], "test_seen": ["a4", "b4"], "val_unseen": ["c1"]}
    inst.update(instances)
    t = Trial(train=["A", "B"], val=["A", "B", "C"], test=["A", "B", "C", "D"], seen=["A", "B"], unseen=["C", "D"],
              instances=inst)
    # written as a hand edit would be: the JSON of a valid split with one list changed
    Split(trials=[Trial(train=t.train, val=t.val, test=t.test, seen=t.seen, unseen=t.unseen,
                        instances={"train": ["a1", "a2"], "val": ["a3"], "test_seen": ["a4", "b4"],
                                   "val_unseen": ["c1"]})], protocol="gzsl").save(path)
    d = json.loads(path.read_text())
    d["trials"][0]["instances"] = inst
    path.write_text(json.dumps(d))
    return path


def test_valid_gzsl_split_loads(tmp_path, cli):
    p = _gzsl_split(tmp_path / "s.json")
    assert load_split(p).trial(0).instances["test_seen"] == ["a4", "b4"]
    assert cli("inspect", p, "--check").exit_code == 0


@pytest.mark.parametrize("edit,pair", [
    ({"test_seen": ["a4", "a1"]}, "train and test_seen"),
    ({"val": ["a3", "b4"]}, "val and test_seen"),
    ({"train": ["a1", "a2", "a3"]}, "train and val"),
    ({"val_unseen": ["c1", "a4"]}, "val_unseen and test_seen"),
    ({"val_unseen": ["c1", "a2"]}, "val_unseen and train"),
])
def test_overlapping_gzsl_instance_sets_are_refused(tmp_path, cli, check_user_error, edit, pair):
    p = _gzsl_split(tmp_path / "s.json", **edit)
    with pytest.raises(ZslError, match=f"instance sets {pair} overlap"):
        load_split(p)
    check_user_error(cli("inspect", p, "--check"), f"instance sets {pair} overlap")


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_failed_atomic_write_keeps_the_old_bytes_and_no_temp(tmp_path, monkeypatch, failing):
    target = tmp_path / "results.json"
    atomic_write_json(target, {"old": True})
    old = target.read_bytes()

    def boom(*a, **k):
        raise OSError(5, "Input/output error")

    if failing == "replace":
        monkeypatch.setattr(os, "replace", boom)
    elif failing == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    else:  # half the bytes written, then the write fails
        real = os.fdopen

        class HalfWrite:
            def __init__(self, fh):
                self.fh = fh

            def __enter__(self):
                return self

            def __exit__(self, *_exc):
                self.fh.close()

            def write(self, data):
                self.fh.write(data[: len(data) // 2])
                self.fh.flush()
                boom()

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWrite(real(fd, mode)))
    with pytest.raises(OSError):
        atomic_write_bytes(target, b'{"new": true}')
    monkeypatch.undo()
    assert target.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_split_save_failure_keeps_the_old_split(tmp_path, monkeypatch):
    p = _gzsl_split(tmp_path / "s.json")
    old = p.read_bytes()
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    s = load_split(p)
    with pytest.raises(ZslError, match="no space left writing"):
        s.save(p, overwrite=True)
    monkeypatch.undo()
    assert p.read_bytes() == old and sorted(q.name for q in tmp_path.iterdir()) == ["s.json"]
