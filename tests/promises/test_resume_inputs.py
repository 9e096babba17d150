"""A damaged OUT.last-epoch.pt (the resume point of pretrain-audio, pretrain-image and pretrain-video) is one
``Error:`` line with a hint, exit 1, no traceback: a checkpoint of the same run with an entry missing or of the
wrong shape, a truncated file, a pickle that weights_only refuses. The checkpoint, the inputs and the output
name are left as they were; the hint (--no-resume) then works.

The checkpoints are real: each command runs one epoch and its epoch checkpoint is copied as it is written."""

from __future__ import annotations

import builtins
import hashlib

import numpy as np
import pytest


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def _tree(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _audio_inputs(d):
    import soundfile as sf

    sr = 16000
    t = np.arange(sr) / sr
    for name, f0 in (("low", 300), ("high", 3000)):
        sf.write(d / f"{name}.wav", (0.3 * np.sin(2 * np.pi * f0 * t)).astype(np.float32), sr)
    (d / "clips.csv").write_text("id,path,labels,start,end\nc0,low.wav,low,,\nc1,high.wav,high,,\n")
    return ["pretrain-audio", d / "clips.csv", "--width", "0.0625", "--workers", "0", "--batch-size", "2"]


def _image_inputs(d):
    from zsltool.testing.images import write_colour_crops

    crops = write_colour_crops(d, {"low": (220, 30, 30), "high": (30, 30, 220)}, per_class=2, seed=1)
    return ["pretrain-image", crops, "--model", "smallcnn", "--image-size", "16", "--batch-size", "2"]


def _video_inputs(d):
    from zsltool.testing.video import write_colour_clips

    clips = write_colour_clips(d, {"low": (220, 30, 30), "high": (30, 30, 220)}, per_class=2)
    return ["pretrain-video", clips, "--model", "small3d", "--frame-size", "16", "--clip-len", "8",
            "--batch-size", "2"]


def _missing(*keys):
    def damage(s, marker):
        *parents, last = keys
        for k in parents:
            s = s[k]
        del s[last]
    return damage


def _shape_of_first_moment(s, marker):
    s["optimizer"]["state"][0]["exp_avg"] = s["optimizer"]["state"][0]["exp_avg"].flatten()[:3]


def _python_rng(s, marker):
    s["rng"]["python"]["state"] = s["rng"]["python"]["state"][:10]


def _history_not_a_list(s, marker):
    s["history"] = {"epoch": 1}


def _pickle(s, marker):
    s["bad"] = {"c0": Payload(marker)}


def _truncated(s, marker):
    return "truncated"


def _network_shape(s, marker):
    k = next(iter(s["network"]))
    s["network"][k] = s["network"][k][:1]


# (id, damage, fragment of the Error line); pretrain-audio takes every case, the others a few
CASES = [
    ("no-network", _missing("network"), "'network' is missing"),
    ("no-optimizer", _missing("optimizer"), "'optimizer' is missing"),
    ("no-epoch", _missing("epoch"), "'epoch' is missing"),
    ("no-rng-torch", _missing("rng", "torch"), "'torch' is missing"),
    ("network-shape", _network_shape, "expected"),
    ("moment-shape", _shape_of_first_moment, "'exp_avg' of parameter 0"),
    ("python-rng", _python_rng, "'python.state'"),
    ("history", _history_not_a_list, "'history' is of type dict"),
    ("pickle", _pickle, "never unpickles"),
    ("truncated", _truncated, "corrupt or truncated"),
]
FEW = {"no-optimizer", "moment-shape", "truncated"}
COMMANDS = {"audio": _audio_inputs, "image": _image_inputs, "video": _video_inputs}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cli):
    """Per command: (its argv without -o, the inputs folder, a real checkpoint after epoch 1)."""
    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import Split, Trial
    from zsltool.extract import pretrain as P

    made = {}
    for name, inputs in COMMANDS.items():
        d = tmp_path_factory.mktemp(f"resume-{name}")
        argv = inputs(d)
        cs = ClassSet(classes=[{"id": c, "name": c} for c in ("low", "high", "x")], name="tones")
        cs.save(d / "C.json")
        Split(trials=[Trial(train=["low", "high"], val=[], test=["x"])], protocol="custom",
              class_set_sha256=cs.sha256).save(d / "S.json")
        argv = [*argv, "--classes", d / "C.json", "--split", d / "S.json", "--epochs", "2", "--seed", "1"]
        written = []
        write = P.write_epoch_checkpoint
        mp = pytest.MonkeyPatch()
        mp.setattr(P, "write_epoch_checkpoint", lambda path, state: (write(path, state),
                                                                      written.append(path.read_bytes())))
        try:
            res = cli(*argv, "-o", d.parent / f"{d.name}-first.pth")
        finally:
            mp.undo()
        assert res.exit_code == 0, res.stderr
        assert len(written) == 2
        made[name] = (argv, d, written[0])
    return made


def _params():
    for name in COMMANDS:
        for cid, damage, frag in CASES:
            if name == "audio" or cid in FEW:
                yield pytest.param(name, damage, frag, id=f"{name}-{cid}")


@pytest.mark.parametrize("name,damage,fragment", list(_params()))
def test_a_damaged_epoch_checkpoint_is_one_error_and_is_kept(runs, cli, check_user_error, tmp_path, name, damage,
                                                              fragment):
    import io

    import torch

    argv, d, good = runs[name]
    out = tmp_path / "net.pth"
    ckpt = tmp_path / "net.pth.last-epoch.pt"
    state = torch.load(io.BytesIO(good), weights_only=True)
    assert state["epoch"] == 1
    if damage(state, tmp_path / "PWNED") == "truncated":
        ckpt.write_bytes(good[:len(good) // 2])
    else:
        torch.save(state, ckpt)
    before, inputs = ckpt.read_bytes(), _tree(d)
    res = cli(*argv, "-o", out)
    err = check_user_error(res, str(ckpt), fragment)
    assert "--no-resume" in res.stderr, res.stderr
    assert ckpt.read_bytes() == before, "the checkpoint changed"
    assert _tree(d) == inputs, "an input changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.pth.last-epoch.pt"], err  # no output, no temp file
    assert not (tmp_path / "PWNED").exists()


def test_the_intact_checkpoint_resumes_and_no_resume_starts_over(runs, cli, tmp_path):
    """The same checkpoint undamaged resumes (the damage, not the setup, makes the errors above); the hint's
    --no-resume replaces a damaged one."""
    argv, d, good = runs["audio"]
    ckpt = tmp_path / "net.pth.last-epoch.pt"
    ckpt.write_bytes(good)
    res = cli(*argv, "-o", tmp_path / "net.pth")
    assert res.exit_code == 0, res.stderr
    assert "resuming after epoch 1 of 2" in res.stderr and not ckpt.exists()
    ckpt.write_bytes(good[:100])
    res = cli(*argv, "-o", tmp_path / "net.pth", "--overwrite", "--no-resume")
    assert res.exit_code == 0 and "resuming" not in res.stderr, res.stderr
    assert not ckpt.exists()
