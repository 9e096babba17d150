"""zsl train with bad optimiser values and method arguments: user errors, never internal errors."""

from __future__ import annotations

import pytest


@pytest.fixture
def train(qa, cli, out):
    def run(*extra, video=False):
        args = ["train", "--audio", qa.syn.audio, "--split", qa.syn.split, "--text", qa.syn.text,
                "-o", out / "m.pt", "--epochs", "1"]
        if video:
            args += ["--video", qa.syn.video]
        return cli(*args, *extra)
    return run


@pytest.mark.parametrize("opt,value,msg", [("--lr", "-1", "out of range (0 < x)"),
                                           ("--lr", "nan", "not a finite number"),
                                           ("--weight-decay", "-1", "out of range (0 <= x)"),
                                           ("--momentum", "inf", "not a finite number"),
                                           ("--momentum", "1", "out of range (0 <= x < 1)"),  # was: accepted,
                                           ("--momentum", "2", "out of range (0 <= x < 1)")])  # never converges
def test_optimiser_values(train, check_usage_error, out, opt, value, msg):
    # --lr -1 / --weight-decay -1 were internal ValueErrors from torch.optim; nan trained until it diverged.
    # Now the shared finite float option type refuses them as usage errors.
    check_usage_error(train(opt, value), opt, msg)
    assert not (out / "m.pt").exists()


@pytest.mark.parametrize("args,method,msg", [
    (["margin=abc"], "projection", "margin='abc' must be a number"),      # was: internal ValueError
    (["bias=maybe"], "projection", "bias='maybe' must be true or false"),  # was: trained with bias='maybe'
    (["margin=-1"], "projection", "must be a finite number of at least 0"),
    (["rank=-2"], "projection", "rank=-2 must be at least 0"),             # was: internal RuntimeError
    (["rank=zz"], "projection", "rank='zz' must be a whole number"),       # was: internal ValueError
    (["rank=2.9"], "projection", "must be a whole number"),                # was: silently rank 2
    (["lam=0"], "eszsl", "must be above 0"),                               # was: a singular solve
    (["lam=0"], "sae", "must be above 0"),
    (["hidden=0"], "avgzslnet", "hidden=0 must be at least 1"),
    (["dropout=2"], "avgzslnet", "dropout must be at least 0 and below 1"),  # was: internal ValueError
    (["top_t=-1"], "conse", "top_t=-1 must be at least 1"),                # was: internal RuntimeError
    (["hidden=-1"], "conse", "hidden=-1 must be at least 0"),
])
def test_method_arguments(train, check_user_error, args, method, msg):
    extra = ["--method", method]
    for a in args:
        extra += ["--arg", a]
    check_user_error(train(*extra, video=method == "avgzslnet"), msg)


def test_switching_off_every_loss_term_is_refused(train, check_user_error):
    # was: internal AttributeError ('int' object has no attribute 'backward')
    check_user_error(train("--method", "audio-only", "--disable-loss", "ta", "--disable-loss", "at"),
                     "every loss term of 'audio-only' is switched off")


def test_gzsl_trial_without_training_instances_is_refused(qa, cli, out, check_user_error, tmp_path):
    # was: silently trained on every seen instance, the test-seen ones included
    import json

    from zsltool.classes.splits import Split, Trial
    from zsltool.store import read_embeddings

    classes = read_embeddings(qa.syn.audio).classes
    Split(trials=[Trial(train=classes[:3], val=classes[:3], test=classes, seen=classes[:3], unseen=classes[3:],
                        instances={"val": [], "test_seen": []})],
          protocol="gzsl", class_set_sha256=qa.syn.class_set_sha256).save(tmp_path / "g.json")
    assert "train" not in json.loads((tmp_path / "g.json").read_text())["trials"][0]["instances"]
    check_user_error(cli("train", "--audio", qa.syn.audio, "--split", tmp_path / "g.json", "--text", qa.syn.text,
                         "-o", out / "g.pt"), "lists no training instances")


def test_disable_loss_on_a_method_without_loss_terms(train, check_user_error):
    # was: "method 'projection' has no argument(s) disabled_losses"
    check_user_error(train("--disable-loss", "rec"), "no loss terms that can be switched off", "avgzslnet")


def test_valid_method_arguments_still_train(train, out):
    res = train("--arg", "margin=0.5", "--arg", "bias=false", "--arg", "rank=2", "--json")
    assert res.exit_code == 0, res.stderr
    from zsltool.train.checkpoint import load_checkpoint

    args = load_checkpoint(out / "m.pt")["method_args"]
    assert (args["rank"], args["bias"], args["margin"]) == (2, False, 0.5)
