"""Schemas of currencies, exchange rates and price lists (API.md, Currencies).

Rates and prices in a currency travel as strings: a rate with at least four
decimals (``"4.2750"``), a price with its currency's decimals (``"3253"`` yen,
``"427.50"`` złoty)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields, validate

from o2c.domain.fx import decimals_of
from o2c.schemas.api import PageArgs
from o2c.schemas.fields import BookDate, Text

CODE = r"^[A-Z]{3}$"
CODE_ERROR = "A currency is its three-letter ISO 4217 code in capitals, such as PLN."
#: A decimal number as text: what the service then checks as a rate (at most
#: ten significant digits and decimals) or an amount (the currency's decimals),
#: saying which rule a number breaks.
DECIMAL = r"^[0-9]{1,20}(\.[0-9]{1,20})?$"


def _code(**kw: Any) -> Text:
    return Text(validate=validate.Regexp(CODE, error=CODE_ERROR), metadata={"example": "PLN"}, **kw)


def rate_text(rate: Decimal | None) -> str | None:
    """A rate with at least four decimals, as the ECB writes them (``4.2750``)."""
    if rate is None:
        return None
    places = max(4, decimals_of(rate))
    return f"{rate.quantize(Decimal(1).scaleb(-places)):f}"


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
    rate = Text(required=True, validate=validate.Regexp(
        DECIMAL, error="A rate is a decimal number above zero sent as a string, such as \"4.2750\"."),
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
    unit_price = Text(required=True, validate=validate.Regexp(
        DECIMAL, error="A price is a decimal number sent as a string, such as \"84.90\"."),
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
