"""CLI habits: global options after the command, -v as a flag, usage errors as one `Error:` line plus the
usage line (not typer's boxed panel), --protocol help describing each protocol."""

import numpy as np
import typer

from zsltool.cli.app import app, hoist_global_options


def _import_args(tmp_path):
    np.save(tmp_path / "m.npy", np.ones((1, 2)))
    (tmp_path / "i.csv").write_text("id\na\n")
    return ["import-embeddings", tmp_path / "m.npy", "--ids", tmp_path / "i.csv", "-o", tmp_path / "e.h5"]


def test_global_options_after_the_command(cli, tmp_path):
    from zsltool.cli.common import STATE

    r = cli(*_import_args(tmp_path), "-q", "--seed", "11", "--device=cpu")
    assert r.exit_code == 0, r.stderr
    assert (STATE.seed, STATE.device, STATE.quiet) == (11, "cpu", True)
    assert "wrote" not in r.stderr
    r = cli(*_import_args(tmp_path)[:-1], tmp_path / "e2.h5", "-v")
    assert r.exit_code == 0, r.stderr
    assert STATE.verbose == 1 and STATE.quiet is False and STATE.seed == 0


def test_a_commands_own_option_stays_with_it():
    cmd = typer.main.get_command(app)
    split_params = cmd.commands["split"].params          # split has its own --seed
    moved, rest = hoist_global_options(["c.json", "--seed", "3", "-v", "-p", "random", "--device", "cpu"],
                                       split_params)
    assert moved == ["-v", "--device", "cpu"]
    assert rest == ["c.json", "--seed", "3", "-p", "random"]
    # an option's value that looks like a global option is the option's value; after -- nothing moves
    moved, rest = hoist_global_options(["--out", "-q", "--", "-v"], split_params)
    assert moved == [] and rest == ["--out", "-q", "--", "-v"]


def test_verbose_is_shown_as_a_flag(cli):
    r = cli("--help")
    line = next(ln for ln in r.stdout.splitlines() if "--verbose" in ln)
    assert "INTEGER" not in line and "-v" in line
    assert "may also follow the command" in " ".join(r.stdout.split())


def test_usage_errors_are_one_error_line_plus_usage(cli, tmp_path):
    for args, usage, msg in [
        (("inspect", "x", "--no-such-option"), "Usage: zsl inspect [OPTIONS]", "No such option: --no-such-option"),
        (("no-such-command",), "Usage: zsl [OPTIONS] COMMAND [ARGS]...", "No such command 'no-such-command'."),
        (("split", tmp_path / "c.json", "-p", "nope", "-o", tmp_path / "s.json"), "Usage: zsl split [OPTIONS]",
         "Invalid value for '--protocol' / '-p': 'nope' is not one of"),
        # a BadParameter raised inside the command body
        (("evaluate", tmp_path / "ck.pt", "--beta", "1", "--calibrate"), "Usage: zsl evaluate [OPTIONS]",
         "Invalid value for --beta: give either --beta or --calibrate, not both"),
        # a bad float value (the shared FiniteFloat option type)
        (("evaluate", tmp_path / "ck.pt", "--beta", "nan"), "Usage: zsl evaluate [OPTIONS]",
         "Invalid value for '--beta': 'nan' is not a finite number"),
    ]:
        r = cli(*args)
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 2, (args, r.stderr)
        assert len(lines) == 2 and lines[0].startswith(usage), lines
        assert lines[1].startswith("Error: " + msg) and lines[1].endswith("--help`)"), lines
        assert "╭" not in r.stderr and r.stdout == ""


def test_protocol_help_says_what_each_protocol_is(cli):
    from zsltool.classes.protocols import PROTOCOLS

    assert set(PROTOCOLS) == {"random", "within", "across", "gzsl", "folds"}
    cmd = typer.main.get_command(app)
    (param,) = [p for p in cmd.commands["split"].params if "--protocol" in p.opts]
    for name, p in PROTOCOLS.items():
        assert f"{name}: {p.help}" in param.help, name
    text = " ".join(cli("split", "--help", env={"COLUMNS": "1000"}).stdout.split())
    assert "within: zero-shot inside one category" in text and "folds: K class folds" in text


def test_json_names_the_written_file_out(cli, tmp_path):
    """Was: "output" in some commands' JSON, "out" in others."""
    r = cli(*_import_args(tmp_path), "--json")
    assert r.exit_code == 0, r.stderr
    doc = r.json()
    assert doc["out"] == str(tmp_path / "e.h5") and "output" not in doc
    r = cli("merge", tmp_path / "e.h5", "-o", tmp_path / "m.h5", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["out"] == str(tmp_path / "m.h5") and "output" not in r.json()
