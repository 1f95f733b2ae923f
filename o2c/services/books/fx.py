"""Currencies, exchange rates and price lists: the foundations of selling in
a customer's currency while the books stay in the functional one (EUR).

- Currencies: every ISO 4217 code is known; administrators enable the ones
  documents may use. EUR, the functional currency, is always enabled.
- Rates: one per currency and day (units of the currency per euro), with its
  source. :func:`rate_on` answers the rate for a day, or the latest earlier
  one within ``fallback_days`` (and says which day and source it took), or
  refuses with ``rate_missing`` — never a silent 1.0. Once a document has
  used a rate (``use=True``), the rate of a day in a closed period no longer
  changes.
- Price lists: a fixed price per product and currency; without one, the EUR
  price converted at the day's rate, rounded to the currency's minor unit.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, NamedTuple

from babel.numbers import get_currency_name
from sqlalchemy import and_, bindparam, func, insert, or_, select, update

from o2c.db import models as m
from o2c.domain import fx as dfx
from o2c.domain.errors import Conflict, NotFound, PeriodClosed, RateMissing, ValidationFailed
from o2c.domain.fx import FUNCTIONAL_CURRENCY, RateUsed
from o2c.services.platform.uow import Tx, period_of

currencies = m.Currency.__table__
rates = m.FxRate.__table__
prices = m.PriceListEntry.__table__
products = m.Product.__table__
periods = m.Period.__table__

#: How many days back a missing day's rate may be taken from (weekends and
#: the ECB's holidays: Good Friday to Easter Monday is four days).
DEFAULT_FALLBACK_DAYS = 4
#: Rates are written in batches of this many rows by an import.
BATCH = 1000
#: The most decimals a document currency may have: orders, quotations and
#: invoices keep their amounts in hundredths (``o2c.db.types.Money``), so a
#: currency with mils (KWD, BHD, TND...) would lose its third decimal.
MAX_MINOR_UNITS = 2
#: What documents use (``O2C_FX_RATE_FALLBACK_DAYS``, set by the app).
_settings = {"fallback_days": DEFAULT_FALLBACK_DAYS}


def configure(*, fallback_days: int) -> None:
    _settings["fallback_days"] = fallback_days


# -- currencies -----------------------------------------------------------------------

def _currency_view(row: Any) -> dict[str, Any]:
    return {"code": row.code, "name": get_currency_name(row.code, locale="en"), "minor_units": row.minor_units,
            "enabled": row.enabled, "rate_source": row.rate_source,
            "functional": row.code == FUNCTIONAL_CURRENCY}


def list_currencies(tx: Tx, enabled: bool | None, cursor: str | None, limit: int,
                    ) -> tuple[list[dict[str, Any]], str | None]:
    """Currencies by code; ``enabled`` filters."""
    q = select(currencies).order_by(currencies.c.code).limit(limit + 1)
    if enabled is not None:
        q = q.where(currencies.c.enabled == enabled)
    if cursor is not None:
        q = q.where(currencies.c.code > cursor)
    rows = tx.conn.execute(q).all()
    return [_currency_view(r) for r in rows[:limit]], (rows[limit - 1].code if len(rows) > limit else None)


def _unknown(code: str, field: str) -> ValidationFailed:
    why = f"“{code}” is not an ISO 4217 currency code."
    return ValidationFailed(why, {field: [why]})


def get_currency(tx: Tx, code: str, field: str = "code") -> dict[str, Any]:
    row = tx.conn.execute(select(currencies).where(currencies.c.code == code)).first()
    if row is None:
        raise _unknown(code, field)
    return _currency_view(row)


def require_enabled(tx: Tx, code: str, field: str = "currency") -> int:
    """The decimals of an enabled currency's minor unit; an unknown or
    disabled currency is a 422 on ``field``."""
    row = tx.conn.execute(select(currencies.c.enabled, currencies.c.minor_units)
                          .where(currencies.c.code == code)).first()
    if row is None:
        raise _unknown(code, field)
    if not row.enabled:
        why = f"{code} is not enabled; an administrator enables it under Books, Currencies."
        raise ValidationFailed(why, {field: [why]})
    return int(row.minor_units)


def set_currency(tx: Tx, code: str, enabled: bool) -> dict[str, Any]:
    """Enable or disable a currency (administrators). EUR stays enabled."""
    before = get_currency(tx, code)
    if code == FUNCTIONAL_CURRENCY and not enabled:
        raise Conflict(f"{code} is the functional currency: the books are kept in it, so it stays enabled.",
                       {"code": code})
    if enabled and before["minor_units"] > MAX_MINOR_UNITS:
        why = (f"{code} has {before['minor_units']} decimals in its minor unit; documents keep their amounts in "
               f"hundredths, so only currencies of at most {MAX_MINOR_UNITS} decimals can be enabled.")
        raise ValidationFailed(why, {"code": [why]})
    if before["enabled"] != enabled:
        tx.conn.execute(update(currencies).where(currencies.c.code == code)
                        .values(enabled=enabled, updated_at=tx.now))
        tx.audit("currency.enabled" if enabled else "currency.disabled", "currency", _code_id(code),
                 {"enabled": before["enabled"]}, {"enabled": enabled})
    return get_currency(tx, code)


def _code_id(code: str) -> int:
    """Audit rows carry an integer object id: a currency code's letters as a base-26 number."""
    value = 0
    for ch in code:
        value = value * 26 + (ord(ch) - ord("A"))
    return value


# -- rates ----------------------------------------------------------------------------

def _rate_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "currency": row.currency, "date": row.date, "rate": row.rate, "source": row.source,
            "created_at": row.created_at, "updated_at": row.updated_at, "used": row.used_at is not None}


def _closed(tx: Tx, day: dt.date) -> bool:
    return tx.conn.execute(select(periods.c.closed_at).where(periods.c.period == period_of(day))).scalar() is not None


def _refuse_change(currency: str, day: dt.date) -> PeriodClosed:
    period = period_of(day)
    return PeriodClosed(
        f"The {currency} rate of {day.isoformat()} has been used and period {period} is closed: it cannot change. "
        "Have an administrator reopen the period first.",
        {"period": period, "currency": currency, "date": day.isoformat()})


def record_rate(tx: Tx, currency: str, day: dt.date, rate: Decimal | str, source: str = "manual") -> dict[str, Any]:
    """Record a currency's rate for a day (a new one, or a change of the day's rate).

    The same rate again changes nothing. A changed rate of a day in a closed
    period that a document already used is refused (409 ``period_closed``)."""
    if currency == FUNCTIONAL_CURRENCY:
        why = f"{FUNCTIONAL_CURRENCY} is the functional currency: its rate is 1 by definition."
        raise ValidationFailed(why, {"currency": [why]})
    require_enabled(tx, currency)
    rate = dfx.parse_rate(rate)
    row = tx.conn.execute(select(rates).where(rates.c.currency == currency, rates.c.date == day)).first()
    if row is None:
        new_id = tx.conn.execute(insert(rates).returning(rates.c.id), {
            "currency": currency, "date": day, "rate": rate, "source": source,
            "created_at": tx.now, "updated_at": tx.now, "used_at": None}).scalar_one()
        tx.audit("fx_rate.recorded", "fx_rate", new_id, None,
                 {"currency": currency, "date": day.isoformat(), "rate": str(rate), "source": source})
        return get_rate(tx, new_id)
    if row.rate == rate and row.source == source:
        return _rate_view(row)
    if row.used_at is not None and row.rate != rate and _closed(tx, day):
        raise _refuse_change(currency, day)
    tx.conn.execute(update(rates).where(rates.c.id == row.id).values(rate=rate, source=source, updated_at=tx.now))
    tx.audit("fx_rate.changed", "fx_rate", row.id, {"rate": str(row.rate), "source": row.source},
             {"rate": str(rate), "source": source})
    return get_rate(tx, row.id)


def get_rate(tx: Tx, rate_id: int) -> dict[str, Any]:
    row = tx.conn.execute(select(rates).where(rates.c.id == rate_id)).first()
    if row is None:
        raise NotFound(f"No exchange rate with id {rate_id}.")
    return _rate_view(row)


def list_rates(tx: Tx, currency: str | None, date_from: dt.date | None, date_to: dt.date | None,
               cursor: list[str] | None, limit: int) -> tuple[list[dict[str, Any]], list[str] | None]:
    """Rates, newest day first (then by currency); the position is ``[date, currency]``."""
    q = select(rates).order_by(rates.c.date.desc(), rates.c.currency).limit(limit + 1)
    if currency is not None:
        q = q.where(rates.c.currency == currency)
    if date_from is not None:
        q = q.where(rates.c.date >= date_from)
    if date_to is not None:
        q = q.where(rates.c.date <= date_to)
    if cursor is not None:
        day, code = dt.date.fromisoformat(cursor[0]), cursor[1]
        q = q.where(or_(rates.c.date < day, and_(rates.c.date == day, rates.c.currency > code)))
    rows = tx.conn.execute(q).all()
    last = rows[limit - 1] if len(rows) > limit else None
    return [_rate_view(r) for r in rows[:limit]], (None if last is None else [last.date.isoformat(), last.currency])


def rate_on(tx: Tx, currency: str, on: dt.date, *, fallback_days: int = DEFAULT_FALLBACK_DAYS,
            use: bool = False) -> RateUsed:
    """The rate of ``currency`` for ``on``: that day's, else the latest
    earlier day's within ``fallback_days`` (``RateUsed.fallback`` tells),
    else 409 ``rate_missing``. EUR is 1. With ``use``, the rate is marked as
    used by a document (from then on it is fixed once its period closes)."""
    if currency == FUNCTIONAL_CURRENCY:
        return RateUsed(currency, Decimal(1), on, "functional", on)
    row = tx.conn.execute(
        select(rates.c.id, rates.c.rate, rates.c.date, rates.c.source, rates.c.used_at)
        .where(rates.c.currency == currency, rates.c.date <= on,
               rates.c.date >= on - dt.timedelta(days=fallback_days))
        .order_by(rates.c.date.desc()).limit(1)).first()
    if row is None:
        latest = tx.conn.execute(select(rates.c.date, rates.c.rate).where(
            rates.c.currency == currency, rates.c.date <= on).order_by(rates.c.date.desc()).limit(1)).first()
        span = "" if not fallback_days else f" nor for the {fallback_days} day(s) before"
        raise RateMissing(
            f"No {currency} rate for {on.isoformat()}{span}. Record one (POST /api/v1/fx/rates) "
            "or import the ECB's reference rates (o2c fx import).",
            {"currency": currency, "date": on.isoformat(), "fallback_days": fallback_days,
             "latest": None if latest is None else {"date": latest.date.isoformat(), "rate": str(latest.rate)}})
    if use and row.used_at is None:
        tx.conn.execute(update(rates).where(rates.c.id == row.id).values(used_at=tx.now))
    return RateUsed(currency, row.rate, row.date, row.source, on)


def day_rate(tx: Tx, currency: str, on: dt.date) -> RateUsed:
    """The rate a figure that is on no document is valued at (a credit check,
    a threshold): ``rate_on`` with the configured fallback days, not marked
    as used; 409 ``rate_missing`` without one."""
    return rate_on(tx, currency, on, fallback_days=_settings["fallback_days"])


def day_rates(tx: Tx, wanted: Iterable[tuple[str, dt.date]]) -> dict[tuple[str, dt.date], Decimal]:
    """``day_rate`` for many (currency, day) pairs in one read: the rates
    of those currencies over the days' span, each day taking its own or the
    latest earlier one within the fallback days; a pair without one is a 409
    ``rate_missing`` (as ``day_rate`` says)."""
    wanted = sorted(set(wanted))
    if not wanted:
        return {}
    days = _settings["fallback_days"]
    known: dict[str, list[tuple[dt.date, Decimal]]] = {}
    for cur, day, rate in tx.conn.execute(
            select(rates.c.currency, rates.c.date, rates.c.rate)
            .where(rates.c.currency.in_(sorted({c for c, _ in wanted})),
                   rates.c.date >= min(d for _, d in wanted) - dt.timedelta(days=days),
                   rates.c.date <= max(d for _, d in wanted))
            .order_by(rates.c.currency, rates.c.date)):
        known.setdefault(cur, []).append((day, rate))
    out: dict[tuple[str, dt.date], Decimal] = {}
    for cur, on in wanted:
        earlier = [(d, r) for d, r in known.get(cur, []) if on - dt.timedelta(days=days) <= d <= on]
        out[cur, on] = earlier[-1][1] if earlier else day_rate(tx, cur, on).rate
    return out


def _document_rate_stmt(dialect: str) -> Any:
    """Pick the day's (or the latest earlier) rate and mark it used, in one
    statement. PostgreSQL marks it only the first time (a data-modifying
    CTE), so concurrent documents of one day do not queue on the rate's row;
    SQLite serialises writers anyway."""
    stmt = _DOCUMENT_RATE.get(dialect)
    if stmt is not None:
        return stmt
    pick = (select(rates.c.id).where(rates.c.currency == bindparam("cur"), rates.c.date <= bindparam("on"),
                                     rates.c.date >= bindparam("since"))
            .order_by(rates.c.date.desc()).limit(1))
    if dialect == "postgresql":
        chosen = select(rates.c.id, rates.c.rate, rates.c.date, rates.c.source, rates.c.used_at).where(
            rates.c.id == pick.scalar_subquery()).cte("chosen")
        mark = (update(rates).where(rates.c.id.in_(select(chosen.c.id).where(chosen.c.used_at.is_(None))))
                .values(used_at=bindparam("now")).cte("mark"))
        stmt = select(chosen.c.rate, chosen.c.date, chosen.c.source).add_cte(mark)
    else:
        stmt = (update(rates).where(rates.c.id == pick.scalar_subquery())
                .values(used_at=func.coalesce(rates.c.used_at, bindparam("now")))
                .returning(rates.c.rate, rates.c.date, rates.c.source))
    _DOCUMENT_RATE[dialect] = stmt
    return stmt


_DOCUMENT_RATE: dict[str, Any] = {}


def document_rate(tx: Tx, currency: str, on: dt.date) -> RateUsed:
    """The rate a document freezes: ``rate_on`` with ``use``, in one
    statement (the configured fallback days); 409 ``rate_missing`` without one."""
    if currency == FUNCTIONAL_CURRENCY:
        return RateUsed(currency, Decimal(1), on, "functional", on)
    days = _settings["fallback_days"]
    row = tx.conn.execute(_document_rate_stmt(tx.conn.dialect.name), {
        "cur": currency, "on": on, "since": on - dt.timedelta(days=days), "now": tx.now}).first()
    if row is None:  # say why: not a currency, not enabled, or no rate (rate_missing)
        require_enabled(tx, currency)
        return rate_on(tx, currency, on, fallback_days=days)
    return RateUsed(currency, row.rate, row.date, row.source, on)


def rate_used_view(used: RateUsed) -> dict[str, Any]:
    return {"currency": used.currency, "rate": used.rate, "date": used.date, "source": used.source,
            "requested_date": used.requested, "fallback": used.fallback}


# -- imports ----------------------------------------------------------------------------

class RateRow(NamedTuple):
    """One rate read from a file: ``line`` says where, for messages."""

    currency: str
    date: dt.date
    rate: Decimal
    source: str
    line: int


class ImportResult(NamedTuple):
    read: int
    added: int
    changed: int
    unchanged: int
    #: Codes whose rates were left out: not enabled (or not ISO 4217 currencies).
    skipped: dict[str, int]


def import_rates(tx: Tx, rows: Iterable[RateRow], *, include_disabled: bool = False,
                 progress: Callable[[int], object] | None = None) -> ImportResult:
    """Record many rates at once, all or nothing: new days are added, changed
    rates changed (never a used rate of a closed period: the whole import is
    refused), the same rate again changes nothing. Rates of currencies that
    are not enabled (unless ``include_disabled``) or not known are counted in
    ``skipped``."""
    rows = list(rows)
    known = {r.code: r.enabled for r in tx.conn.execute(select(currencies.c.code, currencies.c.enabled))}
    skipped: dict[str, int] = {}
    wanted: dict[tuple[str, dt.date], RateRow] = {}
    for row in rows:
        if row.currency == FUNCTIONAL_CURRENCY:
            continue
        if row.currency not in known or not (known[row.currency] or include_disabled):
            skipped[row.currency] = skipped.get(row.currency, 0) + 1
            continue
        dfx.parse_rate(row.rate, field=f"line {row.line}")
        wanted[(row.currency, row.date)] = row
    codes = sorted({c for c, _ in wanted})
    existing: dict[tuple[str, dt.date], Any] = {}
    if wanted:
        days = [d for _, d in wanted]
        for r in tx.conn.execute(select(rates.c.id, rates.c.currency, rates.c.date, rates.c.rate, rates.c.source,
                                        rates.c.used_at)
                                 .where(rates.c.currency.in_(codes), rates.c.date >= min(days),
                                        rates.c.date <= max(days))):
            existing[(r.currency, r.date)] = r
    new, changes, unchanged = [], [], 0
    closed: dict[str, bool] = {}
    for key, row in wanted.items():
        old = existing.get(key)
        if old is None:
            new.append({"currency": row.currency, "date": row.date, "rate": row.rate, "source": row.source,
                        "created_at": tx.now, "updated_at": tx.now, "used_at": None})
        elif old.rate == row.rate and old.source == row.source:
            unchanged += 1
        else:
            if old.used_at is not None and old.rate != row.rate:
                period = period_of(row.date)
                if period not in closed:
                    closed[period] = _closed(tx, row.date)
                if closed[period]:
                    raise _refuse_change(row.currency, row.date)
            changes.append((old, row))
    done = len(rows) - len(new) - len(changes)
    if progress:
        progress(done)
    for start in range(0, len(new), BATCH):
        chunk = new[start:start + BATCH]
        tx.conn.execute(insert(rates), chunk)
        if progress:
            progress(len(chunk))
    for old, row in changes:
        tx.conn.execute(update(rates).where(rates.c.id == old.id)
                        .values(rate=row.rate, source=row.source, updated_at=tx.now))
        tx.audit("fx_rate.changed", "fx_rate", old.id, {"rate": str(old.rate), "source": old.source},
                 {"rate": str(row.rate), "source": row.source})
        if progress:
            progress(1)
    if new:
        tx.audit("fx_rates.imported", "fx_rate", 0, None,
                 {"added": len(new), "currencies": codes,
                  "from": min(r["date"] for r in new).isoformat(), "to": max(r["date"] for r in new).isoformat()})
    return ImportResult(len(rows), len(new), len(changes), unchanged, dict(sorted(skipped.items())))


# -- price lists ------------------------------------------------------------------------

def _product(tx: Tx, sku: str) -> Any:
    row = tx.conn.execute(select(products.c.id, products.c.sku, products.c.unit_price)
                          .where(products.c.sku == sku)).first()
    if row is None:
        raise NotFound(f"No product with SKU “{sku}”.")
    return row


def _price_view(row: Any) -> dict[str, Any]:
    return {"sku": row.sku, "currency": row.currency, "unit_price": row.unit_price,
            "minor_units": row.minor_units, "updated_at": row.updated_at}


_price_cols = (products.c.sku, prices.c.currency, prices.c.unit_price, currencies.c.minor_units,
               prices.c.updated_at)


def _price_query() -> Any:
    return (select(*_price_cols).join(products, products.c.id == prices.c.product_id)
            .join(currencies, currencies.c.code == prices.c.currency))


def set_price(tx: Tx, sku: str, currency: str, unit_price: Decimal | str) -> dict[str, Any]:
    """Fix a product's price in an enabled currency other than EUR (a new
    entry or a new price for the entry)."""
    if currency == FUNCTIONAL_CURRENCY:
        why = f"The {FUNCTIONAL_CURRENCY} price is the product's own unit price: change it on the product."
        raise ValidationFailed(why, {"currency": [why]})
    require_enabled(tx, currency)
    price = dfx.check_amount(Decimal(unit_price), currency, "unit_price")
    if price <= 0:
        raise ValidationFailed("A price is above zero.", {"unit_price": ["A price is above zero."]})
    product = _product(tx, sku)
    old = tx.conn.execute(select(prices.c.id, prices.c.unit_price).where(
        prices.c.product_id == product.id, prices.c.currency == currency)).first()
    if old is None:
        new_id = tx.conn.execute(insert(prices).returning(prices.c.id), {
            "product_id": product.id, "currency": currency, "unit_price": price,
            "created_at": tx.now, "updated_at": tx.now}).scalar_one()
        tx.audit("price_list.set", "price_list", new_id, None,
                 {"sku": sku, "currency": currency, "unit_price": str(price)})
    elif old.unit_price != price:
        tx.conn.execute(update(prices).where(prices.c.id == old.id).values(unit_price=price, updated_at=tx.now))
        tx.audit("price_list.set", "price_list", old.id, {"unit_price": str(old.unit_price)},
                 {"sku": sku, "currency": currency, "unit_price": str(price)})
    row = tx.conn.execute(_price_query().where(prices.c.product_id == product.id,
                                               prices.c.currency == currency)).one()
    return _price_view(row)


def list_prices(tx: Tx, sku: str | None, currency: str | None, cursor: list[str] | None, limit: int,
                ) -> tuple[list[dict[str, Any]], list[str] | None]:
    """Price list entries by SKU and currency; the position is ``[sku, currency]``."""
    q = _price_query().order_by(products.c.sku, prices.c.currency).limit(limit + 1)
    if sku is not None:
        q = q.where(products.c.sku == sku)
    if currency is not None:
        q = q.where(prices.c.currency == currency)
    if cursor is not None:
        q = q.where(or_(products.c.sku > cursor[0], and_(products.c.sku == cursor[0],
                                                           prices.c.currency > cursor[1])))
    rows = tx.conn.execute(q).all()
    last = rows[limit - 1] if len(rows) > limit else None
    return [_price_view(r) for r in rows[:limit]], (None if last is None else [last.sku, last.currency])


def price_for(tx: Tx, sku: str, currency: str, on: dt.date, *,
              fallback_days: int = DEFAULT_FALLBACK_DAYS) -> dict[str, Any]:
    """A product's unit price in ``currency`` on a day: its price list entry,
    else its EUR price × the day's rate rounded to the currency's minor unit
    (409 ``rate_missing`` without a rate)."""
    places = require_enabled(tx, currency)
    product = _product(tx, sku)
    base = {"sku": sku, "currency": currency, "minor_units": places, "functional_price": product.unit_price,
            "date": on}
    if currency == FUNCTIONAL_CURRENCY:
        return {**base, "unit_price": product.unit_price, "basis": "product", "rate": None}
    fixed = tx.conn.execute(select(prices.c.unit_price).where(
        prices.c.product_id == product.id, prices.c.currency == currency)).scalar()
    if fixed is not None:
        return {**base, "unit_price": fixed, "basis": "price_list", "rate": None}
    used = rate_on(tx, currency, on, fallback_days=fallback_days)
    return {**base, "unit_price": dfx.to_currency(product.unit_price, used.rate, currency), "basis": "converted",
            "rate": rate_used_view(used)}



# -- documents in a currency ----------------------------------------------------------------

def _products_in_stmt() -> Any:
    """Products by SKU with their fixed price in ``:cur`` (if any), the
    currency's state and the day's rate, in one statement: a foreign-currency
    order reads no more than a functional one."""
    rate_of_day = (select(rates.c.rate).where(rates.c.currency == bindparam("cur"), rates.c.date <= bindparam("on"),
                                              rates.c.date >= bindparam("since"))
                   .order_by(rates.c.date.desc()).limit(1).scalar_subquery())
    cur = select(currencies.c.enabled).where(currencies.c.code == bindparam("cur")).scalar_subquery()
    return (select(products.c.id, products.c.sku, products.c.name, products.c.unit_price.label("functional_price"),
                   products.c.vat_rate, products.c.tax_class, products.c.active,
                   prices.c.unit_price.label("list_price"), cur.label("currency_enabled"),
                   rate_of_day.label("rate"))
            .select_from(products.outerjoin(prices, and_(prices.c.product_id == products.c.id,
                                                         prices.c.currency == bindparam("cur"))))
            .where(products.c.sku.in_(bindparam("skus", expanding=True))))


_PRODUCTS_IN = _products_in_stmt()


class PricedProduct(NamedTuple):
    id: int
    sku: str
    name: str
    vat_rate: Decimal
    tax_class: str
    active: bool
    #: In the order's currency: the fixed price, else the functional price at the day's rate (None: no rate).
    unit_price: Decimal | None


def products_in(tx: Tx, currency: str, skus: list[str], on: dt.date) -> dict[str, PricedProduct]:
    """Products by SKU priced in ``currency`` (not the functional one) on
    ``on``: a price list's price, else the EUR price converted at the day's
    rate (or the latest within the fallback days) rounded to the currency's
    minor unit. An unknown or disabled currency is a 422 on ``currency``."""
    days = _settings["fallback_days"]
    rows = tx.conn.execute(_PRODUCTS_IN, {"cur": currency, "on": on, "since": on - dt.timedelta(days=days),
                                          "skus": skus}).all()
    if rows and not rows[0].currency_enabled:
        require_enabled(tx, currency)  # says why: unknown or disabled
    if not rows:
        require_enabled(tx, currency)
    out = {}
    for r in rows:
        price = r.list_price
        if price is None and r.rate is not None:
            price = dfx.to_currency(r.functional_price, r.rate, currency)
        out[r.sku] = PricedProduct(r.id, r.sku, r.name, r.vat_rate, r.tax_class, r.active, price)
    return out


def priced(tx: Tx, currency: str, found: dict[str, PricedProduct], req_lines: list[dict[str, Any]],
           on: dt.date) -> dict[str, PricedProduct]:
    """``found``, once every line has a price: a line without a price of its
    own whose product has neither a fixed price nor a rate of the day is a
    409 ``rate_missing``."""
    if any(l.get("unit_price") is None and found[l["sku"]].unit_price is None for l in req_lines):
        day_rate(tx, currency, on)
    return found
