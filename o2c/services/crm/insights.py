"""What the books say about one customer, and their RFM segment.

Every figure comes from the documents and the ledger (README, "Customer
insights"):

- orders, first and last order: the customer's confirmed or completed orders.
- lifetime_net: revenue posted for the customer (credit − debit on the revenue
  accounts; credit notes debit them, so they are netted).
- gross_margin: lifetime_net − cost of goods sold posted for the customer
  (debit − credit on the COGS accounts; restocked returns credit them).
- average_order_interval_days: (last − first order day) ÷ (orders − 1).
- returns_rate: units returned ÷ units shipped.
- satisfaction_average: mean of the answered satisfaction scores.
- open_balance: what is still open on their invoices, in the functional
  currency (foreign balances at their booked values; per currency beside it).
- average_days_to_pay: mean over fully paid invoices of the days from issue
  to the last payment applied.
- rfm: recency (days since the last order), frequency (orders) and monetary
  (lifetime_net), each scored 1–5 against every customer with an order
  (``customer_rfm``, refreshed by the worker with the associations), and the
  segment of :data:`SEGMENTS`.
"""
from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, select

from o2c.db import models as m
from o2c.db.types import money_sum
from o2c.domain.access import Principal
from o2c.domain.errors import NotFound
from o2c.domain.money import ZERO
from o2c.services.books import reports
from o2c.services.customers import records
from o2c.services.platform.uow import Tx

orders = m.Order.__table__
lines = m.OrderLine.__table__
invoices = m.Invoice.__table__
allocations = m.PaymentAllocation.__table__
entries = m.JournalEntry.__table__
jlines = m.JournalLine.__table__
roles = m.AccountRole.__table__
feedback = m.Feedback.__table__
rfm_t = m.CustomerRfm.__table__

COUNTED = ("confirmed", "completed")
ONE_PLACE = Decimal("0.1")
FOUR = Decimal("0.0001")

#: The RFM segments, first match wins: (name, rule on the scores R, F, M and
#: the number of orders). The README shows this table.
SEGMENTS: tuple[tuple[str, str], ...] = (
    ("new", "one order only, placed with a recency score of 4 or 5"),
    ("champion", "R ≥ 4, F ≥ 4 and M ≥ 4"),
    ("loyal", "R ≥ 3 and F ≥ 3"),
    ("at_risk", "R ≤ 2 and F ≥ 3"),
    ("lapsed", "R ≤ 2"),
    ("occasional", "everyone else"),
)


def segment(r: int, f: int, mon: int, orders_: int) -> str:
    """The segment of :data:`SEGMENTS` for these scores."""
    if orders_ == 1 and r >= 4:
        return "new"
    if r >= 4 and f >= 4 and mon >= 4:
        return "champion"
    if r >= 3 and f >= 3:
        return "loyal"
    if r <= 2 and f >= 3:
        return "at_risk"
    if r <= 2:
        return "lapsed"
    return "occasional"


def score(worse: int, population: int) -> int:
    """1–5: ⌈5 × (1 + customers strictly worse) ÷ customers⌉ (older last
    order, fewer orders, less revenue); ties share the lower score."""
    if population <= 0:
        return 5
    return max(1, min(5, math.ceil(5 * (worse + 1) / population)))


def _role_accounts(tx: Tx, role: str) -> list[str]:
    return list(tx.conn.execute(select(roles.c.account).where(roles.c.role == role)).scalars())


def ledger_amounts(tx: Tx, customer_id: int | None = None) -> Any:
    """Revenue and COGS posted per customer (one customer or all)."""
    rev, cogs = _role_accounts(tx, "revenue"), _role_accounts(tx, "cogs")
    q = (select(entries.c.customer_id,
                money_sum(func.coalesce(
                    _when(jlines.c.account.in_(rev), jlines.c.credit - jlines.c.debit), 0)).label("revenue"),
                money_sum(func.coalesce(
                    _when(jlines.c.account.in_(cogs), jlines.c.debit - jlines.c.credit), 0)).label("cogs"))
         .select_from(jlines.join(entries, entries.c.id == jlines.c.entry_id))
         .where(jlines.c.account.in_(rev + cogs), entries.c.customer_id.is_not(None))
         .group_by(entries.c.customer_id))
    if customer_id is not None:
        q = q.where(entries.c.customer_id == customer_id)
    return q


def _when(cond: Any, value: Any) -> Any:
    from sqlalchemy import case
    return case((cond, value), else_=0)


def refresh_rfm(tx: Tx) -> int:
    """Recompute every customer's RFM figures (the scoring population)."""
    per = (select(orders.c.customer_id, func.max(orders.c.created_at).label("last"), func.count().label("n"))
           .where(orders.c.status.in_(COUNTED)).group_by(orders.c.customer_id))
    money = {r.customer_id: r.revenue for r in tx.conn.execute(ledger_amounts(tx))}
    rows = [{"customer_id": r.customer_id, "last_order_on": _day(r.last), "orders": r.n,
             "monetary": money.get(r.customer_id, ZERO), "computed_at": tx.now} for r in tx.conn.execute(per)]
    tx.conn.execute(delete(rfm_t))
    if rows:
        tx.conn.execute(insert(rfm_t), rows)
    return len(rows)


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def rfm(tx: Tx, last_order_on: dt.date | None, orders_: int, monetary: Decimal, as_of: dt.date) -> dict[str, Any] | None:
    """Scores of these figures against the population in ``customer_rfm``."""
    if last_order_on is None:
        return None
    n, worse_r, worse_f, worse_m = tx.conn.execute(select(
        func.count(), func.coalesce(func.sum(_when(rfm_t.c.last_order_on < last_order_on, 1)), 0),
        func.coalesce(func.sum(_when(rfm_t.c.orders < orders_, 1)), 0),
        func.coalesce(func.sum(_when(rfm_t.c.monetary < monetary, 1)), 0)).select_from(rfm_t)).one()
    r, f, mo = score(worse_r, n), score(worse_f, n), score(worse_m, n)
    return {"recency": (as_of - last_order_on).days, "frequency": orders_, "monetary": monetary,
            "recency_score": r, "frequency_score": f, "monetary_score": mo, "segment": segment(r, f, mo, orders_)}


def insights(tx: Tx, principal: Principal, customer_id: int, as_of: dt.date | None = None) -> dict[str, Any]:
    if not records.may_use_customer(tx, principal, customer_id):
        raise NotFound(f"No customer with id {customer_id}.")
    as_of = as_of or tx.today
    o = tx.conn.execute(
        select(func.count(), func.min(orders.c.created_at), func.max(orders.c.created_at))
        .where(orders.c.customer_id == customer_id, orders.c.status.in_(COUNTED))).one()
    n, first, last = o[0], o[1], o[2]
    first_on, last_on = (_day(first), _day(last)) if n else (None, None)
    led = tx.conn.execute(ledger_amounts(tx, customer_id)).first()
    revenue, cogs = (led.revenue, led.cogs) if led else (ZERO, ZERO)
    q = tx.conn.execute(
        select(func.coalesce(func.sum(lines.c.shipped_quantity), 0), func.coalesce(func.sum(lines.c.returned_quantity), 0))
        .select_from(lines.join(orders, orders.c.id == lines.c.order_id))
        .where(orders.c.customer_id == customer_id)).one()
    shipped, returned = int(q[0]), int(q[1])
    sat = tx.conn.execute(select(func.count(feedback.c.score), func.sum(feedback.c.score))
                          .where(feedback.c.customer_id == customer_id, feedback.c.score.is_not(None))).one()
    ar = reports.open_receivables(tx, invoices.c.customer_id == customer_id)
    paid = tx.conn.execute(
        select(invoices.c.issue_date, func.max(allocations.c.date).label("paid_on"))
        .join(allocations, allocations.c.invoice_id == invoices.c.id)
        .where(invoices.c.customer_id == customer_id, invoices.c.status == "paid")
        .group_by(invoices.c.id, invoices.c.issue_date)).all()
    days = [(_day(p.paid_on) - p.issue_date).days for p in paid]
    return {
        "customer_id": customer_id,
        "first_order_on": first_on, "last_order_on": last_on, "orders": n,
        "lifetime_net": revenue, "cogs": cogs, "gross_margin": revenue - cogs,
        "gross_margin_rate": ((revenue - cogs) / revenue).quantize(FOUR, ROUND_HALF_UP) if revenue else None,
        "average_order_interval_days": (
            (Decimal((last_on - first_on).days) / (n - 1)).quantize(ONE_PLACE, ROUND_HALF_UP) if n > 1 else None),
        "returns_rate": (Decimal(returned) / shipped).quantize(FOUR, ROUND_HALF_UP) if shipped else None,
        "satisfaction_average": (Decimal(sat[1]) / sat[0]).quantize(ONE_PLACE, ROUND_HALF_UP) if sat[0] else None,
        "satisfaction_answers": sat[0],
        "open_balance": ar["open"],
        "open_balance_by_currency": [{"currency": c["currency"], "open_balance": c["open"],
                                      "functional_open_balance": c["functional_open"]} for c in ar["by_currency"]],
        "average_days_to_pay": (Decimal(sum(days)) / len(days)).quantize(ONE_PLACE, ROUND_HALF_UP) if days else None,
        "rfm": rfm(tx, last_on, n, revenue, as_of),
    }
