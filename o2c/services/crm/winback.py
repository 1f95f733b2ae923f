"""Win-back: customers who stopped buying, the signals that may say why, and
a message with a coupon for their next purchase.

A customer is lapsed on ``as_of`` when the days since their last order exceed
their usual interval (first to last order ÷ (orders − 1)) × ``factor``; a
one-time buyer when they exceed ``one_time_days``. Signals: a satisfaction
score of 2 or less, a return, an open invoice chased by dunning (its highest
level), and a price increase on something they bought (list price now above
the price they last paid).
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import NotFound
from o2c.domain.fx import FUNCTIONAL_CURRENCY
from o2c.services.crm import coupons
from o2c.services.customers import records
from o2c.services.platform import outbox
from o2c.services.platform.uow import Tx

orders = m.Order.__table__
lines = m.OrderLine.__table__
customers = m.Customer.__table__
products = m.Product.__table__
feedback = m.Feedback.__table__
returns_t = m.Return.__table__
invoices = m.Invoice.__table__
notices = m.DunningNotice.__table__

COUNTED = ("confirmed", "completed")
ONE = Decimal("0.1")


def _day(v: Any) -> dt.date:
    return v.date() if isinstance(v, dt.datetime) else v


def lapsed(tx: Tx, principal: Principal, as_of: dt.date | None = None, factor: Decimal | float = 2.0,
           one_time_days: int = 120) -> list[dict[str, Any]]:
    """The lapsed customers on ``as_of``, longest gone first."""
    as_of = as_of or tx.today
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min, tzinfo=dt.timezone.utc)
    q = (select(orders.c.customer_id, customers.c.code, customers.c.name, func.count().label("n"),
                func.min(orders.c.created_at).label("first"), func.max(orders.c.created_at).label("last"))
         .join(customers, customers.c.id == orders.c.customer_id)
         .where(orders.c.status.in_(COUNTED), orders.c.created_at < end)
         .group_by(orders.c.customer_id, customers.c.code, customers.c.name))
    scope = records.customer_scope(principal)
    if scope is not None:
        q = q.where(scope)
    found = []
    fac = Decimal(str(factor))
    for r in tx.conn.execute(q):
        first, last = _day(r.first), _day(r.last)
        since = (as_of - last).days
        usual = (Decimal((last - first).days) / (r.n - 1)).quantize(ONE, ROUND_HALF_UP) if r.n > 1 else None
        limit = usual * fac if usual is not None else Decimal(one_time_days)
        if since > limit:
            found.append({"customer_id": r.customer_id, "code": r.code, "name": r.name, "orders": r.n,
                          "last_order_on": last, "usual_interval_days": usual, "days_since": since,
                          "threshold_days": limit.quantize(ONE, ROUND_HALF_UP)})
    signals = _signals(tx, [f["customer_id"] for f in found], as_of)
    for f in found:
        f["signals"] = signals.get(f["customer_id"], [])
    return sorted(found, key=lambda f: (-f["days_since"], f["customer_id"]))


def _signals(tx: Tx, ids: list[int], as_of: dt.date) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    for cid, low in tx.conn.execute(select(feedback.c.customer_id, func.min(feedback.c.score))
                                    .where(feedback.c.customer_id.in_(ids), feedback.c.score <= 2)
                                    .group_by(feedback.c.customer_id)):
        out[cid].append({"type": "low_score", "detail": f"Answered a satisfaction score of {low} of 5."})
    for cid, n in tx.conn.execute(select(returns_t.c.customer_id, func.count()).where(returns_t.c.customer_id.in_(ids))
                                  .group_by(returns_t.c.customer_id)):
        out[cid].append({"type": "return", "detail": f"Returned goods {n} time{'s' if n != 1 else ''}."})
    for cid, level in tx.conn.execute(
            select(invoices.c.customer_id, func.max(notices.c.level))
            .join(notices, notices.c.invoice_id == invoices.c.id)
            .where(invoices.c.customer_id.in_(ids), invoices.c.status.in_(("open", "partially_paid")),
                   invoices.c.due_date < as_of)
            .group_by(invoices.c.customer_id)):
        out[cid].append({"type": "dunning", "detail": f"An overdue invoice is at dunning level {level}."})
    last_paid = (select(orders.c.customer_id, lines.c.product_id, func.max(lines.c.id).label("line_id"))
                 .join(lines, lines.c.order_id == orders.c.id)
                 .where(orders.c.customer_id.in_(ids), orders.c.status.in_(COUNTED))
                 .group_by(orders.c.customer_id, lines.c.product_id).subquery())
    for cid, sku, paid, now in tx.conn.execute(
            select(last_paid.c.customer_id, products.c.sku, lines.c.unit_price, products.c.unit_price)
            .join(lines, lines.c.id == last_paid.c.line_id)
            .join(products, products.c.id == last_paid.c.product_id)
            .where(products.c.unit_price > lines.c.unit_price).order_by(products.c.sku)):
        out[cid].append({"type": "price_increase", "detail": f"{sku} now costs {now}, they last paid {paid}."})
    return out


def send_winback(tx: Tx, principal: Principal, customer_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A coupon for this customer alone (one use) and a win-back message
    carrying it, queued in the outbox in the same transaction."""
    c = records.find_customer(tx, principal, {"id": customer_id})
    if c is None:
        raise NotFound(f"No customer with id {customer_id}.")
    valid_until = tx.today + dt.timedelta(days=int(data.get("valid_days") or 30))
    terms = {"percent_off": data.get("percent_off"), "amount_off": data.get("amount_off")}
    if terms["percent_off"] is None and terms["amount_off"] is None:
        terms["percent_off"] = Decimal("10")
    coupon = coupons.create_coupon(tx, principal, {**terms, "customer_id": customer_id, "max_redemptions": 1,
                                                   "valid_until": valid_until})
    percent = coupon["percent_off"]
    message_id = outbox.queue_message(tx, kind="winback", customer_id=customer_id, template="winback", context={
        "coupon_code": coupon["code"], "percent_off": None if percent is None else percent / coupons.HUNDRED,
        "amount_off": coupon["amount_off"], "currency": FUNCTIONAL_CURRENCY, "valid_until": valid_until,
        "note": (data.get("note") or "").strip()})
    tx.audit("customer.winback_sent", "customer", customer_id, None,
             {"coupon": coupon["code"], "message_id": message_id})
    return {"customer_id": customer_id, "coupon": coupon, "message_id": message_id}
