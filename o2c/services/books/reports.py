"""Accountant's reports: the general ledger of one account with its running
balance, receivables aging per customer, and the customer statement.

Sums and running balances are computed by the database (aggregates and window
functions), never by adding rows up in Python.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, select, tuple_, type_coerce

from o2c.db import models as m
from o2c.db.types import CurrencyAmount, Money, money_sum
from o2c.domain.errors import NotFound, ValidationFailed
from o2c.domain.fx import FUNCTIONAL_CURRENCY, open_value, round_to
from o2c.domain.money import ZERO
from o2c.services.platform.uow import Tx

entries = m.JournalEntry.__table__
jlines = m.JournalLine.__table__
accounts = m.Account.__table__
account_roles = m.AccountRole.__table__
customers = m.Customer.__table__
invoices = m.Invoice.__table__
allocations = m.PaymentAllocation.__table__

#: Aging buckets by days past due: (key, first day, last day or None).
BUCKETS = (("current", None, 0), ("days_1_30", 1, 30), ("days_31_60", 31, 60), ("days_61_90", 61, 90),
           ("days_over_90", 91, None))


def role_accounts(tx: Tx, *roles: str) -> list[str]:
    """Every account that serves or served these roles."""
    return list(tx.conn.execute(select(account_roles.c.account).where(account_roles.c.role.in_(roles))).scalars())


def company(tx: Tx) -> dict[str, Any]:
    row = tx.conn.execute(select(m.Company.__table__).limit(1)).first()
    return {} if row is None else row._asdict()


# -- general ledger of one account ------------------------------------------------------

def _parse_cursor(cursor: str | None) -> tuple[dt.date, int] | None:
    if not cursor:
        return None
    day, _, line = cursor.partition("_")
    try:
        return dt.date.fromisoformat(day), int(line)
    except ValueError:
        raise ValidationFailed("Invalid cursor.", {"cursor": ["Use the next_cursor of the previous page."]}) from None


def account_ledger(tx: Tx, code: str, date_from: dt.date | None, date_to: dt.date | None,
                   cursor: str | None, limit: int) -> dict[str, Any]:
    """Lines of one account in date order with the balance after each, the
    opening balance (before ``date_from``) and the closing balance."""
    acc = tx.conn.execute(select(accounts).where(accounts.c.code == code)).first()
    if acc is None:
        raise NotFound(f"No account with code “{code}”.")
    opening = ZERO
    if date_from is not None:
        opening = tx.conn.execute(
            select(money_sum(jlines.c.debit - jlines.c.credit)).join(entries, entries.c.id == jlines.c.entry_id)
            .where(jlines.c.account == code, entries.c.date < date_from)).scalar_one()
    in_range = []
    if date_from is not None:
        in_range.append(entries.c.date >= date_from)
    if date_to is not None:
        in_range.append(entries.c.date <= date_to)
    running = type_coerce(func.sum(jlines.c.debit - jlines.c.credit).over(
        order_by=(entries.c.date, jlines.c.id)), Money())
    ranked = (
        select(entries.c.date, jlines.c.id.label("line_id"), entries.c.id.label("entry_id"), entries.c.seq,
               entries.c.document, entries.c.description, entries.c.customer_id, jlines.c.debit, jlines.c.credit,
               running.label("running"))
        .join(entries, entries.c.id == jlines.c.entry_id).where(jlines.c.account == code, *in_range)
    ).subquery()
    q = select(ranked).order_by(ranked.c.date, ranked.c.line_id).limit(limit + 1)
    after = _parse_cursor(cursor)
    if after is not None:
        q = q.where(tuple_(ranked.c.date, ranked.c.line_id) > tuple_(literal(after[0]), literal(after[1])))
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    totals = tx.conn.execute(
        select(money_sum(jlines.c.debit), money_sum(jlines.c.credit)).join(entries, entries.c.id == jlines.c.entry_id)
        .where(jlines.c.account == code, *in_range)).one()
    return {
        "account": {"code": acc.code, "name": acc.name, "type": acc.type, "role": acc.role},
        "from": date_from, "to": date_to, "opening_balance": opening,
        "total_debit": totals[0], "total_credit": totals[1],
        "closing_balance": opening + totals[0] - totals[1],
        "lines": [{"date": r.date, "entry_id": r.entry_id, "entry_number": r.seq, "document": r.document,
                   "description": r.description, "customer_id": r.customer_id, "debit": r.debit,
                   "credit": r.credit, "balance": opening + r.running} for r in page],
        "next_cursor": f"{page[-1].date.isoformat()}_{page[-1].line_id}" if len(rows) > limit else None,
    }


# -- receivables --------------------------------------------------------------------------

OPEN_STATUSES = ("open", "partially_paid")


def open_receivables(tx: Tx, *where: Any, overdue_before: dt.date | None = None) -> dict[str, Any]:
    """What is open on the invoices matching ``where`` (open or partly paid),
    as they stand now, and the part due before ``overdue_before``: per
    currency in it, and in the functional currency with foreign balances at
    their booked values (``o2c.domain.fx.open_value``) — ``open`` and
    ``overdue`` are these functional totals, the plain sums for EUR-only books.

    One statement: functional-currency invoices are summed by the database,
    foreign ones come back one per invoice, as each is valued on its own."""
    balance = invoices.c.total - invoices.c.amount_paid - invoices.c.credited_amount
    late = invoices.c.due_date < overdue_before if overdue_before is not None else literal(False)
    key = case((invoices.c.currency == FUNCTIONAL_CURRENCY, literal(0)), else_=invoices.c.id)
    q = (select(invoices.c.currency, key.label("k"), money_sum(balance).label("open"),
                money_sum(case((late, balance), else_=0)).label("overdue"),
                money_sum(invoices.c.total).label("total"), money_sum(invoices.c.functional_total).label("ft"),
                func.count().label("n"), func.count(case((late, 1))).label("late"))
         # By the label: the expression's bound parameters would not match
         # the select's on PostgreSQL.
         .where(invoices.c.status.in_(OPEN_STATUSES), *where).group_by(invoices.c.currency, "k"))
    per: dict[str, dict[str, Any]] = {}
    for r in tx.conn.execute(q):
        c = per.setdefault(r.currency, {"currency": r.currency, "open_invoices": 0, "overdue_invoices": 0,
                                        **dict.fromkeys(("open", "overdue", "functional_open",
                                                         "functional_overdue"), ZERO)})
        c["open_invoices"] += int(r.n)
        c["overdue_invoices"] += int(r.late)
        c["open"] += r.open
        c["overdue"] += r.overdue
        c["functional_open"] += open_value(r.currency, r.ft, r.total, r.open)
        c["functional_overdue"] += open_value(r.currency, r.ft, r.total, r.overdue) if r.overdue else ZERO
    rows = sorted(per.values(), key=lambda c: (c["currency"] != FUNCTIONAL_CURRENCY, c["currency"]))
    return {"open": _sum(c["functional_open"] for c in rows), "overdue": _sum(c["functional_overdue"] for c in rows),
            "open_invoices": sum(c["open_invoices"] for c in rows),
            "overdue_invoices": sum(c["overdue_invoices"] for c in rows),
            "functional_currency": FUNCTIONAL_CURRENCY, "by_currency": rows}


def _paid_as_of(as_of: dt.date) -> Any:
    return (select(allocations.c.invoice_id, func.sum(allocations.c.amount).label("paid"))
            .where(allocations.c.date <= as_of).group_by(allocations.c.invoice_id).subquery())


def _open_invoice_balance(paid: Any) -> Any:
    return invoices.c.total - invoices.c.credited_amount - func.coalesce(paid.c.paid, 0)


def _bucket_conditions(as_of: dt.date) -> dict[str, Any]:
    """Days past due = as_of − due date, as conditions on the due date (portable SQL)."""
    conds = {}
    for key, first, last in BUCKETS:
        parts = []
        if first is not None:  # at least `first` days past due
            parts.append(invoices.c.due_date <= as_of - dt.timedelta(days=first))
        if last is not None:  # at most `last` days past due
            parts.append(invoices.c.due_date >= as_of - dt.timedelta(days=last))
        conds[key] = and_(*parts)
    return conds


def aging(tx: Tx, as_of: dt.date | None = None, customer_id: int | None = None) -> dict[str, Any]:
    """Open invoice balances as of a date, per customer and document currency,
    in buckets of days past due. An invoice's balance as of the date counts
    the payments allocated up to that date (credit notes count as they stand
    today).

    Amounts are in the row's currency; currencies are never added together:
    ``by_currency`` sums each, and ``totals`` are functional (EUR) values, an
    open foreign balance at its booked value (``o2c.domain.fx.open_value``,
    the reconciliation's rule), so for EUR-only books they are the plain sums."""
    as_of = as_of or tx.today
    paid = _paid_as_of(as_of)
    balance = _open_invoice_balance(paid)
    conds = _bucket_conditions(as_of)
    keys = [k for k, _, _ in BUCKETS]
    cols = [money_sum(case((cond, balance), else_=0)).label(key) for key, cond in conds.items()]
    joined = (invoices.join(customers, customers.c.id == invoices.c.customer_id)
              .outerjoin(paid, paid.c.invoice_id == invoices.c.id))
    q = (
        select(customers.c.id, customers.c.code, customers.c.name, invoices.c.currency, *cols,
               money_sum(balance).label("total"), func.count().label("invoices"))
        .select_from(joined)
        .where(invoices.c.issue_date <= as_of, balance != 0)
        .group_by(customers.c.id, customers.c.code, customers.c.name, invoices.c.currency)
        .order_by(customers.c.code, invoices.c.currency)
    )
    if customer_id is not None:
        q = q.where(invoices.c.customer_id == customer_id)
    rows = [{"customer_id": r.id, "code": r.code, "name": r.name, "currency": r.currency,
             "open_invoices": int(r.invoices), **{k: r._mapping[k] for k in keys}, "total": r.total}
            for r in tx.conn.execute(q)]
    foreign = _foreign_open_values(tx, as_of, customer_id) if any(
        r["currency"] != FUNCTIONAL_CURRENCY for r in rows) else {}
    for r in rows:
        if r["currency"] == FUNCTIONAL_CURRENCY:
            r["functional"] = {k: r[k] for k in [*keys, "total"]}
        else:
            r["functional"] = foreign.get((r["customer_id"], r["currency"]), dict.fromkeys([*keys, "total"], ZERO))
        r["functional_total"] = r["functional"]["total"]
    # The totals are the sum of the customer rows (a few thousand at most):
    # a second pass over every invoice would double the report's cost.
    totals = {k: _sum(r["functional"][k] for r in rows) for k in [*keys, "total"]}
    per_currency: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = per_currency.setdefault(r["currency"], {"currency": r["currency"], "open_invoices": 0,
                                                    **dict.fromkeys([*keys, "total", "functional_total"], ZERO)})
        c["open_invoices"] += r["open_invoices"]
        for k in [*keys, "total", "functional_total"]:
            c[k] += r[k]
    return {"as_of": as_of, "buckets": keys, "customers": rows, "totals": totals,
            "functional_currency": FUNCTIONAL_CURRENCY,
            "by_currency": sorted(per_currency.values(), key=lambda c: (c["currency"] != FUNCTIONAL_CURRENCY,
                                                                        c["currency"]))}


def _foreign_open_values(tx: Tx, as_of: dt.date, customer_id: int | None) -> dict[tuple[int, str], dict[str, Any]]:
    """Per customer and foreign currency, the functional (booked) value of
    the open balances as of the date per aging bucket: invoice by invoice,
    as each is rounded on its own."""
    paid = _paid_as_of(as_of)
    balance = type_coerce(_open_invoice_balance(paid), Money())
    q = (select(invoices.c.customer_id, invoices.c.currency, invoices.c.due_date, invoices.c.total,
                invoices.c.functional_total, balance.label("balance"))
         .outerjoin(paid, paid.c.invoice_id == invoices.c.id)
         .where(invoices.c.currency != FUNCTIONAL_CURRENCY, invoices.c.issue_date <= as_of,
                _open_invoice_balance(paid) != 0))
    if customer_id is not None:
        q = q.where(invoices.c.customer_id == customer_id)
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for r in tx.conn.execute(q):
        value = open_value(r.currency, r.functional_total, r.total, r.balance)
        sums = out.setdefault((r.customer_id, r.currency), dict.fromkeys([k for k, _, _ in BUCKETS] + ["total"], ZERO))
        sums[bucket_of((as_of - r.due_date).days)] += value
        sums["total"] += value
    return out


def bucket_of(days_overdue: int) -> str:
    """The aging bucket of an invoice ``days_overdue`` days past its due date
    (negative: not yet due)."""
    for key, first, last in BUCKETS:
        if (first is None or days_overdue >= first) and (last is None or days_overdue <= last):
            return key
    raise AssertionError(days_overdue)


def open_invoices(tx: Tx, customer_id: int, as_of: dt.date) -> list[dict[str, Any]]:
    """A customer's invoices with a balance as of a date, oldest due first,
    each in its currency with the functional (booked) value of what is open."""
    paid = _paid_as_of(as_of)
    balance = type_coerce(_open_invoice_balance(paid), Money())
    rows = tx.conn.execute(
        select(invoices.c.id, invoices.c.number, invoices.c.issue_date, invoices.c.due_date, invoices.c.total,
               invoices.c.currency, invoices.c.functional_total, balance.label("balance_due"))
        .outerjoin(paid, paid.c.invoice_id == invoices.c.id)
        .where(invoices.c.customer_id == customer_id, invoices.c.issue_date <= as_of,
               _open_invoice_balance(paid) != 0)
        .order_by(invoices.c.due_date, invoices.c.id)).all()
    return [{"invoice_id": r.id, "number": r.number, "issue_date": r.issue_date, "due_date": r.due_date,
             "currency": r.currency, "total": r.total, "balance_due": r.balance_due,
             "functional_balance_due": open_value(r.currency, r.functional_total, r.total, r.balance_due),
             "days_overdue": max((as_of - r.due_date).days, 0)}
            for r in rows]


def _balances(tx: Tx, own: Any, *where: Any) -> dict[str, tuple[Decimal, Decimal]]:
    """Per document currency, (Σ amount in it, Σ debit − credit) of the lines."""
    q = (select(jlines.c.currency, type_coerce(func.sum(jlines.c.amount), CurrencyAmount()),
                money_sum(jlines.c.debit - jlines.c.credit))
         .join(entries, entries.c.id == jlines.c.entry_id).where(own, *where).group_by(jlines.c.currency))
    return {cur: (round_to(amount or ZERO, cur), functional) for cur, amount, functional in tx.conn.execute(q)}


def customer_statement(tx: Tx, customer_id: int, date_from: dt.date | None = None,
                       date_to: dt.date | None = None) -> dict[str, Any]:
    """Every document that moved what a customer owes (invoices, payments,
    credit notes, refunds: the journal entries on their receivable and credit
    accounts) with the balance after each, and the invoices still open.

    Movements and balances are in the documents' currencies, one running
    balance per currency (``by_currency``); the top-level balances and totals
    are functional (EUR): the ledger's for the opening and closing balance,
    open invoices at their booked values. The balance is what the customer
    owes net of unapplied credit: positive means they owe, negative that they
    are in credit."""
    c = tx.conn.execute(select(customers).where(customers.c.id == customer_id)).first()
    if c is None:
        raise NotFound(f"No customer with id {customer_id}.")
    date_to = date_to or tx.today
    if date_from is not None and date_from > date_to:
        raise ValidationFailed("The statement starts after it ends.", {"from": ["Must not be after `to`."]})
    accs = role_accounts(tx, "receivables", "customer_credit")
    own = and_(entries.c.customer_id == customer_id, jlines.c.account.in_(accs))
    opening = {} if date_from is None else _balances(tx, own, entries.c.date < date_from)
    amount = func.sum(jlines.c.amount)
    per_entry = (
        select(entries.c.id, entries.c.date, entries.c.document, entries.c.description, entries.c.source_type,
               jlines.c.currency, amount.label("amount"))
        .join(entries, entries.c.id == jlines.c.entry_id)
        .where(own, entries.c.date <= date_to, *([entries.c.date >= date_from] if date_from else []))
        .group_by(entries.c.id, entries.c.date, entries.c.document, entries.c.description, entries.c.source_type,
                  jlines.c.currency)
        .having(amount != 0)
    ).subquery()
    running = type_coerce(func.sum(per_entry.c.amount).over(
        partition_by=per_entry.c.currency, order_by=(per_entry.c.date, per_entry.c.id)), CurrencyAmount())
    rows = tx.conn.execute(
        select(per_entry.c.date, per_entry.c.document, per_entry.c.description, per_entry.c.source_type,
               per_entry.c.currency, type_coerce(per_entry.c.amount, CurrencyAmount()).label("amount"),
               running.label("running"))
        .order_by(per_entry.c.date, per_entry.c.id, per_entry.c.currency)).all()
    lines = []
    for r in rows:
        amt = round_to(r.amount, r.currency)
        lines.append({"date": r.date, "document": r.document, "description": r.description, "kind": r.source_type,
                      "currency": r.currency, "debit": amt if amt > 0 else ZERO, "credit": -amt if amt < 0 else ZERO,
                      "balance": opening.get(r.currency, (ZERO, ZERO))[0] + round_to(r.running, r.currency)})
    closing = _balances(tx, own, entries.c.date <= date_to)
    items = open_invoices(tx, customer_id, date_to)
    currencies = sorted({*opening, *closing, *(i["currency"] for i in items)},
                        key=lambda cur: (cur != FUNCTIONAL_CURRENCY, cur))
    per_currency = []
    for cur in currencies:
        mine = [i for i in items if i["currency"] == cur]
        if not mine and not closing.get(cur, (ZERO, ZERO))[0] and not opening.get(cur, (ZERO, ZERO))[0] \
                and not any(l["currency"] == cur for l in lines):
            continue
        per_currency.append({
            "currency": cur, "opening_balance": opening.get(cur, (ZERO, ZERO))[0],
            "closing_balance": closing.get(cur, (ZERO, ZERO))[0],
            "open_total": _sum(i["balance_due"] for i in mine),
            "overdue_total": _sum(i["balance_due"] for i in mine if i["days_overdue"] > 0),
            "functional_closing_balance": closing.get(cur, (ZERO, ZERO))[1],
            "functional_open_total": _sum(i["functional_balance_due"] for i in mine)})
    return {
        "customer": {"id": c.id, "code": c.code, "name": c.name, "email": c.email, "language": c.language,
                     "country": c.country, "tax_id": c.tax_id, "billing_address": c.billing_address,
                     "payment_terms_days": c.payment_terms_days},
        "from": date_from, "to": date_to, "functional_currency": FUNCTIONAL_CURRENCY,
        "opening_balance": _sum(f for _, f in opening.values()), "lines": lines,
        "closing_balance": _sum(f for _, f in closing.values()),
        "open_invoices": items,
        "open_total": _sum(i["functional_balance_due"] for i in items),
        "overdue_total": _sum(i["functional_balance_due"] for i in items if i["days_overdue"] > 0),
        "by_currency": per_currency,
    }


def _sum(values: Any) -> Decimal:
    return sum(values, ZERO)
