"""The services' layout: no module of ``o2c/services`` depends on itself
through others (imports inside functions count too), and the lower layers
(``domain``, ``ledger``, ``documents``, ``db``) never reach up into the services."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "o2c"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every o2c module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found.update(n for n in names if n in known)
    return found


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths)
    return {name: _imports(path, known) - {name} for name, path in paths.items()}


def _cycles(graph: dict[str, set[str]], nodes: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v] & nodes:
            if w not in index:
                visit(w)
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
                out.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def test_the_services_have_no_import_cycle() -> None:
    graph = _graph()
    services = {n for n in graph if n.startswith("o2c.services.") and not n.endswith(tuple(
        f".{g}" for g in ("platform", "sales", "customers", "fulfilment", "billing", "cash", "books", "crm")))}
    assert _cycles(graph, services) == []


def test_lower_layers_do_not_reach_up_into_the_services() -> None:
    graph = _graph()
    lower = [n for n in graph if n.split(".")[1:2] and n.split(".")[1] in ("domain", "ledger", "documents", "db")]
    offenders = {n: sorted(d for d in graph[n] if d.startswith("o2c.services")) for n in lower}
    assert {n: d for n, d in offenders.items() if d} == {}


def test_the_services_are_grouped_by_the_part_of_the_cycle_they_serve() -> None:
    top_level = sorted(p.name for p in (PACKAGE / "services").glob("*.py") if p.name != "__init__.py")
    assert top_level == ["queries.py"]
