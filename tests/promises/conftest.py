"""What zsl promises for every command (docs/DESIGN.md, "What zsl promises"), a file per promise or command
family: a user's mistake is one `Error: ...` line and exit 1 (a usage error exit 2), nothing is lost or
half-written, no file runs code, every option has a help text. The bad-input corpus and issue 21's planted-bug tests are in tests/corpus/.

Shared inputs: tiny synthetic embedding files, class sets, a split and a few files of the wrong kind.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest


@pytest.fixture(scope="session")
def qa(tmp_path_factory) -> SimpleNamespace:
    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import Split, Trial
    from zsltool.train.synthetic import make_synthetic

    d = tmp_path_factory.mktemp("qa")
    syn = make_synthetic(d / "syn", n_classes=6, per_class=4, audio_dim=6, video_dim=5, text_dim=4, image_dim=3)
    tones = ClassSet(classes=[{"id": c, "name": c} for c in ("low", "high", "other", "x")], name="tones")
    tones.save(d / "tones.json")
    Split(trials=[Trial(train=["low", "high"], val=["other"], test=["x"])], protocol="random",
          class_set_sha256=tones.sha256, seed=0).save(d / "tones_split.json")
    Split(trials=[Trial(train=["low"], val=["other"], test=["x"])], protocol="random",
          class_set_sha256=tones.sha256, seed=0).save(d / "tones_split_1train.json")
    (d / "clips.csv").write_text("id,path,labels,start,end\nc0,a0.wav,low,,\nc1,a1.wav,high,,\nc2,a2.wav,low,,\n")
    (d / "binary.bin").write_bytes(bytes(range(256)))
    (d / "empty.csv").write_text("")
    (d / "plain.json").write_text('{"a": 1}')
    (d / "folder").mkdir()
    np.save(d / "m.npy", np.arange(12, dtype=np.float32).reshape(4, 3))
    (d / "ids.csv").write_text("id,labels\na,c00\nb,c01\nc,c02\nd,c03\n")
    return SimpleNamespace(dir=d, syn=syn, tones=d / "tones.json", tones_split=d / "tones_split.json",
                           tones_split_1train=d / "tones_split_1train.json", clips=d / "clips.csv",
                           binary=d / "binary.bin", empty=d / "empty.csv", plain_json=d / "plain.json",
                           folder=d / "folder", npy=d / "m.npy", ids=d / "ids.csv")


@pytest.fixture
def out(tmp_path) -> Path:
    """A fresh output folder per test."""
    return tmp_path
