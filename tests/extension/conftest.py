"""The machinery of the extension tests (docs/DESIGN.md's map "To add ..., touch these files", issue 22 item 6).

Each test adds a toy X the way a contributor would: a new file (a module in a temporary folder) and edits of
the registries in the files that X's row of the map names, then runs X end to end through the CLI. The edits
go through :class:`Contributor`, which refuses a file the row does not name: a row that needs more files than it
says fails. The edits are applied to a fresh import of zsltool (as the edited source would be), which the
fixture gives back afterwards, so no other test sees the toy.
"""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def read_design_rows() -> dict[str, set[str]]:
    """Row of the map ("a metric", "a split protocol", ...) -> the zsltool files its "write" and "register"
    cells name (the last cell says what then follows, in files nobody edits)."""
    design = (REPO / "docs" / "DESIGN.md").read_text()
    section = design.split("## To add ...", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in ("to add", "") or set(cells[0]) <= {"-"}:
            continue
        rows[re.sub(r"\s*\(.*\)$", "", cells[0])] = set(re.findall(r"`(zsltool/[\w/.]+\.py)", " ".join(cells[1:3])))
    return rows


class Contributor:
    """Edits in the files of one row of the map, on a fresh import of zsltool."""

    def __init__(self, row: str, folder: Path, monkeypatch):
        rows = read_design_rows()
        assert row in rows, f"docs/DESIGN.md has no row {row!r} (rows: {sorted(rows)})"
        self.row, self.files, self.folder, self.mp = row, rows[row], folder, monkeypatch
        self.new_modules: list[str] = []

    def edit(self, path: str):
        """The module of ``path`` (e.g. ``zsltool/names.py``), to change as an edit of that file would."""
        assert path in self.files, f"the row {self.row!r} of docs/DESIGN.md does not name {path}"
        return importlib.import_module(path[:-3].replace("/", ".").removesuffix(".__init__"))

    def new_file(self, name: str, source: str):
        """One new module (the row's "one new file"), importable as ``name``."""
        (self.folder / f"{name}.py").write_text(textwrap.dedent(source))
        self.mp.syspath_prepend(str(self.folder))
        assert name not in sys.modules
        self.new_modules.append(name)
        return importlib.import_module(name)


@pytest.fixture
def design_rows() -> dict[str, set[str]]:
    """Row of docs/DESIGN.md's map -> the zsltool files its "write" and "register" cells name."""
    return read_design_rows()


@pytest.fixture
def contributor(tmp_path, monkeypatch):
    """``contributor(row)``: a :class:`Contributor` on a fresh zsltool; the original modules come back after."""
    saved = {k: m for k, m in sys.modules.items() if k == "zsltool" or k.startswith("zsltool.")}
    for k in saved:
        del sys.modules[k]
    made = []

    def make(row: str) -> Contributor:
        made.append(Contributor(row, tmp_path / "toy", monkeypatch))
        made[-1].folder.mkdir(exist_ok=True)
        return made[-1]

    yield make
    toys = [n for c in made for n in c.new_modules]
    for k in [k for k in sys.modules if k == "zsltool" or k.startswith("zsltool.") or k in toys]:
        del sys.modules[k]
    sys.modules.update(saved)


def ok_result(res):
    assert res.exit_code == 0, res.stderr + res.stdout
    return res


@pytest.fixture
def ok():
    """``ok(cli(...))``: the result, after asserting that the command succeeded."""
    return ok_result
