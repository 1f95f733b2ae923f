"""Month-end in a real browser: an accountant closes last month and checks
the journal's hash chain; an administrator reopens the month with a reason;
the chain still verifies, through the anchor the close recorded."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import Engine

from o2c.services.platform import clock
from tests.api.books_helpers import on
from tests.e2e.test_back_office import flash, sign_in
from tests.web.conftest import add_customer, add_order, add_product, make_user, pack_and_ship

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_an_accountant_closes_the_month_an_admin_reopens_it_and_the_chain_verifies(
        engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "paolo", "accountant")
    make_user(engine, "anna", "admin")
    add_customer(engine, "C-AURORA", name="Caffè Aurora S.r.l.")
    add_product(engine, "MOKA-3", "29.90", on_hand=50, cost="12.40")
    last_day = clock.now().date().replace(day=1) - dt.timedelta(days=1)
    period = last_day.strftime("%Y-%m")
    with on(last_day.replace(day=10)):
        pack_and_ship(engine, add_order(engine, "C-AURORA", [("MOKA-3", 3)])["id"])
    pack_and_ship(engine, add_order(engine, "C-AURORA", [("MOKA-3", 1)])["id"])  # this month
    pg, base = page, live_url
    pg.on("dialog", lambda d: d.accept())

    # The accountant closes last month.
    sign_in(pg, base, "paolo")
    pg.click("nav.nav >> text=Books")
    pg.click("nav.subnav >> text=Periods")
    row = pg.locator("table.periods tbody tr", has_text=period)
    assert row.locator("td").nth(1).inner_text() == "2"  # the shipment's cost of goods and the invoice
    row.locator(f"button:has-text('Close {period}')").click()
    pg.wait_for_url(f"{base}/books/periods")
    assert f"Period {period} closed" in flash(pg)
    assert row.locator(".badge").inner_text() == "closed"
    assert pg.locator(f"text=Reopen {period}").count() == 0  # not an accountant's to do
    shoot(pg, "30-periods-closed")

    # ... and verifies the chain: every entry sealed and matching, the close's anchor recorded.
    pg.click("nav.subnav >> text=Verify chain")
    pg.wait_for_url(f"{base}/books/verify")
    assert pg.inner_text(".page-head .badge") == "intact"
    sealed = int(pg.locator(".tile-value").nth(1).inner_text())
    assert sealed >= 5 and pg.locator(".tile-value").first.inner_text() == str(sealed)
    anchor = pg.locator("table.list tbody tr", has_text=period)
    assert anchor.locator("td").nth(1).inner_text().isdigit()
    shoot(pg, "31-verify-intact")
    pg.click("button:has-text('Sign out')")

    # The administrator reopens it: a reason is required, and kept.
    sign_in(pg, base, "anna")
    pg.goto(f"{base}/books/periods")
    row = pg.locator("table.periods tbody tr", has_text=period)
    reason = row.locator("input[name=reason]")
    reason.fill("x")  # too short: refused, the month stays closed
    row.locator(f"button:has-text('Reopen {period}')").click()
    pg.wait_for_selector(".problem")
    assert "Say why the month is reopened" in pg.inner_text("form.reopen .error")
    # The keyboard is where the problem is (the page's script puts it there once loaded).
    pg.wait_for_function("() => document.activeElement && document.activeElement.name === 'reason'", timeout=5000)
    assert pg.evaluate("document.activeElement.name") == "reason"
    shoot(pg, "32-periods-reopen-refused")
    row.locator("input[name=reason]").fill("Late supplier credit note dated in the month")
    row.locator(f"button:has-text('Reopen {period}')").click()
    pg.wait_for_url(f"{base}/books/periods")
    assert f"Period {period} reopened" in flash(pg)
    assert row.locator(".badge").inner_text() == "open"
    history = pg.locator("table.audit tbody tr")
    assert history.count() == 2
    assert re.sub(r"\s+", " ", history.last.inner_text()).endswith(
        f"user:anna {period} reopened Late supplier credit note dated in the month")
    shoot(pg, "33-periods-reopened")

    # The chain still verifies, through the anchor recorded when the month closed.
    pg.click("nav.subnav >> text=Verify chain")
    assert pg.inner_text(".page-head .badge") == "intact"
    assert "reopened" in pg.locator("table.list tbody tr", has_text=period).inner_text()
    assert "passes through the position recorded when each closed period closed" in pg.inner_text(".ok-panel")
    shoot(pg, "34-verify-after-reopen")
