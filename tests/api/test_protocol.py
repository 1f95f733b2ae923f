"""The protocol an integrator meets before any business rule: every answer is
JSON in the contract's shape (sizes, methods, 401s), idempotency keys compare
what a request means rather than its bytes and replay without doing the work
again, unknown query parameters are refused, and list cursors are opaque and
belong to their list."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Client, customer, product


ORDER = {"customer": {"code": "C-ROSSI"}, "currency": "EUR", "confirm": True,
         "lines": [{"sku": "MUG-01", "quantity": 2, "unit_price": "8.50"}]}


@pytest.fixture
def shelf(admin: Client) -> None:
    customer(admin, "C-ROSSI")
    product(admin, "MUG-01", "8.50", stock=100)



# -- events describe what was committed (15.12) ----------------------------------------------

def test_order_created_describes_the_order_as_committed(admin: Client, shelf: None) -> None:
    confirmed = admin.ok("post", "/api/v1/orders", ORDER, status=201)
    draft = admin.ok("post", "/api/v1/orders", {**ORDER, "confirm": False}, status=201)
    feed = admin.ok("get", "/api/v1/events?type=order.created&type=order.confirmed")["items"]
    by_order = {(e["order_id"], e["type"]): e["data"] for e in feed}
    assert by_order[(confirmed["id"], "order.created")]["status"] == "confirmed" == confirmed["status"]
    assert (confirmed["id"], "order.confirmed") in by_order  # still announced as well
    assert by_order[(draft["id"], "order.created")]["status"] == "draft" == draft["status"]
    assert (draft["id"], "order.confirmed") not in by_order
