"""--seed: a negative seed is a usage error (exit 2), never numpy's "internal error"."""

from __future__ import annotations

import click
import typer.main

from zsltool.cli.app import app


def test_negative_seed_is_a_usage_error(qa, cli, out):
    # was: "Error: internal error: ValueError: ... negative" from numpy's default_rng, exit 1
    for args in (("split", qa.tones, "-p", "random", "--seed", "-1", "-o", out / "s.json"),
                 ("--seed", "-3", "split", qa.tones, "-p", "random", "-o", out / "s.json")):
        res = cli(*args)
        assert res.exit_code == 2, (res.exit_code, res.stderr)
        assert "internal error" not in res.stderr and "Invalid value" in res.stderr, res.stderr
    assert not (out / "s.json").exists()
    res = cli("split", qa.tones, "-p", "random", "--trials", "1", "--seed", "0", "-o", out / "s.json", "--json")
    assert res.exit_code == 0, res.stderr


def test_every_seed_option_refuses_negatives():
    group = typer.main.get_command(app)
    seeds = {"zsl": next(p for p in group.params if p.name == "seed")}
    seeds.update({name: p for name, cmd in group.commands.items() for p in cmd.params if p.name == "seed"})
    assert len(seeds) >= 12
    loose = [name for name, p in seeds.items() if not (isinstance(p.type, click.IntRange) and p.type.min == 0)]
    assert loose == []
