"""Foreign exchange, pure: minor units, rounding to a currency, conversion
between the functional currency and another at a rate, and what a valid rate
and a valid amount are.

A rate is the number of units of the currency per one unit of the functional
currency (EUR), as the ECB publishes them: ``4.2750`` PLN per euro. So

- functional → currency: ``amount × rate``, rounded to the currency's minor unit;
- currency → functional: ``amount ÷ rate``, rounded to the cent.

Rounding is :func:`o2c.domain.money.round_money`'s rule (half away from
zero) with the currency's number of decimals: there is one rounding rule.
Converting a functional amount out and back gives it exactly whenever the
currency's minor unit is worth less than a cent (PLN, USD, JPY at today's
rates); in general the two differ by at most half a minor unit at the rate
plus half a cent (see the property tests).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from collections.abc import Sequence
from typing import NamedTuple

from o2c.domain.currencies import ISO_4217
from o2c.domain.errors import ValidationFailed
from o2c.domain.money import ZERO, round_money, spread

FUNCTIONAL_CURRENCY = "EUR"
#: A rate has at most this many significant digits (the ECB's have 4 to 6)...
RATE_SIGNIFICANT_DIGITS = 10
#: ...at most this many decimals (how it is stored: exact on every database)...
RATE_DECIMALS = 10
#: ...and is below this (a hundred million units per euro).
RATE_LIMIT = Decimal(10) ** 8


def minor_units(currency: str) -> int:
    """Decimals of the currency's minor unit (ISO 4217): 2 for EUR, 0 for JPY, 3 for KWD."""
    try:
        return ISO_4217[currency]
    except KeyError:
        raise ValidationFailed(f"“{currency}” is not an ISO 4217 currency code.",
                               {"currency": [f"“{currency}” is not an ISO 4217 currency code."]}) from None


def round_to(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded to the currency's minor unit (the one rounding rule)."""
    return round_money(amount, minor_units(currency))


def decimals_of(value: Decimal) -> int:
    """How many decimals ``value`` has once trailing zeros are dropped (``1.50`` → 1)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def check_amount(amount: Decimal, currency: str, field: str = "amount") -> Decimal:
    """``amount`` written with the currency's decimals; more decimals than its
    minor unit has (``12.345`` EUR, ``100.5`` JPY) is a 422 on ``field``."""
    places = minor_units(currency)
    if not amount.is_finite() or decimals_of(amount) > places:
        why = (f"{currency} amounts have no decimals." if places == 0
               else f"{currency} amounts have at most {places} decimals.")
        raise ValidationFailed(f"“{amount}” is not a {currency} amount: {why}", {field: [why]})
    return round_money(amount, places)


def rate_problem(rate: Decimal) -> str | None:
    """Why ``rate`` is not a usable exchange rate, or ``None`` when it is."""
    if not isinstance(rate, Decimal) or not rate.is_finite():
        return "A rate is a decimal number such as 4.2750."
    if rate <= 0:
        return "A rate is above zero."
    if rate >= RATE_LIMIT:
        return f"A rate is below {RATE_LIMIT:,} units per euro."
    digits = rate.normalize().as_tuple().digits
    if len(digits) > RATE_SIGNIFICANT_DIGITS:
        return f"A rate has at most {RATE_SIGNIFICANT_DIGITS} significant digits."
    if decimals_of(rate) > RATE_DECIMALS:
        return f"A rate has at most {RATE_DECIMALS} decimals."
    return None


def parse_rate(text: str | Decimal, field: str = "rate") -> Decimal:
    """A valid rate from its text (``"4.2750"``), or a 422 on ``field`` saying why not."""
    try:
        rate = text if isinstance(text, Decimal) else Decimal(str(text).strip())
    except InvalidOperation:
        rate = Decimal("NaN")
    why = rate_problem(rate)
    if why is not None:
        raise ValidationFailed(f"“{text}” is not an exchange rate: {why}", {field: [why]})
    return rate


def to_currency(functional_amount: Decimal, rate: Decimal, currency: str) -> Decimal:
    """A functional-currency amount in ``currency`` at ``rate`` (currency per
    functional unit), rounded to the currency's minor unit."""
    if currency == FUNCTIONAL_CURRENCY:
        return round_money(functional_amount)
    return round_to(functional_amount * rate, currency)


def to_functional(amount: Decimal, rate: Decimal, currency: str) -> Decimal:
    """An amount in ``currency`` in the functional currency at ``rate``, rounded to the cent."""
    if currency == FUNCTIONAL_CURRENCY:
        return round_money(amount)
    return round_money(amount / rate)


class RateUsed(NamedTuple):
    """The rate applied for ``requested`` (a date): the rate of ``date``,
    which is ``requested`` itself or, when that day has none, the latest
    earlier day within the allowed number of days (``fallback`` is then true)."""

    currency: str
    rate: Decimal
    date: dt.date
    source: str
    requested: dt.date

    @property
    def fallback(self) -> bool:
        return self.date != self.requested


# -- a document in the functional currency ----------------------------------------------

class Functional(NamedTuple):
    """A document's figures in the functional currency: per VAT row its net
    and VAT, the totals (Σ rows: what the ledger posts) and the line nets
    (spread over the lines so that they add up to the functional net)."""

    rows: tuple[tuple[Decimal, Decimal], ...]
    net: Decimal
    vat: Decimal
    total: Decimal
    lines: tuple[Decimal, ...]


def functional_figures(rows: Sequence[tuple[Decimal, Decimal]], line_nets: Sequence[Decimal],
                       rate: Decimal, currency: str) -> Functional:
    """The functional figures of a document in ``currency`` at ``rate``.

    The rule: each VAT row's net and VAT are converted and rounded to the
    cent on their own (``to_functional``); the functional net, VAT and total
    are the sums of the rows, so the ledger, which posts exactly these, and
    the document agree to the cent; the line nets share the functional net
    in proportion to their own nets by the largest remainder method, so
    they add up to it exactly."""
    conv = tuple((to_functional(n, rate, currency), to_functional(v, rate, currency)) for n, v in rows)
    net = sum((n for n, _ in conv), ZERO)
    vat = sum((v for _, v in conv), ZERO)
    return Functional(conv, net, vat, net + vat, tuple(spread(net, list(line_nets))))


def settled_value(functional_total: Decimal, total: Decimal, settled: Decimal) -> Decimal:
    """The functional value of the part ``settled`` of a document of
    ``total`` (in its currency) booked at ``functional_total``: in
    proportion, rounded to the cent. It depends only on how much is settled,
    not on the steps it took: all of it is worth exactly the booked figure
    (the last settlement takes what is left), none of it nothing."""
    if settled == total:
        return functional_total
    if total == 0 or settled == 0:
        return ZERO
    return round_money(functional_total * settled / total)


def open_value(currency: str, functional_total: Decimal, total: Decimal, open_amount: Decimal) -> Decimal:
    """The functional value of the part still open (``open_amount``, in the
    document's currency) of a document of ``total`` booked at
    ``functional_total``: its booked value less the value of what is settled
    (:func:`settled_value`), the figure the ledger carries for it and the
    reconciliation compares. In the functional currency it is the amount."""
    if currency == FUNCTIONAL_CURRENCY:
        return open_amount
    return functional_total - settled_value(functional_total, total, total - open_amount)


def by_currency(items: Sequence[tuple[str, Decimal, Decimal]]) -> list[dict[str, object]]:
    """Per currency (the functional first, then alphabetical) the sum of the
    amounts in it and of their functional values, from ``(currency, amount,
    functional)`` items: what a report shows instead of adding currencies."""
    sums: dict[str, list[Decimal]] = {}
    for currency, amount, functional in items:
        s = sums.setdefault(currency, [ZERO, ZERO])
        s[0] += amount
        s[1] += functional
    order = sorted(sums, key=lambda c: (c != FUNCTIONAL_CURRENCY, c))
    return [{"currency": c, "total": sums[c][0], "functional_total": sums[c][1]} for c in order]
