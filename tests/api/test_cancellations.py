"""Cancelling an order, whole or the open quantity of some of its lines:
reservations released, packed shipments in the way cancelled first, totals
and statuses following from what is left."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import Client, D, customer, order, product, reconciliation_ok


@pytest.fixture
def shelf(admin: Client) -> dict[str, Any]:
    c = customer(admin, "C-ROSSI", channels=["shop-a"])
    product(admin, "MUG-01", "8.50", "0.10", stock=10, cost="3.00")
    product(admin, "TEE-M", "19.90", "0.22", stock=5, cost="7.00")
    return {"customer": c}


def placed(api: Client, lines: list[tuple[str, int]], **over: Any) -> dict[str, Any]:
    r = order(api, "C-ROSSI", lines, **over)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def stock(api: Client, sku: str) -> tuple[int, int]:
    s = api.ok("get", f"/api/v1/stock/{sku}")
    return s["on_hand"], s["reserved"]


def events(engine: Engine, type_: str) -> list[dict[str, Any]]:
    import json
    with engine.connect() as c:
        rows = c.execute(text("SELECT data FROM events WHERE type = :t ORDER BY id"), {"t": type_}).scalars().all()
    return [r if isinstance(r, dict) else json.loads(r) for r in rows]


def audit(engine: Engine, action: str) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM audit_log WHERE action = :a"), {"a": action}).scalar_one()


def by_sku(o: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {l["sku"]: l for l in o["lines"]}


def test_cancelling_some_open_lines_releases_their_reservation_and_lowers_the_totals(
    shop: Client, admin: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = placed(shop, [("MUG-01", 4), ("TEE-M", 2)])
    assert D(o["total"]) == D("85.96")  # 34.00 + 3.40 VAT + 39.80 + 8.76 VAT
    out = shop.ok("post", f"/api/v1/orders/{o['id']}/cancel", {"lines": [{"sku": "MUG-01", "quantity": 3}]})

    assert out["status"] == "confirmed"
    mug = by_sku(out)["MUG-01"]
    assert (mug["cancelled_quantity"], mug["reserved_quantity"]) == (3, 1)
    assert stock(admin, "MUG-01") == (10, 1)
    assert stock(admin, "TEE-M") == (5, 2)
    assert (out["net_total"], out["vat_total"], out["total"]) == ("48.30", "9.61", "57.91")
    [ev] = events(engine, "order.lines_cancelled")
    assert ev["lines"] == [{"sku": "MUG-01", "line_no": 1, "quantity": 3}] and ev["total"] == "57.91"
    assert audit(engine, "order.lines_cancelled") == 1
    reconciliation_ok(admin)


def test_an_order_whose_remaining_lines_are_shipped_and_paid_completes(
    shop: Client, admin: Client, shelf: dict[str, Any],
) -> None:
    o = placed(shop, [("MUG-01", 4)])
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "MUG-01", "quantity": 1}]},
                  status=201)
    sh = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    inv = admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")
    admin.ok("post", "/api/v1/payments", {"customer_id": shelf["customer"]["id"], "amount": inv["total"],
                                          "currency": "EUR", "received_on": dt.date.today().isoformat(),
                                          "reference": "BANK-1"}, status=201)
    assert admin.ok("get", f"/api/v1/orders/{o['id']}")["status"] == "confirmed"

    out = shop.ok("post", f"/api/v1/orders/{o['id']}/cancel", {"lines": [{"sku": "MUG-01", "quantity": 3}]})
    assert (out["status"], out["fulfillment_status"], out["payment_status"]) == ("completed", "shipped", "paid")
    assert out["balance_due"] == "0.00" and out["total"] == inv["total"]
    assert stock(admin, "MUG-01") == (9, 0)
    reconciliation_ok(admin)


def test_cancelling_every_open_line_of_an_unshipped_order_cancels_it(
    shop: Client, admin: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = placed(shop, [("MUG-01", 2), ("TEE-M", 1)])
    out = shop.ok("post", f"/api/v1/orders/{o['id']}/cancel",
                  {"lines": [{"sku": "MUG-01", "quantity": 2}, {"sku": "TEE-M", "quantity": 1}]})
    assert out["status"] == "cancelled"
    assert stock(admin, "MUG-01") == (10, 0) and stock(admin, "TEE-M") == (5, 0)
    assert [e["order_id"] for e in events(engine, "order.cancelled")] == [o["id"]]


def test_a_packed_shipment_is_cancelled_with_the_whole_order_and_its_goods_stay_on_hand(
    shop: Client, admin: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = placed(shop, [("MUG-01", 3)])
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    out = shop.ok("post", f"/api/v1/orders/{o['id']}/cancel")
    assert out["status"] == "cancelled"
    assert by_sku(out)["MUG-01"]["packed_quantity"] == 0
    assert admin.ok("get", f"/api/v1/shipments/{sh['id']}")["status"] == "cancelled"
    assert stock(admin, "MUG-01") == (10, 0)
    assert events(engine, "order.cancelled")[0]["shipments_cancelled"] == [sh["number"]]
    assert audit(engine, "shipment.cancelled") == 1
    reconciliation_ok(admin)


def test_cancelling_part_of_a_packed_line_returns_the_shipment_to_the_order(
    shop: Client, admin: Client, shelf: dict[str, Any],
) -> None:
    o = placed(shop, [("MUG-01", 3), ("TEE-M", 2)])
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "MUG-01", "quantity": 3}]},
                  status=201)
    # 2 of 3 mugs: only packed ones are open, so the shipment is unpacked first.
    out = shop.ok("post", f"/api/v1/orders/{o['id']}/cancel", {"lines": [{"sku": "MUG-01", "quantity": 2}]})
    mug = by_sku(out)["MUG-01"]
    assert (mug["packed_quantity"], mug["cancelled_quantity"], mug["reserved_quantity"]) == (0, 2, 1)
    assert admin.ok("get", f"/api/v1/shipments/{sh['id']}")["status"] == "cancelled"
    assert stock(admin, "MUG-01") == (10, 1)
    # The remaining mug packs and ships as usual.
    sh2 = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    assert sorted((l["sku"], l["quantity"]) for l in sh2["lines"]) == [("MUG-01", 1), ("TEE-M", 2)]
    admin.ok("post", f"/api/v1/shipments/{sh2['id']}/ship", {"carrier": "BRT", "tracking_number": "T2"})
    reconciliation_ok(admin)


def test_a_packed_shipment_not_in_the_way_stays_packed(shop: Client, admin: Client, shelf: dict[str, Any]) -> None:
    o = placed(shop, [("MUG-01", 3), ("TEE-M", 2)])
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "MUG-01", "quantity": 1}]},
                  status=201)
    shop.ok("post", f"/api/v1/orders/{o['id']}/cancel", {"lines": [{"sku": "MUG-01", "quantity": 2}]})
    assert admin.ok("get", f"/api/v1/shipments/{sh['id']}")["status"] == "packed"
    assert stock(admin, "MUG-01") == (10, 1)


def test_cancelling_more_than_is_open_is_refused_and_changes_nothing(
    shop: Client, admin: Client, shelf: dict[str, Any],
) -> None:
    o = placed(shop, [("MUG-01", 3)])
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "MUG-01", "quantity": 2}]},
                  status=201)
    admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    r = shop.post(f"/api/v1/orders/{o['id']}/cancel", {"lines": [{"sku": "MUG-01", "quantity": 2}]})
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "invalid_transition"
    assert "MUG-01 2 requested, 1 open" in err["message"]
    assert err["details"]["lines"] == [{"sku": "MUG-01", "requested": 2, "open": 1}]
    assert by_sku(admin.ok("get", f"/api/v1/orders/{o['id']}"))["MUG-01"]["cancelled_quantity"] == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"lines": []}, "lines"),
    ({"lines": [{"sku": "MUG-01", "quantity": 0}]}, "lines"),
    ({"lines": [{"sku": "MUG-01", "quantity": "2"}]}, "lines"),
    ({"lines": [{"quantity": 1}]}, "lines"),
    ({"lines": "all"}, "lines"),
])
def test_a_malformed_cancellation_is_a_validation_error(
    shop: Client, shelf: dict[str, Any], body: dict[str, Any], field: str,
) -> None:
    o = placed(shop, [("MUG-01", 3)])
    r = shop.post(f"/api/v1/orders/{o['id']}/cancel", body)
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "validation_error" and field in str(err["details"]["fields"])


def test_cancelling_a_sku_not_on_the_order_is_a_validation_error(shop: Client, shelf: dict[str, Any]) -> None:
    o = placed(shop, [("MUG-01", 3)])
    r = shop.post(f"/api/v1/orders/{o['id']}/cancel", {"lines": [{"sku": "TEE-M", "quantity": 1}]})
    assert r.status_code == 422 and "TEE-M" in str(r.get_json()["error"]["details"])


def test_lines_of_a_draft_cannot_be_cancelled_one_by_one(shop: Client, shelf: dict[str, Any]) -> None:
    o = placed(shop, [("MUG-01", 3)], confirm=False)
    r = shop.post(f"/api/v1/orders/{o['id']}/cancel", {"lines": [{"sku": "MUG-01", "quantity": 1}]})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "invalid_transition"
    # The whole draft can go.
    assert shop.ok("post", f"/api/v1/orders/{o['id']}/cancel")["status"] == "cancelled"


def test_a_whole_order_with_shipped_goods_names_the_way_out(shop: Client, admin: Client, shelf: dict[str, Any]) -> None:
    o = placed(shop, [("MUG-01", 3)])
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "MUG-01", "quantity": 1}]},
                  status=201)
    admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    r = shop.post(f"/api/v1/orders/{o['id']}/cancel")
    assert r.status_code == 409 and "naming its lines" in r.get_json()["error"]["message"]


def test_a_cancellation_replayed_with_its_idempotency_key_cancels_once(
    shop: Client, admin: Client, shelf: dict[str, Any],
) -> None:
    o = placed(shop, [("MUG-01", 4)])
    body = {"lines": [{"sku": "MUG-01", "quantity": 1}]}
    first = shop.post(f"/api/v1/orders/{o['id']}/cancel", body, headers={"Idempotency-Key": "cx-1"})
    again = shop.post(f"/api/v1/orders/{o['id']}/cancel", body, headers={"Idempotency-Key": "cx-1"})
    assert first.status_code == again.status_code == 200 and first.get_json() == again.get_json()
    assert by_sku(admin.ok("get", f"/api/v1/orders/{o['id']}"))["MUG-01"]["cancelled_quantity"] == 1
