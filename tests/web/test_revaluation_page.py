"""Revaluation in the back office: the złoty owed today at its booked value,
an accountant revalues last month's end from the page (refusals shown beside
the form), the revaluation with its balances and entries, and closing the
month warns when it was not revalued."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from o2c.domain.access import SYSTEM
from o2c.services.books import fx
from o2c.services.platform import clock
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import orders
from tests.web.conftest import Web, add_customer, add_product, flashes, pack_and_ship
from tests.web.test_books_pages import section


def zloty_sale(engine: Engine) -> None:
    """A PLN invoice of today at 4.2750 (4 × 199.99 + 22 % = 975.95 PLN, booked at 228.30)."""
    today = clock.now().date()
    with unit_of_work(engine, "test") as tx:
        fx.set_currency(tx, "PLN", True)
        fx.record_rate(tx, "PLN", today, Decimal("4.2750"))
    add_customer(engine, "C-WAWA", name="Kawiarnia Wawa", country="PL", language="pl", currency="PLN")
    add_product(engine, "RETRO-CLOCK", "47.00", on_hand=10, cost="20.00")
    with unit_of_work(engine, "test") as tx:
        fx.set_price(tx, "RETRO-CLOCK", "PLN", Decimal("199.99"))
        o = orders.create_order(tx, SYSTEM, {"customer": {"code": "C-WAWA"}, "confirm": True,
                                             "lines": [{"sku": "RETRO-CLOCK", "quantity": 4}]})
    pack_and_ship(engine, o["id"])


def test_an_accountant_revalues_from_the_page_and_sees_the_entry(engine: Engine, accountant_web: Web,
                                                                  clerk_web: Web) -> None:
    today = clock.now().date()
    zloty_sale(engine)
    page = accountant_web.get("/books/revaluation")
    assert page.status_code == 200
    open_now = section(page.text, "Open in other currencies today")
    assert "Receivables" in open_now and "975.95" in open_now and "228.30" in open_now
    assert 'aria-current="page">Revaluation<' in page.text

    future = accountant_web.post("/books/revaluation", {"form_token": "reval-1",
                                                        "as_of": (today + dt.timedelta(days=1)).isoformat()})
    assert future.status_code == 422 and "in the future" in future.text and 'id="f-as_of-error"' in future.text

    # The day's rate corrected after the invoice froze its own: 975.95 / 4.3200
    # = 225.9144 → 225.91 for 228.30 booked, 2.39 lost until the reversal.
    with unit_of_work(engine, "test") as tx:
        fx.record_rate(tx, "PLN", today, Decimal("4.3200"))
    r = accountant_web.post("/books/revaluation", {"form_token": "reval-2", "as_of": today.isoformat()})
    assert r.status_code == 303
    done = accountant_web.get("/books/revaluation").text
    assert f"FXR-{today.isoformat()} posted: an unrealised loss of 2.39 EUR" in flashes(done)
    listed = section(done, "Revaluations")
    for shown in ("975.95", "4.3200", "228.30", "225.91", "-2.39", "Unrealised loss", "2.39 EUR"):
        assert shown in listed, shown
    again = accountant_web.post("/books/revaluation", {"form_token": "reval-3", "as_of": today.isoformat()})
    assert again.status_code == 409 and "already revalued" in flashes(again.text)
    journal = accountant_web.get(f"/books/journal?from={today.isoformat()}").text
    assert f'<a href="/books/revaluation">FXR-{today.isoformat()}</a>' in journal

    # The day before, nothing was owed yet: recorded, nothing posted.
    r = accountant_web.post("/books/revaluation", {"form_token": "reval-4",
                                                   "as_of": (today - dt.timedelta(days=1)).isoformat()})
    assert r.status_code == 303
    assert "Nothing in another currency was open" in flashes(accountant_web.get("/books/revaluation").text)

    # Clerks neither see nor post it.
    assert clerk_web.get("/books/revaluation").status_code == 403
    assert clerk_web.post("/books/revaluation", {"as_of": today.isoformat()}).status_code == 403


def test_closing_a_month_left_unrevalued_says_so(engine: Engine, accountant_web: Web, monkeypatch: Any) -> None:
    real_now = clock.now
    month_end = real_now().date().replace(day=1) - dt.timedelta(days=1)
    monkeypatch.setattr(clock, "now", lambda: dt.datetime.combine(month_end - dt.timedelta(days=3), dt.time(10),
                                                                   dt.timezone.utc))
    zloty_sale(engine)
    monkeypatch.setattr(clock, "now", real_now)
    period = month_end.strftime("%Y-%m")
    r = accountant_web.post(f"/books/periods/{period}/close", {"form_token": "close-1"})
    assert r.status_code == 303
    said = flashes(accountant_web.get("/books/periods").text)
    assert f"Period {period} closed" in said
    assert f"PLN balances were open on {month_end.isoformat()} and were not revalued" in said


def test_a_bank_accounts_money_is_named_by_its_gl_account() -> None:
    from o2c.web.revaluation import role_name
    assert [role_name(r) for r in ("receivables", "customer_credit", "bank:1010")] == [
        "Receivables", "Customer credit", "Bank, GL 1010"]
