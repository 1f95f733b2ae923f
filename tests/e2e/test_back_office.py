"""A clerk's day and an accountant's check, in a real browser."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from o2c.services.platform import clock
from tests.web.conftest import PASSWORD, add_customer, add_product, make_user

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def sign_in(pg: Any, base: str, username: str) -> None:
    pg.goto(f"{base}/login")
    pg.fill("#f-username", username)
    pg.fill("#f-password", PASSWORD)
    pg.press("#f-password", "Enter")
    pg.wait_for_url(f"{base}/")


def flash(pg: Any) -> str:
    return pg.inner_text(".flashes")


def test_a_clerk_takes_an_order_to_cash_and_the_accountant_finds_the_books_reconciled(
        engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "marta", "clerk")
    make_user(engine, "paolo", "accountant")
    add_customer(engine, "C-AURORA", name="Caffè Aurora S.r.l.")
    add_product(engine, "MOKA-3", "29.90", on_hand=20, cost="12.40")
    add_product(engine, "OIL-EVO-750", "12.40", vat="0.04", on_hand=30, cost="6.35")
    pg, base = page, live_url

    sign_in(pg, base, "marta")
    shoot(pg, "01-dashboard")

    # A two-line order, totals calculated on the server, then saved and confirmed.
    pg.click("text=New order")
    pg.fill("#f-customer-code", "C-AURORA")
    pg.fill("#f-lines-0-sku", "MOKA-3")
    pg.fill("#f-lines-0-quantity", "4")
    pg.fill("#f-lines-1-sku", "OIL-EVO-750")
    pg.fill("#f-lines-1-quantity", "6")
    pg.fill("#f-lines-1-discount", "5")
    pg.press("#f-lines-1-discount", "Enter")  # Enter calculates, it does not save
    totals = pg.inner_text(".preview")
    # nets 119.60 (22 %: 26.31) and 6 × 12.40 less 5 % = 70.68 (4 %: 2.83)
    assert "219.42 EUR" in totals
    shoot(pg, "02-new-order")
    assert pg.is_checked("#f-confirm")
    pg.click("button:has-text('Save order')")
    pg.wait_for_url(re.compile(r".*/orders/\d+$"))
    assert "created and confirmed" in flash(pg)
    assert pg.inner_text(".badges").split()[0] == "confirmed"
    order_url = pg.url

    # Pack part of it: all the moka pots, two of the six bottles.
    pg.click("summary:has-text('Pack a shipment')")
    pg.fill("#f-lines-1-quantity", "2")
    pg.click("#pack button[type=submit]")
    pg.wait_for_url(re.compile(r".*/shipments/\d+$"))
    assert "packed" in flash(pg)
    with pg.context.expect_page() as slip_info:
        pg.evaluate("url => window.open(url)", pg.url + "/packing-slip")
    slip = slip_info.value
    slip.wait_for_load_state()
    assert "Packing slip" in slip.inner_text("body") and "OIL-EVO-750" in slip.inner_text(".pick")
    shoot(slip, "03-packing-slip")
    slip.close()

    # Ship it with a tracking number: the invoice is issued for exactly what shipped.
    pg.fill("#f-carrier", "BRT")
    pg.fill("#f-tracking_number", "BRT0012345678")
    pg.click("button:text-is('Ship')")
    pg.wait_for_url(order_url)
    message = flash(pg)
    assert "BRT0012345678" in message and "Invoice INV-" in message
    assert "partially shipped" in pg.inner_text(".badges")
    shoot(pg, "04-order")

    # Open the invoice.
    invoice_number = re.search(r"INV-\d{4}-\d{6}", message).group(0)
    pg.click(f"a:has-text('{invoice_number}') >> nth=0")
    pg.wait_for_url(re.compile(r".*/invoices/\d+$"))
    assert invoice_number in pg.inner_text("h1")
    total = Decimal(re.search(r"Total\s+([\d,]+\.\d\d) EUR", pg.inner_text(".totals")).group(1).replace(",", ""))
    assert total == Decimal("170.41")  # 119.60 + 26.31 VAT; 2 × 12.40 less 5 % = 23.56 + 0.94 VAT
    if pg.locator("text=Download PDF").count():
        with pg.expect_download() as dl:
            pg.click("text=Download PDF")
        assert dl.value.suggested_filename == f"{invoice_number}.pdf"
        assert Path(dl.value.path()).read_bytes()[:5] == b"%PDF-"
    shoot(pg, "05-invoice")

    # Record the payment: the form comes with the customer, the amount and the suggestion.
    pg.click("text=Record payment")
    pg.wait_for_url(re.compile(r".*/payments/new\?.*"))
    assert pg.input_value("#f-amount") == "170.41"
    assert pg.input_value("#f-allocations-0-amount") == "170.41"
    pg.fill("#f-reference", "SEPA-AURORA-0001")
    shoot(pg, "06-payment")
    pg.click("button:has-text('Record payment') >> nth=-1")
    pg.wait_for_url(re.compile(r".*/payments/\d+$"))
    assert "Payment PAY-" in flash(pg) and "170.41 EUR recorded" in flash(pg)

    pg.goto(order_url)
    assert "partially shipped" in pg.inner_text(".badges") and "paid" in pg.inner_text(".badges")
    pg.goto(f"{base}/orders")
    shoot(pg, "07-orders")
    pg.goto(f"{base}/stock")
    shoot(pg, "08-stock")
    pg.goto(f"{base}/")
    assert "Record payment" in pg.inner_text("main")
    shoot(pg, "08-dashboard-after")

    # The accountant signs in and finds every reconciliation difference at zero.
    pg.click("text=Sign out")
    pg.wait_for_url(f"{base}/login")
    sign_in(pg, base, "paolo")
    pg.click("nav.nav >> text=Books")
    shoot(pg, "09-trial-balance")
    pg.click("nav.subnav >> text=Reconciliation")
    assert "every difference is zero" in pg.inner_text("h1 + .badges")
    assert pg.locator("tr.bad-row").count() == 0
    assert pg.locator("tr.ok-row").count() >= 11
    diffs = pg.locator("td.diff").all_inner_texts()
    assert diffs and all(d in ("0", "0.00") for d in diffs)
    shoot(pg, "10-reconciliation")
    pg.click("nav.subnav >> text=Periods")
    last_month = clock.now().date().replace(day=1) - dt.timedelta(days=1)
    periods = pg.inner_text("main")
    assert f"Close {last_month:%Y-%m}" in periods and "closes once the month has ended" in periods
    shoot(pg, "11-periods")


def test_the_keyboard_and_the_small_scripts(engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "marta", "clerk")
    add_customer(engine, "C-AURORA")
    add_product(engine, "MOKA-3", "29.90", on_hand=2)
    pg, base = page, live_url
    sign_in(pg, base, "marta")

    pg.goto(f"{base}/orders")
    pg.keyboard.press("/")
    assert pg.evaluate("document.activeElement.id") == "q"

    # "Add a line" adds a row in place; "Remove" takes one away.
    pg.goto(f"{base}/orders/new")
    # The browser moves focus to an autofocus field when it next renders,
    # which may come just after the load event: wait for it, then check.
    focused = "(id) => document.activeElement && document.activeElement.id === id"
    pg.wait_for_function(focused, arg="f-customer-code", timeout=5000)
    assert pg.evaluate("document.activeElement.id") == "f-customer-code"
    rows = pg.locator("#lines tbody tr")
    assert rows.count() == 3
    pg.click("button.add-line")
    assert rows.count() == 4
    assert pg.evaluate("document.activeElement.name") == "lines.3.sku"
    pg.click("#lines tbody tr >> nth=0 >> .remove-line")
    assert rows.count() == 3

    # A refused order puts the keyboard on the problem, values kept.
    pg.fill("#f-customer-code", "C-AURORA")
    pg.fill("input[name='lines.1.sku']", "MOKA-3")
    pg.fill("input[name='lines.1.quantity']", "5")
    pg.click("button:has-text('Save order')")
    assert "MOKA-3: 5 requested, 2 available — 3 short" in pg.inner_text(".problem")
    assert pg.input_value("#f-customer-code") == "C-AURORA"
    shoot(pg, "12-out-of-stock")
