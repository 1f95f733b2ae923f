"""Exact column types. SQLite has no exact decimal, so money is stored as
integer minor units and rates as integer ten-thousandths, on both databases;
sums in SQL stay exact and come back as ``Decimal``."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, DateTime, Integer, func, type_coerce
from sqlalchemy.types import TypeDecorator


class _Scaled(TypeDecorator[Decimal]):
    impl = BigInteger
    cache_ok = True
    scale = 2

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):  # never: money must not pass through float
            raise TypeError("refusing a float where an exact amount is required")
        scaled = Decimal(value).scaleb(self.scale)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.scale} decimals")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.scale)

    @property
    def python_type(self) -> type:
        return Decimal


class Money(_Scaled):
    """An amount in minor units (cents)."""

    cache_ok = True
    scale = 2


class Rate(_Scaled):
    """A fraction such as a VAT rate or discount, in ten-thousandths."""

    impl = Integer
    cache_ok = True
    scale = 4


class ExchangeRate(_Scaled):
    """An exchange rate (units of a currency per unit of the functional
    currency), in units of 10⁻¹⁰: up to ten decimals, exact."""

    cache_ok = True
    scale = 10


class CurrencyAmount(_Scaled):
    """An amount in any ISO 4217 currency, in ten-thousandths (the most
    decimals any currency's minor unit has): JPY, EUR and KWD alike."""

    cache_ok = True
    scale = 4


def money_sum(expr: ColumnElement[Any]) -> ColumnElement[Decimal]:
    """``SUM`` of an amount expression, zero when empty, read back as ``Decimal``.

    Arithmetic between money columns (``total - amount_paid``) loses the column
    type in SQL expressions, so its result would come back in minor units;
    this re-applies the money type to the sum.
    """
    return type_coerce(func.coalesce(func.sum(expr), 0), Money())


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A moment in time, always timezone-aware UTC in Python.

    PostgreSQL keeps the offset (``timestamptz``) but answers in the session's
    time zone; SQLite drops it. Both come back here as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing a naive datetime; use UTC")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: Any, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)

    @property
    def python_type(self) -> type:
        return dt.datetime
