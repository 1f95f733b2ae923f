"""After-sales in a real browser: a clerk takes an order with backorders,
cancels part of it, and an accountant reverses a recalled payment and moves
money between two invoices."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from o2c.services.cash import payments
from o2c.services.fulfilment import stock
from o2c.services.platform.uow import unit_of_work
from tests.e2e.test_back_office import flash, sign_in
from tests.web.conftest import add_customer, add_order, add_product, make_user, pack_and_ship

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_clerk_backorders_cancels_part_and_the_receipt_fills_the_rest(
        engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "marta", "clerk")
    add_customer(engine, "C-AURORA", name="Caffè Aurora S.r.l.")
    add_product(engine, "MOKA-3", "29.90", on_hand=2, cost="12.40")
    pg, base = page, live_url
    pg.on("dialog", lambda d: d.accept())  # the "are you sure?" of the cancel form
    sign_in(pg, base, "marta")

    pg.goto(f"{base}/orders/new")
    pg.fill("#f-customer-code", "C-AURORA")
    pg.fill("#f-lines-0-sku", "MOKA-3")
    pg.fill("#f-lines-0-quantity", "6")
    pg.check("#f-allow_backorder")
    pg.click("button:has-text('Save order')")
    pg.wait_for_url(re.compile(r".*/orders/\d+$"))
    order_url = pg.url
    assert "created and confirmed" in flash(pg)
    assert "BACKORDERED" in pg.inner_text(".lines-table").upper()
    shoot(pg, "20-order-with-backorder")

    pg.goto(f"{base}/backorders")
    table = pg.inner_text("table.list")
    assert "MOKA-3" in table and "Caffè Aurora" in table
    shoot(pg, "21-backorders")

    # Cancel 1 of the 4 waiting.
    pg.goto(order_url)
    pg.click("summary:has-text('Cancel quantities')")
    pg.fill("[aria-label='Cancel, MOKA-3']", "1")
    pg.click("button:has-text('Cancel these quantities')")
    pg.wait_for_url(order_url)
    assert "Cancelled 1 × MOKA-3" in flash(pg)
    shoot(pg, "22-order-after-cancel")

    with unit_of_work(engine, "test") as tx:
        got = stock.receive(tx, "MOKA-3", 5, Decimal("12.40"))
    assert [f["quantity"] for f in got["backorders_filled"]] == [3]
    pg.goto(f"{base}/backorders")
    assert "Nothing is waiting for stock" in pg.inner_text("main")


def test_an_accountant_reverses_a_recalled_payment_and_moves_money_between_invoices(
        engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "paolo", "accountant")
    c = add_customer(engine, "C-AURORA", name="Caffè Aurora S.r.l.")
    add_product(engine, "MOKA-3", "10.00", vat="0.10", on_hand=10, cost="4.00")
    a = pack_and_ship(engine, add_order(engine, "C-AURORA", [("MOKA-3", 2)])["id"])  # 22.00
    b = pack_and_ship(engine, add_order(engine, "C-AURORA", [("MOKA-3", 3)])["id"])  # 33.00
    with unit_of_work(engine, "test") as tx:
        kept = payments.record_payment(tx, {
            "customer_id": c["id"], "amount": Decimal("22.00"), "currency": "EUR", "received_on": dt.date.today(),
            "method": "bank_transfer", "reference": "SEPA-1",
            "allocations": [{"invoice_id": a["invoice_id"], "amount": Decimal("22.00")}]})
        recalled = payments.record_payment(tx, {  # pays b, 22.00 left as credit
            "customer_id": c["id"], "amount": Decimal("55.00"), "currency": "EUR", "received_on": dt.date.today(),
            "method": "bank_transfer", "reference": "SEPA-2", "allocations": None})
    assert kept["unapplied"] == 0 and recalled["unapplied"] == Decimal("22.00")
    pg, base = page, live_url
    pg.on("dialog", lambda d: d.accept())
    sign_in(pg, base, "paolo")

    pg.goto(f"{base}/payments/{recalled['id']}")
    pg.fill("#f-reason", "Recalled by the bank (R06)")
    pg.check("#f-confirm")
    shoot(pg, "23-payment-reverse-form")
    pg.click("button:has-text('Reverse payment')")
    pg.wait_for_url(f"{base}/payments/{recalled['id']}")
    assert "reversed; its invoices are open again" in flash(pg)
    assert "Recalled by the bank (R06)" in pg.inner_text(".facts")
    shoot(pg, "24-payment-reversed")

    pg.goto(f"{base}/customers/{c['id']}/credit")
    pg.select_option("#f-from_invoice_id", str(a["invoice_id"]))
    pg.select_option("#f-to_invoice_id", str(b["invoice_id"]))
    pg.fill("#reallocate #f-amount", "12.00")
    pg.click("button:has-text('Move')")
    pg.wait_for_url(f"{base}/customers/{c['id']}/credit")
    assert "12.00 moved from" in flash(pg)
    shoot(pg, "25-customer-credit")

    pg.goto(f"{base}/books/reconciliation")
    assert "every difference is zero" in pg.inner_text(".badges")
