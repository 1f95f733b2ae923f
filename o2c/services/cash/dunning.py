"""Dunning: chasing overdue invoices with reminder letters.

A run as of a date finds every open invoice past its due date and the level
its days overdue have reached (1 reminder, 2 second reminder, 3 final notice;
the day thresholds are configurable). An invoice is chased only when it has
reached a level above the highest already sent for it — never the same level
twice (a unique constraint on invoice and level guards it too) — and a level
it skipped is not sent afterwards. Per customer and invoice currency, the
invoices chased in a run go into one letter, in the customer's language and
that currency (amounts of different currencies are never added up), at the
highest of their levels; the letter and its notices are recorded, a ``dunning.notice`` event is
emitted, and a job renders the PDF from what was recorded.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select

from o2c.db import models as m
from o2c.domain.errors import NotFound, ValidationFailed
from o2c.domain.fx import FUNCTIONAL_CURRENCY, by_currency, open_value
from o2c.domain.money import ZERO
from o2c.services.platform import jobs
from o2c.services.platform.uow import Tx

invoices = m.Invoice.__table__
customers = m.Customer.__table__
letters = m.DunningLetter.__table__
notices = m.DunningNotice.__table__

LEVELS = {1: "reminder", 2: "second_reminder", 3: "final_notice"}
DEFAULT_THRESHOLDS = (1, 15, 30)
OPEN = ("open", "partially_paid")
RENDER_LETTER_JOB = "dunning.render_letter"
_LOCK_KEY = 0x6F32_6364  # one dunning run at a time (PostgreSQL advisory lock)


def check_thresholds(thresholds: Sequence[int]) -> tuple[int, ...]:
    t = tuple(int(x) for x in thresholds)
    if len(t) != len(LEVELS) or any(x < 1 for x in t) or list(t) != sorted(set(t)):
        raise ValidationFailed(
            "Dunning thresholds are three increasing numbers of days overdue, e.g. 1, 15, 30.",
            {"thresholds": ["Three increasing whole numbers of days, at least 1."]})
    return t


def level_for(days_overdue: int, thresholds: Sequence[int]) -> int:
    """The dunning level reached after ``days_overdue`` days (0: none yet)."""
    return sum(1 for t in thresholds if days_overdue >= t)


def letter_number(letter_id: int, as_of: dt.date) -> str:
    return f"DUN-{as_of.year}-{letter_id:06d}"


def run(tx: Tx, as_of: dt.date, thresholds: Sequence[int] = DEFAULT_THRESHOLDS) -> dict[str, Any]:
    """Send what is due as of ``as_of`` (not in the future)."""
    t = check_thresholds(thresholds)
    if as_of > tx.today:
        raise ValidationFailed("A dunning run cannot be dated in the future.",
                               {"as_of": [f"On or before {tx.today.isoformat()}."]})
    if tx.conn.dialect.name == "postgresql":
        tx.conn.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
    sent = (select(notices.c.invoice_id, func.max(notices.c.level).label("level"))
            .group_by(notices.c.invoice_id).subquery())
    balance = invoices.c.total - invoices.c.amount_paid - invoices.c.credited_amount
    rows = tx.conn.execute(
        select(invoices.c.id, invoices.c.number, invoices.c.customer_id, invoices.c.order_id, invoices.c.issue_date,
               invoices.c.due_date, invoices.c.total, invoices.c.amount_paid, invoices.c.credited_amount,
               invoices.c.currency, func.coalesce(sent.c.level, 0).label("sent"), customers.c.language, customers.c.code)
        .join(customers, customers.c.id == invoices.c.customer_id)
        .outerjoin(sent, sent.c.invoice_id == invoices.c.id)
        .where(invoices.c.status.in_(OPEN), invoices.c.due_date < as_of, balance > 0)
        .order_by(invoices.c.customer_id, invoices.c.currency, invoices.c.due_date, invoices.c.id)
    ).all()
    due: dict[tuple[int, str], list[tuple[Any, int, int]]] = defaultdict(list)
    for r in rows:
        days = (as_of - r.due_date).days
        level = level_for(days, t)
        if level > r.sent:
            due[r.customer_id, r.currency].append((r, level, days))
    out = []
    for (customer_id, currency), items in due.items():
        first = items[0][0]
        level = max(lv for _, lv, _ in items)
        total = sum((r.total - r.amount_paid - r.credited_amount for r, _, _ in items), ZERO)
        lid = tx.conn.execute(insert(letters).returning(letters.c.id), {
            "customer_id": customer_id, "as_of": as_of, "level": level, "language": first.language,
            "total": total, "created_at": tx.now, "created_by": tx.actor}).scalar_one()
        tx.conn.execute(insert(notices), [
            {"letter_id": lid, "invoice_id": r.id, "level": lv, "days_overdue": days,
             "balance_due": r.total - r.amount_paid - r.credited_amount} for r, lv, days in items])
        number = letter_number(lid, as_of)
        chased = [{"invoice_id": r.id, "number": r.number, "level": lv, "level_name": LEVELS[lv],
                   "days_overdue": days, "balance_due": str(r.total - r.amount_paid - r.credited_amount)}
                  for r, lv, days in items]
        tx.emit("dunning.notice", "internal", None, {
            "letter_id": lid, "number": number, "customer_id": customer_id, "level": level,
            "level_name": LEVELS[level], "as_of": as_of.isoformat(), "currency": currency, "total": str(total),
            "invoices": chased})
        tx.audit("dunning.notice", "dunning_letter", lid, None,
                 {"number": number, "customer_id": customer_id, "level": level, "invoices": chased})
        # The PDF is rendered after commit by a worker (o2c.services.platform.background);
        # a download before that renders the same letter from these rows.
        jobs.enqueue(tx.conn, RENDER_LETTER_JOB, {"letter_id": lid}, key=f"dunning-letter:{lid}", now=tx.now)
        out.append(get_letter(tx, lid))
    return {"as_of": as_of, "thresholds": list(t), "letters": out,
            "notices": sum(len(l["invoices"]) for l in out), **run_totals(out)}


def run_totals(letters_out: list[dict[str, Any]]) -> dict[str, Any]:
    """What a run chases: per currency in it, and in the functional currency
    (foreign balances at their booked values)."""
    per = by_currency([(l["currency"], l["total"], l["functional_total"]) for l in letters_out])
    return {"by_currency": per, "functional_currency": FUNCTIONAL_CURRENCY,
            "functional_total": sum((c["functional_total"] for c in per), ZERO)}


def get_letter(tx: Tx, letter_id: int) -> dict[str, Any]:
    row = tx.conn.execute(
        select(letters, customers.c.code, customers.c.name).join(customers, customers.c.id == letters.c.customer_id)
        .where(letters.c.id == letter_id)).first()
    if row is None:
        raise NotFound(f"No dunning letter with id {letter_id}.")
    items = tx.conn.execute(
        select(notices.c.invoice_id, notices.c.level, notices.c.days_overdue, notices.c.balance_due,
               invoices.c.number, invoices.c.issue_date, invoices.c.due_date, invoices.c.total,
               invoices.c.currency, invoices.c.functional_total)
        .join(invoices, invoices.c.id == notices.c.invoice_id)
        .where(notices.c.letter_id == letter_id).order_by(invoices.c.due_date, invoices.c.id)).all()
    chased = [{"invoice_id": i.invoice_id, "number": i.number, "issue_date": i.issue_date,
               "due_date": i.due_date, "currency": i.currency, "total": i.total, "level": i.level,
               "level_name": LEVELS[i.level], "days_overdue": i.days_overdue, "balance_due": i.balance_due,
               "functional_balance_due": open_value(i.currency, i.functional_total, i.total, i.balance_due)}
              for i in items]
    # A letter chases invoices of one currency (its notices say which).
    currency = chased[0]["currency"] if chased else FUNCTIONAL_CURRENCY
    return {"id": row.id, "number": letter_number(row.id, row.as_of), "customer_id": row.customer_id,
            "customer_code": row.code, "customer_name": row.name, "as_of": row.as_of, "level": row.level,
            "level_name": LEVELS[row.level], "language": row.language, "currency": currency, "total": row.total,
            "functional_currency": FUNCTIONAL_CURRENCY,
            "functional_total": sum((i["functional_balance_due"] for i in chased), ZERO),
            "created_at": row.created_at, "created_by": row.created_by, "invoices": chased}


def list_letters(tx: Tx, customer_id: int | None, cursor: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    q = select(letters.c.id).order_by(letters.c.id.desc()).limit(limit + 1)
    if customer_id is not None:
        q = q.where(letters.c.customer_id == customer_id)
    if cursor is not None:
        q = q.where(letters.c.id < cursor)
    ids = list(tx.conn.execute(q).scalars())
    page = ids[:limit]
    return [get_letter(tx, i) for i in page], (page[-1] if len(ids) > limit else None)
