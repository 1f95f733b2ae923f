"""The clerk's daily screens in a real browser: a payment started from an
invoice pays that invoice, the orders list finds what is packed, and the
order page is short, opens its forms on demand and tells its history in words."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from o2c.domain.access import SYSTEM
from o2c.services.billing import invoicing
from o2c.services.fulfilment import shipping
from o2c.services.platform.uow import unit_of_work
from tests.e2e.test_back_office import flash, sign_in
from tests.web.conftest import add_customer, add_order, add_product, make_user, pack_and_ship

pytestmark = [pytest.mark.slow, pytest.mark.browser]

#: The order page of this test's order (open lines, a packed shipment, a
#: shipped one, an invoice, seven audit rows) was 2,310 px tall at 1366 px
#: wide while its pack, cancel and return forms stood open; folded behind
#: their buttons it is about 1,380 px.
ORDER_PAGE_MAX_PX = 1450


def balance(engine: Engine, invoice_id: int) -> Decimal:
    with unit_of_work(engine, "test", readonly=True) as tx:
        return invoicing.get_invoice(tx, invoice_id, SYSTEM)["balance_due"]


def test_a_payment_recorded_from_an_invoice_pays_that_invoice(
        engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "marta", "clerk")
    add_customer(engine, "C-AURORA", name="Caffè Aurora S.r.l.")
    add_product(engine, "MOKA-3", "29.90", on_hand=20, cost="12.40")
    older = pack_and_ship(engine, add_order(engine, "C-AURORA", [("MOKA-3", 1)])["id"])   # 36.48
    newer = pack_and_ship(engine, add_order(engine, "C-AURORA", [("MOKA-3", 2)])["id"])   # 72.96
    pg, base = page, live_url
    sign_in(pg, base, "marta")

    pg.goto(f"{base}/invoices/{newer['invoice_id']}")
    number = re.search(r"INV-\d{4}-\d+", pg.inner_text("h1")).group(0)
    pg.click("a:has-text('Record payment')")
    pg.wait_for_url(re.compile(r".*/payments/new\?.*"))
    # The form says, before saving, which invoice the money settles.
    first = pg.locator("table.allocations tbody tr").first
    assert number in first.inner_text() and pg.input_value("#f-allocations-0-amount") == "72.96"
    assert pg.input_value("#f-allocations-1-amount") == ""
    settles = pg.inner_text("section.settles")
    assert number in settles and "paid in full" in settles
    pg.fill("#f-reference", "SEPA-AURORA-0022")
    shoot(pg, "30-payment-from-invoice")
    pg.click("button:has-text('Record payment') >> nth=-1")
    pg.wait_for_url(re.compile(r".*/payments/\d+$"))
    assert "72.96 EUR recorded" in flash(pg)
    assert number in pg.inner_text("main")
    assert balance(engine, newer["invoice_id"]) == Decimal("0.00")
    assert balance(engine, older["invoice_id"]) == Decimal("36.48")


def test_the_orders_list_finds_what_is_packed_and_what_is_to_pack(
        engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "marta", "clerk")
    add_customer(engine, "C-AURORA", name="Caffè Aurora S.r.l.")
    add_product(engine, "MOKA-3", "29.90", on_hand=20, cost="12.40")
    packed = add_order(engine, "C-AURORA", [("MOKA-3", 2)])
    to_pack = add_order(engine, "C-AURORA", [("MOKA-3", 3)])
    shipped = add_order(engine, "C-AURORA", [("MOKA-3", 1)])
    with unit_of_work(engine, "test") as tx:
        sh = shipping.pack(tx, packed["id"], SYSTEM, None)
    pack_and_ship(engine, shipped["id"])
    pg, base = page, live_url
    sign_in(pg, base, "marta")

    pg.goto(f"{base}/orders")
    row = pg.locator(f"tr:has(a:text-is('{packed['number']}'))")
    assert "packed" in row.inner_text() and "unfulfilled" not in row.inner_text()
    pg.select_option("#fulfillment", "packed")
    pg.click("button:has-text('Filter')")
    pg.wait_for_url(re.compile(r".*fulfillment=packed.*"))
    listed = pg.locator("table.list tbody a[href^='/orders/']").all_inner_texts()
    assert listed == [packed["number"]]
    shoot(pg, "31-orders-packed")
    pg.select_option("#fulfillment", "to_pack")
    pg.click("button:has-text('Filter')")
    pg.wait_for_url(re.compile(r".*fulfillment=to_pack.*"))
    assert pg.locator("table.list tbody a[href^='/orders/']").all_inner_texts() == [to_pack["number"]]

    # The shipment page says where it goes.
    pg.goto(f"{base}/shipments/{sh['id']}")
    assert "Via Dante 5" in pg.inner_text(".facts")
    shoot(pg, "32-shipment")


def test_the_order_page_is_short_opens_its_forms_and_tells_its_history_in_words(
        engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "marta", "clerk")
    add_customer(engine, "C-AURORA", name="Caffè Aurora S.r.l.")
    add_product(engine, "MOKA-3", "29.90", on_hand=20, cost="12.40")
    add_product(engine, "OIL-EVO-750", "12.40", vat="0.04", on_hand=30, cost="6.35")
    add_product(engine, "CUP-SET", "18.00", on_hand=10, cost="7.00")
    o = add_order(engine, "C-AURORA", [("MOKA-3", 4), ("OIL-EVO-750", 6), ("CUP-SET", 2)])
    shipped = pack_and_ship(engine, o["id"], [{"sku": "MOKA-3", "quantity": 2}])  # shipped and invoiced
    with unit_of_work(engine, "test") as tx:
        shipping.pack(tx, o["id"], SYSTEM, [{"sku": "OIL-EVO-750", "quantity": 3}])  # packed, waiting
    pg, base = page, live_url
    pg.on("dialog", lambda d: d.accept())
    sign_in(pg, base, "marta")
    # The invoice's PDF is rendered and stored: its SHA-256 is in the audit log.
    assert pg.request.get(f"{base}/invoices/{shipped['invoice_id']}/pdf").ok

    pg.goto(f"{base}/orders/{o['id']}")
    height = pg.evaluate("document.documentElement.scrollHeight")
    print(f"order page height: {height} px")
    assert height <= ORDER_PAGE_MAX_PX, height
    shoot(pg, "33-order-folded")
    # The forms are closed until their button is pressed.
    for button, field in (("Pack a shipment", "Pack now, CUP-SET"), ("Cancel quantities", "Cancel, CUP-SET"),
                          ("Receive a return", "Returned now, MOKA-3")):
        assert not pg.get_by_label(field).is_visible()
        pg.click(f"summary:has-text('{button}')")
        assert pg.get_by_label(field).is_visible()
    shoot(pg, "34-order-forms-open")

    # The audit trail, for a clerk: words and document numbers, no raw states, ids, hashes or costs.
    trail = pg.inner_text("table.audit")
    assert "Partially shipped" in trail and "Shipment SH-" in trail and "INV-" in trail and "PDF stored" in trail
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", trail), trail
    assert not re.search(r"\b[0-9a-f]{64}\b", trail) and "sha" not in trail.lower()
    assert "cost" not in trail.lower() and "24.80" not in trail  # 2 × 12.40 shipped at cost
    links = pg.locator("table.audit a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert any(h.startswith("/invoices/") for h in links) and any(h.startswith("/shipments/") for h in links)

    # Pack the rest from the opened form.
    pg.goto(f"{base}/orders/{o['id']}")
    pg.click("summary:has-text('Pack a shipment')")
    pg.get_by_label("Pack now, CUP-SET").fill("2")
    pg.get_by_label("Pack now, MOKA-3").fill("0")
    pg.get_by_label("Pack now, OIL-EVO-750").fill("0")
    pg.click("#pack button[type=submit]")
    pg.wait_for_url(re.compile(r".*/shipments/\d+$"))
    assert "packed" in flash(pg)
