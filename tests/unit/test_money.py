"""Money rules of SPEC.md §3: exact decimals, half-up rounding, VAT once per
rate on the sum of the nets (EN 16931 BR-CO-17)."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from o2c.domain.money import (
    CENT, ZERO, VatLine, document_totals, from_cents, line_net, round_money, share_of_value, to_cents,
)

D = Decimal


# -- rounding ------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("1.005", "1.01"),    # banker's rounding gives 1.00
    ("2.125", "2.13"),    # banker's rounding gives 2.12
    ("0.125", "0.13"),
    ("-1.005", "-1.01"),  # half away from zero on the negative side too
    ("1.004", "1.00"),
    ("1.0049999", "1.00"),
    ("7", "7.00"),
])
def test_amounts_round_half_up_to_cents(value: str, expected: str) -> None:
    rounded = round_money(D(value))
    assert rounded == D(expected)
    assert rounded.as_tuple().exponent == -2  # always two places, "7.00" not "7"


@pytest.mark.parametrize(("quantity", "price", "discount", "expected", "bankers"), [
    # 3 × 0.335 = 1.005
    (3, "0.335", "0", "1.01", "1.00"),
    # 3 × 19.90 × 0.85 = 50.745
    (3, "19.90", "0.15", "50.75", "50.74"),
    # 1 × 10.05 × 0.5 = 5.025
    (1, "10.05", "0.50", "5.03", "5.02"),
    # 5 × 0.25 × 0.9 = 1.125
    (5, "0.25", "0.10", "1.13", "1.12"),
])
def test_line_net_rounds_half_up_where_bankers_rounding_would_not(
    quantity: int, price: str, discount: str, expected: str, bankers: str,
) -> None:
    exact = D(quantity) * D(price) * (1 - D(discount))
    assert exact.quantize(CENT, rounding=ROUND_HALF_EVEN) == D(bankers)  # the case really is a tie
    assert line_net(quantity, D(price), D(discount)) == D(expected)


@pytest.mark.parametrize(("quantity", "price", "discount", "expected"), [
    (2, "49.90", "0", "99.80"),
    (2, "9.99", "0.10", "17.98"),      # 17.982
    (4, "8.50", "0.25", "25.50"),
    (1, "19.90", "0.3333", "13.27"),   # 13.26733
    (10, "0.01", "0", "0.10"),
    (3, "0.00", "0", "0.00"),
    (1, "100.00", "0.9999", "0.01"),
])
def test_line_net_is_quantity_times_price_less_discount(quantity: int, price: str, discount: str, expected: str) -> None:
    assert line_net(quantity, D(price), D(discount)) == D(expected)


def test_line_net_without_discount_is_plain_product() -> None:
    assert line_net(3, D("49.90")) == D("149.70")


# -- document totals -------------------------------------------------------------

def test_vat_is_computed_once_per_rate_on_the_sum_of_nets() -> None:
    # Two lines of 1.25 at 10 %: per line VAT would be 0.125 → 0.13 each, 0.26
    # in total; BR-CO-17 takes 10 % of 2.50 = 0.25.
    per_line = sum(round_money(D("1.25") * D("0.10")) for _ in range(2))
    assert per_line == D("0.26")

    totals = document_totals([(D("1.25"), D("0.10")), (D("1.25"), D("0.10"))])

    assert totals.by_rate == (VatLine(D("0.10"), D("2.50"), D("0.25")),)
    assert (totals.net, totals.vat, totals.gross) == (D("2.50"), D("0.25"), D("2.75"))


def test_small_lines_still_carry_vat_on_their_sum() -> None:
    # Three lines of 0.02 at 22 % would each round to 0.00 VAT; together 0.06 → 0.0132 → 0.01.
    totals = document_totals([(D("0.02"), D("0.22"))] * 3)
    assert totals.vat == D("0.01")
    assert totals.gross == D("0.07")


def test_totals_group_by_rate_in_rate_order() -> None:
    totals = document_totals([
        (D("149.70"), D("0.22")),
        (D("34.00"), D("0.10")),
        (D("10.00"), D("0.22")),
        (D("5.00"), D("0")),
    ])
    assert totals.by_rate == (
        VatLine(D("0"), D("5.00"), D("0.00")),
        VatLine(D("0.10"), D("34.00"), D("3.40")),
        VatLine(D("0.22"), D("159.70"), D("35.13")),  # 35.134
    )
    assert (totals.net, totals.vat, totals.gross) == (D("198.70"), D("38.53"), D("237.23"))


def test_the_retro_clock_invoice_of_the_story() -> None:
    totals = document_totals([(line_net(3, D("49.90")), D("0.22")), (line_net(4, D("8.50")), D("0.10"))])
    assert (totals.net, totals.vat, totals.gross) == (D("183.70"), D("36.33"), D("220.03"))


def test_an_empty_document_totals_zero() -> None:
    totals = document_totals([])
    assert totals == (ZERO, ZERO, ZERO, ())


# -- moving-average cost -------------------------------------------------------------

def test_taking_all_units_takes_the_whole_value() -> None:
    assert share_of_value(D("100.00"), 3, 3) == D("100.00")
    assert share_of_value(D("10.01"), 7, 7) == D("10.01")


def test_taking_more_than_is_there_takes_no_more_than_the_value() -> None:
    assert share_of_value(D("10.00"), 5, 3) == D("10.00")


def test_a_part_takes_its_rounded_share() -> None:
    assert share_of_value(D("10.00"), 1, 3) == D("3.33")
    assert share_of_value(D("10.00"), 2, 3) == D("6.67")
    assert share_of_value(D("0.05"), 1, 2) == D("0.03")  # 0.025 half-up


def test_selling_one_unit_at_a_time_drains_the_value_to_exactly_zero() -> None:
    value, on_hand, taken = D("10.00"), 3, []
    while on_hand:
        cost = share_of_value(value, 1, on_hand)
        taken.append(cost)
        value -= cost
        on_hand -= 1
    assert taken == [D("3.33"), D("3.34"), D("3.33")]
    assert value == ZERO and sum(taken) == D("10.00")


@pytest.mark.parametrize(("part", "whole"), [(0, 3), (-1, 3), (1, 0), (1, -2)])
def test_nothing_taken_or_nothing_there_is_worth_zero(part: int, whole: int) -> None:
    assert share_of_value(D("10.00"), part, whole) == ZERO


# -- minor units -------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "cents"), [
    ("12.30", 1230), ("0.01", 1), ("0", 0), ("-5.25", -525), ("999999999999.99", 99999999999999), ("7", 700),
])
def test_amounts_convert_to_cents_exactly_and_back(amount: str, cents: int) -> None:
    assert to_cents(D(amount)) == cents
    assert from_cents(cents) == D(amount)
    assert from_cents(cents).as_tuple().exponent == -2


@pytest.mark.parametrize("amount", ["0.001", "12.305", "-0.005", "1E-10"])
def test_sub_cent_amounts_are_refused(amount: str) -> None:
    with pytest.raises(ValueError, match="more than two decimals"):
        to_cents(D(amount))
