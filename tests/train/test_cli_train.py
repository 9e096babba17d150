"""`zsl train` through the CLI: JSON summary, one-line errors with exit 1, usage errors exit 2."""

import json

import pytest

pytestmark = pytest.mark.synthetic(n_classes=8, per_class=8, n_train=4, n_val=2)


def base(syn, out):
    return ["train", "--audio", syn.audio, "--split", syn.split, "--text", syn.text, "--out", out]


def test_train_json_summary(syn, tmp_path, cli):
    out = tmp_path / "m.pt"
    r = cli(*base(syn, out), "--epochs", 2, "--json", "--arg", "activation=none", "--seed", 3)
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["out"] == str(out) and out.exists()     # the key is "out" in every command's JSON
    assert s["method"] == "projection" and s["epochs_run"] == 2 and s["best_metric"] == "val_top1"
    assert s["n_train_instances"] == 32 and s["n_val_instances"] == 16
    import torch

    ck = torch.load(out, weights_only=True)
    assert ck["method_args"]["activation"] == "none" and ck["config"]["seed"] == 3
    assert "epoch 1/2" not in r.stderr          # per-epoch lines only with -v
    r = cli(*base(syn, tmp_path / "v.pt"), "--epochs", 2, "-v")
    assert r.exit_code == 0, r.stderr
    assert "epoch 1/2" in r.stderr and "epoch 2/2" in r.stderr


def test_disable_loss_option(syn, tmp_path, cli):
    r = cli("train", "--audio", syn.audio, "--video", syn.video, "--split", syn.split, "--text", syn.text,
            "--out", tmp_path / "a.pt", "--method", "avgzslnet", "--epochs", 1, "--disable-loss", "rec",
            "--disable-loss", "cta", "--arg", "hidden=8", "--arg", "dec_hidden=8", "--json")
    assert r.exit_code == 0, r.stderr
    last = json.loads(r.stdout)["last_epoch"]
    assert "loss_rec" not in last and "loss_cta" not in last and "loss_ta" in last


@pytest.mark.parametrize("extra,message", [
    (["--semantic", "image"], "--semantic image needs --image FILE"),
    (["--method", "cjme"], "needs a video embedding file"),
    (["--trial", "3"], "trial 3 does not exist"),
    (["--arg", "nope=1"], "has no argument(s) nope"),
])
def test_user_errors_exit_1_with_one_line(syn, tmp_path, extra, message, cli):
    r = cli(*base(syn, tmp_path / "x.pt"), *extra)
    assert r.exit_code == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], r.stderr
    assert not (tmp_path / "x.pt").exists()


def test_existing_output_needs_overwrite(syn, tmp_path, cli):
    out = tmp_path / "m.pt"
    out.write_bytes(b"keep")
    r = cli(*base(syn, out), "--epochs", 1)
    assert r.exit_code == 1 and "--overwrite" in r.stderr and out.read_bytes() == b"keep"
    assert cli(*base(syn, out), "--epochs", 1, "--overwrite").exit_code == 0


@pytest.mark.parametrize("extra", [["--method", "nope"], ["--arg", "novalue"], ["--semantic", "smell"],
                                   ["--epochs", "0"]])
def test_usage_errors_exit_2(syn, tmp_path, extra, cli):
    assert cli(*base(syn, tmp_path / "x.pt"), *extra).exit_code == 2
