"""A business event commits whole or not at all (SPEC.md §4: "posting happens
in the same database transaction as the business event").

A crash is injected in the middle of shipping, of recording a payment and of
creating-and-confirming an order: in the posting code, or at the database as
a given statement is about to run. Afterwards there must be no trace — no
stock moved, no journal entry, no invoice number used, no event or audit
row — and the same request, retried with the same Idempotency-Key once the
fault is gone, must simply work."""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text

from o2c.domain.access import SYSTEM
from o2c.services.fulfilment import shipping
from o2c.services.platform import clock
from o2c.services.platform.uow import Tx, unit_of_work
from tests.conftest import Client, customer, order, product, reconciliation_ok

TABLES = ("orders", "order_lines", "customers", "shipments", "invoices", "invoice_lines", "stock_movements",
          "journal_entries", "journal_lines", "payments", "payment_allocations", "events", "audit_log",
          "idempotency_keys")


class Crash(RuntimeError):
    """The injected fault: not a domain error, so nothing may catch it as one."""


def footprint(engine: Engine) -> dict[str, Any]:
    """Row counts of every table a business event writes, the numbers used so
    far, and the stock levels."""
    with engine.connect() as c:
        rows = {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
        rows["numbers_used"] = c.execute(text("SELECT coalesce(sum(last_value), 0) FROM number_series")).scalar_one()
        rows["stock"] = sorted(tuple(r) for r in c.execute(text(
            "SELECT p.sku, s.on_hand, s.reserved, s.value FROM stock s JOIN products p ON p.id = s.product_id")))
    return rows


@contextmanager
def fail_at_sql(engine: Engine, pattern: str, nth: int = 1) -> Iterator[list[str]]:
    """Raise ``Crash`` when the ``nth`` statement matching ``pattern`` is about to run."""
    hits: list[str] = []
    rx = re.compile(pattern, re.IGNORECASE | re.DOTALL)

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if rx.search(statement):
            hits.append(statement)
            if len(hits) == nth:
                raise Crash(f"injected fault before: {statement[:60]}")

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield hits
    finally:
        event.remove(engine, "before_cursor_execute", before)


def assert_internal_error(r: Any) -> None:
    assert r.status_code == 500, (r.status_code, r.get_data(as_text=True))
    assert r.mimetype == "application/json"
    err = r.get_json()["error"]
    assert err["code"] == "internal_error" and err["message"]


def ship_body(n: int = 1) -> dict[str, str]:
    return {"carrier": "BRT", "tracking_number": f"BRT-{n:04d}"}


@pytest.fixture
def packed(admin: Client) -> dict[str, Any]:
    """Three retro clocks and two mugs, confirmed and packed, not yet shipped."""
    customer(admin, "C-ROSSI", channels=["shop-a"])
    product(admin, "RETRO-CLOCK", "49.90", "0.22", stock=10, cost="20.00")
    product(admin, "MUG-01", "8.50", "0.10", stock=5, cost="3.33")
    o = order(admin, "C-ROSSI", [("RETRO-CLOCK", 3), ("MUG-01", 2)]).get_json()
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    return {"order": o, "shipment": sh}


def assert_still_packed(admin: Client, packed: dict[str, Any]) -> None:
    sh = admin.ok("get", f"/api/v1/shipments/{packed['shipment']['id']}")
    assert (sh["status"], sh["invoice_id"], sh["carrier"]) == ("packed", None, None)
    o = admin.ok("get", f"/api/v1/orders/{packed['order']['id']}")
    assert [(l["shipped_quantity"], l["invoiced_quantity"], l["reserved_quantity"]) for l in o["lines"]] == \
        [(0, 0, 3), (0, 0, 2)]
    assert (o["fulfillment_status"], o["invoice_ids"]) == ("unfulfilled", [])
    clock_ = admin.ok("get", "/api/v1/stock/RETRO-CLOCK")
    assert (clock_["on_hand"], clock_["reserved"]) == (10, 3)


def assert_first_invoice(admin: Client, shipped: dict[str, Any]) -> None:
    assert shipped["status"] == "shipped"
    inv = admin.ok("get", f"/api/v1/invoices/{shipped['invoice_id']}")
    year = inv["issue_date"][:4]
    assert inv["number"] == f"INV-{year}-000001"
    # 3 × 49.90 = 149.70 → 32.93; 2 × 8.50 = 17.00 → 1.70
    assert (inv["net_total"], inv["vat_total"], inv["total"]) == ("166.70", "34.63", "201.33")


# -- shipping ---------------------------------------------------------------------------------

SHIP_FAULTS = {
    # After stock moved and COGS posted, with the invoice number already taken.
    "invoice VAT lines": r"^\s*INSERT INTO invoice_vat",
    # The receivable entry's lines: the invoice row is written, the entry half-way.
    "journal lines": r"^\s*INSERT INTO journal_lines",
    # The last writes of the transaction: audit trail, events, the idempotency key.
    "audit trail": r"^\s*INSERT INTO audit_log",
    "events": r"^\s*INSERT INTO events",
    "idempotency key": r"^\s*INSERT INTO idempotency_keys",
}


@pytest.mark.parametrize("where", SHIP_FAULTS, ids=list(SHIP_FAULTS))
def test_a_crash_while_shipping_leaves_no_trace(where, app, engine, admin, clerk, packed):  # type: ignore[no-untyped-def]
    sid = packed["shipment"]["id"]
    before = footprint(engine)
    with fail_at_sql(engine, SHIP_FAULTS[where]) as hits:
        r = clerk.post(f"/api/v1/shipments/{sid}/ship", ship_body(), headers={"Idempotency-Key": "ship-1"})
    assert hits, f"the fault at {where} was never reached"
    assert_internal_error(r)
    assert footprint(engine) == before
    assert_still_packed(admin, packed)
    reconciliation_ok(admin)

    # The fault is gone: the same request with the same key now ships, and
    # gets the first invoice number, which the crash did not use up.
    shipped = clerk.ok("post", f"/api/v1/shipments/{sid}/ship", ship_body(), headers={"Idempotency-Key": "ship-1"})
    assert_first_invoice(admin, shipped)
    assert admin.ok("get", "/api/v1/stock/RETRO-CLOCK")["on_hand"] == 7
    reconciliation_ok(admin)


def test_a_crash_in_the_invoice_posting_rule_leaves_no_trace(monkeypatch, engine, admin, clerk, packed):  # type: ignore[no-untyped-def]
    """The posting code itself blows up (here: ``Tx.post`` of the receivable entry)."""
    real_post = Tx.post
    calls: list[str] = []

    def post(self: Tx, entry: Any) -> Any:
        if entry is not None:
            calls.append(entry.source_type)
            if entry.source_type == "invoice":
                raise Crash("the ledger is on fire")
        return real_post(self, entry)

    sid = packed["shipment"]["id"]
    before = footprint(engine)
    monkeypatch.setattr(Tx, "post", post)
    r = clerk.post(f"/api/v1/shipments/{sid}/ship", ship_body())
    monkeypatch.setattr(Tx, "post", real_post)
    assert "invoice" in calls and len(calls) >= 2, calls  # the COGS entry was posted first
    assert_internal_error(r)
    assert footprint(engine) == before
    assert_still_packed(admin, packed)

    shipped = clerk.ok("post", f"/api/v1/shipments/{sid}/ship", ship_body(2))
    assert_first_invoice(admin, shipped)
    reconciliation_ok(admin)


def test_a_crash_inside_the_ship_service_raises_and_rolls_back(engine, admin, packed):  # type: ignore[no-untyped-def]
    """Called directly, the service lets the exception out and the unit of work
    rolls everything back."""
    sid = packed["shipment"]["id"]
    before = footprint(engine)
    with fail_at_sql(engine, r"^\s*INSERT INTO invoice_lines"), pytest.raises(Crash):
        with unit_of_work(engine, "test:crash") as tx:
            shipping.ship(tx, sid, SYSTEM, "BRT", "BRT-0001")
    assert footprint(engine) == before
    assert_still_packed(admin, packed)

    with unit_of_work(engine, "test:retry") as tx:
        shipping.ship(tx, sid, SYSTEM, "BRT", "BRT-0001")
    assert_first_invoice(admin, admin.ok("get", f"/api/v1/shipments/{sid}"))
    reconciliation_ok(admin)


# -- payments ----------------------------------------------------------------------------------

PAYMENT_FAULTS = {
    "allocations": r"^\s*INSERT INTO payment_allocations",
    "bank entry": r"^\s*INSERT INTO journal_entries",
    "audit trail": r"^\s*INSERT INTO audit_log",
    "idempotency key": r"^\s*INSERT INTO idempotency_keys",
}


@pytest.mark.parametrize("where", PAYMENT_FAULTS, ids=list(PAYMENT_FAULTS))
def test_a_crash_while_recording_a_payment_leaves_no_trace(where, engine, admin, accountant, packed):  # type: ignore[no-untyped-def]
    sh = admin.ok("post", f"/api/v1/shipments/{packed['shipment']['id']}/ship", ship_body())
    inv = admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")
    body = {"customer_id": inv["customer_id"], "amount": "250.00", "currency": "EUR",
            "received_on": clock.now().date().isoformat(), "method": "bank_transfer", "reference": "BANK-0001"}
    before = footprint(engine)
    with fail_at_sql(engine, PAYMENT_FAULTS[where]) as hits:
        r = accountant.post("/api/v1/payments", body, headers={"Idempotency-Key": "pay-1"})
    assert hits, f"the fault at {where} was never reached"
    assert_internal_error(r)
    assert footprint(engine) == before
    inv_after = admin.ok("get", f"/api/v1/invoices/{inv['id']}")
    assert (inv_after["status"], inv_after["amount_paid"], inv_after["balance_due"]) == ("open", "0.00", "201.33")
    o = admin.ok("get", f"/api/v1/orders/{inv['order_id']}")
    assert (o["amount_paid"], o["payment_status"]) == ("0.00", "unpaid")
    tb = {a["code"]: a["balance"] for a in admin.ok("get", "/api/v1/ledger/trial-balance")["accounts"]}
    assert (tb["1000"], tb["1100"], tb["2300"]) == ("0.00", "201.33", "0.00")
    reconciliation_ok(admin)

    # The bank reference was not taken by the failed attempt: the retry records it.
    pay = accountant.ok("post", "/api/v1/payments", body, status=201, headers={"Idempotency-Key": "pay-1"})
    assert pay["allocations"] == [{"invoice_id": inv["id"], "amount": "201.33"}] and pay["unapplied"] == "48.67"
    tb = {a["code"]: a["balance"] for a in admin.ok("get", "/api/v1/ledger/trial-balance")["accounts"]}
    assert (tb["1000"], tb["1100"], tb["2300"]) == ("250.00", "0.00", "-48.67")
    reconciliation_ok(admin)


# -- create and confirm in one step ---------------------------------------------------------------

NEW_CUSTOMER = {"code": "C-VERDI", "name": "Verdi Casa", "email": "casa@verdi.example", "country": "IT",
                "billing_address": {"name": "Verdi Casa", "line1": "Corso Italia 1", "city": "Torino",
                                    "postal_code": "10121", "country": "IT"}}
ORDER_FAULTS = {
    # Between the two reservations: the clocks are reserved, the mugs not yet.
    "second reservation": (r"^\s*UPDATE stock\b", 2),
    "audit trail": (r"^\s*INSERT INTO audit_log", 1),
    "events": (r"^\s*INSERT INTO events", 1),
    "idempotency key": (r"^\s*INSERT INTO idempotency_keys", 1),
}


@pytest.mark.parametrize("where", ORDER_FAULTS, ids=list(ORDER_FAULTS))
def test_a_crash_while_creating_and_confirming_an_order_leaves_no_trace(where, engine, admin, shop):  # type: ignore[no-untyped-def]
    product(admin, "RETRO-CLOCK", "49.90", "0.22", stock=4, cost="20.00")
    product(admin, "MUG-01", "8.50", "0.10", stock=5, cost="3.33")
    body = {"external_ref": "shop-a-777", "customer": NEW_CUSTOMER, "currency": "EUR", "confirm": True,
            "lines": [{"sku": "RETRO-CLOCK", "quantity": 4}, {"sku": "MUG-01", "quantity": 5, "discount": "0.15"}]}
    before = footprint(engine)
    pattern, nth = ORDER_FAULTS[where]
    with fail_at_sql(engine, pattern, nth) as hits:
        r = shop.post("/api/v1/orders", body, headers={"Idempotency-Key": "o-777"})
    assert len(hits) == nth, f"the fault at {where} was never reached"
    assert_internal_error(r)
    assert footprint(engine) == before  # no order, no lines, no new customer, nothing reserved
    assert shop.ok("get", "/api/v1/orders")["items"] == []
    assert admin.get("/api/v1/customers").get_json()["items"] == []
    reconciliation_ok(admin)

    # Same key, same external_ref: neither was used up by the crash.
    o = shop.ok("post", "/api/v1/orders", body, status=201, headers={"Idempotency-Key": "o-777"})
    assert (o["status"], o["external_ref"]) == ("confirmed", "shop-a-777")
    # 4 × 49.90 = 199.60 → 43.91; 5 × 8.50 × 0.85 = 36.125 → 36.13 → 3.61
    assert (o["net_total"], o["vat_total"], o["total"]) == ("235.73", "47.52", "283.25")
    assert [admin.ok("get", f"/api/v1/stock/{s}")["reserved"] for s in ("RETRO-CLOCK", "MUG-01")] == [4, 5]
    reconciliation_ok(admin)


def test_a_crash_after_confirming_via_emit_leaves_no_trace(monkeypatch, engine, admin, shop):  # type: ignore[no-untyped-def]
    """The fault comes from Python, right after the confirmation reserved the
    stock and announced itself."""
    product(admin, "RETRO-CLOCK", "49.90", "0.22", stock=4, cost="20.00")
    customer(admin, "C-ROSSI", channels=["shop-a"])
    real_emit = Tx.emit

    def emit(self: Tx, type_: str, *args: Any, **kw: Any) -> None:
        if type_ == "order.confirmed":
            raise Crash("the event bus is down")
        real_emit(self, type_, *args, **kw)

    before = footprint(engine)
    monkeypatch.setattr(Tx, "emit", emit)
    r = order(shop, "C-ROSSI", [("RETRO-CLOCK", 4)], external_ref="shop-a-778")
    monkeypatch.setattr(Tx, "emit", real_emit)
    assert_internal_error(r)
    assert footprint(engine) == before
    assert admin.ok("get", "/api/v1/stock/RETRO-CLOCK")["reserved"] == 0

    r = order(shop, "C-ROSSI", [("RETRO-CLOCK", 4)], external_ref="shop-a-778")
    assert r.status_code == 201 and r.get_json()["status"] == "confirmed"
    reconciliation_ok(admin)


def test_the_fault_injector_really_fires_on_the_statement_it_names(engine, admin):  # type: ignore[no-untyped-def]
    """Guard for the tests above: an injected fault does stop the transaction."""
    with fail_at_sql(engine, r"^\s*INSERT INTO customers"), pytest.raises(Crash):
        with unit_of_work(engine, "test") as tx:
            tx.conn.execute(select(func.count()).select_from(text("customers")))
            tx.conn.execute(text("INSERT INTO customers (code) VALUES ('X')"))
