"""Quotations: the offer before the order (SPEC.md, Quotation; API.md,
"Quotations").

A quotation's terms and lines live in revisions. A draft is edited in place;
editing a sent quotation writes the next revision (``QT-2026-000001-R2``) and
leaves the earlier ones read-only. Sending gives the current revision an
acceptance link: a random token whose SHA-256 alone is stored. Accepting the
latest sent, unexpired revision converts the quotation into an order in the
same transaction: the quoted lines, prices and payment terms, channel
``quote``, ``external_ref`` = the quotation's number, confirmed when stock and
credit allow; otherwise the order stays a draft and the quotation says why.
The quotation's row lock makes a second acceptance return the same order.

Lines, the tax treatment and the VAT categories are decided by the order's
code (``tax.price_lines``), totals and the VAT summary by the invoice's
(``document_totals``, ``vat_rows``): the quotation shows the treatment its
order and invoice will have. A revision freezes what an order freezes
(``tax.tax_columns``); the order made at acceptance decides again with the
same function (see :func:`accept_quote`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, and_, func, insert, select, update

from o2c.db import models as m
from o2c.domain.access import SYSTEM, Principal
from o2c.domain.errors import (
    CreditLimitExceeded,
    InvalidTransition,
    NotFound,
    OutOfStock,
    ValidationFailed,
)
from o2c.domain.fx import FUNCTIONAL_CURRENCY, minor_units, to_functional
from o2c.domain.money import ZERO, Totals, document_totals
from o2c.domain.tax import vat_rows
from o2c.services.books import fx
from o2c.services.crm import coupons
from o2c.services.customers import records
from o2c.services.platform.company import company_settings
from o2c.services.sales import orders as order_service
from o2c.services.sales import tax
from o2c.services.platform.uow import Tx

quotes = m.Quote.__table__
revisions = m.QuoteRevision.__table__
qlines = m.QuoteLine.__table__
products = m.Product.__table__
customers = m.Customer.__table__
orders_t = m.Order.__table__
coupons_t = m.Coupon.__table__

STATUSES = ("draft", "sent", "accepted", "declined", "expired", "cancelled")
OPEN = ("draft", "sent")
#: The channel of the orders accepted quotations become.
ORDER_CHANNEL = "quote"
DEFAULT_VALIDITY_DAYS = 30
DEFAULT_DECLINE_REASONS = ("price", "delivery_time", "payment_terms", "chose_competitor", "no_longer_needed",
                           "other")
TERM_FIELDS = ("valid_until", "payment_terms_days", "delivery_terms", "requested_delivery_date", "note")


def quote_number(year: int, value: int) -> str:
    return f"QT-{year}-{value:06d}"


def revision_label(number: str, revision: int) -> str:
    """``QT-2026-000001`` for the first revision, ``QT-2026-000001-R2`` after."""
    return number if revision == 1 else f"{number}-R{revision}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- pricing: the order's code ----------------------------------------------------------

#: What a revision freezes of its treatment (``tax.tax_columns``).
TAX_FIELDS = ("tax_treatment", "tax_country", "buyer_vat_id", "ship_to_country")


def price_lines(tx: Tx, customer: Any, req_lines: Sequence[dict[str, Any]], coupon: str | None = None,
                currency: str = FUNCTIONAL_CURRENCY) -> tuple[dict[str, Any], list[dict[str, Any]], int | None]:
    """The revision's tax columns, its lines and its coupon's id: priced and
    taxed by the order's functions (``tax.products_in``, ``tax.price_lines``):
    the product's price in ``currency`` unless one is given (the price
    list's, else the EUR price at the day's rate), the discount, the
    treatment, VAT category and rate.
    The goods go where an order of the customer's would send them (no address
    is quoted). One treatment for the whole offer, optional lines included, so
    an order with or without them is taxed alike. Unknown and inactive
    products are refused (422). A ``coupon`` is applied as on an order
    (``coupons.apply_coupon``) to the lines that are not optional; a percent
    coupon discounts the optional lines too."""
    found, places = tax.products_in(tx, currency, list(req_lines))
    errors: dict[str, Any] = {}
    seen: set[tuple[str, bool]] = set()
    for i, l in enumerate(req_lines):
        p = found.get(l["sku"])
        if p is None:
            errors[str(i)] = {"sku": [f"Unknown SKU “{l['sku']}”."]}
        elif not p.active:
            errors[str(i)] = {"sku": [f"Product “{l['sku']}” is not active."]}
        elif l.get("optional") and (l["sku"], True) in seen:
            errors[str(i)] = {"sku": [f"SKU “{l['sku']}” is offered as an optional line twice."]}
        seen.add((l["sku"], bool(l.get("optional"))))
    if errors:
        raise ValidationFailed("Some quotation lines are invalid.", {"lines": errors})
    if all(l.get("optional") for l in req_lines):
        raise ValidationFailed("A quotation needs at least one line that is not optional.",
                               {"lines": ["At least one line must not be optional."]})
    found = tax.with_prices(tx, currency, found, list(req_lines))
    ship_to = tax.ship_to_of(customer, None)
    decision, priced = tax.price_lines(tx, company_settings(tx), customer, ship_to, found, list(req_lines),
                                       currency)
    rows = [{"line_no": i, **r, "optional": bool(l.get("optional")), "discount_before_coupon": None}
            for i, (l, r) in enumerate(zip(req_lines, priced), start=1)]
    coupon_id = None
    if coupon:
        for r in rows:
            r["discount_before_coupon"] = r["discount"] or ZERO
        coupon_id = coupons.apply_coupon(tx, coupon, customer.id, [r for r in rows if not r["optional"]],
                                         also=[r for r in rows if r["optional"]], currency=currency,
                                         places=places)
    return tax.tax_columns(decision, ship_to), rows, coupon_id


def quote_totals(line_rows: Iterable[dict[str, Any]], places: int = 2) -> Totals:
    """Totals of the lines that are not optional, computed as for orders and
    invoices (rounded to the currency's ``places``)."""
    return document_totals(((r["net"], r["vat_rate"]) for r in line_rows if not r["optional"]), places)


def quote_vat(line_rows: Iterable[dict[str, Any]], places: int = 2) -> list[dict[str, Any]]:
    """The VAT summary of the lines that are not optional, per category and
    rate with the exemption reasons, as an invoice shows it."""
    return tax.vat_view(vat_rows(((r["net"], r["vat_category"], r["vat_rate"])
                                  for r in line_rows if not r["optional"]), places))


def quote_rate(tx: Tx, currency: str) -> Decimal:
    """Today's rate of ``currency`` (1 in the functional one), which values
    the revision in the pipeline: 409 ``rate_missing`` without one, even
    when every price comes from a price list. Not marked used: an offer
    books nothing; its order freezes the rate of its invoice."""
    if currency == FUNCTIONAL_CURRENCY:
        return Decimal(1)
    return fx.day_rate(tx, currency, tx.today).rate


def _requested(line_rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored lines as a request, to price them again (without their coupon)."""
    return [{"sku": l["sku"], "quantity": l["quantity"], "unit_price": l["unit_price"],
             "discount": l["discount"] if l["discount_before_coupon"] is None else l["discount_before_coupon"],
             "optional": l["optional"]} for l in line_rows]


# -- reading ------------------------------------------------------------------------

def _load(tx: Tx, quote_id: int, principal: Principal, *, lock: bool = False) -> Row[Any]:
    q = select(quotes).where(quotes.c.id == quote_id)
    if lock:
        q = q.with_for_update()
    row = tx.conn.execute(q).first()
    scope = principal.channel_scope
    if row is None or (scope is not None and row.channel != scope):
        raise NotFound(f"No quotation with id {quote_id}.")
    return row


def _revision(tx: Tx, quote_id: int, revision: int) -> Row[Any]:
    row = tx.conn.execute(select(revisions).where(revisions.c.quote_id == quote_id,
                                                  revisions.c.revision == revision)).first()
    if row is None:
        raise NotFound(f"The quotation has no revision {revision}.")
    return row


def _lines_of(tx: Tx, revision_id: int) -> list[dict[str, Any]]:
    cols = [qlines.c.line_no, qlines.c.product_id, qlines.c.sku, qlines.c.description, qlines.c.quantity,
            qlines.c.unit_price, qlines.c.discount, qlines.c.vat_rate, qlines.c.vat_category, qlines.c.net,
            qlines.c.optional, qlines.c.discount_before_coupon]
    return [r._asdict() for r in tx.conn.execute(
        select(*cols).where(qlines.c.revision_id == revision_id).order_by(qlines.c.line_no))]


def _view(tx: Tx, q: Row[Any], revision: int | None = None) -> dict[str, Any]:
    n = q.revision if revision is None else revision
    rev = _revision(tx, q.id, n)
    ls = _lines_of(tx, rev.id)
    places = minor_units(q.currency)
    totals = quote_totals(ls, places)
    history = tx.conn.execute(
        select(revisions.c.revision, revisions.c.created_at, revisions.c.total, revisions.c.sent_at)
        .where(revisions.c.quote_id == q.id).order_by(revisions.c.revision)).all()
    customer = tx.conn.execute(select(customers.c.id, customers.c.name, customers.c.code, customers.c.country)
                               .where(customers.c.id == q.customer_id)).one()
    coupon = None if rev.coupon_id is None else tx.conn.execute(
        select(coupons_t.c.code).where(coupons_t.c.id == rev.coupon_id)).scalar_one()
    d = q._asdict()
    d.update({
        "revision": n, "latest_revision": q.revision, "label": revision_label(q.number, n),
        "customer_name": customer.name, "customer_code": customer.code,
        "lines": [l for l in ls if not l["optional"]],
        "optional_lines": [l for l in ls if l["optional"]],
        "tax_treatment": rev.tax_treatment, "tax_country": rev.tax_country,
        "vat": quote_vat(ls, places), "coupon": coupon,
        "net_total": totals.net, "vat_total": totals.vat, "total": totals.gross,
        "exchange_rate": rev.exchange_rate, "functional_currency": FUNCTIONAL_CURRENCY,
        "functional_total": rev.functional_total,
        **{f: getattr(rev, f) for f in TERM_FIELDS},
        "revision_created_at": rev.created_at, "revision_sent_at": rev.sent_at,
        "superseded_at": rev.superseded_at,
        "revisions": [{"revision": h.revision, "created_at": h.created_at, "total": h.total,
                       "sent_at": h.sent_at} for h in history],
    })
    if n != q.revision:
        d["status"] = "superseded"
    return d


def get_quote(tx: Tx, quote_id: int, principal: Principal, revision: int | None = None) -> dict[str, Any]:
    return _view(tx, _load(tx, quote_id, principal), revision)


def list_quotes(
    tx: Tx, principal: Principal, *, status: str | None = None, customer_id: int | None = None,
    cursor: int | None = None, limit: int = 20,
) -> tuple[list[dict[str, Any]], int | None]:
    q = select(quotes).order_by(quotes.c.id.desc()).limit(limit + 1)
    if principal.channel_scope is not None:
        q = q.where(quotes.c.channel == principal.channel_scope)
    if status:
        q = q.where(quotes.c.status == status)
    if customer_id is not None:
        if not records.may_use_customer(tx, principal, customer_id):
            return [], None
        q = q.where(quotes.c.customer_id == customer_id)
    if cursor is not None:
        q = q.where(quotes.c.id < cursor)
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    return [_view(tx, r) for r in page], (page[-1].id if len(rows) > limit else None)


# -- writing ------------------------------------------------------------------------

def _check_terms(tx: Tx, terms: dict[str, Any]) -> None:
    if terms["valid_until"] < tx.today:
        raise ValidationFailed(f"The validity date {terms['valid_until'].isoformat()} is in the past.",
                               {"valid_until": ["Must be today or later."]})


def _figures(tx: Tx, currency: str, line_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A revision's totals in its currency, the day's rate and its total at
    that rate in the functional currency."""
    totals = quote_totals(line_rows, minor_units(currency))
    rate = quote_rate(tx, currency)
    return {"net_total": totals.net, "vat_total": totals.vat, "total": totals.gross, "exchange_rate": rate,
            "functional_total": to_functional(totals.gross, rate, currency)}


def _write_revision(tx: Tx, quote_id: int, revision: int, terms: dict[str, Any], taxed: dict[str, Any],
                    line_rows: list[dict[str, Any]], coupon_id: int | None, currency: str) -> int:
    rid = tx.conn.execute(insert(revisions).returning(revisions.c.id), {
        "quote_id": quote_id, "revision": revision, **{f: terms.get(f) for f in TERM_FIELDS}, **taxed,
        "coupon_id": coupon_id, **_figures(tx, currency, line_rows),
        "created_at": tx.now, "created_by": tx.actor,
    }).scalar_one()
    tx.conn.execute(insert(qlines), [{**r, "revision_id": rid} for r in line_rows])
    return int(rid)


def create_quote(tx: Tx, principal: Principal, data: dict[str, Any], *,
                 validity_days: int = DEFAULT_VALIDITY_DAYS) -> dict[str, Any]:
    """A draft quotation (revision 1) for a customer this principal may use,
    in ``data["currency"]`` (any enabled one; default: the customer's)."""
    customer = records.resolve_customer(tx, principal, data["customer"])
    currency = data.get("currency") or customer.currency
    terms = {
        "valid_until": data.get("valid_until") or tx.today + dt.timedelta(days=validity_days),
        "payment_terms_days": customer.payment_terms_days if data.get("payment_terms_days") is None
        else data["payment_terms_days"],
        "delivery_terms": data.get("delivery_terms"),
        "requested_delivery_date": data.get("requested_delivery_date"),
        "note": data.get("note"),
    }
    _check_terms(tx, terms)
    taxed, line_rows, coupon_id = price_lines(tx, customer, data["lines"], data.get("coupon"), currency)
    number = quote_number(tx.today.year, tx.take_number("QT", tx.today.year))
    qid = tx.conn.execute(insert(quotes).returning(quotes.c.id), {
        "number": number, "channel": principal.channel, "created_by": tx.actor, "customer_id": customer.id,
        "currency": currency, "status": "draft", "revision": 1, "valid_until": terms["valid_until"],
        "created_at": tx.now, "updated_at": tx.now,
    }).scalar_one()
    _write_revision(tx, qid, 1, terms, taxed, line_rows, coupon_id, currency)
    result = get_quote(tx, qid, principal)
    tx.audit("quote.created", "quote", qid, None, {"number": number, "total": str(result["total"])})
    return result


def update_quote(tx: Tx, quote_id: int, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """Change a quotation's terms or lines: a draft in place; a sent quotation
    gets the next revision and is a draft again until it is sent."""
    q = _load(tx, quote_id, principal, lock=True)
    if q.status not in OPEN:
        raise InvalidTransition(
            f"Quotation {q.number} is {q.status}; only a draft or sent quotation can be revised.",
            {"status": q.status, "action": "revise"})
    rev = _revision(tx, q.id, q.revision)
    before = _view(tx, q)
    terms = {f: (data[f] if f in data else getattr(rev, f)) for f in TERM_FIELDS}
    if terms["payment_terms_days"] is None:
        terms["payment_terms_days"] = rev.payment_terms_days
    if terms["valid_until"] is None:
        terms["valid_until"] = rev.valid_until
    _check_terms(tx, terms)
    # Lines kept as they were are taxed again too: the revision shows the
    # treatment an order made now would have (the customer's VAT id may
    # have been checked since, a rate changed).
    customer = tx.conn.execute(select(customers).where(customers.c.id == q.customer_id)).one()
    currency = data.get("currency") or q.currency
    if currency != q.currency and q.sent_at is not None:
        why = (f"Quotation {q.number} was sent in {q.currency}: its revisions keep that currency. "
               f"Cancel it and quote again in {currency}.")
        raise ValidationFailed(why, {"currency": [why]})
    req = data["lines"] if data.get("lines") is not None else _requested(_lines_of(tx, rev.id))
    if currency != q.currency and data.get("lines") is None:
        # The kept lines' prices are in the old currency: priced afresh in the new one.
        req = [{**l, "unit_price": None} for l in req]
    # The coupon is kept unless the change names another or none; kept, it
    # is checked again (it may have been used up or have expired since).
    coupon = data["coupon"] if "coupon" in data else (None if rev.coupon_id is None else tx.conn.execute(
        select(coupons_t.c.code).where(coupons_t.c.id == rev.coupon_id)).scalar_one())
    taxed, line_rows, coupon_id = price_lines(tx, customer, req, coupon, currency)
    if q.status == "draft" and rev.sent_at is None:
        tx.conn.execute(qlines.delete().where(qlines.c.revision_id == rev.id))
        tx.conn.execute(update(revisions).where(revisions.c.id == rev.id).values(
            **terms, **taxed, coupon_id=coupon_id, **_figures(tx, currency, line_rows)))
        tx.conn.execute(insert(qlines), [{**r, "revision_id": rev.id} for r in line_rows])
        new_revision = q.revision
    else:
        new_revision = q.revision + 1
        tx.conn.execute(update(revisions).where(revisions.c.id == rev.id).values(superseded_at=tx.now))
        _write_revision(tx, q.id, new_revision, terms, taxed, line_rows, coupon_id, currency)
    tx.conn.execute(update(quotes).where(quotes.c.id == q.id).values(
        revision=new_revision, valid_until=terms["valid_until"], status="draft", currency=currency,
        updated_at=tx.now))
    after = get_quote(tx, q.id, principal)
    if new_revision != q.revision:
        tx.emit("quote.revised", q.channel, None, {
            "quote_id": q.id, "number": q.number, "revision": new_revision,
            "label": revision_label(q.number, new_revision), "total": str(after["total"])})
    tx.audit("quote.revised" if new_revision != q.revision else "quote.updated", "quote", q.id,
             {"revision": q.revision, "total": str(before["total"]), "valid_until": str(before["valid_until"]),
              **({"currency": q.currency} if currency != q.currency else {})},
             {"revision": new_revision, "total": str(after["total"]), "valid_until": str(after["valid_until"]),
              **({"currency": currency} if currency != q.currency else {})})
    return after


def send_quote(tx: Tx, quote_id: int, principal: Principal) -> tuple[dict[str, Any], str]:
    """Mark the current revision sent and give it a new acceptance link: the
    quotation and the link's token (only its hash is stored). Sending a sent
    quotation again replaces its link."""
    q = _load(tx, quote_id, principal, lock=True)
    if q.status not in OPEN:
        raise InvalidTransition(f"Quotation {q.number} is {q.status}; it cannot be sent.",
                                {"status": q.status, "action": "send"})
    if q.valid_until < tx.today:
        raise InvalidTransition(
            f"Quotation {q.number} was valid until {q.valid_until.isoformat()}; set a new validity date first.",
            {"status": q.status, "action": "send"})
    token = secrets.token_urlsafe(32)
    tx.conn.execute(update(revisions).where(revisions.c.quote_id == q.id, revisions.c.revision == q.revision)
                    .values(token_hash=hash_token(token), sent_at=tx.now))
    tx.conn.execute(update(quotes).where(quotes.c.id == q.id).values(status="sent", sent_at=tx.now,
                                                                     updated_at=tx.now))
    view = get_quote(tx, q.id, principal)
    label = revision_label(q.number, q.revision)
    tx.emit("quote.sent", q.channel, None, {"quote_id": q.id, "number": q.number, "revision": q.revision,
                                            "label": label, "total": str(view["total"]),
                                            "valid_until": q.valid_until.isoformat()})
    tx.audit("quote.sent", "quote", q.id, {"status": q.status}, {"status": "sent", "revision": q.revision})
    return view, token


def find_by_token(tx: Tx, token: str) -> tuple[Row[Any], int] | None:
    """The quotation and the revision an acceptance link was sent with, or
    ``None`` for a token that matches nothing (unknown, tampered, replaced)."""
    if not token or len(token) > 128:
        return None
    found = tx.conn.execute(select(revisions.c.quote_id, revisions.c.revision)
                            .where(revisions.c.token_hash == hash_token(token))).first()
    if found is None:
        return None
    return tx.conn.execute(select(quotes).where(quotes.c.id == found.quote_id)).one(), found.revision


def _refuse_accept(q: Row[Any], today: dt.date, revision: int | None) -> None:
    label = revision_label(q.number, q.revision)
    if q.status != "sent":
        why = {"draft": "it is being revised and has not been sent again",
               "declined": "it was declined", "cancelled": "it was cancelled",
               "expired": f"it expired on {q.valid_until.isoformat()}"}.get(q.status, f"it is {q.status}")
        raise InvalidTransition(f"Quotation {label} cannot be accepted: {why}.",
                                {"status": q.status, "action": "accept", "revision": q.revision})
    if q.valid_until < today:
        raise InvalidTransition(f"Quotation {label} cannot be accepted: it expired on {q.valid_until.isoformat()}.",
                                {"status": "expired", "action": "accept", "revision": q.revision})
    if revision is not None and revision != q.revision:
        raise InvalidTransition(
            f"Revision {revision} of quotation {q.number} was superseded by {label}; only the latest can be "
            "accepted.", {"status": q.status, "action": "accept", "revision": q.revision})


def accept_quote(tx: Tx, quote_id: int, principal: Principal, data: dict[str, Any], *,
                 ip: str | None = None, revision: int | None = None) -> dict[str, Any]:
    """Accept the latest sent, unexpired revision and convert it into an order
    in this transaction. Accepting an accepted quotation returns it (and its
    order) as it is."""
    q = _load(tx, quote_id, principal, lock=True)
    if q.status == "accepted" and (revision is None or revision == q.accepted_revision):
        return get_quote(tx, q.id, principal)
    _refuse_accept(q, tx.today, revision)
    rev = _revision(tx, q.id, q.revision)
    ls = _lines_of(tx, rev.id)
    offered = {l["sku"] for l in ls if l["optional"]}
    chosen = list(dict.fromkeys(data.get("optional_skus") or ()))
    unknown = [s for s in chosen if s not in offered]
    if unknown:
        raise ValidationFailed(
            "Only optional lines this quotation offers can be added: " + ", ".join(f"“{s}”" for s in unknown) + ".",
            {"optional_skus": [f"“{s}” is not an optional line of {revision_label(q.number, q.revision)}."
                               for s in unknown]})
    taken = [l for l in ls if not l["optional"] or l["sku"] in chosen]
    accepted_by = data["accepted_by"].strip()
    if not accepted_by:
        raise ValidationFailed("Type your name to accept.", {"accepted_by": ["Type your name to accept."]})
    # Prices, discounts and terms are as quoted. The tax is not copied: VAT
    # is chargeable at the supply, so the order decides the treatment, the
    # categories and the rates again, now, with the function that priced
    # the quotation (tax.price_lines) and for the same destination. With
    # the same customer data and rates table both agree. If a rate changed
    # between sending and acceptance (or the customer's VAT id was found
    # invalid), the order and its invoice carry today's tax: the nets stay
    # as quoted, the VAT and the total follow the law; the audit row of the
    # acceptance records the quoted and the charged treatment and total.
    # The coupon's discount is in the lines already; the order carries the
    # coupon and redeems it when confirmed, below or later by a clerk.
    order = order_service.create_order(tx, SYSTEM, {
        "customer": {"id": q.customer_id}, "currency": q.currency, "external_ref": q.number,
        "payment_terms_days": rev.payment_terms_days,
        "lines": [{"sku": l["sku"], "quantity": l["quantity"], "unit_price": l["unit_price"],
                   "discount": l["discount"]} for l in taken],
    }, channel=ORDER_CHANNEL, coupon_id=rev.coupon_id)
    oid = order["id"]
    # Confirm as any order is confirmed; if stock or credit refuse, the
    # acceptance stands and the order stays a draft for the clerk.
    events_before, audit_before = len(tx._event_rows), len(tx._audit_rows)
    savepoint = tx.conn.begin_nested()
    note = None
    try:
        order_service.confirm_order(tx, oid, SYSTEM)
        savepoint.commit()
    except (OutOfStock, CreditLimitExceeded) as exc:
        savepoint.rollback()
        del tx._event_rows[events_before:]
        del tx._audit_rows[audit_before:]
        note = f"{exc.code}: {exc.message}"[:500]
    tx.conn.execute(update(quotes).where(quotes.c.id == q.id).values(
        status="accepted", accepted_at=tx.now, accepted_by=accepted_by[:255], accepted_revision=q.revision,
        purchase_order=data.get("purchase_order"), accepted_ip=(ip or None) and ip[:64], order_id=oid,
        conversion_note=note, updated_at=tx.now))
    payload: dict[str, Any] = {
        "quote_id": q.id, "number": q.number, "revision": q.revision, "order_id": oid,
        "order_number": order["number"], "order_status": "draft" if note else "confirmed",
        "accepted_by": accepted_by[:255], "optional_skus": chosen, "total": str(order["total"]),
    }
    if note:
        payload["refused"] = note
    tx.emit("quote.accepted", q.channel, oid, payload)
    quoted = [(rev.tax_treatment, l["vat_category"], l["vat_rate"]) for l in taken]
    charged = [(order["tax_treatment"], l["vat_category"], l["vat_rate"]) for l in order["lines"]]
    tax_changed = {}
    if quoted != charged:
        tax_changed = {"tax_changed": {
            "quoted": {"tax_treatment": rev.tax_treatment,
                       "total": str(quote_totals([{**l, "optional": False} for l in taken],
                                                 minor_units(q.currency)).gross)},
            "charged": {"tax_treatment": order["tax_treatment"], "total": str(order["total"])}}}
    tx.audit("quote.accepted", "quote", q.id, {"status": "sent"},
             {"status": "accepted", "order_id": oid, "ip": ip, "purchase_order": data.get("purchase_order"),
              **({"order_refused": note} if note else {}), **tax_changed})
    return get_quote(tx, q.id, principal)


def decline_quote(tx: Tx, quote_id: int, principal: Principal, data: dict[str, Any], *,
                  reasons: Sequence[str] = DEFAULT_DECLINE_REASONS, revision: int | None = None) -> dict[str, Any]:
    q = _load(tx, quote_id, principal, lock=True)
    if data["reason"] not in reasons:
        raise ValidationFailed(f"Unknown reason “{data['reason']}”: use one of {', '.join(reasons)}.",
                               {"reason": [f"One of {', '.join(reasons)}."]})
    if q.status != "sent":
        raise InvalidTransition(f"Quotation {q.number} is {q.status}; only a sent quotation can be declined.",
                                {"status": q.status, "action": "decline"})
    if revision is not None and revision != q.revision:
        raise InvalidTransition(
            f"Revision {revision} of quotation {q.number} was superseded by "
            f"{revision_label(q.number, q.revision)}; only the latest can be declined.",
            {"status": q.status, "action": "decline", "revision": q.revision})
    tx.conn.execute(update(quotes).where(quotes.c.id == q.id).values(
        status="declined", declined_at=tx.now, declined_reason=data["reason"],
        declined_comment=data.get("comment"), updated_at=tx.now))
    tx.emit("quote.declined", q.channel, None, {"quote_id": q.id, "number": q.number, "revision": q.revision,
                                                "reason": data["reason"], "comment": data.get("comment")})
    tx.audit("quote.declined", "quote", q.id, {"status": q.status},
             {"status": "declined", "reason": data["reason"], "comment": data.get("comment")})
    return get_quote(tx, q.id, principal)


def cancel_quote(tx: Tx, quote_id: int, principal: Principal) -> dict[str, Any]:
    q = _load(tx, quote_id, principal, lock=True)
    if q.status not in OPEN:
        raise InvalidTransition(f"Quotation {q.number} is {q.status}; only a draft or sent quotation can be "
                                "cancelled.", {"status": q.status, "action": "cancel"})
    tx.conn.execute(update(quotes).where(quotes.c.id == q.id).values(status="cancelled", cancelled_at=tx.now,
                                                                     updated_at=tx.now))
    tx.audit("quote.cancelled", "quote", q.id, {"status": q.status}, {"status": "cancelled"})
    return get_quote(tx, q.id, principal)


# -- expiry ---------------------------------------------------------------------------

def expire_due(tx: Tx, limit: int = 500) -> list[int]:
    """Expire sent quotations whose validity ended before today."""
    due = tx.conn.execute(select(quotes.c.id, quotes.c.number, quotes.c.channel, quotes.c.revision,
                                 quotes.c.valid_until)
                          .where(quotes.c.status == "sent", quotes.c.valid_until < tx.today)
                          .order_by(quotes.c.id).limit(limit).with_for_update(skip_locked=True)).all()
    for r in due:
        tx.conn.execute(update(quotes).where(quotes.c.id == r.id, quotes.c.status == "sent")
                        .values(status="expired", expired_at=tx.now, updated_at=tx.now))
        tx.emit("quote.expired", r.channel, None, {"quote_id": r.id, "number": r.number, "revision": r.revision,
                                                   "valid_until": r.valid_until.isoformat()})
        tx.audit("quote.expired", "quote", r.id, {"status": "sent"}, {"status": "expired"})
    return [r.id for r in due]


def reminders_due(tx: Tx, days_before: int, limit: int = 500) -> list[Row[Any]]:
    """Sent quotations expiring within ``days_before`` days not yet reminded."""
    if days_before <= 0:
        return []
    return tx.conn.execute(select(quotes).where(
        quotes.c.status == "sent", quotes.c.reminded_at.is_(None),
        quotes.c.valid_until >= tx.today,
        quotes.c.valid_until <= tx.today + dt.timedelta(days=days_before)).order_by(quotes.c.id).limit(limit)).all()


# -- diff and pipeline -----------------------------------------------------------------

def diff_revisions(tx: Tx, quote_id: int, principal: Principal, a: int, b: int) -> dict[str, Any]:
    """What changed from revision ``a`` to ``b``: terms, and per SKU the
    quantity, unit price and discount (lines added and removed too)."""
    left, right = get_quote(tx, quote_id, principal, a), get_quote(tx, quote_id, principal, b)
    terms = [{"field": f, "before": left[f], "after": right[f]} for f in TERM_FIELDS if left[f] != right[f]]

    def keyed(d: dict[str, Any]) -> dict[tuple[str, bool], dict[str, Any]]:
        return {(l["sku"], l["optional"]): l for l in d["lines"] + d["optional_lines"]}
    lk, rk = keyed(left), keyed(right)
    changes = []
    for key in sorted(set(lk) | set(rk)):
        l, r = lk.get(key), rk.get(key)
        row: dict[str, Any] = {"sku": key[0], "optional": key[1]}
        if l is None:
            row["change"] = "added"
        elif r is None:
            row["change"] = "removed"
        else:
            fields = {f: {"before": l[f], "after": r[f]} for f in ("quantity", "unit_price", "discount", "net")
                      if l[f] != r[f]}
            if not fields:
                continue
            row["change"] = "changed"
            row["fields"] = fields
        row["before"], row["after"] = l, r
        changes.append(row)
    return {"from": a, "to": b, "terms": terms, "lines": changes,
            "total": {"before": left["total"], "after": right["total"]}}


def pipeline(tx: Tx, principal: Principal, *, date_from: dt.date | None = None, date_to: dt.date | None = None,
             clerk: str | None = None) -> dict[str, Any]:
    """Quotations created in the range: count and value per status, age of
    the open ones, win rate (accepted out of decided), average days from
    creation to acceptance, lost reasons, and the same per clerk. Values are
    in the functional currency: each quotation's total at the rate of the
    day its current revision was priced (offers in several currencies are
    never added up as they are)."""
    cond = []
    if principal.channel_scope is not None:
        cond.append(quotes.c.channel == principal.channel_scope)
    if date_from is not None:
        cond.append(quotes.c.created_at >= dt.datetime.combine(date_from, dt.time(), dt.UTC))
    if date_to is not None:
        cond.append(quotes.c.created_at < dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), dt.UTC))
    if clerk:
        cond.append(quotes.c.created_by == clerk)
    rows = tx.conn.execute(
        select(quotes.c.id, quotes.c.status, quotes.c.created_by, quotes.c.created_at, quotes.c.accepted_at,
               quotes.c.declined_reason, revisions.c.functional_total)
        .join(revisions, and_(revisions.c.quote_id == quotes.c.id, revisions.c.revision == quotes.c.revision))
        .where(and_(*cond) if cond else True)).all()

    def summary(rs: list[Row[Any]]) -> dict[str, Any]:
        by_status = {s: {"count": 0, "value": ZERO} for s in STATUSES}
        for r in rs:
            by_status[r.status]["count"] += 1
            by_status[r.status]["value"] += r.functional_total
        won = by_status["accepted"]["count"]
        decided = won + by_status["declined"]["count"] + by_status["expired"]["count"]
        closed_days = [(r.accepted_at - r.created_at).total_seconds() / 86400 for r in rs if r.accepted_at]
        open_ages = [(tx.now - r.created_at).days for r in rs if r.status in OPEN]
        lost: dict[str, int] = defaultdict(int)
        for r in rs:
            if r.status == "declined":
                lost[r.declined_reason or "other"] += 1
            elif r.status == "expired":
                lost["expired"] += 1
        return {
            "count": len(rs),
            "by_status": [{"status": s, **v} for s, v in by_status.items()],
            "open_value": by_status["draft"]["value"] + by_status["sent"]["value"],
            "win_rate": (Decimal(won) / decided).quantize(Decimal("0.0001")) if decided else None,
            "average_days_to_close": (Decimal(sum(closed_days) / len(closed_days)).quantize(Decimal("0.1"))
                                      if closed_days else None),
            "average_open_age_days": (Decimal(sum(open_ages)) / len(open_ages)).quantize(Decimal("0.1"))
            if open_ages else None,
            "lost_reasons": [{"reason": k, "count": v} for k, v in sorted(lost.items())],
        }
    per_clerk: dict[str, list[Row[Any]]] = defaultdict(list)
    for r in rows:
        per_clerk[r.created_by].append(r)
    return {"from": date_from, "to": date_to, "clerk": clerk, **summary(list(rows)),
            "clerks": [{"clerk": c, **summary(rs)} for c, rs in sorted(per_clerk.items())]}


def unconverted(tx: Tx, limit: int = 8) -> list[dict[str, Any]]:
    """Accepted quotations whose order stayed a draft (stock or credit refused
    the confirmation), for the dashboard."""
    rows = tx.conn.execute(
        select(quotes.c.id, quotes.c.number, quotes.c.order_id, quotes.c.conversion_note, quotes.c.accepted_at)
        .join(orders_t, orders_t.c.id == quotes.c.order_id)
        .where(quotes.c.status == "accepted", quotes.c.conversion_note.is_not(None), orders_t.c.status == "draft")
        .order_by(quotes.c.accepted_at.desc()).limit(limit)).all()
    return [r._asdict() for r in rows]


def count_by_status(tx: Tx) -> dict[str, int]:
    return {r.status: r.n for r in tx.conn.execute(
        select(quotes.c.status, func.count().label("n")).group_by(quotes.c.status))}
