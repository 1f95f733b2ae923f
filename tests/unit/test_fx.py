"""Foreign exchange without a database: minor units, the one rounding rule
with a currency's decimals, conversion at a rate and back, and what a rate is."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o2c.domain import fx
from o2c.domain.currencies import ECB_CURRENCIES, ISO_4217, rate_source
from o2c.domain.errors import ValidationFailed
from o2c.domain.money import round_money

D = Decimal


def test_minor_units_follow_iso_4217() -> None:
    assert [fx.minor_units(c) for c in ("EUR", "PLN", "USD", "JPY", "KRW", "KWD", "BHD", "CLF")] == [
        2, 2, 2, 0, 0, 3, 3, 4]
    assert len(ISO_4217) > 150 and set(ISO_4217.values()) == {0, 2, 3, 4}


def test_an_unknown_code_is_a_422_on_currency() -> None:
    with pytest.raises(ValidationFailed) as exc:
        fx.minor_units("XYZ")
    assert "currency" in exc.value.details["fields"]


def test_the_ecb_serves_pln_and_usd_but_not_rub() -> None:
    assert rate_source("PLN") == rate_source("USD") == "ecb"
    assert rate_source("RUB") == "manual" and "RUB" not in ECB_CURRENCIES
    assert rate_source("EUR") == "functional"


def test_one_rounding_rule_for_every_number_of_decimals() -> None:
    assert round_money(D("2.345")) == D("2.35")
    assert round_money(D("-2.345")) == D("-2.35")
    assert round_money(D("1234.5"), 0) == D("1235")
    assert round_money(D("0.0005"), 3) == D("0.001")
    assert fx.round_to(D("149.5"), "JPY") == D("150")
    assert fx.round_to(D("1.23456"), "KWD") == D("1.235")


def test_amounts_with_more_decimals_than_the_currency_has_are_refused() -> None:
    assert fx.check_amount(D("12.30"), "EUR") == D("12.30")
    assert fx.check_amount(D("100.00"), "JPY") == D("100")
    assert fx.check_amount(D("1.235"), "KWD") == D("1.235")
    for amount, code in ((D("12.345"), "EUR"), (D("100.5"), "JPY"), (D("1.2345"), "KWD")):
        with pytest.raises(ValidationFailed) as exc:
            fx.check_amount(amount, code, "unit_price")
        assert list(exc.value.details["fields"]) == ["unit_price"]
    with pytest.raises(ValidationFailed, match="no decimals"):
        fx.check_amount(D("0.5"), "JPY")


@pytest.mark.parametrize("text", ["4.2750", "163.45", "0.3312345678", "1", "99999999.9", "1.000000000"])
def test_valid_rates(text: str) -> None:
    assert fx.parse_rate(text) == D(text)


@pytest.mark.parametrize(("text", "why"), [
    ("0", "above zero"), ("-4.27", "above zero"), ("4.27501234567", "10 significant digits"),
    ("0.00000000001", "10 decimals"), ("100000000", "below"), ("abc", "decimal number"), ("NaN", "decimal number"),
    ("Infinity", "decimal number"),
])
def test_invalid_rates_say_why_on_the_field(text: str, why: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        fx.parse_rate(text)
    assert why in exc.value.details["fields"]["rate"][0]


def test_conversion_by_hand() -> None:
    # 100.00 EUR at 4.2750 PLN per euro; back again
    assert fx.to_currency(D("100.00"), D("4.2750"), "PLN") == D("427.50")
    assert fx.to_functional(D("427.50"), D("4.2750"), "PLN") == D("100.00")
    # JPY has no decimals: 19.90 EUR × 163.45 = 3252.655 → 3253 yen
    assert fx.to_currency(D("19.90"), D("163.45"), "JPY") == D("3253")
    assert fx.to_functional(D("3253"), D("163.45"), "JPY") == D("19.90")
    # 1 PLN at 4.3010 is 0.2325... → 0.23 EUR
    assert fx.to_functional(D("1.00"), D("4.3010"), "PLN") == D("0.23")
    # EUR to EUR is the amount
    assert fx.to_currency(D("5.55"), D("1"), "EUR") == D("5.55")


def test_a_fallback_rate_says_so() -> None:
    import datetime as dt
    used = fx.RateUsed("PLN", D("4.2750"), dt.date(2026, 12, 4), "ecb", dt.date(2026, 12, 6))
    assert used.fallback
    assert not used._replace(date=dt.date(2026, 12, 6)).fallback


cents = st.integers(min_value=0, max_value=10**11).map(lambda c: D(c).scaleb(-2))
# rates of 4 to 6 significant digits, like the ECB's, from 0.3 (KWD) to 30000 (IDR)
rates = st.builds(lambda mantissa, exp: (D(mantissa).scaleb(exp)),
                  st.integers(min_value=1000, max_value=999999), st.integers(min_value=-6, max_value=-1)
                  ).filter(lambda r: D("0.3") <= r <= D("30000"))
codes = st.sampled_from(["PLN", "USD", "JPY", "KWD", "HUF", "ISK", "GBP"])


@settings(max_examples=400, deadline=None, database=None)
@given(amount=cents, rate=rates, code=codes)
def test_conversion_rounds_to_the_currencys_minor_unit(amount: Decimal, rate: Decimal, code: str) -> None:
    out = fx.to_currency(amount, rate, code)
    assert fx.decimals_of(out) <= fx.minor_units(code)
    assert abs(out - amount * rate) <= D(1).scaleb(-fx.minor_units(code)) / 2


@settings(max_examples=400, deadline=None, database=None)
@given(amount=cents, rate=rates, code=codes)
def test_a_round_trip_is_within_half_a_minor_unit_at_the_rate_plus_half_a_cent(
        amount: Decimal, rate: Decimal, code: str) -> None:
    back = fx.to_functional(fx.to_currency(amount, rate, code), rate, code)
    half_unit = D(1).scaleb(-fx.minor_units(code)) / 2
    assert abs(back - amount) <= half_unit / rate + D("0.005")
    if D(1).scaleb(-fx.minor_units(code)) / rate < D("0.01"):
        # the currency's minor unit is worth less than a cent: the euro amount comes back exactly
        assert back == amount


@settings(max_examples=300, deadline=None, database=None)
@given(yen=st.integers(min_value=0, max_value=10**12), rate=rates)
def test_jpy_round_trip_from_yen(yen: int, rate: Decimal) -> None:
    eur = fx.to_functional(D(yen), rate, "JPY")
    assert eur == round_money(eur)
    again = fx.to_currency(eur, rate, "JPY")
    # a cent is worth rate/100 yen: the yen come back within half a cent's worth, rounded to the yen
    assert abs(again - yen) <= rate / 200 + D("0.5")
    assert again == again.to_integral_value()


rate_texts = st.builds(
    lambda whole, frac: whole + ("." + frac if frac else ""),
    st.one_of(st.just("0"), st.integers(min_value=1, max_value=10**9).map(str)),
    st.text(alphabet="0123456789", max_size=13))


@settings(max_examples=2000, deadline=None, database=None)
@given(rate_texts)
def test_the_apis_rate_pattern_is_exactly_the_domains_rule(text: str) -> None:
    import re

    from o2c.schemas.fx import RATE_PATTERN
    assert bool(re.fullmatch(RATE_PATTERN, text)) == (fx.rate_problem(D(text)) is None)
