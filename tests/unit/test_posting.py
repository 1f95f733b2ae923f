"""Posting rules of SPEC.md §4: every entry balances by construction."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o2c.domain.money import ZERO, document_totals, line_net, round_money
from o2c.ledger.accounts import DEFAULT_CHART, chart
from o2c.ledger.posting import (
    JournalEntry, JournalLine, UnbalancedEntry, build_entry, entry_for_credit_applied, entry_for_goods_receipt,
    entry_for_invoice, entry_for_payment, entry_for_shipment,
)

D = Decimal
DAY = dt.date(2026, 3, 14)
CHART = DEFAULT_CHART


def debits(entry: JournalEntry) -> Decimal:
    return sum((l.debit for l in entry.lines), ZERO)


def credits(entry: JournalEntry) -> Decimal:
    return sum((l.credit for l in entry.lines), ZERO)


def by_account(entry: JournalEntry) -> dict[str, tuple[Decimal, Decimal]]:
    return {l.account: (l.debit, l.credit) for l in entry.lines}


def assert_well_formed(entry: JournalEntry) -> None:
    assert debits(entry) == credits(entry) == entry.total
    for line in entry.lines:
        assert line.debit >= 0 and line.credit >= 0
        assert (line.debit == 0) != (line.credit == 0), line  # exactly one side, never both, never none


# -- each posting rule ----------------------------------------------------------------

def test_goods_received_debit_inventory_credit_clearing() -> None:
    e = entry_for_goods_receipt(CHART, DAY, 11, "GR-000011", D("200.00"))
    assert e is not None
    assert_well_formed(e)
    assert by_account(e) == {"1200": (D("200.00"), ZERO), "2100": (ZERO, D("200.00"))}
    assert (e.source_type, e.source_id, e.document, e.period) == ("stock_receipt", 11, "GR-000011", "2026-03")


def test_shipment_posts_cost_of_goods_sold_out_of_inventory() -> None:
    e = entry_for_shipment(CHART, DAY, 3, "SH-2026-000003", D("53.32"), customer_id=7)
    assert e is not None
    assert_well_formed(e)
    assert by_account(e) == {"5000": (D("53.32"), ZERO), "1200": (ZERO, D("53.32"))}
    assert e.customer_id == 7


def test_invoice_debits_receivable_gross_and_credits_revenue_and_vat() -> None:
    e = entry_for_invoice(CHART, DAY, 45, "INV-2026-000045", D("133.80"), D("25.36"), customer_id=7)
    assert e is not None
    assert_well_formed(e)
    assert by_account(e) == {
        "1100": (D("159.16"), ZERO), "4000": (ZERO, D("133.80")), "2200": (ZERO, D("25.36")),
    }
    assert e.total == D("159.16")


def test_an_invoice_without_vat_has_no_vat_line() -> None:
    e = entry_for_invoice(CHART, DAY, 46, "INV-2026-000046", D("80.00"), ZERO, customer_id=7)
    assert e is not None
    assert_well_formed(e)
    assert set(by_account(e)) == {"1100", "4000"}


def test_a_payment_fully_applied_reduces_receivables() -> None:
    e = entry_for_payment(CHART, DAY, 1, "PAY-2026-000001", D("220.04"), D("220.04"), customer_id=7)
    assert e is not None
    assert_well_formed(e)
    assert by_account(e) == {"1000": (D("220.04"), ZERO), "1100": (ZERO, D("220.04"))}


def test_a_payment_excess_becomes_customer_credit() -> None:
    e = entry_for_payment(CHART, DAY, 2, "PAY-2026-000002", D("250.00"), D("220.04"), customer_id=7)
    assert e is not None
    assert_well_formed(e)
    assert by_account(e) == {
        "1000": (D("250.00"), ZERO), "1100": (ZERO, D("220.04")), "2300": (ZERO, D("29.96")),
    }


def test_an_unallocated_payment_is_all_customer_credit() -> None:
    e = entry_for_payment(CHART, DAY, 3, "PAY-2026-000003", D("50.00"), ZERO, customer_id=7)
    assert e is not None
    assert_well_formed(e)
    assert by_account(e) == {"1000": (D("50.00"), ZERO), "2300": (ZERO, D("50.00"))}


def test_applying_credit_moves_it_from_customer_credit_to_receivables() -> None:
    e = entry_for_credit_applied(CHART, DAY, 9, "INV-2026-000047", D("29.96"), customer_id=7)
    assert e is not None
    assert_well_formed(e)
    assert by_account(e) == {"2300": (D("29.96"), ZERO), "1100": (ZERO, D("29.96"))}
    assert e.source_type == "credit_application"


@pytest.mark.parametrize("make", [
    lambda: entry_for_goods_receipt(CHART, DAY, 1, "GR-000001", ZERO),
    lambda: entry_for_shipment(CHART, DAY, 1, "SH-1", ZERO, 7),
    lambda: entry_for_invoice(CHART, DAY, 1, "INV-1", ZERO, ZERO, 7),
    lambda: entry_for_payment(CHART, DAY, 1, "PAY-1", ZERO, ZERO, 7),
    lambda: entry_for_credit_applied(CHART, DAY, 1, "INV-1", ZERO, 7),
], ids=["receipt", "shipment", "invoice", "payment", "credit"])
def test_an_event_worth_nothing_posts_no_entry(make) -> None:  # type: ignore[no-untyped-def]
    assert make() is None


# -- build_entry -----------------------------------------------------------------------

def test_zero_lines_are_dropped() -> None:
    e = build_entry(DAY, "manual", 1, "J-1", "test", [
        (CHART["bank"], D("10.00")), (CHART["vat_payable"], ZERO), (CHART["revenue"], D("-10.00")),
    ])
    assert e is not None
    assert [l.account for l in e.lines] == ["1000", "4000"]


def test_signed_amounts_become_debits_and_credits() -> None:
    e = build_entry(DAY, "manual", 1, "J-1", "test", [
        (CHART["bank"], D("10.00")), (CHART["revenue"], D("-10.00")),
    ])
    assert e is not None
    assert e.lines == (JournalLine("1000", D("10.00"), ZERO), JournalLine("4000", ZERO, D("10.00")))


@pytest.mark.parametrize("amounts", [
    [("bank", "10.00"), ("revenue", "-9.99")],
    [("bank", "10.00")],
    [("bank", "10.00"), ("revenue", "10.00")],
    [("bank", "0.00"), ("revenue", "-0.01")],
])
def test_an_unbalanced_entry_is_refused(amounts: list[tuple[str, str]]) -> None:
    with pytest.raises(UnbalancedEntry, match="J-9: debits"):
        build_entry(DAY, "manual", 9, "J-9", "test", [(CHART[role], D(a)) for role, a in amounts])


def test_configured_account_codes_are_used_by_the_rules() -> None:
    accounts = chart({"revenue": "4010", "vat_payable": "2210"})
    e = entry_for_invoice(accounts, DAY, 1, "INV-1", D("100.00"), D("22.00"), 7)
    assert e is not None
    assert by_account(e) == {"1100": (D("122.00"), ZERO), "4010": (ZERO, D("100.00")), "2210": (ZERO, D("22.00"))}
    assert DEFAULT_CHART["revenue"].code == "4000"  # the default chart is untouched


def test_an_unknown_account_role_cannot_be_configured() -> None:
    with pytest.raises(KeyError, match="unknown account role 'sales'"):
        chart({"sales": "4010"})


# -- property: any invoice balances -------------------------------------------------------

RATES = st.sampled_from(["0", "0.04", "0.05", "0.10", "0.21", "0.22", "0.23", "0.077"]).map(Decimal) | st.integers(
    0, 9999).map(lambda n: Decimal(n).scaleb(-4))
LINES = st.lists(
    st.tuples(
        st.integers(1, 10_000),                                    # quantity
        st.integers(0, 10_000_000).map(lambda c: Decimal(c).scaleb(-2)),   # unit price, from cents
        st.integers(0, 9999).map(lambda n: Decimal(n).scaleb(-4)),  # discount
        RATES,
    ),
    min_size=1, max_size=30,
)


@settings(max_examples=300, deadline=None, database=None)
@given(LINES)
def test_any_invoice_totals_add_up_and_its_entry_balances(lines: list[tuple[int, Decimal, Decimal, Decimal]]) -> None:
    nets = [(line_net(q, price, disc), rate) for q, price, disc, rate in lines]
    totals = document_totals(nets)

    assert totals.gross == totals.net + totals.vat
    assert totals.net == sum((n for n, _ in nets), ZERO)
    assert totals.vat == sum((v.vat for v in totals.by_rate), ZERO)
    for v in totals.by_rate:  # one VAT amount per rate, on the sum of that rate's nets
        assert v.net == sum((n for n, r in nets if r == v.rate), ZERO)
        assert v.vat == round_money(v.net * v.rate)
    for amount in (totals.net, totals.vat, totals.gross):
        assert amount == amount.quantize(D("0.01"))

    e = entry_for_invoice(CHART, DAY, 1, "INV-2026-000001", totals.net, totals.vat, 7)
    if totals.gross == 0:
        assert e is None
        return
    assert e is not None
    assert_well_formed(e)
    assert debits(e) == credits(e) == totals.gross
    accounts = by_account(e)
    assert accounts["1100"] == (totals.gross, ZERO)
    assert accounts.get("4000", (ZERO, ZERO))[1] == totals.net
    assert accounts.get("2200", (ZERO, ZERO))[1] == totals.vat


@settings(max_examples=200, deadline=None, database=None)
@given(st.integers(0, 10**9).map(lambda c: Decimal(c).scaleb(-2)), st.integers(0, 10**9).map(lambda c: Decimal(c).scaleb(-2)))
def test_any_payment_balances_whatever_part_is_applied(amount: Decimal, applied_raw: Decimal) -> None:
    applied = min(applied_raw, amount)
    e = entry_for_payment(CHART, DAY, 1, "PAY-1", amount, applied, 7)
    if amount == 0:
        assert e is None
        return
    assert e is not None
    assert_well_formed(e)
    assert by_account(e)["1000"] == (amount, ZERO)

