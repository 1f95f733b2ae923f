"""Exact money arithmetic and the one rounding rule of SPEC.md §3.

Amounts are ``Decimal`` with two places. Rates and discounts are ``Decimal``
fractions (``Decimal("0.22")``). Nothing here ever touches binary floating point.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import NamedTuple

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
RATE_PLACES = Decimal("0.0001")
MAX_AMOUNT = Decimal("999999999999.99")


#: The quantum of each number of decimals a currency can have (ISO 4217: 0 to 4).
_QUANTUM = {places: Decimal(1).scaleb(-places) for places in range(5)}


def round_money(value: Decimal, places: int = 2) -> Decimal:
    """Round to cents, half away from zero (SPEC.md §3): the one rounding rule.

    ``places`` is the number of decimals of the currency's minor unit (ISO
    4217: 2 for EUR, 0 for JPY, 3 for KWD); every amount in every currency is
    rounded here and only here."""
    return value.quantize(_QUANTUM[places], rounding=ROUND_HALF_UP)


def line_net(quantity: int, unit_price: Decimal, discount: Decimal = ZERO, places: int = 2) -> Decimal:
    """round(quantity × unit price × (1 − discount), 2), half-up; ``places``:
    the decimals of the document currency's minor unit (0 for JPY)."""
    return round_money(Decimal(quantity) * unit_price * (Decimal(1) - discount), places)


class VatLine(NamedTuple):
    rate: Decimal
    net: Decimal
    vat: Decimal


class Totals(NamedTuple):
    net: Decimal
    vat: Decimal
    gross: Decimal
    by_rate: tuple[VatLine, ...]


def document_totals(lines: Iterable[tuple[Decimal, Decimal]], places: int = 2) -> Totals:
    """Totals of a document from ``(net, vat_rate)`` pairs.

    VAT is computed once per rate on the sum of the nets at that rate
    (EN 16931 BR-CO-17), so invoice, ledger and reconciliation agree;
    rounded to ``places`` decimals (the document currency's minor unit).
    """
    nets: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for net, rate in lines:
        nets[rate] += net
    by_rate = tuple(
        VatLine(rate, net, round_money(net * rate, places)) for rate, net in sorted(nets.items())
    )
    net_total = sum((v.net for v in by_rate), ZERO)
    vat_total = sum((v.vat for v in by_rate), ZERO)
    return Totals(net_total, vat_total, net_total + vat_total, by_rate)


def share_of_value(value: Decimal, part: int, whole: int) -> Decimal:
    """The value of ``part`` units out of ``whole`` units worth ``value`` together.

    Used for moving-average cost: taking all units takes the whole value, so the
    inventory value of a SKU drains to exactly zero with its quantity.
    """
    if whole <= 0 or part <= 0:
        return ZERO
    if part >= whole:
        return value
    return round_money(value * part / whole)


def spread(total: Decimal, weights: list[Decimal], places: int = 2) -> list[Decimal]:
    """``total`` divided in proportion to ``weights`` so that the parts add up
    to it exactly (the largest remainder method): every part is first cut
    down to the minor unit, and the units left over go one each to the parts
    that lost the most, the first of equal ones first. Used where a rounded
    total must be carried by rounded parts (an invoice's functional net over
    its lines)."""
    whole = sum(weights, ZERO)
    if not weights:
        return []
    if whole == 0:
        return [total, *([round_money(ZERO, places)] * (len(weights) - 1))]
    unit = _QUANTUM[places]
    exact = [total * w / whole for w in weights]
    parts = [e.quantize(unit, rounding=ROUND_FLOOR) for e in exact]
    left = int((total - sum(parts, ZERO)) / unit)
    order = sorted(range(len(parts)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += unit
    return parts


def to_cents(amount: Decimal) -> int:
    """Exact conversion to integer minor units; refuses sub-cent amounts."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"amount {amount} has more than two decimals")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


UNIT_COST_PLACES = Decimal("0.0001")


def unit_cost(value: Decimal, on_hand: int) -> Decimal:
    """Moving-average unit cost, shown to four places. The exact figure is the
    stock's value, which is what the books carry."""
    if not on_hand:
        return Decimal("0.0000")
    return (value / on_hand).quantize(UNIT_COST_PLACES)
