"""The new-order form in a real browser: the customer picked from a list
that ignores accents, each line's product, stock and net shown as it is
typed — and the same form without JavaScript. Screenshots of the pages
changed with them (webhooks, reconciliation, dashboard)."""
from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, select

from o2c.db import models as m
from o2c.domain.access import SYSTEM
from o2c.domain.events import EVENT_TYPES
from o2c.services.fulfilment import returns
from o2c.services.platform.uow import unit_of_work
from tests.e2e.test_back_office import sign_in
from tests.web.conftest import add_customer, add_product, make_user
from tests.web.test_books_pages import sell

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def cafe(engine: Engine) -> None:
    make_user(engine, "marta", "clerk")
    add_customer(engine, "C-AURORA", name="Caffè Aurora S.r.l.", email="ordini@aurora.example",
                 tax_id="IT01234560017")
    add_customer(engine, "C-AURELIA", name="Trattoria Aurelia", email="info@aurelia.example")
    add_product(engine, "MOKA-3", "29.90", on_hand=20, cost="12.40")
    add_product(engine, "OIL-EVO-750", "12.40", vat="0.04", on_hand=3, cost="6.35")


def customer_of_last_order(engine: Engine) -> str:
    o, c = m.Order.__table__, m.Customer.__table__
    with engine.connect() as conn:
        return conn.execute(select(c.c.code).join(o, o.c.customer_id == c.c.id).order_by(o.c.id.desc())).scalars().first()


def test_a_clerk_picks_a_customer_by_name_and_sees_each_line_as_she_types(
        engine: Engine, cafe: None, live_url: str, page: Any, shoot: Any) -> None:
    pg, base = page, live_url
    sign_in(pg, base, "marta")
    pg.goto(f"{base}/orders/new")
    pg.fill("#f-customer-code", "caffe aur")  # no accent, lower case
    option = pg.locator("#customer-options [role=option]")
    option.first.wait_for()
    assert option.count() == 1 and "Caffè Aurora S.r.l." in option.first.inner_text()
    shoot(pg, "order-form-customer-pick-list")
    pg.press("#f-customer-code", "ArrowDown")
    pg.press("#f-customer-code", "Enter")  # picks; does not send the form
    assert pg.input_value("#f-customer-code") == "C-AURORA"
    assert "Caffè Aurora S.r.l." in pg.inner_text("#customer-picked")
    assert pg.is_hidden("#customer-options")

    pg.fill("#f-lines-0-sku", "MOKA-3")
    pg.fill("#f-lines-0-quantity", "4")
    row = pg.locator("#lines tbody tr").first
    expect(row.locator(".line-net")).to_have_text("119.60")
    assert "Moka 3" in row.locator(".line-info").inner_text() and "20 available" in row.locator(".line-info").inner_text()
    pg.fill("#f-lines-1-sku", "OIL-EVO-750")
    pg.fill("#f-lines-1-quantity", "6")
    expect(pg.locator("#lines tbody tr").nth(1).locator(".line-net")).to_have_text("74.40")
    second = pg.locator("#lines tbody tr").nth(1).locator(".line-info").inner_text()
    assert "3 available" in second and "3 short" in second
    # 119.60 at 22 % (26.31) + 74.40 at 4 % (2.98)
    expect(pg.locator("#live-totals")).to_contain_text("Total 223.29 EUR")
    shoot(pg, "order-form-live-lines")
    pg.fill("#f-lines-1-quantity", "2")
    expect(pg.locator("#lines tbody tr").nth(1).locator(".line-net")).to_have_text("24.80")
    pg.click("button:has-text('Save order')")
    pg.wait_for_url(re.compile(r".*/orders/\d+$"))
    assert "created and confirmed" in pg.inner_text(".flashes")
    assert customer_of_last_order(engine) == "C-AURORA"


def test_without_javascript_the_form_offers_the_customers_that_match(
        engine: Engine, cafe: None, live_url: str, browser: Any, shoot: Any) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1366, "height": 860})
    pg, base = context.new_page(), live_url
    try:
        sign_in(pg, base, "marta")
        pg.goto(f"{base}/orders/new")
        pg.fill("#f-customer-code", "AUR")
        pg.fill("#f-lines-0-sku", "MOKA-3")
        pg.fill("#f-lines-0-quantity", "1")
        pg.click("button:has-text('Save order')")
        assert "2 customers match “AUR”: pick one below." in pg.inner_text(".problem")
        choices = pg.locator("fieldset.candidates label")
        assert choices.count() == 2
        shoot(pg, "order-form-no-script-candidates")
        pg.check("input[name='customer.pick'][value='C-AURELIA']")
        pg.click("button:has-text('Save order')")
        pg.wait_for_url(re.compile(r".*/orders/\d+$"))
        assert customer_of_last_order(engine) == "C-AURELIA"
        # A name typed in full, without its accent, is found on its own.
        pg.goto(f"{base}/orders/new")
        pg.fill("#f-customer-code", "caffe aurora")
        pg.fill("#f-lines-0-sku", "MOKA-3")
        pg.fill("#f-lines-0-quantity", "1")
        pg.click("button:has-text('Calculate totals')")
        assert "for Caffè Aurora S.r.l." in pg.inner_text(".preview")
        assert pg.input_value("#f-customer-code") == "C-AURORA"
    finally:
        context.close()


def test_the_pages_around_the_books_and_webhooks(engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "ada", "admin")
    add_customer(engine)  # C-ROSSI
    add_product(engine, "RETRO-CLOCK", "40.00", on_hand=10, cost="15.00")
    inv = sell(engine, [("RETRO-CLOCK", 2)])
    with unit_of_work(engine, "test") as tx:
        returns.create_return(tx, inv["order_id"], SYSTEM, {
            "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}], "restock": True, "refund": "credit"})
    pg, base = page, live_url
    sign_in(pg, base, "ada")
    assert pg.locator("svg.chart rect.bar").count() == 1  # one month with revenue: one bar
    shoot(pg, "dashboard-revenue-from-first-sale")
    pg.goto(f"{base}/books/reconciliation")
    assert "General ledger 1200" in pg.inner_text("tr:has-text('inventory value')")
    assert pg.locator("tr:has-text('numbering CN') a", has_text="Credit notes").count() == 1
    shoot(pg, "reconciliation-named-sides")
    pg.goto(f"{base}/webhooks")
    offered = pg.locator("input[name=event_types]").evaluate_all("els => els.map(e => e.value)")
    assert set(EVENT_TYPES) <= set(offered)
    shoot(pg, "webhooks-event-types")
