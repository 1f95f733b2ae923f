"""Webhooks end to end: a real HTTP receiver on 127.0.0.1 gets signed
deliveries from a worker, through outages, in order per order."""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from o2c.config import Config
from o2c.db import models as m
from o2c.domain import signing
from o2c.outbound import Outbound
from o2c.worker import Worker
from tests.conftest import Client, customer, product
from tests.receiver import Received, Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def config(db_url: str) -> Config:
    """Retries in tens of milliseconds instead of minutes."""
    return Config(DATABASE_URL=db_url, ENV="testing", WEBHOOK_RETRY_BASE_S=0.05, WEBHOOK_RETRY_MAX_DELAY_S=0.2,
                  WEBHOOK_TIMEOUT_S=2)


@pytest.fixture
def stocked(admin: Client) -> None:
    customer(admin, "C-ROSSI", channels=["shop-a", "shop-b"])
    product(admin, "RETRO-CLOCK", "49.00", stock=100, cost="20.00")


def work(engine: Engine, config: Config, until: Callable[[], bool], timeout: float = 15, **kw: Any) -> None:
    """Run a worker in this process until ``until()`` holds; fail after ``timeout``."""
    Worker(engine, config, concurrency=kw.pop("concurrency", 3), poll_interval=0.02, **kw).run(
        until=until, timeout=timeout)
    assert until(), "the worker ran out of time"


def full_cycle(admin: Client, shop: Client, ref: str) -> int:
    """An order from the shop: created and confirmed, packed, shipped
    (invoiced), paid. Eight events on the shop's channel."""
    o = shop.ok("post", "/api/v1/orders", {"external_ref": ref, "customer": {"code": "C-ROSSI"}, "currency": "EUR",
                                           "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}], "confirm": True},
                status=201)
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    shipped = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship",
                       {"carrier": "BRT", "tracking_number": f"BRT-{ref}"})
    inv = admin.ok("get", f"/api/v1/invoices/{shipped['invoice_id']}")
    admin.ok("post", "/api/v1/payments", {"customer_id": o["customer_id"], "amount": inv["total"], "currency": "EUR",
                                          "received_on": "2026-03-02", "reference": f"SEPA-{ref}",
                                          "allocations": [{"invoice_id": inv["id"], "amount": inv["total"]}]},
              status=201)
    return int(o["id"])


def subscribe(api: Client, url: str, **body: Any) -> dict[str, Any]:
    return api.ok("post", "/api/v1/webhooks", {"url": url, **body}, status=201)


def feed(api: Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        page = api.ok("get", f"/api/v1/events?after={after}&limit=1000")
        items += page["items"]
        if not page["items"]:
            return items
        after = int(page["next_cursor"])


def assert_signed(r: Received, secret: str) -> None:
    header = r.headers["O2C-Signature"]
    assert signing.verify(header, r.body, secret, now=time.time()), header
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["O2C-Event-Id"] == str(r.event["id"])
    assert r.headers["O2C-Event-Type"] == r.event["type"]


def assert_in_order_per_order(got: list[Received]) -> None:
    per_order: dict[Any, list[int]] = defaultdict(list)
    for r in got:
        per_order[r.event["order_id"]].append(r.event["id"])
    for oid, ids in per_order.items():
        if oid is not None:
            assert ids == sorted(ids), f"order {oid} out of order: {ids}"


def test_a_webshop_receives_every_event_of_its_orders_signed_and_in_order(
    engine: Engine, config: Config, admin: Client, shop: Client, stocked: None, receiver: Receiver,
) -> None:
    hook = subscribe(shop, receiver.url)
    orders = [full_cycle(admin, shop, f"A-{i}") for i in range(3)]
    expected = feed(shop)
    assert len(expected) == 24 and {e["order_id"] for e in expected} == set(orders)

    work(engine, config, lambda: len(receiver.accepted()) >= len(expected))
    got = receiver.accepted()
    for r in got:
        assert_signed(r, hook["secret"])
    assert_in_order_per_order(got)
    assert sorted(r.event["id"] for r in got) == [e["id"] for e in expected]
    # The body is the event exactly as the feed shows it.
    assert {r.event["id"]: r.event for r in got} == {e["id"]: e for e in expected}
    shipped = next(r.event for r in got if r.event["type"] == "shipment.shipped")
    assert shipped["data"]["tracking_number"].startswith("BRT-A-") and shipped["data"]["carrier"] == "BRT"

    view = shop.ok("get", f"/api/v1/webhooks/{hook['id']}")
    assert view["deliveries"] == {"pending": 0, "delivered": 24, "failed": 0}
    assert "secret" not in view


def test_business_transactions_write_no_deliveries_or_jobs(
    engine: Engine, admin: Client, shop: Client, stocked: None, receiver: Receiver,
) -> None:
    """Fan-out happens after commit, in the worker: the hot path stays as lean
    as before. The one job a cycle adds is the invoice's PDF rendering."""
    subscribe(shop, receiver.url)
    full_cycle(admin, shop, "LEAN-1")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.WebhookDelivery.__table__)).scalar() == 0
        queued = conn.execute(select(m.Job.__table__.c.kind, m.Job.__table__.c.key)).all()
    (invoice_id,) = [i["id"] for i in admin.ok("get", "/api/v1/invoices")["items"]]
    assert [tuple(r) for r in queued] == [("invoice.render_pdf", f"invoice-pdf:{invoice_id}")]


def test_when_the_receiver_is_down_deliveries_are_retried_until_it_is_back(
    engine: Engine, config: Config, admin: Client, shop: Client, stocked: None, receiver: Receiver,
) -> None:
    hook = subscribe(shop, receiver.url)
    full_cycle(admin, shop, "B-1")
    # A few deliveries get through, then the receiver dies.
    work(engine, config, lambda: len(receiver.accepted()) >= 2)
    receiver.stop()
    full_cycle(admin, shop, "B-2")
    full_cycle(admin, shop, "B-3")

    def refused() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(m.WebhookAttempt.__table__).where(
                m.WebhookAttempt.__table__.c.error == "connection refused")).scalar_one()

    work(engine, config, lambda: refused() >= 6)
    pending = shop.ok("get", f"/api/v1/webhooks/{hook['id']}/deliveries?status=pending&limit=100")["items"]
    assert pending and any(d["attempts"] >= 2 and d["last_error"] == "connection refused" for d in pending)

    receiver.start()  # back on the same port
    expected = feed(shop)
    work(engine, config, lambda: {r.event["id"] for r in receiver.accepted()} >= {e["id"] for e in expected})
    got = receiver.accepted()
    for r in got:
        assert_signed(r, hook["secret"])
    assert_in_order_per_order(got)
    assert {r.event["id"] for r in got} == {e["id"] for e in expected}
    assert shop.ok("get", f"/api/v1/webhooks/{hook['id']}")["deliveries"]["pending"] == 0


def test_a_failing_event_holds_back_its_own_order_only(
    engine: Engine, config: Config, admin: Client, shop: Client, stocked: None, receiver: Receiver,
) -> None:
    blocked: set[int] = set()
    receiver.answer = lambda r: 500 if r.event["order_id"] in blocked else 200
    subscribe(shop, receiver.url)
    stuck = full_cycle(admin, shop, "C-1")
    blocked.add(stuck)
    other = full_cycle(admin, shop, "C-2")

    def of(order_id: int, status: int | None = None) -> list[int]:
        return [r.event["id"] for r, s in receiver.all() if r.event["order_id"] == order_id and status in (None, s)]

    work(engine, config, lambda: len(of(other, 200)) == 8 and len(of(stuck)) >= 3)
    first_of_stuck = min(e["id"] for e in feed(shop) if e["order_id"] == stuck)
    assert set(of(stuck)) == {first_of_stuck}, "later events of the failing order must wait"

    blocked.clear()
    work(engine, config, lambda: len(of(stuck, 200)) == 8)
    assert of(stuck, 200) == sorted(of(stuck, 200))


def test_after_the_horizon_a_delivery_fails_visibly_and_can_be_redelivered(
    engine: Engine, db_url: str, admin: Client, shop: Client, stocked: None, receiver: Receiver,
) -> None:
    config = Config(DATABASE_URL=db_url, ENV="testing", WEBHOOK_RETRY_BASE_S=0.05, WEBHOOK_RETRY_MAX_DELAY_S=0.1,
                    WEBHOOK_RETRY_HORIZON_S=2.0)  # wide enough for two attempts on a loaded machine
    receiver.answer = lambda r: 503
    hook = subscribe(shop, receiver.url, event_types=["order.*", "shipment.*"])
    oid = full_cycle(admin, shop, "D-1")
    base = f"/api/v1/webhooks/{hook['id']}"

    def failed() -> list[dict[str, Any]]:
        return shop.ok("get", f"{base}/deliveries?status=failed")["items"]

    work(engine, config, lambda: bool(failed()))
    (dead,) = failed()
    assert dead["event_type"] == "order.created" and dead["last_status_code"] == 503
    log = shop.ok("get", f"{base}/deliveries/{dead['id']}")["attempt_log"]
    assert len(log) >= 2 and {a["status_code"] for a in log} == {503}
    assert all(a["response_excerpt"] == "not now" and a["duration_ms"] >= 0 for a in log)
    held = shop.ok("get", f"{base}/deliveries?status=pending")["items"]
    assert len(held) == 4 and {d["blocked_by"] for d in held} == {dead["id"]}
    assert {d["attempts"] for d in held} == {0}
    # Nothing more is tried while the lane is held.
    tried = len(receiver.all())
    work(engine, config, lambda: True, timeout=1)
    time.sleep(0.2)
    assert len(receiver.all()) == tried

    receiver.answer = lambda r: 200
    again = shop.ok("post", f"{base}/deliveries/{dead['id']}/redeliver", status=202)
    assert again["status"] == "pending" and again["attempt_log"] == log
    work(engine, config, lambda: len(receiver.accepted()) == 5)
    got = [r.event for r in receiver.accepted()]
    assert [e["type"] for e in got] == ["order.created", "order.confirmed", "shipment.packed", "shipment.shipped",
                                        "order.completed"]
    assert {e["order_id"] for e in got} == {oid}
    assert shop.ok("get", base)["deliveries"] == {"pending": 0, "delivered": 5, "failed": 0}


def test_redeliver_failed_sends_every_failed_delivery_again(
    engine: Engine, db_url: str, admin: Client, shop: Client, stocked: None, receiver: Receiver,
) -> None:
    config = Config(DATABASE_URL=db_url, ENV="testing", WEBHOOK_RETRY_BASE_S=0.05, WEBHOOK_RETRY_MAX_DELAY_S=0.1,
                    WEBHOOK_RETRY_HORIZON_S=0.2)
    receiver.answer = lambda r: 500
    hook = subscribe(shop, receiver.url, event_types=["order.created"])
    for i in range(3):
        full_cycle(admin, shop, f"E-{i}")
    base = f"/api/v1/webhooks/{hook['id']}"
    work(engine, config, lambda: shop.ok("get", base)["deliveries"]["failed"] == 3)
    receiver.answer = lambda r: 200
    assert shop.ok("post", f"{base}/redeliver-failed", status=202) == {"webhook_id": hook["id"], "requeued": 3}
    work(engine, config, lambda: len(receiver.accepted()) == 3)
    assert shop.ok("get", base)["deliveries"] == {"pending": 0, "delivered": 3, "failed": 0}


def test_a_paused_webhook_sends_nothing_and_catches_up_when_switched_on(
    engine: Engine, config: Config, admin: Client, shop: Client, stocked: None, receiver: Receiver,
) -> None:
    hook = subscribe(shop, receiver.url, event_types=["shipment.shipped"], active=False)
    full_cycle(admin, shop, "F-1")
    work(engine, config, lambda: True, timeout=0.5)
    assert receiver.all() == []
    shop.ok("patch", f"/api/v1/webhooks/{hook['id']}", {"active": True})
    work(engine, config, lambda: len(receiver.accepted()) == 1)
    assert receiver.accepted()[0].event["type"] == "shipment.shipped"


def test_after_a_rotation_deliveries_carry_both_signatures(
    engine: Engine, config: Config, admin: Client, shop: Client, stocked: None, receiver: Receiver,
) -> None:
    hook = subscribe(shop, receiver.url, event_types=["order.created"])
    rotated = shop.ok("post", f"/api/v1/webhooks/{hook['id']}/rotate-secret")
    assert rotated["secret"] != hook["secret"] and rotated["previous_secret_valid_until"]
    full_cycle(admin, shop, "G-1")
    work(engine, config, lambda: len(receiver.accepted()) == 1)
    (r,) = receiver.accepted()
    assert r.headers["O2C-Signature"].count("v1=") == 2
    assert_signed(r, hook["secret"])
    assert_signed(r, rotated["secret"])


def test_the_secret_is_shown_once_and_stored_nowhere(
    engine: Engine, shop: Client, receiver: Receiver,
) -> None:
    body = {"url": receiver.url}
    first = shop.ok("post", "/api/v1/webhooks", body, headers={"Idempotency-Key": "hook-1"}, status=201)
    replay = shop.ok("post", "/api/v1/webhooks", body, headers={"Idempotency-Key": "hook-1"}, status=201)
    assert replay == first and first["secret"].startswith("whsec_")
    assert "secret" not in shop.ok("get", f"/api/v1/webhooks/{first['id']}")
    assert all("secret" not in w for w in shop.ok("get", "/api/v1/webhooks")["items"])
    with engine.connect() as conn:
        for table in ("webhooks", "idempotency_keys", "audit_log", "jobs"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                assert first["secret"] not in repr(tuple(row)), table


def test_an_admin_webhook_without_a_channel_hears_every_channel(
    engine: Engine, config: Config, admin: Client, shop: Client, shop_b: Client, stocked: None,
    receiver: Receiver,
) -> None:
    everything = subscribe(admin, receiver.url, event_types=["order.created"])
    assert everything["channel"] is None
    only_b = subscribe(admin, receiver.url + "?only=b", event_types=["order.created"], channel="shop-b")
    for api, ref in ((shop, "H-A"), (shop_b, "H-B")):
        api.ok("post", "/api/v1/orders", {"external_ref": ref, "customer": {"code": "C-ROSSI"},
                                          "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}]}, status=201)
    work(engine, config, lambda: len(receiver.accepted()) == 3)
    got = sorted((r.event["channel"], r.path.endswith("only=b")) for r in receiver.accepted())
    assert got == [("shop-a", False), ("shop-b", False), ("shop-b", True)]
    assert admin.ok("get", f"/api/v1/webhooks/{only_b['id']}")["deliveries"]["delivered"] == 1
    assert admin.ok("get", f"/api/v1/webhooks/{everything['id']}")["deliveries"]["delivered"] == 2


def test_deleting_a_webhook_stops_its_deliveries(
    engine: Engine, config: Config, admin: Client, shop: Client, stocked: None, receiver: Receiver,
) -> None:
    hook = subscribe(shop, receiver.url)
    full_cycle(admin, shop, "I-1")
    r = shop.c.delete(f"/api/v1/webhooks/{hook['id']}", headers={"Authorization": f"Bearer {shop.key}"})
    assert r.status_code == 204 and r.data == b""
    assert shop.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404
    work(engine, config, lambda: True, timeout=0.3)
    assert receiver.all() == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.WebhookDelivery.__table__)).scalar() == 0


def test_deliveries_to_private_addresses_are_refused_unless_allowed() -> None:
    refused = Outbound(timeout_s=1, allow_private=False).post("http://127.0.0.1:9/x", b"{}", {})
    assert refused.status is None and "non-public address" in (refused.error or "")
    closed = Outbound(timeout_s=1, allow_private=True).post("http://127.0.0.1:9/x", b"{}", {})
    assert closed.status is None and closed.error == "connection refused"
