"""Documentation checks: every subcommand appears in the README, and the README's example command lines use
only options that exist (help texts: tests/promises/test_help.py)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import typer.main

from tests.cli_calls import check_call
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


def test_readme_examples_use_existing_options():
    lines = zsl_command_lines(README)
    assert len(lines) > 20
    problems = [f"{' '.join(t[:4])}...: {p}" for t in lines for p in check_call(t[1:])]
    assert not problems, "\n".join(problems)


def test_the_option_checker_catches_mistakes():
    assert check_call(["inspect", "x.h5", "--check"]) == []
    assert check_call(["-q", "--seed", "3", "merge", "a.h5", "-o", "b.h5"]) == []
    assert check_call(["-v", "inspect", "x.h5", "--json", "-q"]) == []  # a global option after the command too
    assert check_call(["inspect", "--nope"]) == ["zsl inspect: unknown option --nope"]
    assert check_call(["frobnicate"]) == ["unknown command 'frobnicate'"]
    assert check_call(["--nope", "inspect"]) == ["unknown global option --nope"]


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
    problems = [f"{' '.join(t[:4])}...: {p}" for t in lines for p in check_call(t[1:])]
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
