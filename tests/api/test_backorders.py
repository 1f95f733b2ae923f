"""Backorders: an order that allows them is confirmed with what is in stock,
the rest waits; a goods receipt reserves for the waiting lines, oldest first,
in its own transaction; only reserved goods are packed."""
from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import Client, customer, order, product, reconciliation_ok


@pytest.fixture
def shelf(admin: Client) -> dict[str, Any]:
    c = customer(admin, "C-ROSSI", channels=["shop-a", "shop-b"])
    product(admin, "LAMP-01", "40.00", "0.22", stock=3, cost="15.00")
    product(admin, "MUG-01", "8.50", "0.10", stock=10, cost="3.00")
    return {"customer": c}


def placed(api: Client, lines: list[tuple[str, int]], **over: Any) -> dict[str, Any]:
    r = order(api, "C-ROSSI", lines, allow_backorder=True, **over)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def line(o: dict[str, Any], sku: str) -> dict[str, Any]:
    return next(l for l in o["lines"] if l["sku"] == sku)


def receive(api: Client, sku: str, qty: int, cost: str = "15.00") -> dict[str, Any]:
    return api.ok("post", "/api/v1/stock/receipts", {"sku": sku, "quantity": qty, "unit_cost": cost}, status=201)


def test_without_the_option_a_short_order_is_still_refused(shop: Client, shelf: dict[str, Any]) -> None:
    r = order(shop, "C-ROSSI", [("LAMP-01", 5)])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "out_of_stock"


def test_confirmation_reserves_what_is_there_and_backorders_the_rest(
    shop: Client, admin: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = placed(shop, [("LAMP-01", 5), ("MUG-01", 2)])
    assert o["status"] == "confirmed" and o["allow_backorder"] is True
    lamp = line(o, "LAMP-01")
    assert (lamp["reserved_quantity"], lamp["backordered_quantity"]) == (3, 2)
    assert (line(o, "MUG-01")["reserved_quantity"], line(o, "MUG-01")["backordered_quantity"]) == (2, 0)
    assert admin.ok("get", "/api/v1/stock/LAMP-01")["available"] == 0
    assert admin.ok("get", f"/api/v1/orders/{o['id']}") == o
    with engine.connect() as c:
        data = c.execute(text("SELECT data FROM events WHERE type = 'order.confirmed'")).scalar_one()
    assert "backordered" in str(data) and "LAMP-01" in str(data)
    reconciliation_ok(admin)


def test_a_draft_that_allows_backorders_confirms_short(shop: Client, admin: Client, shelf: dict[str, Any]) -> None:
    o = placed(shop, [("LAMP-01", 4)], confirm=False)
    out = shop.ok("post", f"/api/v1/orders/{o['id']}/confirm")
    assert (line(out, "LAMP-01")["reserved_quantity"], line(out, "LAMP-01")["backordered_quantity"]) == (3, 1)
    assert admin.ok("get", f"/api/v1/orders/{o['id']}")["lines"] == out["lines"]


def test_packing_takes_only_what_is_reserved(shop: Client, admin: Client, shelf: dict[str, Any]) -> None:
    o = placed(shop, [("LAMP-01", 5)])
    r = admin.post(f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "LAMP-01", "quantity": 4}]})
    assert r.status_code == 409 and r.get_json()["error"]["details"]["lines"] == [
        {"sku": "LAMP-01", "requested": 4, "open": 3}]
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    assert sh["lines"] == [{"sku": "LAMP-01", "quantity": 3}]
    assert admin.post(f"/api/v1/orders/{o['id']}/shipments", {}).status_code == 409  # the rest waits
    admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    o = admin.ok("get", f"/api/v1/orders/{o['id']}")
    assert (o["status"], o["fulfillment_status"]) == ("confirmed", "partially_shipped")
    reconciliation_ok(admin)


def test_a_receipt_fills_the_oldest_backorders_first(
    shop: Client, admin: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    first = placed(shop, [("LAMP-01", 5)])   # 3 reserved, 2 waiting
    second = placed(shop, [("LAMP-01", 4)])  # 0 reserved, 4 waiting
    got = receive(admin, "LAMP-01", 3)
    assert got["backorders_filled"] == [
        {"order_id": first["id"], "number": first["number"], "sku": "LAMP-01", "line_no": 1, "quantity": 2,
         "still_backordered": 0},
        {"order_id": second["id"], "number": second["number"], "sku": "LAMP-01", "line_no": 1, "quantity": 1,
         "still_backordered": 3},
    ]
    assert got["stock"]["on_hand"] == 6 and got["stock"]["reserved"] == 6
    assert line(admin.ok("get", f"/api/v1/orders/{first['id']}"), "LAMP-01")["backordered_quantity"] == 0
    assert line(admin.ok("get", f"/api/v1/orders/{second['id']}"), "LAMP-01")["reserved_quantity"] == 1
    with engine.connect() as c:
        n = c.execute(text("SELECT count(*) FROM events WHERE type = 'order.backorder_reserved'")).scalar_one()
    assert n == 2
    # More than is waiting: the rest is simply available.
    got = receive(admin, "LAMP-01", 10)
    assert [f["quantity"] for f in got["backorders_filled"]] == [3]
    assert got["stock"]["available"] == 7
    reconciliation_ok(admin)


def test_a_cancelled_backorder_is_not_filled(shop: Client, admin: Client, shelf: dict[str, Any]) -> None:
    o = placed(shop, [("LAMP-01", 5)])
    out = shop.ok("post", f"/api/v1/orders/{o['id']}/cancel", {"lines": [{"sku": "LAMP-01", "quantity": 1}]})
    # What was never reserved goes first: 1 of the 2 waiting is cancelled.
    assert (line(out, "LAMP-01")["reserved_quantity"], line(out, "LAMP-01")["backordered_quantity"]) == (3, 1)
    assert admin.ok("get", "/api/v1/stock/LAMP-01")["reserved"] == 3
    shop.ok("post", f"/api/v1/orders/{o['id']}/cancel")
    assert admin.ok("get", "/api/v1/stock/LAMP-01")["reserved"] == 0
    assert receive(admin, "LAMP-01", 2)["backorders_filled"] == []
    assert admin.ok("get", "/api/v1/backorders")["items"] == []
    reconciliation_ok(admin)


def test_the_backorder_list_says_what_waits_for_what(
    shop: Client, shop_b: Client, admin: Client, shelf: dict[str, Any],
) -> None:
    product(admin, "CLOCK-01", "60.00", "0.22")  # none in stock
    a = placed(shop, [("LAMP-01", 4), ("CLOCK-01", 2)])
    b = placed(shop_b, [("CLOCK-01", 1)])
    items = admin.ok("get", "/api/v1/backorders")["items"]
    assert [(i["order_id"], i["sku"], i["waiting"]) for i in items] == [
        (a["id"], "LAMP-01", 1), (a["id"], "CLOCK-01", 2), (b["id"], "CLOCK-01", 1)]
    first = items[0]
    assert first["order_number"] == a["number"] and first["ordered"] == 4 and first["reserved"] == 3
    assert first["customer_code"] == "C-ROSSI" and first["since"] == a["confirmed_at"]
    by_sku = admin.ok("get", "/api/v1/backorders?sku=CLOCK-01")["items"]
    assert [i["order_id"] for i in by_sku] == [a["id"], b["id"]]
    assert [i["order_id"] for i in shop.ok("get", "/api/v1/backorders")["items"]] == [a["id"], a["id"]]
    page1 = admin.ok("get", "/api/v1/backorders?limit=2")
    page2 = admin.ok("get", f"/api/v1/backorders?limit=2&cursor={page1['next_cursor']}")
    assert [i["sku"] for i in page1["items"] + page2["items"]] == ["LAMP-01", "CLOCK-01", "CLOCK-01"]
    assert page2["next_cursor"] is None
    r = admin.get("/api/v1/backorders?cursor=abc")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "validation_error"
    assert admin.get("/api/v1/backorders?limit=0").status_code == 422


def test_the_credit_check_counts_the_whole_backordered_order(shop: Client, admin: Client) -> None:
    customer(admin, "C-TIGHT", credit_limit="100.00", channels=["shop-a"])
    product(admin, "LAMP-01", "40.00", "0.22", stock=1, cost="15.00")
    r = order(shop, "C-TIGHT", [("LAMP-01", 3)], allow_backorder=True)  # 146.40 > 100, though only 48.80 reserved
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "credit_limit_exceeded"


def test_the_option_must_be_a_boolean(shop: Client, shelf: dict[str, Any]) -> None:
    r = order(shop, "C-ROSSI", [("LAMP-01", 1)], allow_backorder="sometimes")
    assert r.status_code == 422 and "allow_backorder" in r.get_json()["error"]["details"]["fields"]


def test_the_reconciliation_finds_an_open_quantity_nobody_holds(
    shop: Client, admin: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = placed(shop, [("LAMP-01", 5)])
    check = next(c for c in admin.ok("get", "/api/v1/reconciliation")["checks"] if c["name"] == "open_quantities")
    assert (check["left"], check["right"], check["difference"]) == ("5", "5", "0")
    with engine.begin() as c:  # a line that forgot its backorder: a receipt would never serve it
        c.execute(text("UPDATE order_lines SET backordered_quantity = 0 WHERE order_id = :o"), {"o": o["id"]})
    rep = admin.ok("get", "/api/v1/reconciliation")
    check = next(c for c in rep["checks"] if c["name"] == "open_quantities")
    assert rep["ok"] is False and check["difference"] == "2"


# -- stock freed by a cancellation or a restocked return -----------------------------------

def hand_over_jobs(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(
            "SELECT key, status FROM jobs WHERE kind = 'backorders.hand_over' ORDER BY id")).all()]


def run_hand_overs(engine: Engine, db_url: str) -> None:
    """A worker in this process until no hand-over job is left (a job done is deleted)."""
    from o2c.config import Config
    from o2c.worker import Worker, load_job_modules
    load_job_modules()
    worker = Worker(engine, Config(DATABASE_URL=db_url, ENV="testing"), concurrency=1, poll_interval=0.02,
                    name="w", periodic=[])
    worker.run(until=lambda: not hand_over_jobs(engine), timeout=30)
    assert hand_over_jobs(engine) == []


def test_a_cancellation_hands_the_freed_stock_to_the_order_waiting_for_it(
    shop: Client, admin: Client, shelf: dict[str, Any], engine: Engine, db_url: str,
) -> None:
    first = order(shop, "C-ROSSI", [("LAMP-01", 3)]).get_json()  # takes every lamp
    waiting = placed(shop, [("LAMP-01", 2)])
    assert (line(waiting, "LAMP-01")["reserved_quantity"], line(waiting, "LAMP-01")["backordered_quantity"]) == (0, 2)
    with engine.connect() as c:
        lamp_id = c.execute(text("SELECT id FROM products WHERE sku = 'LAMP-01'")).scalar_one()

    shop.ok("post", f"/api/v1/orders/{first['id']}/cancel")
    # Not in the cancellation's own transaction (it would lock the waiting
    # order after the stock row): a job, committed with it, does it.
    assert hand_over_jobs(engine) == [(f"backorders:{lamp_id}", "queued")]
    assert line(shop.ok("get", f"/api/v1/orders/{waiting['id']}"), "LAMP-01")["backordered_quantity"] == 2
    assert admin.ok("get", "/api/v1/stock/LAMP-01")["available"] == 3

    run_hand_overs(engine, db_url)
    got = line(shop.ok("get", f"/api/v1/orders/{waiting['id']}"), "LAMP-01")
    assert (got["reserved_quantity"], got["backordered_quantity"]) == (2, 0)
    assert admin.ok("get", "/api/v1/stock/LAMP-01")["available"] == 1
    with engine.connect() as c:
        events = c.execute(text("SELECT order_id, data FROM events WHERE type = 'order.backorder_reserved'")).all()
        actor = c.execute(text("SELECT actor FROM audit_log WHERE action = 'order.backorder_reserved'")).scalar_one()
    data = events[0].data if isinstance(events[0].data, dict) else json.loads(events[0].data)
    assert [e.order_id for e in events] == [waiting["id"]]
    assert data["lines"] == [{"sku": "LAMP-01", "line_no": 1, "quantity": 2, "still_backordered": 0}]
    assert actor == "worker"
    reconciliation_ok(admin)


def test_cancelled_lines_free_only_what_they_held_and_one_job_serves_several_cancellations(
    shop: Client, admin: Client, shelf: dict[str, Any], engine: Engine, db_url: str,
) -> None:
    first = order(shop, "C-ROSSI", [("LAMP-01", 3)]).get_json()
    waiting = placed(shop, [("LAMP-01", 3)])
    shop.ok("post", f"/api/v1/orders/{first['id']}/cancel", {"lines": [{"sku": "LAMP-01", "quantity": 1}]})
    shop.ok("post", f"/api/v1/orders/{first['id']}/cancel", {"lines": [{"sku": "LAMP-01", "quantity": 1}]})
    assert [st for _, st in hand_over_jobs(engine)] == ["queued"]  # keyed per product: one job for both
    run_hand_overs(engine, db_url)
    got = line(shop.ok("get", f"/api/v1/orders/{waiting['id']}"), "LAMP-01")
    assert (got["reserved_quantity"], got["backordered_quantity"]) == (2, 1)
    assert line(shop.ok("get", f"/api/v1/orders/{first['id']}"), "LAMP-01")["reserved_quantity"] == 1
    assert admin.ok("get", "/api/v1/stock/LAMP-01")["available"] == 0
    reconciliation_ok(admin)


def test_a_cancellation_nobody_waits_for_queues_nothing(
    shop: Client, admin: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    first = order(shop, "C-ROSSI", [("LAMP-01", 2), ("MUG-01", 1)]).get_json()
    shop.ok("post", f"/api/v1/orders/{first['id']}/cancel")
    assert hand_over_jobs(engine) == []
    assert admin.ok("get", "/api/v1/stock/LAMP-01")["available"] == 3


def test_a_restocked_return_hands_the_goods_to_the_order_waiting_for_them(
    shop: Client, admin: Client, shelf: dict[str, Any], engine: Engine, db_url: str,
) -> None:
    sold = order(shop, "C-ROSSI", [("LAMP-01", 3)]).get_json()
    sh = admin.ok("post", f"/api/v1/orders/{sold['id']}/shipments", {}, status=201)
    admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    waiting = placed(shop, [("LAMP-01", 2)])
    admin.ok("post", f"/api/v1/orders/{sold['id']}/returns",
             {"lines": [{"sku": "LAMP-01", "quantity": 1}], "restock": True}, status=201)
    assert [st for _, st in hand_over_jobs(engine)] == ["queued"]
    run_hand_overs(engine, db_url)
    got = line(shop.ok("get", f"/api/v1/orders/{waiting['id']}"), "LAMP-01")
    assert (got["reserved_quantity"], got["backordered_quantity"]) == (1, 1)
    assert admin.ok("get", "/api/v1/stock/LAMP-01")["available"] == 0
    reconciliation_ok(admin)
