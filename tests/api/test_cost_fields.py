"""What goods cost us is for the back office: a webshop key reads
availability and prices, never unit costs, stock value or the cost of
returned goods — wherever it can read them (role × endpoint)."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Client, customer, order, product

COST_KEYS = {"unit_cost", "value", "cost"}


def keys_in(body: Any) -> set[str]:
    """Every key anywhere in a JSON answer."""
    if isinstance(body, dict):
        return set(body).union(*(keys_in(v) for v in body.values()))
    if isinstance(body, list):
        return set().union(*(keys_in(v) for v in body))
    return set()


@pytest.fixture
def shelf(admin: Client, shop: Client) -> dict[str, Any]:
    customer(admin, "C-ROSSI", channels=["shop-a"])
    product(admin, "MUG-01", "8.50", "0.10", stock=20, cost="3.00")
    o = order(shop, "C-ROSSI", [("MUG-01", 2)]).get_json()
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    rma = admin.ok("post", f"/api/v1/orders/{o['id']}/returns",
                   {"lines": [{"sku": "MUG-01", "quantity": 1}], "restock": True, "refund": "credit"}, status=201)
    return {"order": o["id"], "return": rma["id"]}


# endpoint -> (path, the cost fields the back office sees in it)
ENDPOINTS = {
    "list products": ("/api/v1/products", {"unit_cost"}),
    "read product": ("/api/v1/products/MUG-01", {"unit_cost"}),
    "list stock": ("/api/v1/stock", {"unit_cost", "value"}),
    "read stock": ("/api/v1/stock/MUG-01", {"unit_cost", "value"}),
    "list returns": ("/api/v1/returns", {"cost"}),
    "read return": ("/api/v1/returns/{return}", {"cost"}),
    "read order": ("/api/v1/orders/{order}", set()),
    "list orders": ("/api/v1/orders", set()),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("role", ["webshop", "clerk", "accountant", "admin"])
def test_cost_fields_are_shown_to_the_back_office_only(
    app: Any, keys: dict[str, str], shelf: dict[str, Any], role: str, endpoint: str,
) -> None:
    path, costs = ENDPOINTS[endpoint]
    body = Client(app.test_client(), keys[role]).ok("get", path.format(**shelf))
    if "items" in body:
        assert body["items"], "the list must hold something to show or hide"
    seen = keys_in(body)
    if role == "webshop":
        assert not seen & COST_KEYS, seen & COST_KEYS
        assert {"sku"} <= seen  # the rest of the answer is there
    else:
        assert costs <= seen, costs - seen


def test_a_webshop_sees_availability_and_prices(shop: Client, admin: Client, shelf: dict[str, Any]) -> None:
    stock = shop.ok("get", "/api/v1/stock/MUG-01")
    full = admin.ok("get", "/api/v1/stock/MUG-01")
    assert stock == {k: v for k, v in full.items() if k not in ("unit_cost", "value")}
    assert (stock["on_hand"], stock["available"]) == (19, 19)
    assert shop.ok("get", "/api/v1/products")["items"][0]["unit_price"] == "8.50"


def test_a_cost_hidden_from_a_webshop_stays_hidden_on_an_idempotent_replay(shop: Client,
                                                                          shelf: dict[str, Any]) -> None:
    body = {"customer": {"code": "C-ROSSI"}, "lines": [{"sku": "MUG-01", "quantity": 1}]}
    first = shop.post("/api/v1/orders", body, headers={"Idempotency-Key": "cost-1"})
    again = shop.post("/api/v1/orders", body, headers={"Idempotency-Key": "cost-1"})
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json() and not keys_in(first.get_json()) & COST_KEYS


def test_every_cost_field_of_the_schemas_is_hidden_from_readers_without_costs() -> None:
    """A new schema nesting a cost field is shaped without any view changing."""
    from o2c.schemas import api as s
    assert s.cost_paths(s.page_of(s.ReturnOut)) == ["items.lines.cost", "items.cost"]
    assert set(s.cost_paths(s.StockReceiptOut)) == {"unit_cost", "value", "stock.unit_cost", "stock.value"}
    shaped = s.for_reader(s.StockReceiptOut(), sees_costs=False)
    dumped = shaped.dump({"sku": "MUG-01", "quantity": 1, "unit_cost": 1, "value": 1,
                          "stock": {"sku": "MUG-01", "on_hand": 1, "unit_cost": "1", "value": 1}})
    assert not keys_in(dumped) & COST_KEYS and dumped["stock"]["on_hand"] == 1
    assert s.for_reader(s.StockReceiptOut(), sees_costs=True).dump({"unit_cost": 1})["unit_cost"] == "1.00"
