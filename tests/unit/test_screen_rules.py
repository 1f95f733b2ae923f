"""Rules the back office's screens lean on: which invoices a payment started
from one invoice settles first, and what an order's packed goods are called."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from o2c.domain.actions import packing_state
from o2c.domain.allocation import oldest_first, these_first
from o2c.web.core import amount

D = Decimal


def test_the_invoice_a_payment_is_for_takes_the_money_first() -> None:
    balances = [("INV-1", D("48.80")), ("INV-2", D("97.60")), ("INV-3", D("55.00"))]
    assert these_first(balances, D("70.00"), ["INV-3"]) == [("INV-3", D("55.00")), ("INV-1", D("15.00"))]
    assert these_first(balances, D("40.00"), ["INV-3"]) == [("INV-3", D("40.00"))]


def test_an_order_s_invoices_go_first_oldest_among_them_first() -> None:
    balances = [("INV-1", D("10.00")), ("INV-2", D("20.00")), ("INV-3", D("30.00"))]
    assert these_first(balances, D("45.00"), ["INV-3", "INV-2"]) == [("INV-2", D("20.00")), ("INV-3", D("25.00"))]


@given(st.lists(st.decimals(min_value=D("0.01"), max_value=D("1000"), places=2), max_size=6),
       st.decimals(min_value=D("0"), max_value=D("5000"), places=2))
def test_with_no_preference_it_is_oldest_first(amounts: list[Decimal], paid: Decimal) -> None:
    balances = list(enumerate(amounts))
    assert these_first(balances, paid, []) == oldest_first(balances, paid)
    plan = these_first(balances, paid, [len(amounts) - 1])
    assert sum((a for _, a in plan), D("0")) == min(paid, sum(amounts, D("0")))
    assert all(a <= dict(balances)[k] for k, a in plan)


def test_packing_state_names_what_waits_in_packed_shipments() -> None:
    assert packing_state(to_ship=5, packed=0) is None
    assert packing_state(to_ship=5, packed=2) == "partially_packed"
    assert packing_state(to_ship=5, packed=5) == "packed"


@pytest.mark.parametrize(("typed", "meant"), [
    ("20,00", "20.00"), ("20.00", "20.00"), ("1,234.50", "1234.50"), ("1.234,50", "1234.50"),
    ("1 234,5", "1234.5"), ("1\u00a0234,50", "1234.50"), ("1'234.50", "1234.50"), ("1,234", "1234"),
    ("-3,5", "-3.5"), ("1.234.567", "1234567"), ("12,345,678.9", "12345678.9"), (" 7 ", "7"),
    ("1.234", "1.234"), ("abc", "abc"),
])
def test_amounts_read_as_typed_in_any_locale(typed: str, meant: str) -> None:
    assert amount(typed) == meant
