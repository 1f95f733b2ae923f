"""The options of after-sales (backorders, cancellations, reversals) cost
the plain order-to-cash cycle nothing: create and confirm, pack, ship and
pay take the same SQL statements as before they existed."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event

from tests.conftest import Client, customer, product

#: Statements per request of one full cycle, the key's last use fresh (so it
#: is not written): what the cycle took before backorders, cancellations and
#: reversals existed, plus the one insert that queues the invoice's PDF
#: render when shipping issues it, plus one read of the API key per request:
#: keys are no longer cached per process, so a revoked key is refused at once
#: everywhere (a single indexed SELECT outside any transaction: no BEGIN on
#: SQLite, autocommit on PostgreSQL).
#: The tax treatment is decided at confirmation from the company settings
#: (country, VAT id, OSS), cached 30 s per process like the invoicing
#: settings they are read with: in this test the cache is cold, so the one
#: read moves from shipping (which found them cold before) to the order
#: (+1 there, −1 when shipping); warm, neither reads them.
#: (SQLite counts its explicit BEGIN; PostgreSQL's is implicit.)
BUDGETS = {"sqlite": {"create+confirm": 10, "pack": 9, "ship": 22, "pay": 14},
           "postgresql": {"create+confirm": 9, "pack": 8, "ship": 20, "pay": 13}}
#: Of which reading the API key, once per request.
KEY_READS = 1


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def full_cycle(admin: Client, engine: Engine, c: dict[str, Any], currency: str,
               ) -> tuple[dict[str, int], dict[str, Any], dict[str, Any]]:
    """Statements per request of create and confirm, pack, ship and pay (the
    invoice's total) for two clocks; with the order and the invoice."""
    used = {}
    with counting(engine) as seen:
        o = admin.ok("post", "/api/v1/orders", {"customer": {"code": c["code"]}, "confirm": True,
                                                "lines": [{"sku": "RETRO-CLOCK", "quantity": 2}]}, status=201)
    used["create+confirm"] = len(seen)
    with counting(engine) as seen:
        sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    used["pack"] = len(seen)
    with counting(engine) as seen:
        sh = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    used["ship"] = len(seen)
    inv = admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")
    with counting(engine) as seen:
        admin.ok("post", "/api/v1/payments", {"customer_id": c["id"], "amount": inv["total"], "currency": currency,
                                              "received_on": dt.date.today().isoformat(), "reference": "B-1"},
                 status=201)
    used["pay"] = len(seen)
    return used, o, inv


@pytest.mark.parametrize("send_invoices", ["manual", "auto"])
def test_a_full_cycle_takes_no_more_statements_than_before(admin: Client, engine: Engine, send_invoices: str) -> None:
    """E-mailing invoices costs the cycle nothing, for either customer: the
    message to an auto-send customer is queued in the transaction that stores
    the invoice's PDF (the render job, after the ship committed), not in the
    ship itself (o2c.services.billing.documents.mail_when_issued)."""
    budget = BUDGETS[engine.dialect.name]
    c = customer(admin, "C-ROSSI", send_invoices=send_invoices)
    product(admin, "RETRO-CLOCK", "49.90", "0.22", stock=10, cost="20.00")
    admin.ok("get", "/api/v1/orders")  # the key's last_used_at is fresh from here on: no write
    used, o, _ = full_cycle(admin, engine, c, "EUR")
    assert used == budget, used
    # The key is read with the statement that checks it, and nothing else touches api_keys.
    with counting(engine) as seen:
        admin.ok("get", f"/api/v1/orders/{o['id']}")
    assert sum("api_keys" in st for st in seen) == KEY_READS, seen

    # An order that allows backorders but finds its stock costs the same
    # (the company settings warm now: one statement less than the cold first order).
    with counting(engine) as seen:
        admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-ROSSI"}, "confirm": True, "allow_backorder": True,
                                            "lines": [{"sku": "RETRO-CLOCK", "quantity": 2}]}, status=201)
    assert len(seen) == budget["create+confirm"] - 1


#: What a cycle in another currency adds: the order reads its prices and the
#: day's rate with its product read (nothing more); the invoice freezes its
#: rate and the payment takes its day's, one statement each.
FOREIGN_EXTRA = {"create+confirm": 0, "pack": 0, "ship": 1, "pay": 1}


def test_a_cycle_in_zloty_takes_at_most_one_more_statement_per_event(admin: Client, engine: Engine) -> None:
    budget = BUDGETS[engine.dialect.name]
    admin.ok("post", "/api/v1/currencies", {"code": "PLN", "enabled": True})
    admin.ok("post", "/api/v1/fx/rates", {"currency": "PLN", "date": dt.date.today().isoformat(), "rate": "4.2750"},
             status=201)
    c = customer(admin, "C-WAWA", currency="PLN")
    product(admin, "RETRO-CLOCK", "49.90", "0.22", stock=10, cost="20.00")
    admin.ok("get", "/api/v1/orders")
    used, o, inv = full_cycle(admin, engine, c, "PLN")
    assert (o["currency"], inv["currency"], inv["exchange_rate"]) == ("PLN", "PLN", "4.2750")
    assert used == {k: budget[k] + FOREIGN_EXTRA[k] for k in budget}, used
