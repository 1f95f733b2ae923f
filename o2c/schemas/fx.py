"""Schemas of currencies, exchange rates and price lists (API.md, Currencies).

Rates and prices in a currency travel as strings: a rate with at least four
decimals (``"4.2750"``), a price with its currency's decimals (``"3253"`` yen,
``"427.50"`` złoty)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields, validate

from o2c.domain.currencies import ISO_4217
from o2c.domain.fx import RATE_DECIMALS, RATE_SIGNIFICANT_DIGITS
from o2c.schemas.api import PageArgs
from o2c.schemas.fields import BookDate, Money, Text, rate_text

CODE_ERROR = "A currency is its three-letter ISO 4217 code in capitals, such as PLN."


def _rate_pattern() -> str:
    """Exactly the rates :func:`o2c.domain.fx.rate_problem` accepts, as a
    pattern the OpenAPI document states: above zero, below 10⁸, at most ten
    decimals and ten significant digits, trailing zeros aside (no lookaround,
    so generators can follow it)."""
    below_one = [rf"0\.0{{{z}}}[1-9][0-9]{{0,{9 - z}}}0*" for z in range(RATE_DECIMALS)]
    from_one = [rf"[1-9][0-9]{{{k - 1}}}(\.[0-9]{{1,{RATE_SIGNIFICANT_DIGITS - k}}}0*)?" for k in range(1, 9)]
    return "^(" + "|".join(below_one + from_one) + ")$"


RATE_PATTERN = _rate_pattern()
RATE_ERROR = ("A rate is above zero and below 100,000,000, with at most 10 significant digits and 10 decimals, "
              "sent as a string such as \"4.2750\".")
#: A price above zero with at most four decimals (the most any currency has);
#: the currency's own number of decimals is checked against the currency.
PRICE_PATTERN = (r"^([1-9][0-9]{0,11}(\.[0-9]{1,4})?|0\.([1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9]))$")
PRICE_ERROR = "A price is above zero, sent as a string such as \"84.90\"."


def _code(**kw: Any) -> Text:
    return Text(validate=validate.OneOf(list(ISO_4217), error=CODE_ERROR), metadata={"example": "PLN"}, **kw)




def amount_text(amount: Decimal | None, minor_units: int) -> str | None:
    """An amount with its currency's decimals."""
    if amount is None:
        return None
    return f"{amount.quantize(Decimal(1).scaleb(-minor_units)):f}"


class CurrencyOut(Schema):
    code = Text()
    name = Text()
    minor_units = fields.Integer(metadata={"description": "Decimals of the minor unit (ISO 4217): JPY 0, EUR 2."})
    enabled = fields.Boolean()
    rate_source = Text(metadata={"description": "Where its rates come from: `ecb` (the ECB's reference rates) "
                                                "or `manual`."})
    functional = fields.Boolean(metadata={"description": "The currency the books are kept in (EUR)."})


class CurrencyIn(Schema):
    code = _code(required=True)
    enabled = fields.Boolean(required=True)


class CurrencyListArgs(PageArgs):
    enabled = fields.Boolean()
    limit = fields.Integer(load_default=200, validate=validate.Range(1, 200))


class RateIn(Schema):
    currency = _code(required=True)
    date = BookDate(required=True)
    rate = Text(required=True, validate=validate.Regexp(RATE_PATTERN, error=RATE_ERROR),
        metadata={"example": "4.2750", "description": "Units of the currency per 1 EUR."})
    source = Text(load_default="manual", validate=validate.Length(1, 32), metadata={"example": "manual"})


class RateOut(Schema):
    id = fields.Integer()
    currency = Text()
    date = fields.Date()
    rate = fields.Function(lambda r: rate_text(r["rate"]), metadata={"example": "4.2750"})
    source = Text()
    used = fields.Boolean(metadata={"description": "Whether a document has taken this rate."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class RateListArgs(PageArgs):
    currency = _code()
    from_ = BookDate(data_key="from")
    to = BookDate()


class RateUsedOut(Schema):
    currency = Text()
    rate = fields.Function(lambda r: rate_text(r["rate"]))
    date = fields.Date(metadata={"description": "The day whose rate was taken."})
    source = Text()
    requested_date = fields.Date()
    fallback = fields.Boolean(metadata={"description": "The requested day had no rate: an earlier day's was taken."})


class PriceIn(Schema):
    sku = Text(required=True, validate=validate.Length(1, 64))
    currency = _code(required=True)
    unit_price = Text(required=True, validate=validate.Regexp(PRICE_PATTERN, error=PRICE_ERROR),
        metadata={"example": "84.90"})


class PriceOut(Schema):
    sku = Text()
    currency = Text()
    unit_price = fields.Function(lambda r: amount_text(r["unit_price"], r["minor_units"]),
                                 metadata={"example": "84.90"})
    minor_units = fields.Integer()
    updated_at = fields.DateTime()


class PriceListArgs(PageArgs):
    sku = Text(validate=validate.Length(1, 64))
    currency = _code()


class PriceQuoteArgs(Schema):
    currency = _code(required=True)
    on = BookDate(metadata={"description": "The day of the price (default: today)."})


class PriceQuoteOut(Schema):
    sku = Text()
    currency = Text()
    unit_price = fields.Function(lambda r: amount_text(r["unit_price"], r["minor_units"]))
    minor_units = fields.Integer()
    basis = Text(metadata={"description": "`price_list` (a fixed price), `converted` (the EUR price at the "
                                          "day's rate) or `product` (EUR)."})
    functional_price = fields.Function(lambda r: amount_text(r["functional_price"], 2))
    date = fields.Date()
    rate = fields.Nested(RateUsedOut, allow_none=True)


class RevaluationIn(Schema):
    as_of = BookDate(required=True, metadata={
        "description": "The day whose rates value the open balances, usually a month's last day; not in the future."})


class RevaluedBalance(Schema):
    currency = Text()
    role = Text(metadata={"description": "`receivables`, `customer_credit`, or `bank:<GL account>` for the money "
                                         "on a bank account held in the currency."})
    amount = fields.Function(lambda b: amount_text(b["amount"], ISO_4217.get(b["currency"], 2)), metadata={
        "type": "string", "example": "575.95",
        "description": "The balance in the currency, signed as the ledger keeps it (debit positive)."})
    rate = fields.Function(lambda b: rate_text(b["rate"]), metadata={"type": "string", "example": "4.3200"})
    rate_date = fields.Date()
    booked = Money(metadata={"description": "Its value in the ledger before: as booked (debit positive)."})
    revalued = Money(metadata={"description": "Its value at the day's rate."})
    difference = Money(metadata={"description": "What the entry moves the balance by (debit positive)."})


class RevaluationLineOut(Schema):
    account = Text()
    account_name = Text()
    debit = Money()
    credit = Money()
    currency = Text()


class RevaluationEntryOut(Schema):
    id = fields.Integer()
    date = fields.Date()
    document = Text()
    description = Text()
    lines = fields.List(fields.Nested(RevaluationLineOut))


class RevaluationOut(Schema):
    id = fields.Integer()
    object = Text()
    as_of = fields.Date()
    reversal_on = fields.Date(metadata={"description": "The first day of the next month: the reversal's date."})
    document = Text(metadata={"example": "FXR-2026-11-30"})
    created_at = fields.DateTime()
    created_by = Text()
    balances = fields.List(fields.Nested(RevaluedBalance))
    gain = Money(metadata={"description": "The net unrealised gain posted (4910), or 0."})
    loss = Money(metadata={"description": "The net unrealised loss posted (6910), or 0."})
    entry = fields.Nested(RevaluationEntryOut, allow_none=True,
                          metadata={"description": "The entry posted on `as_of`; null when nothing moved."})
    reversal = fields.Nested(RevaluationEntryOut, allow_none=True,
                             metadata={"description": "Its reversal on `reversal_on`."})
