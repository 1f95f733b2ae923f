"""Cycle KPIs over a period [start, end] (days, both included), computed from
the documents and the ledger. The README states each formula; in short:

- dso = receivables at end ÷ invoiced (gross) in the period × days in the period
- cei = (receivables at start − 1 + invoiced − receivables at end)
        ÷ (receivables at start − 1 + invoiced − current receivables at end) × 100,
  "current" being the open part of invoices not yet due at end
- o2c_cycle_days: orders confirmed in the period and fully paid: days from
  confirmation to the last payment applied to their invoices; median and p90
  (nearest rank)
- perfect_order_rate: of the orders confirmed in the period and not cancelled,
  the share shipped complete (nothing cancelled), on or before the promised
  date when there is one, fully invoiced, without a credit note or a return
- on_time_shipment_rate: of those with a promised date, the share shipped
  complete on or before it
- quote_win_rate: accepted ÷ decided quotations of the period, null while
  there are no quotations
- repeat_purchase_rate: of the customers with an order confirmed in the
  period, the share with at least two orders up to its end
- gross_margin: revenue − COGS from the ledger by month and by customer; by
  product from invoice and credit-note lines and the stock movements at cost
"""
from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, func, select

from o2c.db import models as m
from o2c.db.types import money_sum
from o2c.domain.errors import ValidationFailed
from o2c.domain.money import ZERO
from o2c.domain.numbering import order_number
from o2c.services.platform.uow import Tx

orders = m.Order.__table__
lines = m.OrderLine.__table__
shipments = m.Shipment.__table__
invoices = m.Invoice.__table__
invoice_lines = m.InvoiceLine.__table__
credit_notes = m.CreditNote.__table__
cn_lines = m.CreditNoteLine.__table__
allocations = m.PaymentAllocation.__table__
entries = m.JournalEntry.__table__
jlines = m.JournalLine.__table__
roles = m.AccountRole.__table__
movements = m.StockMovement.__table__
products = m.Product.__table__
customers = m.Customer.__table__

COUNTED = ("confirmed", "completed")
ONE = Decimal("0.1")
FOUR = Decimal("0.0001")
FIGURES = ("dso", "cei", "o2c_cycle_days", "perfect_order_rate", "on_time_shipment_rate", "repeat_purchase_rate",
           "gross_margin")


def _accounts(tx: Tx, role: str) -> list[str]:
    return list(tx.conn.execute(select(roles.c.account).where(roles.c.role == role)).scalars())


def _day(v: Any) -> dt.date | None:
    return v.date() if isinstance(v, dt.datetime) else v


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)


def _rate(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / whole).quantize(FOUR, ROUND_HALF_UP) if whole else None


def receivables_at(tx: Tx, day: dt.date) -> Decimal:
    acc = _accounts(tx, "receivables")
    return tx.conn.execute(
        select(money_sum(jlines.c.debit - jlines.c.credit))
        .select_from(jlines.join(entries, entries.c.id == jlines.c.entry_id))
        .where(jlines.c.account.in_(acc), entries.c.date <= day)).scalar_one()


def _invoice_balances_at(tx: Tx, day: dt.date, not_due: bool) -> list[dict[str, Any]]:
    paid = (select(allocations.c.invoice_id, money_sum(allocations.c.amount).label("paid"))
            .where(allocations.c.date <= day).group_by(allocations.c.invoice_id).subquery())
    credited = (select(credit_notes.c.invoice_id, money_sum(credit_notes.c.applied).label("credited"))
                .where(credit_notes.c.issue_date <= day).group_by(credit_notes.c.invoice_id).subquery())
    q = (select(invoices.c.id, invoices.c.number, invoices.c.customer_id, invoices.c.issue_date, invoices.c.due_date,
                invoices.c.total, func.coalesce(paid.c.paid, 0).label("paid"),
                func.coalesce(credited.c.credited, 0).label("credited"))
         .outerjoin(paid, paid.c.invoice_id == invoices.c.id)
         .outerjoin(credited, credited.c.invoice_id == invoices.c.id)
         .where(invoices.c.issue_date <= day))
    if not_due:
        q = q.where(invoices.c.due_date >= day)
    out = []
    for r in tx.conn.execute(q):
        paid_ = Decimal(r.paid) / 100 if not isinstance(r.paid, Decimal) else r.paid
        cred = Decimal(r.credited) / 100 if not isinstance(r.credited, Decimal) else r.credited
        bal = r.total - paid_ - cred
        if bal:
            out.append({"invoice": r.number, "invoice_id": r.id, "customer_id": r.customer_id,
                        "issue_date": r.issue_date, "due_date": r.due_date, "open": bal})
    return out


def _order_facts(tx: Tx, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """The orders confirmed in the period, with what the KPIs need of each."""
    in_period = and_(orders.c.confirmed_at >= _start_of(start), orders.c.confirmed_at < _start_of(end + dt.timedelta(1)))
    rows = tx.conn.execute(
        select(orders.c.id, orders.c.created_at, orders.c.customer_id, orders.c.status, orders.c.payment_status,
               orders.c.confirmed_at, orders.c.promised_date,
               func.sum(lines.c.quantity).label("qty"), func.sum(lines.c.shipped_quantity).label("shipped"),
               func.sum(lines.c.cancelled_quantity).label("cancelled"),
               func.sum(lines.c.invoiced_quantity).label("invoiced"),
               func.sum(lines.c.returned_quantity).label("returned"))
        .join(lines, lines.c.order_id == orders.c.id).where(in_period)
        .group_by(orders.c.id, orders.c.created_at, orders.c.customer_id, orders.c.status, orders.c.payment_status,
                  orders.c.confirmed_at, orders.c.promised_date)
        .order_by(orders.c.id)).all()
    shipped_on = dict(tx.conn.execute(
        select(shipments.c.order_id, func.max(shipments.c.shipped_at))
        .join(orders, orders.c.id == shipments.c.order_id)
        .where(in_period, shipments.c.status == "shipped").group_by(shipments.c.order_id)).all())
    credited = dict(tx.conn.execute(
        select(credit_notes.c.order_id, func.count()).join(orders, orders.c.id == credit_notes.c.order_id)
        .where(in_period).group_by(credit_notes.c.order_id)).all())
    paid_on = dict(tx.conn.execute(
        select(invoices.c.order_id, func.max(allocations.c.date))
        .join(allocations, allocations.c.invoice_id == invoices.c.id)
        .join(orders, orders.c.id == invoices.c.order_id)
        .where(in_period).group_by(invoices.c.order_id)).all())
    out = []
    for r in rows:
        last_ship = _day(shipped_on.get(r.id))
        complete = r.cancelled == 0 and r.shipped == r.qty
        on_time = complete and last_ship is not None and (r.promised_date is None or last_ship <= r.promised_date)
        out.append({
            "order_id": r.id, "order": order_number(r.id, r.created_at), "customer_id": r.customer_id,
            "status": r.status, "confirmed_on": _day(r.confirmed_at), "promised_date": r.promised_date,
            "shipped_on": last_ship, "complete": complete, "on_time": on_time,
            "credit_notes": credited.get(r.id, 0), "returned": int(r.returned),
            "fully_invoiced": r.invoiced == r.qty - r.cancelled,
            "paid_on": paid_on.get(r.id) if r.payment_status == "paid" else None,
        })
    for o in out:
        o["perfect"] = (o["status"] != "cancelled" and o["on_time"] and o["fully_invoiced"]
                        and not o["credit_notes"] and not o["returned"])
        o["cycle_days"] = (o["paid_on"] - o["confirmed_on"]).days if o["paid_on"] and o["status"] != "cancelled" \
            else None
    return out


def _percentile(values: list[int], p: float) -> int:
    s = sorted(values)
    return s[max(0, math.ceil(p * len(s)) - 1)]


def margins(tx: Tx, start: dt.date, end: dt.date) -> dict[str, list[dict[str, Any]]]:
    rev, cogs = _accounts(tx, "revenue"), _accounts(tx, "cogs")
    r_amt = money_sum(case((jlines.c.account.in_(rev), jlines.c.credit - jlines.c.debit), else_=0))
    c_amt = money_sum(case((jlines.c.account.in_(cogs), jlines.c.debit - jlines.c.credit), else_=0))
    base = (jlines.join(entries, entries.c.id == jlines.c.entry_id))
    cond = and_(jlines.c.account.in_(rev + cogs), entries.c.date >= start, entries.c.date <= end)
    month: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for e_date, r_, c_ in tx.conn.execute(select(entries.c.date, r_amt, c_amt).select_from(base).where(cond)
                                          .group_by(entries.c.date)):
        k = _day(e_date).strftime("%Y-%m")
        month[k][0] += r_
        month[k][1] += c_
    per_customer = tx.conn.execute(
        select(entries.c.customer_id, r_amt, c_amt).select_from(base)
        .where(cond, entries.c.customer_id.is_not(None)).group_by(entries.c.customer_id)).all()
    codes = dict(tx.conn.execute(select(customers.c.id, customers.c.code)).all()) if per_customer else {}
    by_customer = sorted(((cid, codes.get(cid, ""), r_, c_) for cid, r_, c_ in per_customer), key=lambda t: t[1])
    prod: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for sku, net in tx.conn.execute(
            select(invoice_lines.c.sku, money_sum(invoice_lines.c.net)).join(invoices, invoices.c.id == invoice_lines.c.invoice_id)
            .where(invoices.c.issue_date >= start, invoices.c.issue_date <= end).group_by(invoice_lines.c.sku)):
        prod[sku][0] += net
    for sku, net in tx.conn.execute(
            select(cn_lines.c.sku, money_sum(cn_lines.c.net)).join(credit_notes, credit_notes.c.id == cn_lines.c.credit_note_id)
            .where(credit_notes.c.issue_date >= start, credit_notes.c.issue_date <= end).group_by(cn_lines.c.sku)):
        prod[sku][0] -= net
    for sku, value in tx.conn.execute(
            select(products.c.sku, money_sum(movements.c.value)).join(products, products.c.id == movements.c.product_id)
            .where(movements.c.kind.in_(("shipment", "return")), movements.c.date >= start, movements.c.date <= end)
            .group_by(products.c.sku)):
        prod[sku][1] -= value

    def row(**kw: Any) -> dict[str, Any]:
        kw["margin"] = kw["revenue"] - kw["cogs"]
        return kw
    return {
        "by_month": [row(month=k, revenue=v[0], cogs=v[1]) for k, v in sorted(month.items())],
        "by_product": [row(sku=k, revenue=v[0], cogs=v[1]) for k, v in sorted(prod.items())],
        "by_customer": [row(customer_id=r[0], code=r[1], revenue=r[2], cogs=r[3]) for r in by_customer],
    }


def _check(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise ValidationFailed("The period ends before it starts.", {"to": ["On or after “from”."]})


def period(today: dt.date, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """The period asked for: a year (365 days) up to ``end`` (today) unless ``from`` says otherwise."""
    end = end or max(today, start or today)
    return start or end - dt.timedelta(days=364), end


def quote_win_rate(tx: Tx, start: dt.date, end: dt.date) -> Decimal | None:
    """Accepted ÷ decided (accepted, declined, expired) quotations of the period; null without quotations."""
    quotes = m.Base.metadata.tables.get("quotes")
    if quotes is None or "status" not in quotes.c:
        return None
    decided = tx.conn.execute(select(quotes.c.status, func.count()).where(
        quotes.c.status.in_(("accepted", "declined", "expired"))).group_by(quotes.c.status)).all()
    total = sum(n for _, n in decided)
    return _rate(sum(n for s, n in decided if s == "accepted"), total)


def kpis(tx: Tx, start: dt.date | None = None, end: dt.date | None = None) -> dict[str, Any]:
    start, end = period(tx.today, start, end)
    _check(start, end)
    days = (end - start).days + 1
    sales = tx.conn.execute(select(money_sum(invoices.c.total))
                            .where(invoices.c.issue_date >= start, invoices.c.issue_date <= end)).scalar_one()
    ar_start = receivables_at(tx, start - dt.timedelta(days=1))
    ar_end = receivables_at(tx, end)
    current = sum((i["open"] for i in _invoice_balances_at(tx, end, not_due=True)), ZERO)
    dso = (ar_end / sales * days).quantize(ONE, ROUND_HALF_UP) if sales else None
    denominator = ar_start + sales - current
    cei = ((ar_start + sales - ar_end) / denominator * 100).quantize(ONE, ROUND_HALF_UP) if denominator else None
    facts = _order_facts(tx, start, end)
    live = [o for o in facts if o["status"] != "cancelled"]
    cycle = [o["cycle_days"] for o in live if o["cycle_days"] is not None]
    promised = [o for o in live if o["promised_date"] is not None]
    buyers = {o["customer_id"] for o in live}
    repeat = 0
    if buyers:
        counts = dict(tx.conn.execute(
            select(orders.c.customer_id, func.count()).where(
                orders.c.customer_id.in_(sorted(buyers)), orders.c.status.in_(COUNTED),
                orders.c.confirmed_at < _start_of(end + dt.timedelta(1))).group_by(orders.c.customer_id)).all())
        repeat = sum(1 for c in buyers if counts.get(c, 0) >= 2)
    return {
        "from": start, "to": end, "days": days, "invoiced": sales, "receivables_start": ar_start,
        "receivables_end": ar_end, "current_receivables_end": current,
        "dso": dso, "cei": cei,
        "o2c_cycle_days": {
            "median": Decimal(str(statistics.median(cycle))).quantize(ONE) if cycle else None,
            "p90": _percentile(cycle, 0.9) if cycle else None, "orders": len(cycle)},
        "perfect_order_rate": _rate(sum(o["perfect"] for o in live), len(live)),
        "on_time_shipment_rate": _rate(sum(o["on_time"] for o in promised), len(promised)),
        "quote_win_rate": quote_win_rate(tx, start, end),
        "repeat_purchase_rate": _rate(repeat, len(buyers)),
        "gross_margin": margins(tx, start, end),
    }


#: The columns of each figure's drill-down (and its CSV export).
DRILL_COLUMNS: dict[str, tuple[str, ...]] = {
    "dso": ("invoice", "customer_id", "issue_date", "due_date", "open"),
    "cei": ("invoice", "customer_id", "issue_date", "due_date", "open"),
    "o2c_cycle_days": ("order", "customer_id", "confirmed_on", "paid_on", "cycle_days"),
    "perfect_order_rate": ("order", "customer_id", "confirmed_on", "promised_date", "shipped_on", "complete",
                           "on_time", "fully_invoiced", "credit_notes", "returned", "perfect"),
    "on_time_shipment_rate": ("order", "customer_id", "promised_date", "shipped_on", "on_time"),
    "repeat_purchase_rate": ("customer_id", "code", "orders_to_date", "repeat"),
    "gross_margin": ("customer_id", "code", "revenue", "cogs", "margin"),
}


def drill(tx: Tx, figure: str, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """The documents behind one figure."""
    _check(start, end)
    if figure in ("dso", "cei"):
        return _invoice_balances_at(tx, end, not_due=(figure == "cei"))
    if figure == "gross_margin":
        return margins(tx, start, end)["by_customer"]
    facts = [o for o in _order_facts(tx, start, end) if o["status"] != "cancelled"]
    if figure == "o2c_cycle_days":
        return [o for o in facts if o["cycle_days"] is not None]
    if figure == "on_time_shipment_rate":
        return [o for o in facts if o["promised_date"] is not None]
    if figure == "perfect_order_rate":
        return facts
    if figure == "repeat_purchase_rate":
        buyers = sorted({o["customer_id"] for o in facts})
        if not buyers:
            return []
        rows = tx.conn.execute(
            select(customers.c.id, customers.c.code, func.count(orders.c.id))
            .join(orders, orders.c.customer_id == customers.c.id)
            .where(customers.c.id.in_(buyers), orders.c.status.in_(COUNTED),
                   orders.c.confirmed_at < _start_of(end + dt.timedelta(1)))
            .group_by(customers.c.id, customers.c.code).order_by(customers.c.code)).all()
        return [{"customer_id": r[0], "code": r[1], "orders_to_date": r[2], "repeat": r[2] >= 2} for r in rows]
    raise ValidationFailed(f"No figure “{figure}”.", {"figure": [f"One of {', '.join(FIGURES)}."]})


def to_csv(figure: str, rows: list[dict[str, Any]]) -> str:
    """The drill-down of one figure as CSV (one row per document)."""
    import csv
    import io
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    cols = DRILL_COLUMNS[figure]
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in cols])
    return out.getvalue()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, Decimal):
        return f"{v:.2f}"
    return str(v)
