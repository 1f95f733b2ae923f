"""A clerk receives a return in a real browser: the form on the order page,
the return page, the credit note page and its PDF, credit applied later."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from o2c.services.cash import payments
from o2c.services.platform.uow import unit_of_work
from tests.e2e.test_back_office import flash, sign_in
from tests.web.conftest import add_customer, add_order, add_product, make_user, pack_and_ship

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_clerk_receives_a_return_with_an_exchange_and_the_credit_is_used(
        engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "marta", "clerk")
    c = add_customer(engine, "C-AURORA", name="Caffè Aurora S.r.l.")
    add_product(engine, "MOKA-3", "29.90", on_hand=20, cost="12.40")
    add_product(engine, "OIL-EVO-750", "12.40", vat="0.04", on_hand=30, cost="6.35")
    o = add_order(engine, "C-AURORA", [("MOKA-3", 4), ("OIL-EVO-750", 6)])
    pack_and_ship(engine, o["id"])
    with unit_of_work(engine, "test") as tx:  # 119.60 + 26.31 + 74.40 + 2.98 = 223.29, paid in full
        payments.record_payment(tx, {"customer_id": c["id"], "amount": Decimal("223.29"), "currency": "EUR",
                                     "received_on": tx.today, "method": "bank_transfer", "reference": "SEPA-1"})
    pg, base = page, live_url
    sign_in(pg, base, "marta")

    pg.goto(f"{base}/orders/{o['id']}")
    pg.click("summary:has-text('Receive a return')")
    pg.fill("#f-return-lines-0-quantity", "1")
    pg.check("input[name=restock][value='0']")
    pg.click("summary:has-text('Exchange')")
    pg.fill("#f-exchange-0-sku", "MOKA-3")
    pg.fill("#f-exchange-0-quantity", "1")
    shoot(pg, "20-return-form")
    pg.click("#return button[type=submit]")
    pg.wait_for_url(re.compile(r".*/returns/\d+$"))
    message = flash(pg)
    assert "Return RMA-" in message and "credit note CN-" in message and "replacement order SO-" in message
    assert "36.48" in pg.inner_text("main")  # 29.90 + 6.58 VAT
    shoot(pg, "21-return")

    pg.click("a[href^='/credit-notes/']:not([download])")
    pg.wait_for_url(re.compile(r".*/credit-notes/\d+$"))
    assert "Credit note CN-" in pg.inner_text("h1")
    shoot(pg, "22-credit-note")
    with pg.expect_download() as got:
        pg.click("text=Download PDF")
    assert got.value.suggested_filename.startswith("CN-")

    pg.goto(f"{base}/credit-notes")
    shoot(pg, "23-credit-notes")
    pg.goto(f"{base}/returns")
    shoot(pg, "24-returns")

    # The replacement ships; its invoice is paid from the credit the return left.
    pg.click("a[href^='/orders/']:has-text('SO-')  >> nth=-1")
    new_id = int(re.search(r"/orders/(\d+)$", pg.url).group(1))
    assert "Replacement order for return" in pg.inner_text("main")
    sh = pack_and_ship(engine, new_id)
    pg.goto(f"{base}/invoices/{sh['invoice_id']}")
    shoot(pg, "25-invoice-with-credit")
    pg.click("button:has-text('from credit')")
    pg.wait_for_url(re.compile(r".*/invoices/\d+$"))
    assert "balance due 0.00" in flash(pg)
