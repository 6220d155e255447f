"""The package's layering: every import follows the data flow written once in :data:`LAYERS`, and no import
cycles among gaia_lite's modules, counting every import statement (module level or inside functions), read
statically with ``ast``.

An import of ``a.b.c`` also runs the packages ``a`` and ``a.b``; a module's own enclosing packages are always
running when it runs, so a package ``__init__`` importing its own submodules is no cycle. Imports under
``if TYPE_CHECKING:`` never run and are not counted.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import gaia_lite

PACKAGE_DIR = Path(gaia_lite.__file__).resolve().parent

#: The data flow as import layers, lowest first: a module may import its own layer and the layers below it,
#: never one above. A module belongs to the entry naming it or its nearest enclosing package. The Hub sits
#: below the factory because the factory opens ``hf://`` corpora (pulled, verified files); it knows nothing of
#: searchers. README, "Code layout", follows this table.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("shared vocabulary", ("errors", "types", "registry", "config", "timing", "report", "lazy")),
    ("artifacts and build machinery", ("artifacts", "java", "shards", "executors")),
    ("corpus", ("corpus", "passages")),
    ("sparse / dense", ("sparse", "dense")),
    ("fusion", ("fusion",)),
    ("hub", ("hub",)),
    ("hybrid / factory, parts, serving", ("hybrid", "retriever", "parts", "serve")),
    ("evaluation, experiments, analysis", ("evaluate", "experiments", "analysis")),
    ("app, cli", ("app", "cli", "__main__", "")),
)


def layer_of(module: str, package: str = "gaia_lite") -> int:
    """The index in :data:`LAYERS` of ``module`` (``gaia_lite.hub.pull`` → the ``hub`` entry)."""
    parts = module.split(".")[1:]
    for n in range(len(parts), -1, -1):
        name = ".".join(parts[:n])
        for i, (_, modules) in enumerate(LAYERS):
            if name in modules:
                return i
    raise KeyError(f"{module} is in no layer: add it to LAYERS")


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Each import of a higher layer, as ``importer (layer) -> imported (layer)``."""
    return [f"{a} ({LAYERS[layer_of(a)][0]}) -> {b} ({LAYERS[layer_of(b)][0]})"
            for a in sorted(graph) for b in sorted(graph[a]) if layer_of(b) > layer_of(a)]


def _modules(package_dir: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name -> (file, whether it is a package ``__init__``)."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package, *path.relative_to(package_dir).with_suffix("").parts]
        is_init = parts[-1] == "__init__"
        if is_init:
            parts.pop()
        found[".".join(parts)] = (path, is_init)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every Import/ImportFrom node that can run: at any depth, except under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            children = node.orelse
        stack.extend(children)


def import_graph(package_dir: Path, package: str) -> dict[str, set[str]]:
    """The package's module import graph: module -> the package modules its imports run."""
    modules = _modules(package_dir, package)

    def known(name: str) -> str | None:
        """``name``, or the nearest enclosing module that exists (``pkg.mod.attr`` -> ``pkg.mod``)."""
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, (path, is_init) in modules.items():
        here = name if is_init else name.rpartition(".")[0]  # the package relative imports start from
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            if node.level:
                base_parts = here.split(".")
                if node.level - 1 >= len(base_parts):
                    raise ValueError(f"{path}:{node.lineno}: relative import beyond the top-level package")
                base = ".".join(base_parts[: len(base_parts) - (node.level - 1)])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            targets.add(base)
            # `from pkg import sub` imports the submodule pkg.sub where there is one.
            targets.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules)
        edges: set[str] = set()
        for target in targets:
            if target != package and not target.startswith(package + "."):
                continue
            target = known(target)
            # The target and the packages enclosing it all run; the importer's own enclosing packages already are.
            while target:
                if target != name and not name.startswith(target + "."):
                    edges.add(target)
                target = target.rpartition(".")[0]
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm; the graph is small, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_cycle_in(graph, set(c)) for c in sorted(components)]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module, staying inside the component."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError("a strongly connected component without a cycle")


def test_gaia_lite_has_no_import_cycles():
    graph = import_graph(PACKAGE_DIR, "gaia_lite")
    assert len(graph) >= 30 and "gaia_lite.cli" in graph and "gaia_lite.hub.pull" in graph
    assert "gaia_lite.config" in graph["gaia_lite.cli.search"]  # a module-level import
    assert "gaia_lite.retriever" in graph["gaia_lite.cli.search"]  # an import inside a function
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_every_import_follows_the_layers():
    graph = import_graph(PACKAGE_DIR, "gaia_lite")
    assert {layer_of(m) for m in graph} == set(range(len(LAYERS)))  # every module has a layer, every layer a module
    violations = layer_violations(graph)
    assert not violations, "imports against the layers (tests/test_layout.py LAYERS):\n" + "\n".join(violations)


def test_an_import_against_the_layers_is_found():
    graph = import_graph(PACKAGE_DIR, "gaia_lite")
    graph["gaia_lite.fusion"] = graph["gaia_lite.fusion"] | {"gaia_lite.hub"}
    graph["gaia_lite.config"] = graph["gaia_lite.config"] | {"gaia_lite.executors"}
    assert layer_violations(graph) == ["gaia_lite.config (shared vocabulary) -> gaia_lite.executors (artifacts and "
                                       "build machinery)", "gaia_lite.fusion (fusion) -> gaia_lite.hub (hub)"]


def _write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root / "pkg"


ACYCLIC = {
    "__init__.py": "from .a import A\nfrom . import sub\n",  # a package importing its own submodules
    "a.py": "import os\nfrom . import b\nfrom .sub import x\nA = 1\n",
    "b.py": """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from .a import A  # never runs
        def f():
            import json
            from .sub.x import X
            return X
    """,
    "sub/__init__.py": "from .x import X\n",
    "sub/x.py": "from . import y\nfrom .. import c\nX = 1\n",
    "sub/y.py": "import pkg.c\n",
    "c.py": "",
}


def test_graph_of_an_acyclic_package(tmp_path):
    graph = import_graph(_write_package(tmp_path, ACYCLIC), "pkg")
    assert graph == {
        "pkg": {"pkg.a", "pkg.sub"},
        "pkg.a": {"pkg.b", "pkg.sub", "pkg.sub.x"},
        "pkg.b": {"pkg.sub", "pkg.sub.x"},
        "pkg.sub": {"pkg.sub.x"},
        "pkg.sub.x": {"pkg.sub.y", "pkg.c"},
        "pkg.sub.y": {"pkg.c"},
        "pkg.c": set(),
    }
    assert import_cycles(graph) == []


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    files = dict(ACYCLIC, **{"b.py": "def f():\n    from .a import A\n    return A\n"})
    cycles = import_cycles(import_graph(_write_package(tmp_path, files), "pkg"))
    assert cycles == [["pkg.a", "pkg.b", "pkg.a"]]


def test_a_cycle_through_a_package_init_is_found(tmp_path):
    """c imports pkg.sub.z, which runs pkg.sub's __init__, which imports x, which imports c."""
    files = dict(ACYCLIC, **{"c.py": "from pkg.sub import z\n", "sub/z.py": ""})
    cycles = import_cycles(import_graph(_write_package(tmp_path, files), "pkg"))
    assert cycles == [["pkg.c", "pkg.sub", "pkg.sub.x", "pkg.c"]]


def test_a_cycle_through_a_type_checking_else_branch_is_found(tmp_path):
    files = dict(ACYCLIC, **{"c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\n"
                                      "else:\n    from .a import A\n"})
    cycles = import_cycles(import_graph(_write_package(tmp_path, files), "pkg"))
    assert len(cycles) == 1 and {"pkg.a", "pkg.c"} <= set(cycles[0])
