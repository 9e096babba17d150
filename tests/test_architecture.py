"""The shape of zsltool's imports (docs/DESIGN.md, "Layers and imports"): no import cycle among its modules
nor among its packages, and no layer importing a higher one.

The graph has an edge A -> B for every import statement of module A that names zsltool module B: at module
level, inside a function (a function-local import runs at the first call: it defers the cycle, it does not
remove it), under ``if``/``try``. ``from P import name`` is an edge to the module ``P.name`` when that is a
module, else to ``P`` (the package's ``__init__``). Importing ``P.m`` runs the ``__init__`` of every package
above it first, so it is also an edge to each of them, except to the packages that contain the importer: the
package rule below makes those safe. (``importlib.import_module`` by name is not an import statement: the
root package's lazy attributes are not edges.)

The package rule: a package's ``__init__`` is either light (it imports no zsltool module: a docstring,
``__all__``, constants) or a facade (it imports its own modules, e.g. ``zsltool.store`` re-exports the
reader and writer, ``zsltool.prepare`` registers the recipes). A module inside a facade package never imports
that package; it imports the module it needs (``zsltool.store.reader``, not ``zsltool.store``). A facade
importing its modules and one of them importing the facade back is the cycle this rule keeps out; with it,
Python initialising a package before its modules can never loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import zsltool

PACKAGE_DIR = Path(zsltool.__file__).resolve().parent

# Layers, lowest first (docs/DESIGN.md, "Layers and imports"): a module may import modules of its own layer and
# of the layers below it, never above. A name is a package or a module of zsltool; the longest name that
# contains a module gives its layer (store/inspect.py sits in another layer than the rest of its package).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("zsltool", "zsltool.errors", "zsltool.names")),
    ("files", ("zsltool.files",)),
    ("runtime", ("zsltool.runtime",)),
    ("data", ("zsltool.store", "zsltool.classes")),
    ("scores", ("zsltool.scores",)),
    ("models", ("zsltool.extract", "zsltool.methods")),
    ("training", ("zsltool.train",)),
    ("evaluation and classification", ("zsltool.evaluate", "zsltool.classify")),
    ("datasets", ("zsltool.prepare", "zsltool.testing")),
    ("applications", ("zsltool.api", "zsltool.demo", "zsltool.store.inspect")),
    ("command line", ("zsltool.cli", "zsltool.__main__")),
]


# -- the graph ---------------------------------------------------------------------------------------------
def module_files(root: Path, package: str) -> dict[str, Path]:
    """``{dotted module name: file}`` of every module of the package in ``root`` (a package by its name)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def explicit_imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """``(imported module, line)`` of every import statement of module ``name`` that names one of ``modules``."""
    is_pkg = path.name == "__init__.py"
    root = next(iter(modules)).split(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
        else:
            continue
        for t in targets:
            if t.split(".")[0] != root:
                continue
            assert t in modules, f"{path}:{node.lineno} imports {t}, which is not a module of {root}"
            out.append((t, node.lineno))
    return out


def facades(root: Path = PACKAGE_DIR, package: str = "zsltool") -> set[str]:
    """The packages whose ``__init__`` imports a module of the package (the others are light)."""
    modules = module_files(root, package)
    return {m for m, p in modules.items() if p.name == "__init__.py" and explicit_imports(m, p, modules)}


def import_graph(root: Path = PACKAGE_DIR, package: str = "zsltool") -> dict[str, dict[str, str]]:
    """``{module: {imported module: why}}``: the explicit imports, and the facade ``__init__`` of each package
    above an imported module that does not contain the importer (see the module docstring; a light
    ``__init__`` imports nothing, so running it is no dependency)."""
    modules = module_files(root, package)
    heavy = facades(root, package)
    graph: dict[str, dict[str, str]] = {m: {} for m in modules}
    for m, path in modules.items():
        for t, line in explicit_imports(m, path, modules):
            if t != m:
                graph[m].setdefault(t, f"{m}:{line} imports {t}")
            for pkg in _ancestors(t):
                if pkg in heavy and not _inside(m, pkg):
                    graph[m].setdefault(pkg, f"{m}:{line} imports {t}, which runs {pkg}/__init__.py first")
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[tuple[list[str], list[str]]]:
    """Per strongly connected component of more than one module (Tarjan): one shortest cycle through it
    (``[a, b, ..., a]``) and all its modules."""
    index, low, stack, on, comps = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [(_loop(graph, comp), sorted(comp)) for comp in comps]


def _loop(graph, comp: set) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    start = min(comp)
    prev, todo = {start: None}, [start]
    while todo:
        nxt = []
        for v in todo:
            for w in sorted(graph[v]):
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if w in comp and w not in prev:
                    prev[w] = v
                    nxt.append(w)
        todo = nxt
    raise AssertionError("a strongly connected component without a loop")


def describe(graph, loop: list[str], members: list[str] = ()) -> str:
    more = [m for m in members if m not in loop]
    return "import cycle " + " -> ".join(loop) + ":\n" + "\n".join(
        f"    {graph[a][b]}" for a, b in zip(loop, loop[1:])) + (
        f"\n    (the same tangle holds {', '.join(more)})" if more else "")


def place(module: str, layers=LAYERS) -> tuple[int, str] | None:
    """``(layer index, name)`` of the longest name of ``layers`` that contains the module (the root package's name
    stands for its ``__init__`` alone); None when none does."""
    found = None
    for i, (_, names) in enumerate(layers):
        for n in names:
            if (module == n or ("." in n and _inside(module, n))) and (found is None or len(n) > len(found[1])):
                found = (i, n)
    return found


def layer_of(module: str, layers=LAYERS) -> int | None:
    found = place(module, layers)
    return None if found is None else found[0]


def facade_imports(root: Path = PACKAGE_DIR, package: str = "zsltool") -> list[str]:
    """Where a module imports the facade package that holds it (the package rule)."""
    modules = module_files(root, package)
    heavy = facades(root, package)
    return sorted({f"{m}:{line} imports its package {t}, whose __init__ imports modules (import the module it "
                   "needs)" for m, p in modules.items() for t, line in explicit_imports(m, p, modules)
                   if t in heavy and t != m and _inside(m, t)})


def upward_imports(graph, layers=LAYERS) -> list[str]:
    """Every edge of ``graph`` from a module to a module of a higher layer, with why (modules without a layer
    are left to ``test_every_module_has_a_layer``)."""
    layer = {m: layer_of(m, layers) for m in graph}
    return sorted(f"{why} (layer {layers[layer[m]][0]!r} imports layer {layers[layer[t]][0]!r})"
                  for m, edges in graph.items() for t, why in edges.items()
                  if None not in (layer[m], layer[t]) and layer[t] > layer[m])


def package_graph(graph, layers=LAYERS) -> dict[str, dict[str, str]]:
    """The import graph between the names of ``layers`` (each module counted in the longest name holding it)."""
    unit = {m: place(m, layers)[1] for m in graph}
    packages: dict[str, dict[str, str]] = {u: {} for u in unit.values()}
    for m, edges in graph.items():
        for t, why in edges.items():
            if unit[m] != unit[t]:
                packages[unit[m]].setdefault(unit[t], why)
    return packages


# -- the tests ---------------------------------------------------------------------------------------------
def test_no_import_cycle():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "\n".join(describe(graph, loop, members) for loop, members in found)


def test_no_module_imports_the_facade_package_that_holds_it():
    bad = facade_imports()
    assert not bad, "\n".join(bad)


def test_every_module_has_a_layer():
    lost = [m for m in module_files(PACKAGE_DIR, "zsltool") if layer_of(m) is None]
    assert not lost, f"{lost}: give each a layer in LAYERS (and in docs/DESIGN.md, 'Layers and imports')"


def test_no_layer_imports_a_higher_one():
    bad = upward_imports(import_graph())
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_two_packages_import_each_other():
    """The graph of the names in LAYERS (a package, or a module placed on its own) has no cycle either: two
    packages of one layer never import each other, so each can be read, and moved, as one piece."""
    packages = package_graph(import_graph())
    found = cycles(packages)
    assert not found, "\n".join(describe(packages, loop, members) for loop, members in found)


# -- the checks see what they must (a synthetic package) -----------------------------------------------------
def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / "pkg" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root / "pkg"


def test_a_cycle_through_a_function_local_import_is_found(tmp_path):
    pkg = _write(tmp_path, {"__init__.py": "", "low.py": "def f():\n    from pkg.high import g\n",
                            "high.py": "from pkg.low import f\n"})
    graph = import_graph(pkg, "pkg")
    ((loop, members),) = cycles(graph)
    assert loop == ["pkg.high", "pkg.low", "pkg.high"] and members == ["pkg.high", "pkg.low"]
    assert describe(graph, loop) == ("import cycle pkg.high -> pkg.low -> pkg.high:\n"
                                     "    pkg.high:1 imports pkg.low\n    pkg.low:2 imports pkg.high")


def test_a_facade_and_a_module_importing_it_are_a_cycle(tmp_path):
    pkg = _write(tmp_path, {"__init__.py": "", "sub/__init__.py": "from pkg.sub.a import A\n",
                            "sub/a.py": "A = 1\n", "sub/b.py": "from pkg.sub import A\n",
                            "user.py": "from .sub.b import A\n"})
    graph = import_graph(pkg, "pkg")
    assert cycles(graph) == []                                 # b is not imported by the facade: no loop yet
    assert graph["pkg.user"] == {"pkg.sub.b": "pkg.user:1 imports pkg.sub.b",
                                 "pkg.sub": "pkg.user:1 imports pkg.sub.b, which runs pkg.sub/__init__.py first"}
    assert facades(pkg, "pkg") == {"pkg.sub"}                 # pkg's own __init__ is light: no edge to it
    assert facade_imports(pkg, "pkg") == ["pkg.sub.b:1 imports its package pkg.sub, whose __init__ imports "
                                          "modules (import the module it needs)"]
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.a import A\nfrom pkg.sub.b import B\n")
    assert cycles(import_graph(pkg, "pkg")) == [(["pkg.sub", "pkg.sub.b", "pkg.sub"], ["pkg.sub", "pkg.sub.b"])]


def test_an_upward_import_is_found(tmp_path):
    pkg = _write(tmp_path, {"__init__.py": "", "files.py": "def f():\n    from pkg.cli import main\n",
                            "cli.py": "from pkg.files import f\n"})
    layers = [("low", ("pkg", "pkg.files")), ("high", ("pkg.cli",))]
    assert upward_imports(import_graph(pkg, "pkg"), layers) == [
        "pkg.files:2 imports pkg.cli (layer 'low' imports layer 'high')"]
    assert layer_of("pkg.other", layers) is None              # the root's name is not a catch-all


def test_two_packages_importing_each_other_are_found(tmp_path):
    pkg = _write(tmp_path, {"__init__.py": "", "a/__init__.py": "", "a/x.py": "from pkg.b.y import g\n",
                            "a/z.py": "", "b/__init__.py": "", "b/y.py": "def g():\n    from pkg.a.z import h\n"})
    graph = import_graph(pkg, "pkg")
    assert cycles(graph) == []                                  # no module cycle
    layers = [("one", ("pkg", "pkg.a", "pkg.b"))]
    ((loop, _),) = cycles(package_graph(graph, layers))
    assert loop == ["pkg.a", "pkg.b", "pkg.a"]
