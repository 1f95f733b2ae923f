"""One registry of event types: what o2c emits anywhere, what a subscription
may ask for (API and webhooks page), nothing more and nothing missing."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from o2c.domain.events import EVENT_TYPES, EVENTS, families
from o2c.services.platform.uow import unit_of_work
from tests.conftest import make_key
from tests.web.conftest import Web, add_order
from tests.web.test_webhook_pages import failed_delivery, hook_id, subscribe

SOURCE = Path(__file__).resolve().parents[2] / "o2c"


def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def emitted_types() -> dict[str, list[str]]:
    """Every event type passed to ``emit`` in o2c/, found in the source: a
    literal, or a parameter of the calling function followed to the literals
    its own callers pass. ``{type: [where]}``."""
    trees = {p: ast.parse(p.read_text(), str(p)) for p in SOURCE.rglob("*.py")}
    found: dict[str, list[str]] = {}
    unresolved: list[str] = []
    functions = {n.name: n for t in trees.values() for n in ast.walk(t) if isinstance(n, ast.FunctionDef)}

    def literals_for(func: ast.FunctionDef, param: str) -> list[tuple[str, str]]:
        names = [a.arg for a in func.args.args]
        index = names.index(param)
        out = []
        for path, tree in trees.items():
            for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call) and _call_name(n) == func.name):
                arg = call.args[index] if index < len(call.args) else next(
                    (k.value for k in call.keywords if k.arg == param), None)
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    out.append((arg.value, f"{path.name}:{call.lineno}"))
                else:
                    unresolved.append(f"{path.name}:{call.lineno}")
        return out

    for path, tree in trees.items():
        for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            for call in (n for n in ast.walk(func) if isinstance(n, ast.Call) and _call_name(n) == "emit"
                         and isinstance(n.func, ast.Attribute)):
                first = call.args[0] if call.args else None
                where = f"{path.name}:{call.lineno}"
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.setdefault(first.value, []).append(where)
                elif isinstance(first, ast.Name) and first.id in [a.arg for a in func.args.args]:
                    for value, at in literals_for(functions[func.name], first.id):
                        found.setdefault(value, []).append(at)
                else:
                    unresolved.append(where)
    assert not unresolved, f"event types that cannot be read from the source: {unresolved}"
    return found


def test_every_event_type_emitted_anywhere_is_in_the_registry_and_every_one_is_emitted() -> None:
    emitted = emitted_types()
    assert {"customer_credit.applied", "customer_credit.released", "order.lines_cancelled",
            "order.backorder_reserved", "payment.reversed"} <= set(emitted)
    missing = {t: where for t, where in emitted.items() if t not in EVENTS}
    assert missing == {}, "emitted but not registered"
    assert set(EVENT_TYPES) - set(emitted) == set(), "registered but never emitted"


def test_an_unregistered_event_type_cannot_be_emitted(engine: Engine) -> None:
    with pytest.raises(ValueError, match="not an event type"), unit_of_work(engine, "test") as tx:
        tx.emit("order.teleported", "web", None, {})


def test_the_webhooks_page_offers_every_registered_event_type(admin_web: Web) -> None:
    page = admin_web.get("/webhooks").text
    offered = re.findall(r'name="event_types" value="([^"]+)"', page)
    assert offered == ["*"] + [x for f in families() for x in [f] + [t for t in EVENT_TYPES if t.startswith(f[:-1])]]
    assert EVENTS["payment.reversed"] in page  # each with what it means


@pytest.mark.parametrize("pattern", ["customer_credit.*", "payment.reversed", "order.backorder_reserved"])
def test_the_api_subscribes_to_what_the_registry_holds(app: Any, engine: Engine, pattern: str) -> None:
    key = make_key(engine, "ops", "admin")
    r = app.test_client().post("/api/v1/webhooks", json={"url": "https://ops.example/hook", "event_types": [pattern]},
                               headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"k-{pattern}"})
    assert r.status_code == 201, r.json
    refused = app.test_client().post("/api/v1/webhooks", json={"url": "https://ops.example/h",
                                                                "event_types": ["order.teleported"]},
                                     headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"x-{pattern}"})
    assert refused.status_code == 422


def test_the_delivery_logs_show_order_numbers_linked(admin_web: Web, engine: Engine, shop: Any) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1)])
    subscribe(admin_web)
    wid = hook_id(engine)
    did = failed_delivery(engine, wid, order_id=o["id"])
    link = f'<a href="/orders/{o["id"]}">{o["number"]}</a>'
    for path in (f"/webhooks/{wid}", "/webhooks/failed", f"/webhooks/{wid}/deliveries/{did}"):
        page = admin_web.get(path).text
        assert link in page, path
