"""Tax at the point of sale: the treatment of an order decided from data
already read (company settings, customer, products), the rates table, and the
checkout preview (API.md, Tax)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, case, insert, or_, select, update

from o2c.db import models as m
from o2c.db.types import money_sum
from o2c.domain.access import Principal
from o2c.domain import fx as dfx
from o2c.domain.errors import ValidationFailed
from o2c.domain.fx import FUNCTIONAL_CURRENCY
from o2c.domain.money import ZERO, document_totals, line_net
from o2c.domain.tax import (
    CATEGORIES,
    EU,
    TAX_CLASSES,
    Buyer,
    Decision,
    DistanceSales,
    decide,
    line_tax,
    needs_distance_sales,
    settle,
    vat_rows,
)
from o2c.services.books import fx
from o2c.services.platform.company import Settings
from o2c.services.platform.uow import Tx

orders = m.Order.__table__
tax_rates = m.TaxRate.__table__
products = m.Product.__table__

_rates_on = (
    select(tax_rates.c.tax_class, tax_rates.c.rate)
    .where(tax_rates.c.country == bindparam("cc"), tax_rates.c.valid_from <= bindparam("on"),
           or_(tax_rates.c.valid_to.is_(None), tax_rates.c.valid_to >= bindparam("on")))
)


def rates_on(tx: Tx, country: str, on: dt.date) -> dict[str, Decimal]:
    """The rates of ``country`` per tax class on a date."""
    return {r.tax_class: r.rate for r in tx.conn.execute(_rates_on, {"cc": country, "on": on})}


def _distance_sale_filter(home: str, start: dt.datetime) -> Any:
    return and_(orders.c.created_at >= start, orders.c.status.notin_(("cancelled", "draft")),
                orders.c.ship_to_country.in_(sorted(EU - {home})),
                or_(orders.c.tax_treatment == "eu_distance_sale",
                    and_(orders.c.tax_treatment.in_(("domestic", "exempt")), orders.c.tax_country == home)))


def distance_sales(tx: Tx, home: str, today: dt.date) -> DistanceSales:
    """EU distance sales (net) of last year and this year so far, in the
    functional currency the threshold is set in: orders shipped into another
    member state and taxed as consumer sales, domestically below the
    threshold or by the OSS above it.

    One statement while every such order is in the functional currency; an
    order in another currency counts at the rate of the day it was placed
    (the one it was priced at), order by order, read when there are any."""
    start = dt.datetime(today.year - 1, 1, 1, tzinfo=dt.timezone.utc)
    this_year = dt.datetime(today.year, 1, 1, tzinfo=dt.timezone.utc)
    net = orders.c.net_total
    which = _distance_sale_filter(home, start)
    rows = tx.conn.execute(
        select(orders.c.currency, money_sum(case((orders.c.created_at < this_year, net), else_=0)),
               money_sum(case((orders.c.created_at >= this_year, net), else_=0)))
        .where(which).group_by(orders.c.currency)
    ).all()
    last, current = ZERO, ZERO
    for currency, before, now in rows:
        if currency == FUNCTIONAL_CURRENCY:
            last, current = last + before, current + now
    if any(r[0] != FUNCTIONAL_CURRENCY for r in rows):
        foreign = tx.conn.execute(
            select(orders.c.currency, orders.c.created_at, orders.c.net_total)
            .where(which, orders.c.currency != FUNCTIONAL_CURRENCY)).all()
        day_rates = fx.day_rates(tx, {(r.currency, r.created_at.date()) for r in foreign})
        for r in foreign:
            value = dfx.to_functional(r.net_total, day_rates[r.currency, r.created_at.date()], r.currency)
            if r.created_at < this_year:
                last += value
            else:
                current += value
    return DistanceSales(last, current)


def ship_to_of(customer: Any, shipping_address: dict[str, Any] | None) -> str:
    address = shipping_address or customer.shipping_address or customer.billing_address or {}
    return str(address.get("country") or customer.country or "").upper()


def buyer_of(customer: Any) -> Buyer:
    return Buyer(customer.customer_type, customer.country, customer.tax_id or "", customer.vat_id_check_status)


def price_lines(tx: Tx, settings: Settings, customer: Any, ship_to: str, found: dict[str, Any],
                req_lines: list[dict[str, Any]], currency: str = FUNCTIONAL_CURRENCY,
                ) -> tuple[Decision, list[dict[str, Any]]]:
    """The treatment of a sale and its lines (sku, description, quantity,
    unit_price, discount, vat_rate, vat_category, net), from the products
    already read (``found``: SKU → row with tax_class, vat_rate and the
    unit price in ``currency``). Reads the database only for a consumer sale
    into another member state (the distance sales so far, the destination's
    rates). A price given with more decimals than the currency has is a 422."""
    seller, buyer = settings.seller, buyer_of(customer)
    places = 2 if currency == FUNCTIONAL_CURRENCY else dfx.minor_units(currency)
    if places != 2:
        bad = {str(i): {"unit_price": [f"{currency} amounts have {places} decimals at most."]}
               for i, l in enumerate(req_lines)
               if l.get("unit_price") is not None and dfx.decimals_of(l["unit_price"]) > places}
        if bad:
            raise ValidationFailed(f"Some prices have more decimals than {currency} allows.", {"lines": bad})
    priced = []
    for l in req_lines:
        p = found[l["sku"]]
        price = p.unit_price if l.get("unit_price") is None else l["unit_price"]
        discount = l.get("discount") or ZERO
        priced.append({"product_id": p.id, "sku": p.sku, "description": p.name, "quantity": l["quantity"],
                       "unit_price": price, "discount": discount,
                       "net": line_net(l["quantity"], price, discount, places), "_class": p.tax_class,
                       "_rate": p.vat_rate})
    sales = None
    order_net = sum((r["net"] for r in priced), ZERO)
    if needs_distance_sales(seller, buyer, ship_to):
        sales = distance_sales(tx, seller.country, tx.today)
        if currency != FUNCTIONAL_CURRENCY:  # the threshold is in the functional currency
            order_net = dfx.to_functional(order_net, fx.day_rate(tx, currency, tx.today).rate, currency)
    decision = settle(decide(seller, buyer, ship_to, order_net, sales), [r["_class"] for r in priced])
    dest_rates: dict[str, Decimal] = {}
    if decision.treatment in ("eu_distance_sale", "exempt") and decision.tax_country != seller.country:
        dest_rates = rates_on(tx, decision.tax_country, tx.today)
        missing = sorted({r["_class"] for r in priced if r["_class"] not in ("zero", "exempt")} - set(dest_rates))
        if missing:
            raise ValidationFailed(
                f"No VAT rate of {decision.tax_country} on {tx.today.isoformat()} for the tax class "
                f"{', '.join(missing)}; an administrator adds it under /api/v1/tax/rates.",
                {"lines": {"tax_class": [f"No rate of {decision.tax_country} for {c}." for c in missing]}})
    for r in priced:
        cat, rate = line_tax(decision.treatment, r.pop("_class"), r.pop("_rate"), dest_rates)
        r["vat_category"], r["vat_rate"] = cat, rate
    return decision, priced


def tax_columns(decision: Decision, ship_to: str) -> dict[str, Any]:
    """What an order freezes of its treatment."""
    return {"tax_treatment": decision.treatment, "tax_country": decision.tax_country,
            "buyer_vat_id": decision.buyer_vat_id, "ship_to_country": ship_to}


def vat_view(rows: Any, functional: bool = False) -> list[dict[str, Any]]:
    """VAT summary rows as the API shows them, in category order (S, Z, E, K,
    G…) then by rate; the reason only where there is one; with
    ``functional`` (a document in another currency) the row's functional net and VAT."""
    out = []
    for v in sorted(rows, key=lambda v: (CATEGORIES.index(v.category), v.rate)):
        d = {"category": v.category, "rate": v.rate, "net": v.net, "vat": v.vat}
        if functional:
            d["functional_net"], d["functional_vat"] = v.functional_net, v.functional_vat
        if v.exemption_reason_code:
            d["exemption_reason_code"] = v.exemption_reason_code
            d["exemption_reason"] = v.exemption_reason
        out.append(d)
    return out


# -- preview -------------------------------------------------------------------------

_products_by_sku = (
    select(products.c.id, products.c.sku, products.c.name, products.c.unit_price, products.c.vat_rate,
           products.c.tax_class, products.c.active).where(products.c.sku.in_(bindparam("skus", expanding=True)))
)


def products_in(tx: Tx, currency: str, req_lines: list[dict[str, Any]]) -> tuple[dict[str, Any], int]:
    """The products the lines name, by SKU, with their unit price in
    ``currency`` today (``fx.products_in``: the price list's, else the EUR
    price at the day's rate), and the currency's decimals. Orders, quotations
    and the preview price with it, so an offer, its order and the preview
    agree. An unknown or disabled currency is a 422; a missing rate is left
    to :func:`with_prices`, once the lines are known to be valid."""
    skus = sorted({l["sku"] for l in req_lines})
    if currency == FUNCTIONAL_CURRENCY:
        return {r.sku: r for r in tx.conn.execute(_products_by_sku, {"skus": skus})}, 2
    from o2c.services.books import fx
    # Priced in the document's currency in the same one read.
    return fx.products_in(tx, currency, skus, tx.today), dfx.minor_units(currency)


def with_prices(tx: Tx, currency: str, found: dict[str, Any], req_lines: list[dict[str, Any]]) -> dict[str, Any]:
    """``found`` once every line has a price in ``currency``: 409
    ``rate_missing`` when a line without its own price needs the day's rate
    and there is none."""
    if currency == FUNCTIONAL_CURRENCY:
        return found
    from o2c.services.books import fx
    return fx.priced(tx, currency, found, req_lines, tx.today)


def preview(tx: Tx, principal: Principal, settings: Settings, data: dict[str, Any]) -> dict[str, Any]:
    """Exactly the lines, categories, rates and totals an invoice of these lines
    would show now, for a customer this principal may use. Writes nothing: a
    whole new customer is not created, only read as sent."""
    from o2c.services.customers import records
    ref = data["customer"]
    if ref.get("name") is None:
        customer = records.resolve_customer(tx, principal, ref)
    else:
        customer = records.unsaved_customer(ref)
    currency = data.get("currency") or customer.currency or FUNCTIONAL_CURRENCY
    found, places = products_in(tx, currency, data["lines"])
    errors = {str(i): {"sku": [f"Unknown SKU “{l['sku']}”."]} for i, l in enumerate(data["lines"])
              if l["sku"] not in found or not found[l["sku"]].active}
    if errors:
        raise ValidationFailed("Some lines are invalid.", {"lines": errors})
    found = with_prices(tx, currency, found, data["lines"])
    ship_to = ship_to_of(customer, data.get("shipping_address"))
    decision, priced = price_lines(tx, settings, customer, ship_to, found, data["lines"], currency)
    totals = document_totals(((r["net"], r["vat_rate"]) for r in priced), places)
    return {
        "currency": currency,
        "tax_treatment": decision.treatment, "tax_country": decision.tax_country,
        "lines": [{"sku": r["sku"], "quantity": r["quantity"], "unit_price": r["unit_price"],
                   "discount": r["discount"], "net": r["net"], "vat_category": r["vat_category"],
                   "vat_rate": r["vat_rate"]} for r in priced],
        "vat": vat_view(vat_rows(((r["net"], r["vat_category"], r["vat_rate"]) for r in priced), places)),
        "net_total": totals.net, "vat_total": totals.vat, "total": totals.gross, "notes": list(decision.notes),
    }


# -- the rates table -----------------------------------------------------------------

def list_rates(tx: Tx, country: str | None = None, on: dt.date | None = None) -> list[dict[str, Any]]:
    q = select(tax_rates).order_by(tax_rates.c.country, tax_rates.c.tax_class, tax_rates.c.valid_from)
    if country:
        q = q.where(tax_rates.c.country == country.upper())
    if on is not None:
        q = q.where(tax_rates.c.valid_from <= on, or_(tax_rates.c.valid_to.is_(None), tax_rates.c.valid_to >= on))
    return [{"country": r.country, "tax_class": r.tax_class, "rate": r.rate, "valid_from": r.valid_from,
             "valid_to": r.valid_to} for r in tx.conn.execute(q)]


def create_rate(tx: Tx, data: dict[str, Any]) -> dict[str, Any]:
    """A new dated rate. Its validity may not overlap another of the same
    country and class; an open-ended one before it is closed the day before."""
    country, tax_class = data["country"].upper(), data["tax_class"]
    start, end = data["valid_from"], data.get("valid_to")
    fields: dict[str, list[str]] = {}
    if tax_class not in TAX_CLASSES or tax_class == "exempt":
        fields["tax_class"] = [f"One of {', '.join(c for c in TAX_CLASSES if c != 'exempt')}."]
    if end is not None and end < start:
        fields["valid_to"] = ["Must not be before valid_from."]
    if not (ZERO <= data["rate"] < 1):
        fields["rate"] = ["A fraction from 0 to below 1, e.g. 0.22."]
    if fields:
        raise ValidationFailed("The rate is invalid.", fields)
    same = [r for r in tx.conn.execute(select(tax_rates).where(tax_rates.c.country == country,
                                                                tax_rates.c.tax_class == tax_class))]
    far = dt.date.max
    for r in same:
        if r.valid_to is None and r.valid_from < start:
            continue  # closed below
        if r.valid_from <= (end or far) and start <= (r.valid_to or far):
            raise ValidationFailed(
                f"A rate of {country} for {tax_class} is already valid from {r.valid_from.isoformat()}"
                + (f" to {r.valid_to.isoformat()}" if r.valid_to else "") + ".",
                {"valid_from": ["Overlaps the validity of another rate of this country and class."]})
    for r in same:
        if r.valid_to is None and r.valid_from < start:
            tx.conn.execute(update(tax_rates).where(tax_rates.c.id == r.id)
                            .values(valid_to=start - dt.timedelta(days=1)))
    row = {"country": country, "tax_class": tax_class, "rate": data["rate"], "valid_from": start, "valid_to": end}
    rid = tx.conn.execute(insert(tax_rates).returning(tax_rates.c.id), row).scalar_one()
    tx.audit("tax_rate.created", "tax_rate", rid, None,
             {k: (str(v) if v is not None else None) for k, v in row.items()})
    return row

