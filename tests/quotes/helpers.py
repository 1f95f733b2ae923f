"""Builders shared by the quotation tests."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Engine, text

from tests.conftest import Client, customer, product


def shelf(admin: Client, **customer_over: Any) -> dict[str, Any]:
    c = customer(admin, "C-ROSSI", channels=["shop-a"], **customer_over)
    product(admin, "DESK", "250.00", "0.22", stock=10, cost="120.00")
    product(admin, "CHAIR", "89.90", "0.22", stock=20, cost="40.00")
    product(admin, "MAT", "12.50", "0.10", stock=10, cost="5.00")
    return c


def quote_body(valid_days: int = 20, **over: Any) -> dict[str, Any]:
    return {"customer": {"code": "C-ROSSI"},
            "lines": [{"sku": "DESK", "quantity": 3, "discount": "0.05"},
                      {"sku": "CHAIR", "quantity": 6, "unit_price": "85.00"},
                      {"sku": "MAT", "quantity": 4, "optional": True}],
            "valid_until": (dt.date.today() + dt.timedelta(days=valid_days)).isoformat(),
            "payment_terms_days": 45, "delivery_terms": "DAP Milano", **over}


def sent_quote(api: Client, **over: Any) -> dict[str, Any]:
    q = api.ok("post", "/api/v1/quotes", quote_body(**over), status=201)
    return api.ok("post", f"/api/v1/quotes/{q['id']}/send")


def token_of(sent: dict[str, Any]) -> str:
    return sent["acceptance_url"].rsplit("/q/", 1)[1]


def count(engine: Engine, table: str, where: str = "1=1", **params: Any) -> int:
    with engine.connect() as c:
        return c.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar_one()


def events(engine: Engine, type_: str) -> list[dict[str, Any]]:
    with engine.connect() as c:
        rows = c.execute(text("SELECT data FROM events WHERE type = :t ORDER BY id"), {"t": type_}).scalars().all()
    return [r if isinstance(r, dict) else json.loads(r) for r in rows]
