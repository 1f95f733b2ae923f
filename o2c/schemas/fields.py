"""Exact fields: amounts and rates travel as JSON strings, quantities as integers."""
from __future__ import annotations

import datetime as dt
import decimal
import re
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields

from o2c.domain.money import MAX_AMOUNT
from o2c.domain.text import UNPRINTABLE

#: Integer digits of the largest amount (999 999 999 999.99).
AMOUNT_DIGITS = len(str(int(MAX_AMOUNT)))
#: An amount as sent: digits, at most two decimals; nothing else (no sign,
#: exponent, spaces, underscores or non-ASCII digits, which Decimal() takes).
AMOUNT_PATTERN = rf"^[0-9]{{1,{AMOUNT_DIGITS}}}(\.[0-9]{{1,2}})?$"
#: The same, and not zero.
POSITIVE_AMOUNT_PATTERN = rf"^(?!0+(\.0+)?$)[0-9]{{1,{AMOUNT_DIGITS}}}(\.[0-9]{{1,2}})?$"
#: A rate: a fraction from 0 to below 1 with at most four decimals.
RATE_PATTERN = r"^0(\.[0-9]{1,4})?$"
#: Text a document may hold: none of the characters UNPRINTABLE finds
#: (lone surrogates cannot arrive: a body holding one is refused as JSON).
TEXT_PATTERN = ("^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\ufdd0-\\ufdef"
                + "".join(f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0, 0x110000, 0x10000)) + "]*$")
#: The same, with at least one character that is not white space.
NOT_BLANK_TEXT_PATTERN = "^(?=[\\s\\S]*\\S)" + TEXT_PATTERN[1:]


class Money(fields.Field):
    """An amount with at most two decimals, sent as a string (``"12.30"``).

    Integers are accepted; JSON floats are refused because they are not exact.
    """

    def __init__(self, *, positive: bool = False, allow_zero: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.positive = positive
        self.allow_zero = allow_zero

    def pattern_for(self) -> str:
        """The pattern a string amount must match (the OpenAPI document states it)."""
        return POSITIVE_AMOUNT_PATTERN if self.positive or not self.allow_zero else AMOUNT_PATTERN

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return f"{Decimal(value).quantize(Decimal('0.01')):f}"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_AMOUNT:
            value = int(value)  # 12.0 is the integer 12 in JSON: exact
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValidationError('Send amounts as strings with up to two decimals, e.g. "12.30".')
        if isinstance(value, str) and not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
            raise ValidationError(f"“{value}” is not an amount: digits with up to two decimals, e.g. \"12.30\".")
        try:
            amount = Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValidationError(f"“{value}” is not an amount.") from None
        if not amount.is_finite():
            raise ValidationError("Amounts must be finite numbers.")
        if abs(amount) > MAX_AMOUNT:
            raise ValidationError(f"Amounts are at most {MAX_AMOUNT}.")
        if amount != amount.quantize(Decimal("0.01"), rounding=decimal.ROUND_DOWN):
            raise ValidationError("Amounts have at most two decimals.")
        if amount < 0 or (self.positive and amount == 0) or (not self.allow_zero and amount == 0):
            raise ValidationError("Must be greater than zero." if self.positive else "Must not be negative.")
        if isinstance(value, str) and not re.fullmatch(self.pattern_for(), value):
            raise ValidationError(f"Amounts have at most {AMOUNT_DIGITS} digits before the point and two after it.")
        return amount.quantize(Decimal("0.01"))


class Rate(fields.Field):
    """A fraction from 0 to less than 1 with up to four decimals (``"0.22"``)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        text = f"{Decimal(value).quantize(Decimal('0.0001')):f}".rstrip("0")
        whole, _, frac = text.partition(".")
        return f"{whole}.{frac.ljust(2, '0')}"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValidationError('Send rates as strings, e.g. "0.22".')
        if isinstance(value, str) and not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
            raise ValidationError(f"“{value}” is not a rate: a fraction such as \"0.22\".")
        try:
            rate = Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValidationError(f"“{value}” is not a rate.") from None
        if not rate.is_finite() or rate < 0 or rate >= 1:
            raise ValidationError("A rate is a fraction from 0 to below 1, e.g. \"0.22\".")
        if rate != rate.quantize(Decimal("0.0001"), rounding=decimal.ROUND_DOWN):
            raise ValidationError("Rates have at most four decimals.")
        if isinstance(value, str) and not re.fullmatch(RATE_PATTERN, value):
            raise ValidationError('Write a rate as "0." and up to four decimals, e.g. "0.22".')
        return rate.quantize(Decimal("0.0001"))


MAX_ID = 2**63 - 1


def rate_text(rate: Decimal | None) -> str | None:
    """A rate with at least four decimals, as the ECB writes them (``4.2750``)."""
    if rate is None:
        return None
    exponent = rate.normalize().as_tuple().exponent
    places = max(4, -exponent if isinstance(exponent, int) else 0)
    return f"{rate.quantize(Decimal(1).scaleb(-places)):f}"


class ExchangeRate(fields.Field):
    """An exchange rate, sent as a string with at least four decimals (``"4.2750"``)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return rate_text(value)


class Whole(fields.Integer):
    """A whole number sent as a JSON number: ``3`` or ``3.0`` (JSON, and the
    OpenAPI document's ``integer``, do not tell them apart), never ``"3"``,
    ``3.5`` or ``true``."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("strict", True)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise ValidationError("Not a valid integer.")
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


class Id(Whole):
    """A database id: a whole number from 1 to 2^63 − 1."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        result = super()._deserialize(value, attr, data, **kwargs)
        if not 1 <= result <= MAX_ID:
            raise ValidationError(f"Must be between 1 and {MAX_ID}.")
        return result


class Quantity(Whole):
    """A whole number of units, at least 1 (at most a million per line)."""

    MIN, MAX = 1, 1_000_000

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        result = super()._deserialize(value, attr, data, **kwargs)
        if not self.MIN <= result <= self.MAX:
            raise ValidationError(f"Must be between {self.MIN} and {self.MAX}.")
        return result


class Text(fields.String):
    """A string without NUL or other control characters (tab and newlines
    aside), surrogates or noncharacters, which databases, PDFs, XML
    e-invoices and spreadsheets would choke on."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        result = super()._deserialize(value, attr, data, **kwargs)
        bad = UNPRINTABLE.search(result)
        if bad:
            raise ValidationError(f"Control characters are not allowed (U+{ord(bad.group()):04X} at "
                                  f"position {bad.start() + 1}).")
        return result


class BookDate(fields.Date):
    """A calendar date the books can hold: years 1900 to 2999 (date arithmetic
    such as aging buckets stays in range)."""

    EARLIEST = dt.date(1900, 1, 1)
    LATEST = dt.date(2999, 12, 31)
    #: The years above, as the OpenAPI document states them.
    PATTERN = r"^(19[0-9]{2}|2[0-9]{3})-[0-9]{2}-[0-9]{2}$"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        result = super()._deserialize(value, attr, data, **kwargs)
        if not self.EARLIEST <= result <= self.LATEST:
            raise ValidationError(f"Dates run from {self.EARLIEST.isoformat()} to {self.LATEST.isoformat()}.")
        return result
