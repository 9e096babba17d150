"""Documentation checks: every subcommand appears in the README, and the README's example command lines use
only options that exist (help texts: tests/known_issues/test_help.py)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import typer.main

from zsltool.cli.app import app

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _root() -> click.Group:
    return typer.main.get_command(app)


def _commands() -> dict[str, click.Command]:
    return dict(_root().commands)


def test_every_subcommand_is_in_the_readme():
    missing = [n for n in _commands() if f"zsl {n}" not in README]
    assert not missing, f"subcommands missing from README.md: {missing}"


def zsl_command_lines(text: str) -> list[list[str]]:
    """Each `zsl ...` command line of the ```bash blocks, continuation lines joined, comments dropped."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.strip()
            if not line.startswith("zsl "):
                continue
            tokens = shlex.split(line, comments=True)
            lines.append(tokens)
    return lines


def check_options(tokens: list[str]) -> list[str]:
    """Problems of one `zsl ...` command line: unknown command or options."""
    root = _root()
    glob = {o for p in root.params for o in p.opts + p.secondary_opts}
    i = 1
    while i < len(tokens) and tokens[i].startswith("-"):
        opt = tokens[i].split("=")[0]
        if opt not in glob:
            return [f"unknown global option {opt} in: {' '.join(tokens)}"]
        param = next(p for p in root.params if opt in p.opts + p.secondary_opts)
        i += 1 if (getattr(param, "is_flag", False) or getattr(param, "count", False)) else 2
    if i >= len(tokens):
        return []
    name = tokens[i]
    cmd = root.commands.get(name)
    if cmd is None:
        return [f"unknown command {name!r} in: {' '.join(tokens)}"]
    while isinstance(cmd, click.Group) and i + 1 < len(tokens) and tokens[i + 1] in cmd.commands:
        i += 1  # a command group (zsl prepare RECIPE): check the sub-command's options
        name, cmd = f"{name} {tokens[i]}", cmd.commands[tokens[i]]
    known = {o for p in cmd.params for o in p.opts + p.secondary_opts} | {"--help"} | glob  # global: after too
    return [f"zsl {name}: unknown option {t.split('=')[0]}" for t in tokens[i + 1:]
            if t.startswith("-") and t != "-" and not re.match(r"^-\d", t) and t.split("=")[0] not in known]


def test_readme_examples_use_existing_options():
    lines = zsl_command_lines(README)
    assert len(lines) > 20
    problems = [p for t in lines for p in check_options(t)]
    assert not problems, "\n".join(problems)


def test_the_option_checker_catches_mistakes():
    assert check_options(["zsl", "inspect", "x.h5", "--check"]) == []
    assert check_options(["zsl", "-q", "--seed", "3", "merge", "a.h5", "-o", "b.h5"]) == []
    assert check_options(["zsl", "inspect", "--nope"]) == ["zsl inspect: unknown option --nope"]
    assert check_options(["zsl", "frobnicate"])[0].startswith("unknown command 'frobnicate'")


@pytest.mark.parametrize("doc", sorted(p.name for p in (REPO / "docs").glob("*.md")))
def test_docs_pages_are_linked_from_the_readme(doc):
    if doc == "DESIGN.md":
        assert "docs/DESIGN.md" in README
    else:
        assert doc in README, f"docs/{doc} is not mentioned in README.md"


def test_paper_page_commands_use_existing_options():
    """docs/paper.md: every table and figure of both papers, with commands that exist."""
    text = (REPO / "docs" / "paper.md").read_text()
    lines = zsl_command_lines(text)
    assert len(lines) > 15
    problems = [p for t in lines for p in check_options(t)]
    assert not problems, "\n".join(problems)
    for item in ("Table I", "Table II", "Table III", "Table IV", "Table V", "Table 1", "Table 2", "Table 3",
                 "Table 4", "Fig. 5", "Fig. 6", "Fig. 7"):
        assert f"| {item} |" in text, item


def test_design_map_names_files_that_exist():
    """docs/DESIGN.md's layout and its "To add ..., touch these files" map name only files and folders that
    exist (the map is how a newcomer finds where to add an extractor, a method, a metric, a split protocol)."""
    design = (REPO / "docs" / "DESIGN.md").read_text()
    section = design.split("## To add ...", 1)[1].split("\n## ", 1)[0]
    paths = set(re.findall(r"`((?:zsltool|tests)/[\w/.]+)`", section))
    assert len(paths) >= 10
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, f"DESIGN.md's map names files that do not exist: {missing}"
    layout = design.split("## Layout", 1)[1].split("\n## ", 1)[0]
    top = set(re.findall(r"^  ([\w./]+?)/?\s", layout, flags=re.M))
    gone = sorted(t for t in top if not ("*" in t or (REPO / "zsltool" / t).exists()
                                          or list((REPO / "zsltool").glob(t.split(",")[0]))))
    assert not gone, f"DESIGN.md's layout names modules that do not exist: {gone}"
    assert "What zsl promises" in design
