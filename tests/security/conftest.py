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
    from o2c.services.platform import apikeys, outbox
    with unit_of_work(engine, "test") as tx:
        api_key = apikeys.create_api_key(tx, "shop-book", "webshop")[0]
        message_id = outbox.queue_message(
            tx, kind="statement", customer_id=shop["customer"]["id"], template="statement", to="a@shop.example",
            context={"as_of": tx.today, "balance": Decimal("10.00"), "currency": "EUR"})
    # A bank statement.
    import datetime as dt

    from o2c.services.cash import bank_import
    from tests.bankfiles import COMPANY_IBAN, Stmt, Txn, camt053
    day = dt.date(2026, 1, 10)
    with unit_of_work(engine, "test") as tx:
        statement = bank_import.import_file(tx, camt053(COMPANY_IBAN, "EUR", [Stmt("BOOK-1", day, day, Decimal(0), [
            Txn(day, Decimal("10.00"), "Rossi", remittance="Payment")])]), "camt.053").statements[0]
    # A satisfaction request after the shipment, its link's secret known to the tests.
    from o2c.db import models as m
    from o2c.services.crm import feedback
    with unit_of_work(engine, "test") as tx:
        tx.conn.execute(m.Feedback.__table__.insert(), {
            "customer_id": shop["customer"]["id"], "shipment_id": sh["id"],
            "token_hash": feedback.token_hash(FEEDBACK_TOKEN), "created_at": tx.now})
    # A quotation sent with its acceptance link.
    from o2c.services.sales import quotes
    with unit_of_work(engine, "test") as tx:
        quote = quotes.create_quote(tx, SYSTEM, {"customer": {"code": "C-ROSSI"},
                                                 "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}]})
        quote_token = quotes.send_quote(tx, quote["id"], SYSTEM)[1]
    return {"quote_id": quote["id"], "quote_token": quote_token, "api_key_id": api_key["id"], "shipped": shipped, "invoice_id": sh["invoice_id"], "shipment_id": sh["id"], "packed": packed,
            "pending_shipment": pending["id"], "draft": draft, "customer_id": shop["customer"]["id"],
            "payment_id": pay["id"], "letter_id": letters[0]["id"], "webhook_id": hook["id"],
            "delivery_id": delivery, "return_id": rma["id"], "credit_note_id": rma["credit_note_ids"][0],
            "message_id": message_id, "statement_id": statement["id"], "line_id": _first_line(engine, statement["id"])}


#: The secret of the book's satisfaction link (``/f/<token>``).
FEEDBACK_TOKEN = "a-satisfaction-link-of-the-book"


def _first_line(engine: Engine, statement_id: int) -> int:
    from sqlalchemy import select

    from o2c.db import models as m
    with engine.connect() as c:
        return int(c.execute(select(m.BankLine.id).where(m.BankLine.statement_id == statement_id)
                             .order_by(m.BankLine.id)).scalars().first())


def row_counts(engine: Engine) -> dict[str, int]:
    """How many rows every table holds: a request that must change nothing
    leaves these exactly as they were."""
    with engine.connect() as c:
        return {t.name: c.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}
