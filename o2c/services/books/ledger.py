"""Reading the general ledger, and closing periods."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from o2c.db import models as m
from o2c.domain.errors import Conflict, ValidationFailed
from o2c.domain.money import ZERO
from o2c.services.platform.uow import Tx, dialect_insert

entries = m.JournalEntry.__table__
jlines = m.JournalLine.__table__
accounts = m.Account.__table__
periods = m.Period.__table__
customers = m.Customer.__table__


def list_entries(
    tx: Tx, *, date_from: dt.date | None, date_to: dt.date | None, account: str | None,
    cursor: int | None, limit: int, source_type: str | None = None, source_id: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    q = select(entries).order_by(entries.c.id).limit(limit + 1)
    if date_from:
        q = q.where(entries.c.date >= date_from)
    if date_to:
        q = q.where(entries.c.date <= date_to)
    if account:
        q = q.where(entries.c.id.in_(select(jlines.c.entry_id).where(jlines.c.account == account)))
    if source_type:
        q = q.where(entries.c.source_type == source_type)
    if source_id is not None:
        q = q.where(entries.c.source_id == source_id)
    if cursor is not None:
        q = q.where(entries.c.id > cursor)
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    return _with_lines(tx, page), (page[-1].id if len(rows) > limit else None)


def source_entries(tx: Tx, sources: Sequence[tuple[str, Any]], limit: int = 200) -> list[dict[str, Any]]:
    """The entries whose source is one of ``sources``, oldest first, with
    their lines and each line's account name, in one query. ``sources`` are
    pairs of a source type and the ids of its documents (a list, or a
    subquery of ids)."""
    if not sources:
        return []
    wanted = (select(entries.c.id)
              .where(or_(*(and_(entries.c.source_type == t, entries.c.source_id.in_(ids)) for t, ids in sources)))
              .order_by(entries.c.id).limit(limit))
    q = (select(entries, jlines.c.account, jlines.c.debit, jlines.c.credit, accounts.c.name.label("account_name"))
         .join(jlines, jlines.c.entry_id == entries.c.id).join(accounts, accounts.c.code == jlines.c.account)
         .where(entries.c.id.in_(wanted)).order_by(entries.c.id, jlines.c.id))
    out: dict[int, dict[str, Any]] = {}
    for r in tx.conn.execute(q):
        e = out.get(r.id)
        if e is None:
            e = out[r.id] = {c.name: getattr(r, c.name) for c in entries.c} | {"lines": []}
        e["lines"].append({"account": r.account, "account_name": r.account_name, "debit": r.debit,
                           "credit": r.credit})
    return list(out.values())


def _with_lines(tx: Tx, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Entries as dicts with their lines (one query for all of them)."""
    by_entry: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if rows:
        for l in tx.conn.execute(
            select(jlines.c.entry_id, jlines.c.account, jlines.c.debit, jlines.c.credit, jlines.c.currency,
                   jlines.c.amount)
            .where(jlines.c.entry_id.in_([r.id for r in rows])).order_by(jlines.c.id)
        ):
            by_entry[l.entry_id].append({"account": l.account, "debit": l.debit, "credit": l.credit,
                                         "currency": l.currency, "amount": l.amount})
    return [{**r._asdict(), "lines": by_entry[r.id]} for r in rows]


def get_entry(tx: Tx, entry_id: int) -> dict[str, Any] | None:
    """One entry with its lines as stored now, or ``None``."""
    rows = tx.conn.execute(select(entries).where(entries.c.id == entry_id)).all()
    return _with_lines(tx, rows)[0] if rows else None


def account_balances(tx: Tx, as_of: dt.date | None = None) -> dict[str, tuple[Decimal, Decimal]]:
    """(Σ debit, Σ credit) per account code, up to ``as_of`` inclusive."""
    q = (
        select(jlines.c.account, func.sum(jlines.c.debit), func.sum(jlines.c.credit))
        .group_by(jlines.c.account)
    )
    if as_of is not None:
        q = q.join(entries, entries.c.id == jlines.c.entry_id).where(entries.c.date <= as_of)
    return {a: (Decimal(d or 0), Decimal(c or 0)) for a, d, c in tx.conn.execute(q)}


def trial_balance(tx: Tx, as_of: dt.date | None) -> dict[str, Any]:
    sums = account_balances(tx, as_of)
    rows = []
    for acc in tx.conn.execute(select(accounts.c.code, accounts.c.name, accounts.c.type).order_by(accounts.c.code)):
        d, c = sums.pop(acc.code, (ZERO, ZERO))
        rows.append({"code": acc.code, "name": acc.name, "type": acc.type, "debit": d, "credit": c, "balance": d - c})
    total_d = sum((r["debit"] for r in rows), ZERO)
    total_c = sum((r["credit"] for r in rows), ZERO)
    return {"as_of": as_of, "accounts": rows, "total_debit": total_d, "total_credit": total_c,
            "balanced": total_d == total_c}


def _period_bounds(period: str) -> tuple[dt.date, dt.date]:
    try:
        first = dt.date.fromisoformat(period + "-01")
    except ValueError:
        raise ValidationFailed(f"“{period}” is not a period; use YYYY-MM.", {"period": ["Use YYYY-MM."]}) from None
    if len(period) != 7:
        raise ValidationFailed(f"“{period}” is not a period; use YYYY-MM.", {"period": ["Use YYYY-MM."]})
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def close_period(tx: Tx, period: str) -> dict[str, Any]:
    """Close a month that has ended: nothing can be posted into it any more.

    Only a month whose last day is past can close, so a business event that
    happens now always has an open period (today's). Closing seals the journal
    and records where the chain stands (sequence number and hash), an anchor
    that ``verify`` checks from then on. The answer's ``warnings`` say what
    an accountant usually does first and was not done: foreign-currency
    balances open at the month's end that no revaluation of its last day
    valued (the close goes ahead: revaluing is a choice)."""
    from o2c.services.books.chain import seal_pending
    from o2c.services.books.revaluation import missing_at
    _, last_day = _period_bounds(period)
    if last_day >= tx.today:
        raise Conflict(f"Period {period} has not ended yet; it can be closed from {last_day + dt.timedelta(days=1)}.",
                       {"period": period})
    seal_pending(tx)  # takes the chain head lock first: the ledger's lock order
    if tx.conn.dialect.name == "postgresql":
        # Wait for transactions that are posting right now, and hold new ones
        # until the close commits: nothing slips into the period as it closes.
        tx.conn.exec_driver_sql("LOCK TABLE journal_entries IN SHARE MODE")
    existing = tx.conn.execute(select(periods.c.closed_at).where(periods.c.period == period)).first()
    if existing is not None and existing.closed_at is not None:
        raise Conflict(f"Period {period} is already closed.", {"period": period})
    head = seal_pending(tx).head  # what committed while we waited for the lock
    values = {"closed_at": tx.now, "closed_by": tx.actor, "chain_seq": head.seq, "chain_hash": head.hash}
    stmt = dialect_insert(tx.conn)(periods).values(period=period, **values)
    tx.conn.execute(stmt.on_conflict_do_update(index_elements=["period"], set_=values))
    unrevalued = missing_at(tx, last_day)
    warnings = [{"code": "revaluation_missing", "currencies": unrevalued,
                 "message": f"{', '.join(unrevalued)} balances were open on {last_day.isoformat()} and were not "
                            f"revalued at that day's rate (POST /api/v1/fx/revaluation, Books → Revaluation); "
                            f"the period is closed at their booked values."}] if unrevalued else []
    tx.audit("period.closed", "period", int(period.replace("-", "")), {"closed": False},
             {"closed": True, "chain_seq": head.seq, "chain_hash": head.hash,
              **({"warnings": [w["code"] for w in warnings]} if warnings else {})})
    return {**get_period(tx, period), "warnings": warnings}


def reopen_period(tx: Tx, period: str, reason: str) -> dict[str, Any]:
    """Open a closed month again (administrators only; the reason is audited).
    Its anchor stays: what was sealed before stays verifiable."""
    _period_bounds(period)
    row = tx.conn.execute(select(periods.c.closed_at).where(periods.c.period == period).with_for_update()).first()
    if row is None or row.closed_at is None:
        raise Conflict(f"Period {period} is not closed.", {"period": period})
    tx.conn.execute(update(periods).where(periods.c.period == period)
                    .values(closed_at=None, closed_by=None, reopened_at=tx.now, reopened_by=tx.actor))
    tx.audit("period.reopened", "period", int(period.replace("-", "")), {"closed": True},
             {"closed": False, "reason": reason})
    return get_period(tx, period)


def _period_view(r: Any) -> dict[str, Any]:
    return {"period": r.period, "closed": r.closed_at is not None, "closed_at": r.closed_at,
            "closed_by": r.closed_by, "chain_seq": r.chain_seq, "chain_hash": r.chain_hash,
            "reopened_at": r.reopened_at, "reopened_by": r.reopened_by}


def _never_closed(period: str) -> dict[str, Any]:
    return {"period": period, "closed": False, "closed_at": None, "closed_by": None, "chain_seq": None,
            "chain_hash": None, "reopened_at": None, "reopened_by": None}


def get_period(tx: Tx, period: str) -> dict[str, Any]:
    r = tx.conn.execute(select(periods).where(periods.c.period == period)).first()
    return _never_closed(period) if r is None else _period_view(r)


def list_periods(tx: Tx) -> list[dict[str, Any]]:
    """Every month that has postings or was ever closed, newest first."""
    known = {r.period: _period_view(r) for r in tx.conn.execute(select(periods))}
    for (p,) in tx.conn.execute(select(entries.c.period).distinct()):
        known.setdefault(p, _never_closed(p))
    return [known[p] for p in sorted(known, reverse=True)]
