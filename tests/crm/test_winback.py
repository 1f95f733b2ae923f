"""Win-back on a constructed timeline: who is lapsed on a given day (own
interval × factor, or fixed days for one-time buyers), with the signals, and
a win-back message with a coupon of their own through the outbox."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from o2c.db import models as m
from o2c.domain.access import SYSTEM
from o2c.services.crm import winback
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import catalog
from tests.conftest import Client, order
from tests.crm.history import on


@pytest.fixture
def timeline(engine: Engine, monkeypatch: pytest.MonkeyPatch, admin: Client) -> dict[str, int]:
    """Regular: orders every 10 days (Jan 1, 11, 21). Monthly: Jan 1, Feb 1, Mar 3 (30-day rhythm).
    Once: a single order on Jan 5. Fresh: a single order on Mar 20."""
    ids = {}
    with on(monkeypatch, "2026-01-01"):
        for code in ("C-REGULAR", "C-MONTHLY", "C-ONCE", "C-FRESH"):
            ids[code] = admin.ok("post", "/api/v1/customers", {
                "code": code, "name": code.title(), "email": f"{code.lower()}@example.com", "country": "IT",
                "billing_address": {"name": code, "line1": "Via Roma 1", "city": "Milano", "postal_code": "20121",
                                    "country": "IT"}}, status=201)["id"]
        admin.ok("post", "/api/v1/products", {"sku": "MUG-01", "name": "Mug", "unit_price": "10.00",
                                              "vat_rate": "0.22"}, status=201)
        admin.ok("post", "/api/v1/stock/receipts", {"sku": "MUG-01", "quantity": 100, "unit_cost": "4.00"},
                 status=201)
    for day, code in [("2026-01-01", "C-REGULAR"), ("2026-01-11", "C-REGULAR"), ("2026-01-21", "C-REGULAR"),
                      ("2026-01-01", "C-MONTHLY"), ("2026-02-01", "C-MONTHLY"), ("2026-03-03", "C-MONTHLY"),
                      ("2026-01-05", "C-ONCE"), ("2026-03-20", "C-FRESH")]:
        with on(monkeypatch, day):
            assert order(admin, code, [("MUG-01", 1)]).status_code == 201
    monkeypatch.undo()
    return ids


def test_lapsed_customers_on_a_day_with_their_rhythm(timeline: dict[str, int], clerk: Client) -> None:
    got = clerk.ok("get", "/api/v1/customers/winback?as_of=2026-04-01&factor=2&one_time_days=60")
    # Regular: usual 10 days, 70 days since Jan 21 > 20. Once: 86 days > 60. Monthly: 29 days < 60.
    # Fresh: 12 days < 60.
    assert [(i["code"], i["days_since"], i["usual_interval_days"], i["threshold_days"]) for i in got["items"]] == [
        ("C-ONCE", 86, None, "60.0"), ("C-REGULAR", 70, "10.0", "20.0")]
    later = clerk.ok("get", "/api/v1/customers/winback?as_of=2026-06-01&factor=2&one_time_days=60")
    assert {i["code"] for i in later["items"]} == {"C-ONCE", "C-REGULAR", "C-MONTHLY", "C-FRESH"}
    assert clerk.get("/api/v1/customers/winback?as_of=never").status_code == 422


def test_signals_explain_a_lapse(timeline: dict[str, int], engine: Engine, clerk: Client) -> None:
    with engine.begin() as c:
        ship_id = None
        c.execute(update(m.Product.__table__).values(unit_price=Decimal("12.00")))
        cid = timeline["C-REGULAR"]
        oid = c.execute(select(m.Order.id).where(m.Order.customer_id == cid)).scalars().first()
        ship_id = c.execute(insert(m.Shipment.__table__).returning(m.Shipment.id), {
            "order_id": oid, "status": "shipped", "created_at": dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc),
            "shipped_at": dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)}).scalar_one()
        c.execute(insert(m.Feedback.__table__), {"customer_id": cid, "shipment_id": ship_id, "token_hash": "x" * 64,
                                                 "score": 2, "comment": None,
                                                 "created_at": dt.datetime(2026, 1, 9, tzinfo=dt.timezone.utc),
                                                 "answered_at": dt.datetime(2026, 1, 9, tzinfo=dt.timezone.utc)})
    got = clerk.ok("get", "/api/v1/customers/winback?as_of=2026-04-01&factor=2&one_time_days=60")
    regular = next(i for i in got["items"] if i["code"] == "C-REGULAR")
    assert [s["type"] for s in regular["signals"]] == ["low_score", "price_increase"]
    assert "MUG-01 now costs 12.00, they last paid 10.00" in regular["signals"][1]["detail"]


def test_a_winback_message_carries_a_coupon_of_their_own(timeline: dict[str, int], clerk: Client,
                                                        shop: Client, engine: Engine) -> None:
    cid = timeline["C-ONCE"]
    sent = clerk.ok("post", f"/api/v1/customers/{cid}/winback", {"percent_off": "15", "valid_days": 20}, status=201)
    coupon = sent["coupon"]
    assert (coupon["customer_id"], coupon["percent_off"], coupon["max_redemptions"]) == (cid, "15.00", 1)
    with engine.connect() as c:
        msg = c.execute(select(m.Message).where(m.Message.id == sent["message_id"])).one()
    assert (msg.kind, msg.customer_id, msg.status, msg.to) == ("winback", cid, "queued", "c-once@example.com")
    assert "15% off" in msg.subject and coupon["code"] in msg.body_text and coupon["code"] in msg.body_html
    # The coupon works for them only.
    assert order(clerk, "C-REGULAR", [("MUG-01", 1)], coupon=coupon["code"]).status_code == 409
    assert order(clerk, "C-ONCE", [("MUG-01", 1)], coupon=coupon["code"]).status_code == 201
    assert shop.post(f"/api/v1/customers/{cid}/winback", {}).status_code == 403
    assert shop.get("/api/v1/customers/winback").status_code == 403


@pytest.mark.parametrize(("language", "subject", "said"), [
    ("it", "di sconto sul Suo prossimo ordine", "ci è mancato"),
    ("pl", "rabatu na następne zamówienie", "brakowało nam Państwa"),
    ("ru", "на Ваш следующий заказ", "нам Вас не хватало"),
])
def test_a_winback_message_is_written_in_the_customers_language(timeline: dict[str, int], clerk: Client,
                                                                engine: Engine, language: str, subject: str,
                                                                said: str) -> None:
    cid = timeline["C-ONCE"]
    with engine.begin() as c:
        c.execute(update(m.Customer.__table__).where(m.Customer.id == cid).values(language=language))
    sent = clerk.ok("post", f"/api/v1/customers/{cid}/winback", {"amount_off": "5.00", "valid_days": 20},
                    status=201)
    with engine.connect() as c:
        msg = c.execute(select(m.Message).where(m.Message.id == sent["message_id"])).one()
    assert msg.language == language and subject in msg.subject and "5,00" in msg.subject
    for body in (msg.body_text, msg.body_html):
        assert said in body and sent["coupon"]["code"] in body and "missed" not in body
