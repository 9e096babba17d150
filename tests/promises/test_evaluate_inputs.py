"""Evaluation commands (evaluate, retrieve, experiment, compare): user mistakes give one clear error."""

from __future__ import annotations

import json

import pytest


def _result(path, method, split, top1, *, trial=0, split_sha="a" * 64, semantic="text"):
    """A hand-made `zsl evaluate` results file (task zsl) of one method on one split trial."""
    from zsltool.evaluate.results import results_doc, write_results

    man = {"config": {"method": method, "semantic": semantic, "split": str(split), "trial": trial,
                      "modality": "both"},
           "inputs": [{"path": str(split), "sha256": split_sha}]}
    write_results(path, results_doc("zsl", man, {"top1": top1, "mean_class_acc": top1, "n_test": 10,
                                                 "beta_source": "given", "uncalibrated": {"S": 0.1}}))
    return path


@pytest.fixture
def two_blocks(tmp_path):
    """projection and eszsl on two trials of one split."""
    return [_result(tmp_path / f"{m}{k}.json", m, "s.json", 0.5 + 0.1 * k + (0.05 if m == "eszsl" else 0),
                    trial=k) for m in ("projection", "eszsl") for k in (0, 1)]


def test_compare_treatment_twice_in_one_block(tmp_path, two_blocks, cli, check_user_error):
    # was: the second file silently overwrote the first one's score in the block
    again = _result(tmp_path / "again.json", "projection", "s.json", 0.9)
    res = cli("compare", *two_blocks, again)
    err = check_user_error(res, "'projection' appears twice", "again.json")
    assert "projection0.json" in err


def test_compare_non_numeric_metric(two_blocks, cli, check_user_error):
    # was: internal error (ValueError / TypeError from float())
    for metric in ("beta_source", "uncalibrated"):
        res = cli("compare", *two_blocks, "--metric", metric)
        check_user_error(res, f"metric {metric!r} is not a number", "mean_class_acc", "n_test", "top1")
    res = cli("compare", *two_blocks, "--metric", "nope")
    check_user_error(res, "no results carry the metric 'nope'", "top1")


def test_compare_blocks_are_matched_on_the_split_hash(tmp_path, cli):
    """The same split reached through two paths is one block; two different splits under one path are two."""
    files = [_result(tmp_path / "p0.json", "projection", "run1/s.json", 0.5, split_sha="a" * 64),
             _result(tmp_path / "e0.json", "eszsl", "run2/../run1/s.json", 0.6, split_sha="a" * 64),
             _result(tmp_path / "p1.json", "projection", "s.json", 0.7, split_sha="b" * 64),
             _result(tmp_path / "e1.json", "eszsl", "s.json", 0.8, split_sha="b" * 64),
             _result(tmp_path / "p2.json", "projection", "s.json", 0.4, split_sha="c" * 64)]
    res = cli("compare", *files, "--json")
    assert res.exit_code == 0, res.stderr
    comp = json.loads(res.stdout)
    assert (comp["blocks_used"], comp["blocks_dropped"], comp["n_blocks"]) == (2, 1, 2)
