"""Decisive statement lines posted together: the batched path of cash
application.

What the payment service does for one payment (``payments.record_payment``
through ``bankmatch._post_payments``) done here for many lines at once, in
one transaction: the lines, invoices and orders read (and locked) with a few
set-based queries, then payments inserted in one statement, allocations,
invoice and order updates, bank line updates and links each in one
executemany, and the journal entries, audit rows and events queued on the
transaction as every service queues them (``Tx.flush`` writes them in one
statement each). The ledger comes out as the one-by-one path makes it: the
same payments, allocations, entries (payment, bank fee), statuses, events and
audit rows, in the same order, line after line
(``tests/services/test_bank_batch.py`` compares both on one statement).

All or nothing: the batch is one transaction, so a failure anywhere leaves
no trace, and the caller goes line by line instead (each line in its own
transaction, saying why it was not posted). A line the batch cannot post as
decided — decided meanwhile, an invoice paid or credited meanwhile, a
payment reference already taken, a currency or date the payment service
refuses, a refund — is handed back for that path before anything is written.
The batch posts money in the functional currency to invoices in it only (a
payment's rate 1, its functional amount its own): a line in another currency
goes the long way, where the payment service converts it at the booking
date's rate and posts the exchange difference (one transaction per line), as
does a line put on an invoice in another currency, refused there.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from o2c.db import models as m
from o2c.domain import cashmatch as cm
from o2c.domain.cashmatch import UNDECIDED, line_document, payment_reference
from o2c.domain.money import ZERO
from o2c.domain.states import invoice_status
from o2c.ledger.accounts import Account
from o2c.ledger.posting import build_entry, entry_for_payment
from o2c.services.cash import payments as pay
from o2c.services.platform.uow import Tx

bank_lines = m.BankLine.__table__
bank_accounts = m.BankAccount.__table__
links = m.BankLineLink.__table__
invoices = m.Invoice.__table__
orders = m.Order.__table__
payments = m.Payment.__table__
allocations = m.PaymentAllocation.__table__
accounts = m.Account.__table__
audit = m.AuditLog.__table__
entries = m.JournalEntry.__table__
jlines = m.JournalLine.__table__
lines_t = m.OrderLine.__table__

#: Ids per IN list: well within SQLite's and PostgreSQL's parameter limits.
CHUNK = 5000
#: Lines per slice of a run: their rows are written before the next slice is
#: built, so memory stays flat however long the statement (one transaction still).
BATCH = 2000

_insert_payments = insert(payments).returning(payments.c.id, sort_by_parameter_order=True)
_pay_invoice = (update(invoices).where(invoices.c.id == bindparam("iid"))
                .values(amount_paid=invoices.c.amount_paid + bindparam("amt"), status=bindparam("st")))
_pay_order = (update(orders).where(orders.c.id == bindparam("oid"))
              .values(amount_paid=orders.c.amount_paid + bindparam("amt"), status=bindparam("st"),
                      fulfillment_status=bindparam("fs"), payment_status=bindparam("ps")))
_line_matched = (update(bank_lines).where(bank_lines.c.id == bindparam("lid"))
                 .values(status="matched", rule=bindparam("rl"), decided_by=bindparam("by"),
                         decided_at=bindparam("at"), suggestion=None, unmatched_reason=None,
                         payment_id=bindparam("pid")))


@dataclass
class _Order:
    """An order as the batch has paid it so far."""
    row: Any
    amount_paid: Decimal
    statuses: tuple[str, str, str]
    paid: Decimal = ZERO  # by this batch


@dataclass
class _Line:
    row: Any
    decision: cm.Decision
    reference: str = ""
    plan: list[tuple[Any, Decimal, str]] = field(default_factory=list)


def _among(c: Connection, col: Any, ids: list[Any]) -> Any:
    """``col IN ids``; on PostgreSQL one array parameter (``= ANY``), which
    the driver does not have to take apart as it does thousands of them."""
    if c.dialect.name == "postgresql":
        return col == any_(bindparam(None, ids, type_=ARRAY(col.type)))
    return col.in_(ids)


def _chunks(ids: Iterable[Any]) -> Iterator[list[Any]]:
    ids = sorted(set(ids))
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def postable(row: Any, d: cm.Decision, today: dt.date) -> bool:
    """Whether a decided line can go the batched way (a payment of one
    customer, allocations to distinct invoices, in the functional currency,
    dated as the payment service takes it), or a line linked to a payment
    booked before."""
    if d.status == "matched" and d.payment_ids:
        return len(d.payment_ids) == 1 and row.amount > ZERO
    return (d.status == "matched" and d.refund_id is None and d.customer_id is not None
            and row.amount > ZERO and row.currency == pay.FUNCTIONAL_CURRENCY
            and pay.EARLIEST_PAYMENT <= row.booking_date <= today + dt.timedelta(days=1)
            and len({i for i, _ in d.allocations}) == len(d.allocations))


def post_lines(tx: Tx, decided: list[tuple[Any, cm.Decision]]) -> tuple[list[int], list[tuple[Any, cm.Decision]]]:
    """Post the decided lines; returns the ids posted and the lines handed
    back for the one-by-one path (nothing of them written)."""
    c = tx.conn
    back: list[tuple[Any, cm.Decision]] = []
    by_id = {row.id: (row, d) for row, d in decided}
    # The lines, still undecided, held until commit (as _take_line's UPDATE holds one).
    free: set[int] = set()
    for ids in _chunks(by_id):
        free.update(c.execute(select(bank_lines.c.id).where(_among(c, bank_lines.c.id, ids),
                                                            bank_lines.c.status.in_(UNDECIDED))
                              .order_by(bank_lines.c.id).with_for_update()).scalars())
    todo = [_Line(*by_id[i]) for i in sorted(by_id) if i in free]
    back += [by_id[i] for i in sorted(by_id) if i not in free]
    linked, numbers = _linkable(tx, [ln for ln in todo if ln.decision.payment_ids], back)
    todo = [ln for ln in todo if not ln.decision.payment_ids]
    banks, currency_of = {}, {}
    for r in c.execute(select(bank_accounts.c.id, bank_accounts.c.currency, accounts.c.code, accounts.c.name,
                              accounts.c.type).join(accounts, accounts.c.code == bank_accounts.c.gl_account)):
        banks[r.id], currency_of[r.id] = Account(r.code, r.name, r.type), r.currency
    # A line in another currency than its account's: the long way, which refuses it.
    back += [(ln.row, ln.decision) for ln in todo if ln.row.currency != currency_of.get(ln.row.bank_account_id)]
    todo = [ln for ln in todo if ln.row.currency == currency_of.get(ln.row.bank_account_id)]
    # References: the line's number (again after a reversal); one taken already goes the long way.
    reopened: dict[int, int] = {}
    for ids in _chunks(ln.row.id for ln in todo):
        reopened.update(c.execute(select(audit.c.object_id, func.count()).where(
            audit.c.object_type == "bank_line", _among(c, audit.c.object_id, ids), audit.c.action == "bank_line.reopened")
            .group_by(audit.c.object_id)).all())
    for ln in todo:
        ln.reference = payment_reference(line_document(ln.row.id, ln.row.booking_date), reopened.get(ln.row.id, 0))
    taken: set[str] = set()
    for refs in _chunks(ln.reference for ln in todo):
        taken.update(c.execute(select(payments.c.reference).where(_among(c, payments.c.reference, refs))).scalars())
    back += [(ln.row, ln.decision) for ln in todo if ln.reference in taken]
    todo = [ln for ln in todo if ln.reference not in taken]
    # Invoices as they are now, their orders locked in id order (as the payment service locks them).
    touched = {i for ln in todo for i, _ in ln.decision.allocations}
    inv: dict[int, Any] = {}
    order_ids: set[int] = set()
    for ids in _chunks(touched):
        order_ids.update(c.execute(select(invoices.c.order_id).where(_among(c, invoices.c.id, ids))).scalars())
    for ids in _chunks(order_ids):  # in id order across the chunks too
        c.execute(select(orders.c.id).where(_among(c, orders.c.id, ids)).order_by(orders.c.id).with_for_update()).all()
    for ids in _chunks(touched):
        inv.update((r.id, r) for r in c.execute(select(*pay._INVOICE_COLS).where(_among(c, invoices.c.id, ids))))
    paid = {i: r.amount_paid for i, r in inv.items()}
    kept = []
    for ln in todo:
        plan, ok = [], True
        for iid, amount in ln.decision.allocations:
            r = inv.get(iid)
            if (r is None or r.customer_id != ln.decision.customer_id or amount <= ZERO
                    or r.currency != pay.FUNCTIONAL_CURRENCY or amount > r.total - paid[iid] - r.credited_amount):
                ok = False
                break
            plan.append((r, amount, invoice_status(r.total, paid[iid] + amount, r.credited_amount)))
        received = ln.row.amount + ln.decision.write_off
        if not ok or sum((a for _, a, _ in plan), ZERO) > received:
            back.append((ln.row, ln.decision))
            continue
        for r, amount, _ in plan:
            paid[r.id] += amount
        ln.plan = plan
        kept.append(ln)
    todo = kept
    if not todo and not linked:
        return [], back

    # Orders with their lines' progress, for the derived statuses.
    state: dict[int, _Order] = {}
    for ids in _chunks(r.order_id for ln in todo for r, _, _ in ln.plan):
        for o in c.execute(pay._orders_with_sums, {"oids": ids}):
            state[o.id] = _Order(o, o.amount_paid, (o.status, o.fulfillment_status, o.payment_status))
    fees = {r.code: Account(r.code, r.name, r.type) for r in c.execute(
        select(accounts.c.code, accounts.c.name, accounts.c.type).where(accounts.c.code.in_(
            {ln.decision.write_off_account or "" for ln in todo if ln.decision.write_off})))}
    if any(ln.decision.write_off and (ln.decision.write_off_account or "") not in fees for ln in todo):
        back += [(ln.row, ln.decision) for ln in todo]
        return [], back

    # Payments, all in one statement; their ids in the order given.
    pids = c.execute(_insert_payments, [{
        "customer_id": ln.decision.customer_id, "amount": ln.row.amount + ln.decision.write_off,
        "currency": ln.row.currency, "received_on": ln.row.booking_date, "method": "bank_transfer",
        "reference": ln.reference, "created_at": tx.now, "exchange_rate": Decimal(1),
        "functional_amount": ln.row.amount + ln.decision.write_off,
        "unapplied": ln.row.amount + ln.decision.write_off - sum((a for _, a, _ in ln.plan), ZERO)}
        for ln in todo]).scalars().all() if todo else []
    pid_of = {ln.row.id: pid for ln, pid in zip(todo, pids)}
    alloc_rows, invoice_rows, link_rows, line_rows = [], [], [], []
    for ln in sorted([*todo, *linked], key=lambda ln: ln.row.id):
        row, d = ln.row, ln.decision
        if d.payment_ids:  # the report of a payment booked before: linked, nothing posted
            pid = d.payment_ids[0]
            link_rows.append({"bank_line_id": row.id, "payment_id": pid, "refund_id": None, "amount": row.amount})
            line_rows.append({"lid": row.id, "rl": d.rule or cm.BOOKED, "by": tx.actor, "at": tx.now, "pid": pid})
            _emit_matched(tx, row, d, pid, numbers[pid])
            continue
        pid = pid_of[row.id]
        amount = row.amount + d.write_off
        applied = sum((a for _, a, _ in ln.plan), ZERO)
        number = pay.payment_number(pid, tx.now)
        if ln.plan:
            alloc_rows += [{"payment_id": pid, "invoice_id": r.id, "amount": a, "date": row.booking_date}
                           for r, a, _ in ln.plan]
            invoice_rows += [{"iid": r.id, "amt": a, "st": st} for r, a, st in ln.plan]
            _orders_paid(tx, state, ln.plan, pid, number)
        else:
            tx.emit("payment.received", "internal", None, {"payment_id": pid, "number": number, "amount": str(amount)})
        bank = banks[row.bank_account_id]
        tx.post(entry_for_payment(tx.chart, row.booking_date, pid, number, amount, applied, d.customer_id, bank))
        allocs = [{"invoice_id": r.id, "amount": str(a)} for r, a, _ in ln.plan]
        tx.audit("payment.received", "payment", pid, None, {
            "number": number, "amount": str(amount), "applied": str(applied), "unapplied": str(amount - applied),
            "allocations": allocs})
        link_rows.append({"bank_line_id": row.id, "payment_id": pid, "refund_id": None, "amount": amount})
        doc = line_document(row.id, row.booking_date)
        if d.write_off:
            tx.post(build_entry(row.booking_date, "bank_line", row.id, doc, f"Bank fee on {doc}",
                                [(fees[d.write_off_account or ""], d.write_off), (bank, -d.write_off)],
                                d.customer_id))
        line_rows.append({"lid": row.id, "rl": d.rule or cm.MANUAL, "by": tx.actor, "at": tx.now, "pid": pid})
        _emit_matched(tx, row, d, pid, number)
    if alloc_rows:
        c.execute(insert(allocations), alloc_rows)
        c.execute(_pay_invoice, invoice_rows)
    changed = [o for o in state.values() if o.paid]
    if changed:
        c.execute(_pay_order, [{"oid": o.row.id, "amt": o.paid, "st": o.statuses[0], "fs": o.statuses[1],
                                "ps": o.statuses[2]} for o in changed])
    c.execute(insert(links), link_rows)
    c.execute(_line_matched, line_rows)
    return sorted(ln.row.id for ln in [*todo, *linked]), back


def _emit_matched(tx: Tx, row: Any, d: cm.Decision, pid: int, number: str) -> None:
    data = {"line_id": row.id, "statement_id": row.statement_id, "rule": d.rule, "amount": str(row.amount),
            "payment_ids": [pid], "refund_id": None}
    tx.emit("bank_line.matched", "internal", None, data)
    tx.audit("bank_line.matched", "bank_line", row.id, {"status": row.status}, {
        **data, "status": "matched", "reason": d.reason, "write_off": str(d.write_off), "payments": [number]})


def _linkable(tx: Tx, lines: list[_Line], back: list[tuple[Any, cm.Decision]]) -> tuple[list[_Line], dict[int, str]]:
    """Of the lines reporting a payment booked before, those whose payment is
    (still) received, of the line's amount, booked on the line's bank account
    and reported by no other line; their payments held until commit. The
    others are handed back (``bankmatch._link_payment`` says why)."""
    if not lines:
        return [], {}
    c = tx.conn
    pays: dict[int, Any] = {}
    for ids in _chunks(ln.decision.payment_ids[0] for ln in lines):
        pays.update((r.id, r) for r in c.execute(
            select(payments.c.id, payments.c.amount, payments.c.currency, payments.c.status, payments.c.created_at)
            .where(_among(c, payments.c.id, ids)).order_by(payments.c.id).with_for_update()))
    gl = dict(c.execute(select(bank_accounts.c.id, bank_accounts.c.gl_account)).all())
    on_bank: set[tuple[int, str]] = set()
    reported: set[int] = set()
    for ids in _chunks(pays):
        on_bank.update((r.source_id, r.account) for r in c.execute(
            select(entries.c.source_id, jlines.c.account).join(jlines, jlines.c.entry_id == entries.c.id)
            .where(entries.c.source_type == "payment", _among(c, entries.c.source_id, ids), jlines.c.debit > 0)))
        reported.update(c.execute(select(links.c.payment_id).where(_among(c, links.c.payment_id, ids))).scalars())
        reported.update(c.execute(select(bank_lines.c.payment_id).where(_among(c, bank_lines.c.payment_id, ids)))
                        .scalars())
    kept, numbers, taken = [], {}, set()
    for ln in lines:
        pid = ln.decision.payment_ids[0]
        p = pays.get(pid)
        if (p is None or p.status != "received" or p.amount != ln.row.amount or p.currency != ln.row.currency
                or pid in reported or pid in taken
                or (pid, gl.get(ln.row.bank_account_id)) not in on_bank):
            back.append((ln.row, ln.decision))
            continue
        taken.add(pid)
        numbers[pid] = pay.payment_number(pid, p.created_at)
        kept.append(ln)
    return kept, numbers


def _orders_paid(tx: Tx, state: dict[int, _Order], plan: list[tuple[Any, Decimal, str]], pid: int,
                 number: str) -> None:
    """What ``payments._update_orders`` does for one payment, on the orders'
    running state."""
    per_order: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for i, a, _ in plan:
        per_order[i.order_id] += a
    for oid in sorted(per_order):
        o = state[oid]
        new = pay.order_paid(tx, o.row, o.statuses, o.amount_paid, per_order[oid], plan, pid, number)
        o.amount_paid += per_order[oid]
        o.paid += per_order[oid]
        o.statuses = (new.status, new.fulfillment_status, new.payment_status)
