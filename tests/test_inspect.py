"""`zsl inspect` on every kind of zsl file, and --check exit codes."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from zsltool.classes.classset import ClassSet
from zsltool.classes.splits import Split, Trial
from zsltool.store import StoreMeta, write_embeddings


def _emb(path, n=3):
    write_embeddings(path, meta=StoreMeta(kind="instance", modality="audio", extractor="fake"),
                     ids=[f"i{k}" for k in range(n)], X=np.ones((n, 2)), classes=["a", "b"],
                     labels=[[k % 2] for k in range(n)], valid=[True] * (n - 1) + [False],
                     reasons=[""] * (n - 1) + ["empty file"])
    return path


def test_inspect_embedding_file_json(cli, tmp_path):
    p = _emb(tmp_path / "e.h5")
    r = cli("inspect", p, "--json")
    assert r.exit_code == 0, r.stderr
    s = r.json()["summary"]
    assert (s["rows"], s["dim"], s["valid"], s["invalid"], s["classes"]) == (3, 2, 2, 1, 2)
    assert s["invalid_reasons"] == {"empty file": 1} and s["rows_per_class_min_max"] == [1, 2]
    assert r.json()["violations"] == []


def test_inspect_check_exit_codes(cli, tmp_path):
    p = _emb(tmp_path / "e.h5")
    assert cli("inspect", "--check", p).exit_code == 0
    with h5py.File(p, "r+") as f:
        f["embeddings"][0, 0] = np.inf
    r = cli("inspect", "--check", p, "--json")
    assert r.exit_code == 1
    assert "1 valid rows contain NaN or Inf" in r.json()["violations"][0]
    assert r.stderr.startswith("Error: ") and "1 violation(s)" in r.stderr
    # Without --check the summary is printed and the exit code is 0.
    assert cli("inspect", p).exit_code == 0


def test_inspect_scans_values_only_with_check(cli, tmp_path, monkeypatch):
    # was: every value of the file was read and scanned for NaN/Inf on a plain `zsl inspect` too
    import zsltool.store.reader as reader

    p = _emb(tmp_path / "e.h5")
    with h5py.File(p, "r+") as f:
        f["embeddings"][0, 0] = np.nan
    scans = []
    real = reader.collect_violations
    monkeypatch.setattr(reader, "collect_violations", lambda f, check_values=True: scans.append(check_values)
                        or real(f, check_values=check_values))
    r = cli("inspect", p, "--json")
    assert r.exit_code == 0 and r.json()["violations"] == [] and r.json()["summary"]["rows"] == 3
    r = cli("inspect", p, "--check", "--json")
    assert r.exit_code == 1 and "1 valid rows contain NaN or Inf" in r.json()["violations"][0]
    assert scans == [False, True]


def test_inspect_class_set_and_split(cli, tmp_path):
    cs = ClassSet(classes=[{"id": c, "name": c.title(), "category": "Animal" if c in "dogcat" else None}
                           for c in ("dog", "cat", "bus", "car")])
    cs.save(tmp_path / "c.json")
    r = cli("inspect", tmp_path / "c.json", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["summary"]["classes"] == 4 and r.json()["summary"]["categories"] == {"Animal": 2, "none": 2}
    Split(trials=[Trial(train=["dog", "bus"], val=["cat"], test=["car"])], protocol="random",
          class_set_sha256=cs.sha256).save(tmp_path / "s.json")
    r = cli("inspect", "--check", tmp_path / "s.json", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["summary"]["sizes"] == [{"train": 2, "val": 1, "test": 1}]
    # A hand-edited split with overlapping classes fails the check.
    import json

    d = json.loads((tmp_path / "s.json").read_text())
    d["trials"][0]["test"] = ["dog"]
    (tmp_path / "bad.json").write_text(json.dumps(d))
    r = cli("inspect", "--check", tmp_path / "bad.json")
    assert r.exit_code == 1 and "train and test classes overlap: dog" in r.stderr


def test_inspect_checkpoint(cli, tmp_path):
    import torch

    torch.save({"format": "zsl.checkpoint", "format_version": 1, "method": "projection",
                "state_dict": {"U": torch.zeros(3, 2)}, "classes": {"train": ["a", "b"]}}, tmp_path / "m.pt")
    r = cli("inspect", tmp_path / "m.pt", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["summary"]["parameters"] == 6 and r.json()["summary"]["method"] == "projection"
    torch.save({"other": 1}, tmp_path / "o.pt")
    assert cli("inspect", "--check", tmp_path / "o.pt").exit_code == 1


def test_inspect_rejects_unknown_json(cli, tmp_path):
    (tmp_path / "x.json").write_text('{"format": "something"}')
    r = cli("inspect", tmp_path / "x.json")
    assert r.exit_code == 1 and "is not a zsl file" in r.stderr


class _Obj:  # a pickled Python object: never unpickled by zsl
    pass


def test_inspect_checkpoint_errors_are_the_shared_short_messages(cli, tmp_path):
    import torch

    torch.save({"format": "zsl.checkpoint", "obj": _Obj()}, tmp_path / "pickled.pt")
    r = cli("inspect", tmp_path / "pickled.pt")
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: cannot load checkpoint {tmp_path / 'pickled.pt'}: it holds Python objects "
                               "other than tensors and plain data, which zsl never unpickles")
    assert len(r.stderr.strip().splitlines()) == 1 and "made by zsl train" in r.stderr
    torch.save({"format": "zsl.checkpoint", "state_dict": {"U": torch.zeros(50, 50)}}, tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    r = cli("inspect", tmp_path / "cut.pt")
    assert r.exit_code == 1 and r.stderr.startswith(f"Error: cannot load checkpoint {tmp_path / 'cut.pt'}: ")
    assert "(corrupt or truncated?)" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    import pickle

    (tmp_path / "plain.pkl").write_bytes(pickle.dumps(_Obj(), protocol=2))  # legacy pickle head b"\x80"
    r = cli("inspect", tmp_path / "plain.pkl")
    assert r.exit_code == 1 and r.stderr.startswith("Error: cannot load checkpoint")
    np.savez(tmp_path / "a.npz", x=np.zeros(2))
    r = cli("inspect", tmp_path / "a.npz")
    assert r.exit_code == 1 and "is a zip archive but not a torch file (.npz?)" in r.stderr


@pytest.mark.parametrize("field,value,message", [
    ("seed", "7", "'seed' must be an integer and 'class_set_sha256' a string"),
    ("class_set_sha256", 5, "'seed' must be an integer and 'class_set_sha256' a string"),
    ("params", [1], "'params' a JSON object"),
    ("trials", [["dog"]], "trial 0: a trial must be a JSON object, found list"),
    ("trials", [{"train": ["dog"], "test": "car"}], "trial 0: 'test' must be a list of ids"),
])
def test_inspect_check_and_load_split_agree(cli, tmp_path, field, value, message):
    """`zsl inspect --check` uses load_split's own validation: what load_split rejects fails the check."""
    import json

    from zsltool.classes.splits import load_split
    from zsltool.errors import ZslError

    p = Split(trials=[Trial(train=["dog"], val=[], test=["car"])], protocol="random", seed=3).save(tmp_path / "s.json")
    assert cli("inspect", "--check", p).exit_code == 0 and load_split(p).seed == 3
    d = json.loads(p.read_text())
    d[field] = value
    p.write_text(json.dumps(d))
    with pytest.raises(ZslError, match=re.escape(message)):
        load_split(p)
    r = cli("inspect", "--check", p, "--json")
    assert r.exit_code == 1 and any(message in v for v in r.json()["violations"])
