"""After-sales posting rules (SPEC §4) and statuses, without a database."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from o2c.domain.states import LineProgress, derive_order_statuses, invoice_status
from o2c.ledger.accounts import DEFAULT_CHART
from o2c.ledger.posting import (
    JournalLine, entry_for_credit_note, entry_for_credit_note_released, entry_for_refund, entry_for_return,
)

D = Decimal
DAY = dt.date(2026, 3, 14)
money = st.decimals(min_value=D("0.01"), max_value=D("99999.99"), places=2)


def test_a_restocked_return_moves_its_cost_from_cogs_back_to_inventory() -> None:
    e = entry_for_return(DEFAULT_CHART, DAY, 7, "RMA-2026-000007", D("60.00"), True, 3)
    assert e.lines == (JournalLine("1200", D("60.00"), D("0")), JournalLine("5000", D("0"), D("60.00")))
    assert (e.source_type, e.customer_id) == ("return", 3)


def test_a_damaged_return_is_written_off_instead() -> None:
    e = entry_for_return(DEFAULT_CHART, DAY, 7, "RMA-2026-000007", D("60.00"), False, 3)
    assert e.lines == (JournalLine("5100", D("60.00"), D("0")), JournalLine("5000", D("0"), D("60.00")))


def test_a_return_of_goods_that_cost_nothing_posts_nothing() -> None:
    assert entry_for_return(DEFAULT_CHART, DAY, 7, "RMA-2026-000007", D("0.00"), True, 3) is None


def test_a_credit_note_reverses_revenue_and_vat_against_receivables() -> None:
    e = entry_for_credit_note(DEFAULT_CHART, DAY, 1, "CN-2026-000001", D("100.00"), D("22.00"), 3)
    assert e.lines == (JournalLine("4000", D("100.00"), D("0")), JournalLine("2200", D("22.00"), D("0")),
                       JournalLine("1100", D("0"), D("122.00")))


def test_released_credit_and_a_refund_pass_through_customer_credit() -> None:
    released = entry_for_credit_note_released(DEFAULT_CHART, DAY, 1, "CN-2026-000001", D("122.00"), 3)
    assert released.lines == (JournalLine("1100", D("122.00"), D("0")), JournalLine("2300", D("0"), D("122.00")))
    refund = entry_for_refund(DEFAULT_CHART, DAY, 1, "RF-2026-000001", D("122.00"), 3)
    assert refund.lines == (JournalLine("2300", D("122.00"), D("0")), JournalLine("1000", D("0"), D("122.00")))


@given(net=money, vat=money, cost=money, restock=st.booleans())
def test_after_sales_entries_always_balance(net: Decimal, vat: Decimal, cost: Decimal, restock: bool) -> None:
    for e in (entry_for_credit_note(DEFAULT_CHART, DAY, 1, "CN", net, vat, 1),
              entry_for_credit_note_released(DEFAULT_CHART, DAY, 1, "CN", net, 1),
              entry_for_refund(DEFAULT_CHART, DAY, 1, "RF", net, 1),
              entry_for_return(DEFAULT_CHART, DAY, 1, "RMA", cost, restock, 1)):
        assert e is not None and sum(l.debit for l in e.lines) == sum(l.credit for l in e.lines) > 0


def test_returned_units_need_no_invoice_so_a_returned_order_can_complete() -> None:
    # 3 shipped, 1 returned and credited: 2 invoiced is everything, and paid.
    s = derive_order_statuses("confirmed", [LineProgress(3, 3, 2, 1, 0)], D("244.00"), D("244.00"))
    assert s == ("completed", "partially_returned", "paid")
    s = derive_order_statuses("confirmed", [LineProgress(3, 3, 0, 3, 0)], D("0.00"), D("0.00"), refunded=True)
    assert s == ("confirmed", "returned", "refunded")


def test_an_invoice_credited_in_full_is_credited_even_after_payment_went_back() -> None:
    assert invoice_status(D("366.00"), D("0.00"), D("366.00")) == "credited"
    assert invoice_status(D("366.00"), D("244.00"), D("122.00")) == "paid"
    assert invoice_status(D("366.00"), D("0.00"), D("122.00")) == "open"
