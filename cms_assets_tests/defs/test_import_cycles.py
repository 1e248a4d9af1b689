"""No import cycle inside ``cms_assets``, checked on the source (AST: nothing imported, so no Dagster): every
``import`` and ``from ... import`` counts, function-level ones included (a lazy import only hides a cycle), except
under ``if TYPE_CHECKING:`` (never run); relative imports are resolved, ``from pkg import name`` points at the
submodule ``pkg.name`` when there is one, and parent packages (imported first by Python anyway) are not edges.
"""

import ast
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from itertools import pairwise
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "cms_assets"

#: module -> {imported module: line of its first import}
Graph = dict[str, dict[str, int]]


def package_sources(root: Path = PACKAGE_DIR) -> dict[str, tuple[str, bool]]:
    """``{module name: (source, is a package)}`` of every ``.py`` file under ``root``, a package directory."""
    sources = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        sources[name] = (path.read_text(), is_package)
    return sources


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(nodes: Iterable[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``nodes`` (in functions and classes too) except those under TYPE_CHECKING."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports(node.orelse)
        else:
            yield from _imports(ast.iter_child_nodes(node))


def _known(name: str, modules: Mapping[str, object]) -> str | None:
    """``name`` or its longest prefix that is a module of the scanned package (None when outside it)."""
    parts = name.split(".")
    while parts:
        if (candidate := ".".join(parts)) in modules:
            return candidate
        parts.pop()
    return None


def _targets(
    statement: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: Mapping[str, object]
) -> list[str]:
    if isinstance(statement, ast.Import):
        names = [alias.name for alias in statement.names]
    else:
        base = statement.module or ""
        if statement.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            anchor = package[: len(package) - (statement.level - 1)]
            base = ".".join([*anchor, *([base] if base else [])])
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in statement.names]
    return [target for name in names if (target := _known(name, modules)) is not None]


def import_graph(sources: Mapping[str, tuple[str, bool]]) -> Graph:
    """Which modules of ``sources`` (as :func:`package_sources` returns them) each one imports, and where."""
    graph: Graph = {}
    for module, (source, is_package) in sources.items():
        edges = graph.setdefault(module, {})
        for statement in _imports(ast.parse(source, module).body):
            for target in _targets(statement, module, is_package, sources):
                edges.setdefault(target, statement.lineno)
    return graph


def _components(graph: Graph) -> list[list[str]]:
    """Strongly connected components (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, {})):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _shortest_cycle(graph: Graph, start: str, within: set[str]) -> list[str]:
    """The shortest path ``start -> ... -> start`` through ``within`` (breadth first)."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node]):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start] if node != start else [start, start]
            if target in within and target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"{start} is on no cycle within {sorted(within)}")


def cycles(graph: Graph) -> list[str]:
    """One line per import cycle: a shortest cycle of each strongly connected component of more than one module
    (or of a module that imports itself), spelled ``a -> b -> a``, then the components' other members and where
    each import of the cycle is."""
    found = []
    for component in _components(graph):
        start = component[0]
        if len(component) == 1 and start not in graph[start]:
            continue
        path = _shortest_cycle(graph, start, set(component))
        where = ", ".join(f"{a} line {graph[a][b]} imports {b}" for a, b in pairwise(path))
        others = sorted(set(component) - set(path))
        also = f"; the same cycle takes in {', '.join(others)}" if others else ""
        found.append(f"{' -> '.join(path)} ({where}{also})")
    return found


# -------------------------------------------------------------------------------------------------- the project


def test_no_import_cycle_in_cms_assets() -> None:
    found = cycles(import_graph(package_sources()))
    message = "import cycles in cms_assets (move the shared piece so imports go one way):\n" + "\n".join(found)
    assert found == [], message


def test_the_scan_sees_the_project_layering() -> None:
    """Not vacuous: the graph holds the package's modules and the imports the layering rests on."""
    graph = import_graph(package_sources())
    assert len(graph) > 50
    defs = "cms_assets.defs"
    assert {f"{defs}.resources", f"{defs}.io_managers"} <= set(graph[f"{defs}.wiring"])
    assert f"{defs}.resources" in graph[f"{defs}.io_managers"]
    assert not {f"{defs}.io_managers", f"{defs}.wiring"} & set(graph[f"{defs}.resources"])
    assert "cms_assets.lib.site.probe" in graph["cms_assets.lib.site.scraper"]
    assert "cms_assets.lib.warehouse.backends" in graph["cms_assets.lib.warehouse.load"]
    assert "cms_assets.lib.warehouse.sources" in graph["cms_assets.lib.warehouse.backends"]


def test_the_pipeline_never_imports_the_demo_tooling() -> None:
    """``cms_assets.sim`` (generator, mirror) serves the demo, tests and benchmarks; ``lib/`` and ``defs/`` are the
    pipeline and must run without it."""
    graph = import_graph(package_sources())
    pipeline = [
        m for m in graph if m.startswith(("cms_assets.lib", "cms_assets.defs")) or m == "cms_assets.definitions"
    ]
    assert "cms_assets.sim.generate" in graph and "cms_assets.sim.mirror" in graph
    offenders = {m: sorted(t for t in graph[m] if t.startswith("cms_assets.sim")) for m in pipeline}
    assert not {m: t for m, t in offenders.items() if t}, offenders


# ------------------------------------------------------------------------------------------------- the checker


def _graph(**modules: str) -> Graph:
    """A graph of synthetic modules, ``pkg__mod="source"`` for ``pkg.mod``; ``pkg__init`` is package ``pkg``."""
    sources = {}
    for key, source in modules.items():
        parts = key.split("__")
        is_package = parts[-1] == "init"
        sources[".".join(parts[:-1] if is_package else parts)] = (source, is_package)
    return import_graph(sources)


def test_a_function_level_import_is_a_cycle() -> None:
    """The old ``defs`` shape: resources built the IO managers through a lazy import, io_managers imported it."""
    graph = _graph(
        p__init="",
        p__resources="import os\n\nclass R: ...\n\ndef wire():\n    from p.io_managers import IO\n    return IO\n",
        p__io_managers="import dagster\nfrom p.resources import R\n\nclass IO: ...\n",
    )
    assert cycles(graph) == [
        "p.io_managers -> p.resources -> p.io_managers "
        "(p.io_managers line 2 imports p.resources, p.resources line 6 imports p.io_managers)"
    ]


def test_type_checking_imports_are_not_edges() -> None:
    graph = _graph(
        p__init="",
        p__a="from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from p.b import B\nelse:\n    import p.c\n",
        p__b="import typing\nfrom p.a import A\nif typing.TYPE_CHECKING:\n    from p import a\n",
        p__c="",
    )
    assert graph["p.a"] == {"p.c": 5}
    assert graph["p.b"] == {"p.a": 2}
    assert cycles(graph) == []


def test_relative_and_submodule_imports_are_resolved() -> None:
    """``from . import x`` and ``from pkg import submodule`` point at the submodule; a package importing its
    submodules, which import each other through the package, is no cycle."""
    graph = _graph(
        p__init="from p.q.one import ONE\n",
        p__q__init="from .one import ONE\nfrom .two import TWO\n",
        p__q__one="from p.q import two\nimport json\n",
        p__q__two="from .. import r\nfrom ..r import helper\nfrom . import three\n",
        p__q__three="",
        p__r="def helper(): ...\n",
    )
    assert graph["p.q.one"] == {"p.q.two": 1}
    assert graph["p.q.two"] == {"p.r": 1, "p.q.three": 3}
    assert cycles(graph) == []


def test_a_longer_cycle_and_a_self_import_are_spelled_out() -> None:
    graph = _graph(
        p__init="from . import name_in_init\nname_in_init = 1\n",
        p__a="import p.b\n",
        p__b="def f():\n    from p.c import C\n",
        p__c="from p import a\nfrom p import d\n",
        p__d="import p.c\n",
        p__e="import p.a\n",
    )
    assert cycles(graph) == [
        "p -> p (p line 1 imports p)",
        "p.a -> p.b -> p.c -> p.a (p.a line 1 imports p.b, p.b line 2 imports p.c, p.c line 1 imports p.a; "
        "the same cycle takes in p.d)",
    ]


def test_imports_outside_the_package_are_ignored() -> None:
    graph = _graph(
        p__init="", p__a="import os\nimport dagster as dg\nfrom pyarrow import parquet\nfrom p import b\n", p__b=""
    )
    assert graph == {"p": {}, "p.a": {"p.b": 4}, "p.b": {}}
