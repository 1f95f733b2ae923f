"""The accountant's reconciliation names what each side of a check is and
links each numbering series to its own documents; the dashboard's revenue
chart starts with the first month that has any revenue."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from o2c.domain.access import SYSTEM
from o2c.services import queries
from o2c.services.fulfilment import returns
from o2c.services.platform.uow import unit_of_work
from tests.api.books_helpers import on
from tests.conftest import make_key
from tests.web.conftest import Web
from tests.web.test_books_pages import sell


def row_of(html: str, check: str) -> str:
    """The reconciliation table's row of a check (by its shown name)."""
    found = re.search(rf"<tr class=\"(?:ok|bad)-row\">\s*<td class=\"nowrap\">{re.escape(check)}</td>(.*?)</tr>",
                      html, re.S)
    assert found, check
    return found.group(1)


def test_each_side_of_each_check_is_named_and_credit_notes_link_to_credit_notes(
        engine: Engine, shop: Any, accountant_web: Web, app: Any) -> None:
    inv = sell(engine, [("RETRO-CLOCK", 2)])
    with unit_of_work(engine, "test") as tx:
        returns.create_return(tx, inv["order_id"], SYSTEM, {
            "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}], "restock": True, "refund": "credit"})
    page = accountant_web.get("/books/reconciliation").text
    assert ">Left<" not in page and ">Right<" not in page
    inventory = row_of(page, "inventory value")
    assert '<span class="side-label">General ledger 1200</span>' in inventory
    assert '<span class="side-label">Stock valuation</span>' in inventory
    assert '<span class="side-label">General ledger 4000</span>' in row_of(page, "revenue")
    assert '<span class="side-label">Open invoice balances</span>' in row_of(page, "receivables")
    year = inv["issue_date"][:4] if isinstance(inv["issue_date"], str) else inv["issue_date"].year
    credit_notes = row_of(page, f"numbering CN {year}")
    assert 'href="/credit-notes">Credit notes</a>' in credit_notes and "/invoices" not in credit_notes
    invoices = row_of(page, f"numbering INV {year}")
    assert 'href="/invoices">Invoices</a>' in invoices

    key = make_key(engine, "books", "accountant")
    api = app.test_client().get("/api/v1/reconciliation", headers={"Authorization": f"Bearer {key}"}).json
    by_name = {c["name"]: c for c in api["checks"]}
    assert by_name["inventory_value"]["left_label"] == "General ledger 1200"
    assert by_name["inventory_value"]["right_label"] == "Stock valuation"
    assert by_name["inventory_value"]["left"] == by_name["inventory_value"]["right"]  # the fields stay
    assert all(c["left_label"] and c["right_label"] for c in api["checks"])


def test_the_revenue_chart_starts_with_the_first_month_with_revenue(engine: Engine, shop: Any,
                                                                  accountant_web: Web) -> None:
    with unit_of_work(engine, "test", readonly=True) as tx:
        today = tx.today
        assert queries.revenue_by_month(tx) == []  # nothing sold yet: no empty year of months
    empty = accountant_web.get("/").text
    assert "No revenue posted yet" in empty and "<svg" not in empty

    first = (today.replace(day=1) - dt.timedelta(days=40)).replace(day=15)  # the month before last
    with on(first):
        sell(engine, [("RETRO-CLOCK", 1)])
    sell(engine, [("RETRO-CLOCK", 2)])
    with unit_of_work(engine, "test", readonly=True) as tx:
        series = queries.revenue_by_month(tx)
    months = [p for p, _ in series]
    assert months[0] == f"{first:%Y-%m}" and months[-1] == f"{today:%Y-%m}" and len(months) == 3
    assert [v for _, v in series] == [Decimal("40.00"), Decimal("0.00"), Decimal("80.00")]
    page = accountant_web.get("/").text
    assert page.count('<rect class="bar"') == 3
