"""The back-office fixtures (users per role, a customer with two products in
stock) shared with the security tests, and a small book of documents in
every state to fill path parameters with."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from o2c.db.models import Base

# Note: `shop` here is the back office's (a customer and two products), not the API client of tests/conftest.py.
from tests.web.conftest import (  # noqa: F401  (fixtures used by name)
    Web,
    accountant_web,
    add_order,
    admin_web,
    clerk_web,
    pack_and_ship,
    people,
    shop,
)


@pytest.fixture
def book(engine: Engine, shop: dict[str, Any]) -> dict[str, Any]:
    """One order shipped and invoiced (and paid in part), one confirmed and
    packed, one draft."""
    from decimal import Decimal

    from o2c.domain.access import SYSTEM
    from o2c.services.cash import payments
    from o2c.services.fulfilment import shipping
    from o2c.services.platform.uow import unit_of_work
    shipped = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 2)])
    sh = pack_and_ship(engine, shipped["id"])
    packed = add_order(engine, "C-ROSSI", [("DESK-LAMP", 1)])
    with unit_of_work(engine, "test") as tx:
        pending = shipping.pack(tx, packed["id"], SYSTEM, None)
    draft = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1)], confirm=False)
    with unit_of_work(engine, "test") as tx:
        pay = payments.record_payment(tx, {
            "customer_id": shop["customer"]["id"], "amount": Decimal("10.00"), "currency": "EUR",
            "received_on": tx.now.date(), "method": "bank_transfer", "reference": "BANK-BOOK-1"})
    # An invoice long overdue and a reminder letter for it; a webhook with a failed delivery.
    from o2c.services.cash import dunning
    from o2c.services.platform import webhooks
    from tests.api.books_helpers import on
    from tests.web.test_webhook_pages import failed_delivery
    with on("2026-01-05"):
        old = add_order(engine, "C-ROSSI", [("DESK-LAMP", 1)])
        pack_and_ship(engine, old["id"])
    with unit_of_work(engine, "test") as tx:
        letters = dunning.run(tx, tx.today)["letters"]
        hook = webhooks.create_webhook(tx, SYSTEM, {"url": "https://shop.example/hooks",
                                                    "event_types": ["shipment.*"]})
    delivery = failed_delivery(engine, hook["id"])
    # Goods that came back: a return with its credit note.
    from o2c.services.fulfilment import returns
    sold = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1)])
    pack_and_ship(engine, sold["id"])
    with unit_of_work(engine, "test") as tx:
        rma = returns.create_return(tx, sold["id"], SYSTEM, {
            "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}], "restock": True, "refund": "credit"})
    from o2c.services.platform import apikeys
    with unit_of_work(engine, "test") as tx:
        api_key = apikeys.create_api_key(tx, "shop-book", "webshop")[0]
    # A quotation sent with its acceptance link.
    from o2c.services.sales import quotes
    with unit_of_work(engine, "test") as tx:
        quote = quotes.create_quote(tx, SYSTEM, {"customer": {"code": "C-ROSSI"},
                                                 "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}]})
        quote_token = quotes.send_quote(tx, quote["id"], SYSTEM)[1]
    return {"quote_id": quote["id"], "quote_token": quote_token, "api_key_id": api_key["id"], "shipped": shipped, "invoice_id": sh["invoice_id"], "shipment_id": sh["id"], "packed": packed,
            "pending_shipment": pending["id"], "draft": draft, "customer_id": shop["customer"]["id"],
            "payment_id": pay["id"], "letter_id": letters[0]["id"], "webhook_id": hook["id"],
            "delivery_id": delivery, "return_id": rma["id"], "credit_note_id": rma["credit_note_ids"][0]}


def row_counts(engine: Engine) -> dict[str, int]:
    """How many rows every table holds: a request that must change nothing
    leaves these exactly as they were."""
    with engine.connect() as c:
        return {t.name: c.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}
