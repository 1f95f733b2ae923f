"""Messages people read never show Python's insides: no ``{'code': …}``, no
``[...]``, no ``'quoted'`` reprs. This reads every message o2c builds for a
person — refusals raised by the services (they reach the API and the back
office's pages alike), flashes, problems and error pages of the back office,
and the schemas' field errors — and refuses f-string parts that print a
structure or a repr."""
from __future__ import annotations

import ast
from pathlib import Path

import o2c.domain.errors as domain_errors
from o2c.domain.errors import DomainError

ROOT = Path(__file__).resolve().parents[2] / "o2c"
#: Where messages for people are built (the CLI, the demo and start-up checks
#: talk to operators in a console, where a repr is the clearest quoting).
PLACES = ("services", "web", "schemas", "domain", "ledger", "api")
ERRORS = {name for name, v in vars(domain_errors).items() if isinstance(v, type) and issubclass(v, DomainError)}
MESSAGE_CALLS = ERRORS | {"flash", "Problem", "_error_page", "abort", "ValidationError", "flash_problem",
                          "error_response"}
STRUCTURED = ("dict", "list", "set", "tuple", "Mapping", "Sequence", "Iterable", "Row")
BUILDS_STRUCTURE = ("sorted", "list", "dict", "set", "tuple", "repr", "vars")


def _name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _structured_names(func: ast.AST) -> set[str]:
    """Names in a function that hold a dict, list, set or tuple: annotated so,
    or assigned a literal or comprehension of one."""
    out: set[str] = set()
    if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        for a in func.args.args + func.args.kwonlyargs:
            if a.annotation is not None and any(s in ast.unparse(a.annotation) for s in STRUCTURED):
                out.add(a.arg)
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Dict, ast.List, ast.Set, ast.ListComp,
                                                                    ast.DictComp, ast.SetComp)):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return out


def _reprs_outside_programming_errors(tree: ast.AST, path: Path) -> list[str]:
    """Reprs anywhere (a field error built into a dict of details reaches
    people too), except in programming errors (``raise ValueError(…)`` and the
    like, never shown: they are 500s) and the log."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        raised = node.exc if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) else None
        logged = node if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            ast.unparse(node.func.value) in ("log", "logger", "logging") else None
        if raised is not None and _name(raised) not in MESSAGE_CALLS:
            skip.update(id(n) for n in ast.walk(raised))
        if logged is not None:
            skip.update(id(n) for n in ast.walk(logged))
    return [f"{path.relative_to(ROOT.parent)}:{n.lineno} {{{ast.unparse(n.value)}}} as a repr"
            for n in ast.walk(tree) if isinstance(n, ast.FormattedValue) and id(n) not in skip
            and n.conversion in (ord("r"), ord("a"))]


def leaks() -> list[str]:
    found = []
    for place in PLACES:
        for path in sorted((ROOT / place).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            found += _reprs_outside_programming_errors(tree, path)
            for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
                structured = _structured_names(func)
                for call in (n for n in ast.walk(func) if isinstance(n, ast.Call) and _name(n) in MESSAGE_CALLS):
                    for arg in [*call.args, *(k.value for k in call.keywords)]:
                        for part in (n for n in ast.walk(arg) if isinstance(n, ast.FormattedValue)):
                            shown = ast.unparse(part.value)
                            where = f"{path.relative_to(ROOT.parent)}:{part.lineno} {{{shown}}}"
                            if part.conversion in (ord("r"), ord("a")):
                                found.append(where + " as a repr")
                            elif isinstance(part.value, ast.Name) and part.value.id in structured:
                                found.append(where + " prints a structure")
                            elif isinstance(part.value, ast.Call) and _name(part.value) in BUILDS_STRUCTURE:
                                found.append(where + " prints a structure")
                            elif isinstance(part.value, (ast.Dict, ast.List, ast.Set, ast.Tuple)):
                                found.append(where + " prints a structure")
    return sorted(set(found))


def test_no_message_for_a_person_prints_a_structure_or_a_repr() -> None:
    assert leaks() == []


def test_the_scan_sees_what_it_looks_for(tmp_path: Path, monkeypatch) -> None:
    """The check itself: a message printing a dict, or a repr, is found."""
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "bad.py").write_text(
        "def f(ref: dict[str, str], sku: str):\n"
        "    raise ValidationFailed(f'No customer matches {ref}.')\n"
        "def g(sku: str):\n"
        "    raise NotFound(f'No product {sku!r}.')\n"
        "def h(sku: str):\n"
        "    raise NotFound(f'No product “{sku}”.')\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    monkeypatch.setattr(__import__(__name__, fromlist=["PLACES"]), "PLACES", ("services",))
    assert [line.split(" ", 1)[1] for line in leaks()] == ["{ref} prints a structure", "{sku} as a repr"]
