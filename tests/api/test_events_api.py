"""The events feed and webhook API: channel isolation, permissions, and bad
input answered in the contract's error shape."""
from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from o2c.db import models as m
from o2c.domain.access import SYSTEM, Principal
from o2c.services.platform import events
from o2c.services.platform.uow import unit_of_work
from tests.conftest import PG_URL, Client, customer, product

URL = "https://shop-a.example/hooks/o2c"


def place(api: Client, ref: str, confirm: bool = True) -> dict[str, Any]:
    return api.ok("post", "/api/v1/orders", {"external_ref": ref, "customer": {"code": "C-ROSSI"},
                                             "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}], "confirm": confirm},
                  status=201)


@pytest.fixture
def two_shops(admin: Client, shop: Client, shop_b: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    customer(admin, "C-ROSSI", channels=["shop-a", "shop-b"])
    product(admin, "RETRO-CLOCK", "49.00", stock=10)
    return place(shop, "A-1"), place(shop_b, "B-1")


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.get_json())
    body = r.get_json()["error"]
    assert body["code"] == code and body["message"]
    return body


def test_the_feed_is_in_id_order_and_pages_with_after(admin: Client, two_shops: Any) -> None:
    page1 = admin.ok("get", "/api/v1/events?limit=3")
    ids = [e["id"] for e in page1["items"]]
    assert ids == sorted(ids) and len(ids) == 3 and page1["next_cursor"] == str(ids[-1])
    page2 = admin.ok("get", f"/api/v1/events?after={page1['next_cursor']}&limit=100")
    assert [e["id"] for e in page2["items"]] == list(range(ids[-1] + 1, ids[-1] + 1 + len(page2["items"])))
    last = page2["items"][-1]["id"]
    assert admin.ok("get", f"/api/v1/events?after={last}") == {"items": [], "next_cursor": None, "has_more": False}
    types = admin.ok("get", "/api/v1/events?type=order.confirmed&type=order.created")["items"]
    assert {e["type"] for e in types} == {"order.created", "order.confirmed"} and len(types) == 4


def test_a_webshop_sees_only_its_own_channels_events(shop: Client, shop_b: Client, admin: Client,
                                                     two_shops: Any) -> None:
    a, b = two_shops
    mine = shop.ok("get", "/api/v1/events")["items"]
    assert {e["channel"] for e in mine} == {"shop-a"} and {e["order_id"] for e in mine} == {a["id"]}
    theirs = shop_b.ok("get", "/api/v1/events")["items"]
    assert {e["order_id"] for e in theirs} == {b["id"]}
    assert shop.get(f"/api/v1/events/{theirs[0]['id']}").status_code == 404
    assert shop.ok("get", f"/api/v1/events/{mine[0]['id']}") == mine[0]
    assert len(admin.ok("get", "/api/v1/events")["items"]) == len(mine) + len(theirs) + 0


def test_a_webshop_never_sees_another_shops_webhooks(shop: Client, shop_b: Client, admin: Client) -> None:
    hook = shop.ok("post", "/api/v1/webhooks", {"url": URL}, status=201)
    assert hook["channel"] == "shop-a" and hook["event_types"] == ["*"]
    base = f"/api/v1/webhooks/{hook['id']}"
    for r in (shop_b.get(base), shop_b.patch(base, {"active": False}), shop_b.get(f"{base}/deliveries"),
              shop_b.post(f"{base}/rotate-secret"), shop_b.post(f"{base}/redeliver-failed"),
              shop_b.c.delete(base, headers={"Authorization": f"Bearer {shop_b.key}"})):
        assert_error(r, 404, "not_found")
    assert shop_b.ok("get", "/api/v1/webhooks")["items"] == []
    assert [w["id"] for w in shop.ok("get", "/api/v1/webhooks")["items"]] == [hook["id"]]
    assert [w["id"] for w in admin.ok("get", "/api/v1/webhooks")["items"]] == [hook["id"]]
    assert shop.ok("get", base)["active"] is True


def test_a_webshop_subscribes_to_its_own_channel_only(shop: Client) -> None:
    body = assert_error(shop.post("/api/v1/webhooks", {"url": URL, "channel": "shop-b"}), 403, "forbidden")
    assert "own channel" in body["message"]
    assert shop.ok("post", "/api/v1/webhooks", {"url": URL, "channel": "shop-a"}, status=201)["channel"] == "shop-a"


def test_only_webshops_and_admins_manage_webhooks(clerk: Client, accountant: Client, shop: Client) -> None:
    for api in (clerk, accountant):
        assert_error(api.post("/api/v1/webhooks", {"url": URL}), 403, "forbidden")
        assert_error(api.get("/api/v1/webhooks"), 403, "forbidden")
        assert api.get("/api/v1/events").status_code == 200
    r = shop.c.get("/api/v1/webhooks")
    assert_error(r, 401, "unauthorized")


@pytest.mark.parametrize("body, field", [
    ({}, "url"),
    ({"url": "ftp://shop.example/x"}, "url"),
    ({"url": "/relative"}, "url"),
    ({"url": "https://user:pw@shop.example/x"}, "url"),
    ({"url": "https://shop.example:99999/x"}, "url"),
    ({"url": "https://shop.example/" + "x" * 2048}, "url"),
    ({"url": URL, "event_types": ["shipment.lost"]}, "event_types"),
    ({"url": URL, "event_types": []}, "event_types"),
    ({"url": URL, "event_types": "order.created"}, "event_types"),
    ({"url": URL, "active": "maybe"}, "active"),
    ({"url": URL, "surprise": 1}, "surprise"),
])
def test_bad_webhook_input_is_a_validation_error(shop: Client, body: dict[str, Any], field: str) -> None:
    err = assert_error(shop.post("/api/v1/webhooks", body), 422, "validation_error")
    assert field in err["details"]["fields"], err


@pytest.mark.parametrize("query, field", [
    ("after=-1", "after"), ("after=x", "after"), ("limit=0", "limit"), ("limit=1001", "limit"),
])
def test_bad_feed_queries_are_validation_errors(shop: Client, query: str, field: str) -> None:
    err = assert_error(shop.get(f"/api/v1/events?{query}"), 422, "validation_error")
    assert field in err["details"]["fields"]


def test_unknown_webhooks_and_deliveries_are_not_found(shop: Client) -> None:
    assert_error(shop.get("/api/v1/webhooks/999"), 404, "not_found")
    hook = shop.ok("post", "/api/v1/webhooks", {"url": URL}, status=201)
    assert_error(shop.get(f"/api/v1/webhooks/{hook['id']}/deliveries/1"), 404, "not_found")
    assert_error(shop.post(f"/api/v1/webhooks/{hook['id']}/deliveries/1/redeliver"), 404, "not_found")
    assert_error(shop.get(f"/api/v1/webhooks/{hook['id']}/deliveries?status=lost"), 422, "validation_error")
    assert_error(shop.patch(f"/api/v1/webhooks/{hook['id']}", {"url": "nope"}), 422, "validation_error")


def test_a_channel_has_a_bounded_number_of_webhooks(shop: Client) -> None:
    for i in range(20):
        shop.ok("post", "/api/v1/webhooks", {"url": f"{URL}?n={i}"}, status=201)
    assert_error(shop.post("/api/v1/webhooks", {"url": URL}), 409, "conflict")


def test_patching_a_webhook_changes_only_what_it_names(shop: Client) -> None:
    hook = shop.ok("post", "/api/v1/webhooks", {"url": URL, "description": "orders to the ERP"}, status=201)
    after = shop.ok("patch", f"/api/v1/webhooks/{hook['id']}", {"event_types": ["shipment.*", "invoice.paid"]})
    assert after["event_types"] == ["shipment.*", "invoice.paid"]
    assert after["url"] == URL and after["description"] == "orders to the ERP"


def test_the_openapi_document_describes_the_events_api(app: Any) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    assert {"/api/v1/events", "/api/v1/webhooks", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
            "/api/v1/webhooks/{webhook_id}/redeliver-failed"} <= set(spec["paths"])


# -- the settled horizon ---------------------------------------------------------------

def _event(conn: Any, n: int) -> None:
    conn.execute(insert(m.Event.__table__), {"type": "order.created", "channel": "shop-a", "order_id": n,
                                             "data": {}, "created_at": dt.datetime.now(dt.timezone.utc)})


@pytest.mark.skipif(not PG_URL, reason="commit order differs from id order only with concurrent writers (PostgreSQL)")
def test_the_feed_never_skips_an_event_that_commits_after_a_later_id(engine: Engine) -> None:
    """Transaction 1 draws id 1 and is still open when transaction 2 commits
    id 2. A reader must not hand out id 2 (and move past 1) before 1 is settled."""
    reader: Principal = SYSTEM
    slow = engine.connect()
    tx1 = slow.begin()
    _event(slow, 1)  # id 1, not committed yet
    with engine.begin() as conn:
        _event(conn, 2)  # id 2, committed
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert events.settled_horizon(tx.conn, wait_s=0.2) is None
        assert events.list_events(tx, reader, 0, 100, wait_s=0.2) == ([], None)

    threading.Timer(0.3, tx1.commit).start()  # commits while the reader waits
    with unit_of_work(engine, "test", readonly=True) as tx:
        items, cursor = events.list_events(tx, reader, 0, 100, wait_s=5)
    slow.close()
    assert [e["id"] for e in items] == [1, 2] and cursor == 2


def test_with_no_writer_in_flight_the_horizon_is_the_last_id(engine: Engine) -> None:
    with engine.begin() as conn:
        _event(conn, 1)
        _event(conn, 2)
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert events.settled_horizon(tx.conn) == 2
