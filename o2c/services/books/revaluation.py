"""Period-end revaluation of open foreign-currency balances.

At a period's end the receivables, the customer credit and the money on bank
accounts held in another currency than the functional one are worth what
that day's rate says, not what they were booked at. ``revalue`` posts the difference per currency as an
**unrealised** exchange gain or loss (roles ``fx_unrealised_gain`` 4910,
``fx_unrealised_loss`` 6910), dated the day asked for, and its reversal dated
the first day of the next month, both in one transaction: the next period
starts again from the booked values, so a payment settles an invoice at the
value it was booked at (its realised difference, ``o2c.services.cash``) and
nothing is counted twice. A bank account's balance is revalued on its own GL
account (role ``bank:<account>`` in the lines kept), with no document amount:
its statements, in its currency, still agree with the books.

The balances come from the ledger as of the day (every line keeps its
document currency and amount beside its functional figures), so a
revaluation of a past month-end is as right as one made on the day. What was
revalued is kept (``fx_revaluations``, ``fx_revaluation_lines``): the
reconciliation's per-currency checks count the revaluations in force against
the ledger, and closing a month warns when its last day was not revalued.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, insert, select

from o2c.db import models as m
from o2c.domain.errors import Conflict, NotFound, ValidationFailed
from o2c.domain.fx import FUNCTIONAL_CURRENCY, to_functional
from o2c.domain.money import ZERO
from o2c.ledger.accounts import Account
from o2c.ledger.posting import entry_for_revaluation
from o2c.services.books import fx
from o2c.services.platform.uow import Tx, dialect_insert

revaluations = m.FxRevaluation.__table__
rlines = m.FxRevaluationLine.__table__
entries = m.JournalEntry.__table__
jlines = m.JournalLine.__table__
account_roles = m.AccountRole.__table__
bank_accounts = m.BankAccount.__table__
accounts = m.Account.__table__

#: The posting roles whose foreign-currency balances are revalued (and,
#: beside them, every bank account held in a foreign currency: ``bank:<GL account>``).
ROLES = ("receivables", "customer_credit")
BANK = "bank:"


def document_number(as_of: dt.date) -> str:
    return f"FXR-{as_of.isoformat()}"


def first_of_next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def gl_by_role_and_currency(tx: Tx, as_of: dt.date | None, foreign_only: bool = False,
                            ) -> dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]:
    """(Σ debit, Σ credit, Σ document amount) per posting role and document
    currency, of the lines dated up to ``as_of`` (all when None). Kept here,
    below the reconciliation, which reads it for its per-currency checks.
    ``foreign_only``: the lines in other currencies than the functional one
    alone (``foreign_balances`` asks ``any_foreign_lines`` first)."""
    q = (select(account_roles.c.role, jlines.c.currency, func.sum(jlines.c.debit), func.sum(jlines.c.credit),
                func.sum(jlines.c.amount))
         .join(account_roles, account_roles.c.account == jlines.c.account)
         .group_by(account_roles.c.role, jlines.c.currency))
    if foreign_only:
        q = q.where(jlines.c.currency != FUNCTIONAL_CURRENCY)
    if as_of is not None:
        q = q.join(entries, entries.c.id == jlines.c.entry_id).where(entries.c.date <= as_of)
    return {(r, cur): (d or ZERO, c or ZERO, a or ZERO) for r, cur, d, c, a in tx.conn.execute(q)}


def any_foreign_lines(tx: Tx) -> bool:
    """Whether any journal line is in another currency than the functional
    one: the smallest code above it and the largest below it, each one probe
    of the index by currency."""
    above = select(func.min(jlines.c.currency)).where(jlines.c.currency > FUNCTIONAL_CURRENCY).scalar_subquery()
    below = select(func.max(jlines.c.currency)).where(jlines.c.currency < FUNCTIONAL_CURRENCY).scalar_subquery()
    return any(v is not None for v in tx.conn.execute(select(above, below)).one())


def foreign_balances(tx: Tx, as_of: dt.date) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """Per (role, currency other than the functional one): the signed amount
    in the currency and the signed functional balance (debit positive), of
    the lines dated up to ``as_of`` — the reconciliation's own GL figures;
    and per bank account held in such a currency (``bank:<GL account>``) the
    same of its GL account's lines in that currency. A book with no line in
    another currency costs two index probes, not a read of the journal."""
    if not any_foreign_lines(tx):
        return {}
    out = {(role, cur): (amount, debit - credit)
           for (role, cur), (debit, credit, amount) in gl_by_role_and_currency(tx, as_of, foreign_only=True).items()
           if role in ROLES}
    q = (select(bank_accounts.c.gl_account, jlines.c.currency, func.sum(jlines.c.debit), func.sum(jlines.c.credit),
                func.sum(jlines.c.amount))
         .join(bank_accounts, and_(bank_accounts.c.gl_account == jlines.c.account,
                                   bank_accounts.c.currency == jlines.c.currency))
         .join(entries, entries.c.id == jlines.c.entry_id)
         .where(bank_accounts.c.currency != FUNCTIONAL_CURRENCY, entries.c.date <= as_of)
         .group_by(bank_accounts.c.gl_account, jlines.c.currency))
    for gl, cur, debit, credit, amount in tx.conn.execute(q):
        out[(BANK + gl, cur)] = (amount or ZERO, (debit or ZERO) - (credit or ZERO))
    return out


def _accounts_of(tx: Tx, roles: set[str]) -> dict[str, Account]:
    """The chart, and the GL account of each ``bank:<account>`` role."""
    chart = dict(tx.chart)
    codes = sorted(r.removeprefix(BANK) for r in roles if r.startswith(BANK))
    if codes:
        for code, name, kind in tx.conn.execute(select(accounts.c.code, accounts.c.name, accounts.c.type)
                                                .where(accounts.c.code.in_(codes))):
            chart[BANK + code] = Account(code, name, kind)
    return chart


def revalue(tx: Tx, as_of: dt.date) -> dict[str, Any]:
    """Revalue every open foreign-currency balance at ``as_of``'s rate (the
    day's, or the latest earlier one within the configured fallback days;
    409 ``rate_missing`` otherwise, nothing written). Once per day (409
    ``conflict`` the second time); a day in the future is a 422, a day in a
    closed month a 409 ``period_closed``."""
    if as_of > tx.today:
        why = f"{as_of.isoformat()} is in the future: a revaluation values balances at a day's known rate."
        raise ValidationFailed(why, {"as_of": [f"Today or earlier: {why}"]})
    reversal_on = first_of_next_month(as_of)
    tx.check_period_open(as_of)
    tx.check_period_open(reversal_on)
    # The day first: a second revaluation of it waits here for the first to
    # commit, then finds it (and holds no lock the first needs).
    claimed = tx.conn.execute(
        dialect_insert(tx.conn)(revaluations)
        .values(as_of=as_of, reversal_on=reversal_on, created_at=tx.now, created_by=tx.actor)
        .on_conflict_do_nothing(index_elements=["as_of"]).returning(revaluations.c.id)).scalar()
    if claimed is None:
        raise Conflict(f"The foreign-currency balances were already revalued at {as_of.isoformat()}; "
                       "its entry and reversal stand.", {"as_of": as_of.isoformat()})
    if tx.conn.dialect.name == "postgresql":
        # The balances read below must be the ones the entry corrects: postings
        # in flight finish first, new ones wait for this (short) transaction.
        # SHARE ROW EXCLUSIVE conflicts with itself, so two revaluations of
        # different days never both hold it and then both insert entries.
        tx.conn.exec_driver_sql("LOCK TABLE journal_entries IN SHARE ROW EXCLUSIVE MODE")
    rows = []
    for (role, currency), (amount, booked) in sorted(foreign_balances(tx, as_of).items()):
        if amount == 0 and booked == 0:
            continue
        used = fx.day_rate(tx, currency, as_of)
        revalued = to_functional(amount, used.rate, currency)
        rows.append({"revaluation_id": claimed, "currency": currency, "role": role, "amount": amount,
                     "rate": used.rate, "rate_date": used.date, "booked": booked, "revalued": revalued,
                     "difference": revalued - booked})
    if rows:
        tx.conn.execute(insert(rlines), rows)
    moves = [(r["role"], r["currency"], r["difference"]) for r in rows]
    number = document_number(as_of)
    chart = _accounts_of(tx, {r for r, _, _ in moves})
    tx.post(entry_for_revaluation(chart, as_of, claimed, number,
                                  f"Revaluation of foreign-currency balances at {as_of.isoformat()}", moves))
    tx.post(entry_for_revaluation(chart, reversal_on, claimed, number,
                                  f"Reversal of the revaluation at {as_of.isoformat()}", moves, reversal=True))
    net = sum((d for _, _, d in moves), ZERO)
    tx.audit("fx.revalued", "fx_revaluation", claimed, None,
             {"as_of": as_of.isoformat(), "reversal_on": reversal_on.isoformat(), "net": str(net),
              "balances": [{"role": r["role"], "currency": r["currency"], "amount": str(r["amount"]),
                            "rate": str(r["rate"]), "difference": str(r["difference"])} for r in rows]})
    tx.flush()  # the entries' ids for the answer
    return get_revaluation(tx, claimed)


def _entries_of(tx: Tx, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    q = (select(entries.c.id, entries.c.source_id, entries.c.date, entries.c.document, entries.c.description,
                jlines.c.account, accounts.c.name, jlines.c.debit, jlines.c.credit, jlines.c.currency)
         .join(jlines, jlines.c.entry_id == entries.c.id).join(accounts, accounts.c.code == jlines.c.account)
         .where(entries.c.source_type == "fx_revaluation", entries.c.source_id.in_(ids))
         .order_by(entries.c.date, entries.c.id, jlines.c.id))
    out: dict[int, dict[int, dict[str, Any]]] = {}
    for r in tx.conn.execute(q):
        e = out.setdefault(r.source_id, {}).setdefault(r.id, {
            "id": r.id, "date": r.date, "document": r.document, "description": r.description, "lines": []})
        e["lines"].append({"account": r.account, "account_name": r.name, "debit": r.debit, "credit": r.credit,
                           "currency": r.currency})
    return {k: list(v.values()) for k, v in out.items()}


def _views(tx: Tx, heads: list[Any]) -> list[dict[str, Any]]:
    ids = [h.id for h in heads]
    lines: dict[int, list[dict[str, Any]]] = {}
    for r in tx.conn.execute(select(rlines).where(rlines.c.revaluation_id.in_(ids))
                             .order_by(rlines.c.currency, rlines.c.role)):
        lines.setdefault(r.revaluation_id, []).append({
            "currency": r.currency, "role": r.role, "amount": r.amount, "rate": r.rate, "rate_date": r.rate_date,
            "booked": r.booked, "revalued": r.revalued, "difference": r.difference})
    posted = _entries_of(tx, ids)
    out = []
    for h in heads:
        es = posted.get(h.id, [])
        balances = lines.get(h.id, [])
        net = sum((b["difference"] for b in balances), ZERO)
        out.append({"id": h.id, "object": "fx_revaluation", "as_of": h.as_of, "reversal_on": h.reversal_on,
                    "created_at": h.created_at, "created_by": h.created_by, "document": document_number(h.as_of),
                    "balances": balances, "gain": max(net, ZERO), "loss": max(-net, ZERO),
                    "entry": next((e for e in es if e["date"] == h.as_of), None),
                    "reversal": next((e for e in es if e["date"] == h.reversal_on), None)})
    return out


def get_revaluation(tx: Tx, revaluation_id: int) -> dict[str, Any]:
    head = tx.conn.execute(select(revaluations).where(revaluations.c.id == revaluation_id)).first()
    if head is None:
        raise NotFound(f"No revaluation {revaluation_id}.", {"id": revaluation_id})
    return _views(tx, [head])[0]


def list_revaluations(tx: Tx, cursor: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Newest day first; the cursor is the last id of the page before."""
    q = select(revaluations).order_by(revaluations.c.as_of.desc(), revaluations.c.id.desc()).limit(limit + 1)
    if cursor is not None:
        after = select(revaluations.c.as_of).where(revaluations.c.id == cursor).scalar_subquery()
        q = q.where(revaluations.c.as_of < after)
    heads = tx.conn.execute(q).all()
    page = heads[:limit]
    return _views(tx, page), (page[-1].id if len(heads) > limit else None)


def in_force(tx: Tx, on: dt.date | None) -> dict[tuple[str, str], Decimal]:
    """Per (role, currency): what the revaluations still in force on ``on``
    moved the functional balance by (every revaluation dated up to then whose
    reversal is later). ``None``: the whole journal, where every reversal
    has been counted — nothing is in force."""
    if on is None:
        return {}
    q = (select(rlines.c.role, rlines.c.currency, func.sum(rlines.c.difference))
         .join(revaluations, revaluations.c.id == rlines.c.revaluation_id)
         .where(and_(revaluations.c.as_of <= on, revaluations.c.reversal_on > on))
         .group_by(rlines.c.role, rlines.c.currency))
    return {(role, cur): Decimal(v or 0) for role, cur, v in tx.conn.execute(q)}


def missing_at(tx: Tx, day: dt.date) -> list[str]:
    """The foreign currencies with an open balance at ``day`` that no
    revaluation of that day valued: what closing the month should warn of."""
    if tx.conn.execute(select(revaluations.c.id).where(revaluations.c.as_of == day)).first() is not None:
        return []
    return sorted({cur for (_, cur), (amount, _) in foreign_balances(tx, day).items() if amount != 0})
