"""Payment corrections: reversing a payment that did not arrive after all
(a returned direct debit, a bounced cheque, a bank line booked to the wrong
customer), and moving a customer's credit between invoices.

A customer's credit is the unapplied part of their payments. Applying it to
an invoice allocates that payment's money to the invoice (Dr customer credit /
Cr receivables); releasing it takes an allocation back (Dr receivables / Cr
customer credit). Allocations are append-only: taking one back is a negative
row dated the day it happened. Nothing posted is ever edited: each correction
is a new journal entry.

Reversing a payment undoes every application of its money, including credit
it left that was later applied to other invoices: the money never arrived, so
those invoices are owed again. A payment whose money went anywhere else (a
refund paid out of its credit) is refused; undo that first.

Locks (PostgreSQL): the orders of the invoices involved, in id order, then
the payment rows, in id order — after the order rows as everywhere else.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from o2c.db import models as m
from o2c.domain.errors import Conflict, CurrencyMismatch, InvalidTransition, NotFound, ValidationFailed
from o2c.domain.fx import FUNCTIONAL_CURRENCY, settled_value
from o2c.domain.money import ZERO
from o2c.domain.numbering import order_number
from o2c.domain.states import LineProgress, derive_order_statuses, invoice_status
from o2c.ledger.accounts import Account
from o2c.ledger.posting import (
    entry_for_credit_applied,
    entry_for_credit_released,
    entry_for_payment_reversal,
    entry_in_currency,
)
from o2c.services.cash.payments import (
    _given_invoices,
    _lock_orders_of_invoices,
    _orders_with_sums,
    cleared_value,
    credit_value_change,
    get_payment,
    payment_number,
)
from o2c.services.platform.uow import Tx

payments = m.Payment.__table__
allocations = m.PaymentAllocation.__table__
invoices = m.Invoice.__table__
orders = m.Order.__table__
customers = m.Customer.__table__

_payment = select(payments.c.id, payments.c.customer_id, payments.c.amount, payments.c.unapplied,
                  payments.c.status, payments.c.created_at, payments.c.currency,
                  payments.c.functional_amount).where(payments.c.id == bindparam("pid"))
_lock_payment = _payment.with_for_update()
bank_lines = m.BankLine.__table__
line_links = m.BankLineLink.__table__
_jlines = m.JournalLine.__table__
_entries = m.JournalEntry.__table__
_accounts = m.Account.__table__
#: The statement lines a payment came from (its link, or the line matched to it as recorded).
_lines_of_payment = (
    select(bank_lines.c.id, bank_lines.c.status).where(
        bank_lines.c.id.in_(select(line_links.c.bank_line_id).where(line_links.c.payment_id == bindparam("pid")))
        | (bank_lines.c.payment_id == bindparam("pid")))
    .order_by(bank_lines.c.id).with_for_update()
)
#: The GL account the payment's money was booked on (the debit of its entry in
#: the payment's currency: an exchange loss beside it is a functional line).
_bank_side_of_payment = (
    select(_accounts.c.code, _accounts.c.name, _accounts.c.type)
    .select_from(_jlines.join(_entries, _entries.c.id == _jlines.c.entry_id)
                 .join(_accounts, _accounts.c.code == _jlines.c.account))
    .where(_entries.c.source_type == "payment", _entries.c.source_id == bindparam("pid"), _jlines.c.debit > 0,
           _jlines.c.currency == bindparam("cur"))
    .limit(1)
)
_net_of_payment = (
    select(allocations.c.invoice_id, func.sum(allocations.c.amount).label("amount"))
    .where(allocations.c.payment_id == bindparam("pid")).group_by(allocations.c.invoice_id)
    .order_by(allocations.c.invoice_id)
)
_net_on_invoice = (
    select(allocations.c.payment_id, func.sum(allocations.c.amount).label("amount"))
    .join(payments, payments.c.id == allocations.c.payment_id)
    .where(allocations.c.invoice_id == bindparam("iid"), payments.c.status == "received")
    .group_by(allocations.c.payment_id).order_by(allocations.c.payment_id.desc())
)
_credit_payments = (
    select(payments.c.id, payments.c.unapplied, payments.c.received_on, payments.c.created_at)
    .where(payments.c.customer_id == bindparam("cid"), payments.c.unapplied > 0, payments.c.status == "received",
           payments.c.currency == bindparam("cur"))
    .order_by(payments.c.id).with_for_update()
)


def credit_payments(tx: Tx, customer_id: int, currency: str = FUNCTIONAL_CURRENCY) -> list[Any]:
    """The customer's received payments with unapplied credit in ``currency``
    (credit is kept per currency), oldest first, locked."""
    return tx.conn.execute(_credit_payments, {"cid": customer_id, "cur": currency}).all()


_lock_payments = (select(payments.c.id).where(payments.c.id.in_(bindparam("ids", expanding=True)))
                  .order_by(payments.c.id).with_for_update())
_insert_allocations = insert(allocations)
_change_unapplied = (
    update(payments).where(payments.c.id == bindparam("pid"))
    .values(unapplied=payments.c.unapplied + bindparam("amt", type_=payments.c.unapplied.type))
)
_mark_reversed = (
    update(payments).where(payments.c.id == bindparam("pid"))
    .values(status="reversed", unapplied=0, reversed_at=bindparam("at"), reversal_reason=bindparam("reason"))
)
_pay_invoice = (
    update(invoices).where(invoices.c.id == bindparam("iid"))
    .values(amount_paid=invoices.c.amount_paid + bindparam("amt", type_=invoices.c.amount_paid.type),
            status=bindparam("st"))
)
_pay_order = (
    update(orders).where(orders.c.id == bindparam("oid"))
    .values(amount_paid=orders.c.amount_paid + bindparam("amt", type_=orders.c.amount_paid.type),
            status=bindparam("st"), fulfillment_status=bindparam("fs"), payment_status=bindparam("ps"))
)


def _settle(tx: Tx, changes: dict[int, Decimal], event: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Change what invoices have been paid by (positive or negative amounts),
    their orders' money and derived statuses with them; the orders are locked.
    A completed order that is no longer paid is open (confirmed) again."""
    rows = {r.id: r for r in tx.conn.execute(_given_invoices, {"ids": sorted(changes)})}
    inv_updates, views = [], []
    per_order: dict[int, Decimal] = defaultdict(lambda: ZERO)
    paid_now: list[Any] = []
    for iid, delta in sorted(changes.items()):
        r = rows[iid]
        paid = r.amount_paid + delta
        st = invoice_status(r.total, paid, r.credited_amount)
        inv_updates.append({"iid": iid, "amt": delta, "st": st})
        per_order[r.order_id] += delta
        if st == "paid" and r.status != "paid":
            paid_now.append(r)
        if st != r.status:
            tx.audit("invoice.status", "invoice", iid, {"status": r.status}, {"status": st})
        views.append({"invoice_id": iid, "number": r.number, "order_id": r.order_id, "status": st,
                      "total": r.total, "amount_paid": paid,
                      "balance_due": r.total - paid - r.credited_amount, "change": delta})
    tx.conn.execute(_pay_invoice, inv_updates)
    order_updates = []
    for o in tx.conn.execute(_orders_with_sums, {"oids": sorted(per_order)}).all():
        paid = o.amount_paid + per_order[o.id]
        base = "confirmed" if o.status == "completed" else o.status
        new = derive_order_statuses(base, [LineProgress(*(int(x) for x in o[-5:]))], o.invoiced_total, paid)
        order_updates.append({"oid": o.id, "amt": per_order[o.id], "st": new.status,
                              "fs": new.fulfillment_status, "ps": new.payment_status})
        old = (o.status, o.fulfillment_status, o.payment_status)
        if tuple(new) != old:
            tx.audit("order.statuses", "order", o.id,
                     dict(zip(("status", "fulfillment_status", "payment_status"), old)), new._asdict())
        tx.emit(event, o.channel, o.id, {**data, "order_id": o.id, "amount": str(per_order[o.id])})
        for r in paid_now:
            if r.order_id == o.id:
                tx.emit("invoice.paid", o.channel, o.id, {"invoice_id": r.id, "number": r.number, "order_id": o.id})
        if new.status == "completed" and o.status != "completed":
            tx.emit("order.completed", o.channel, o.id, {"order_id": o.id, "number": order_number(o.id, o.created_at)})
    tx.conn.execute(_pay_order, order_updates)
    return views


# -- reversal --------------------------------------------------------------------

def reverse_payment(tx: Tx, payment_id: int, reason: str) -> dict[str, Any]:
    """Reverse a payment: every application of its money undone (negative
    allocations), its credit removed, Dr receivables and customer credit /
    Cr bank in a new entry dated today."""
    first = tx.conn.execute(_payment, {"pid": payment_id}).first()
    if first is None:
        raise NotFound(f"No payment with id {payment_id}.")
    number = payment_number(payment_id, first.created_at)
    touched = [r.invoice_id for r in tx.conn.execute(_net_of_payment, {"pid": payment_id}) if r.amount]
    if touched:
        tx.conn.execute(_lock_orders_of_invoices, {"ids": touched}).all()
    p = tx.conn.execute(_lock_payment, {"pid": payment_id}).one()
    if p.status == "reversed":
        raise InvalidTransition(f"Payment {number} is already reversed.", {"status": p.status, "action": "reverse"})
    net = {r.invoice_id: r.amount for r in tx.conn.execute(_net_of_payment, {"pid": payment_id}) if r.amount}
    if not set(net) <= set(touched):
        raise Conflict(f"Payment {number} was applied to another invoice meanwhile; try the reversal again.",
                       {"payment_id": payment_id})
    applied = sum(net.values(), ZERO)
    if applied + p.unapplied != p.amount:
        raise Conflict(
            f"Payment {number} cannot be reversed: {p.amount - applied - p.unapplied} of it was paid out "
            "(a refund). Reverse the refund first.",
            {"payment_id": payment_id, "amount": str(p.amount), "applied": str(applied),
             "unapplied": str(p.unapplied)})
    data = {"payment_id": payment_id, "number": number, "reason": reason}
    # In another currency, the receivables come back at the values they were
    # settled at (read before the settling changes them).
    owed_again = ZERO
    if p.currency != FUNCTIONAL_CURRENCY and net:
        before = {r.id: r for r in tx.conn.execute(_given_invoices, {"ids": sorted(net)})}
        owed_again = sum((-cleared_value(before[iid], -a) for iid, a in net.items()), ZERO)
    if net:
        tx.conn.execute(_insert_allocations, [
            {"payment_id": payment_id, "invoice_id": iid, "amount": -a, "date": tx.today}
            for iid, a in sorted(net.items())])
        _settle(tx, {iid: -a for iid, a in net.items()}, "payment.reversed", data)
    else:
        tx.emit("payment.reversed", "internal", None, {**data, "amount": str(p.amount)})
    tx.conn.execute(_mark_reversed, {"pid": payment_id, "at": tx.now, "reason": reason})
    side = tx.conn.execute(_bank_side_of_payment, {"pid": payment_id, "cur": p.currency}).first()
    bank = Account(side.code, side.name, side.type) if side is not None else None
    if p.currency == FUNCTIONAL_CURRENCY:
        tx.post(entry_for_payment_reversal(tx.chart, tx.today, payment_id, number, p.amount, applied,
                                           p.customer_id, bank))
    else:
        tx.post(entry_in_currency(
            tx.chart, tx.today, "payment_reversal", payment_id, number, f"Payment reversed {number}", p.currency,
            [("receivables", owed_again, applied),
             ("customer_credit", settled_value(p.functional_amount, p.amount, p.unapplied), p.unapplied),
             ("bank", -p.functional_amount, -p.amount)], p.customer_id, bank))
    _reopen_lines(tx, payment_id, number, reason)
    tx.audit("payment.reversed", "payment", payment_id,
             {"status": p.status, "unapplied": str(p.unapplied),
              "allocations": [{"invoice_id": i, "amount": str(a)} for i, a in sorted(net.items())]},
             {"status": "reversed", "unapplied": "0.00", "reason": reason})
    return get_payment(tx, payment_id)


def _reopen_lines(tx: Tx, payment_id: int, number: str, reason: str) -> None:
    """The statement line a reversed payment came from goes back to the
    worklist, unmatched and saying why. All of the line's links go: the other
    payments of a line split across customers stand, and the bank check lists
    them as bookings no line reports until the line is matched again."""
    for line in tx.conn.execute(_lines_of_payment, {"pid": payment_id}).all():
        said = f"Payment {number} reversed: {reason}"[:500]
        tx.conn.execute(delete(line_links).where(line_links.c.bank_line_id == line.id))
        tx.conn.execute(update(bank_lines).where(bank_lines.c.id == line.id).values(
            status="unmatched", rule=None, payment_id=None, journal_entry_id=None, suggestion=None,
            unmatched_reason=said, decided_by=tx.actor, decided_at=tx.now))
        tx.audit("bank_line.reopened", "bank_line", line.id, {"status": line.status, "payment_id": payment_id},
                 {"status": "unmatched", "reason": said})


# -- customer credit ---------------------------------------------------------------

def _invoice_of(tx: Tx, customer_id: int, invoice_id: int) -> Any:
    row = tx.conn.execute(_given_invoices, {"ids": [invoice_id]}).first()
    if row is None or row.customer_id != customer_id:
        raise NotFound(f"No invoice with id {invoice_id} for customer {customer_id}.", {"invoice_id": invoice_id})
    return row


def _check_customer(tx: Tx, customer_id: int) -> None:
    if tx.conn.execute(select(customers.c.id).where(customers.c.id == customer_id)).first() is None:
        raise NotFound(f"No customer with id {customer_id}.")


def _apply(tx: Tx, customer_id: int, invoice_id: int, amount: Decimal,
           prefer: tuple[int, ...] = ()) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Apply ``amount`` of the customer's credit to an invoice (its order locked)."""
    inv = _invoice_of(tx, customer_id, invoice_id)
    balance = inv.total - inv.amount_paid - inv.credited_amount
    if amount > balance:
        raise Conflict(f"Invoice {inv.number} has {balance} open; cannot apply {amount} of credit to it.",
                       {"invoice_id": invoice_id, "balance_due": str(balance), "requested": str(amount)})
    rows = credit_payments(tx, customer_id, inv.currency)
    rank = {pid: i for i, pid in enumerate(prefer)}
    rows.sort(key=lambda r: (rank.get(r.id, len(rank)), r.received_on, r.id))
    available = sum((r.unapplied for r in rows), ZERO)
    if amount > available:
        raise Conflict(f"The customer has {available} of credit; cannot apply {amount}.",
                       {"credit": str(available), "requested": str(amount)})
    left, used = amount, []
    for r in rows:
        if left <= 0:
            break
        take = min(r.unapplied, left)
        left -= take
        used.append({"payment_id": r.id, "number": payment_number(r.id, r.created_at), "amount": take})
    tx.conn.execute(_change_unapplied, [{"pid": u["payment_id"], "amt": -u["amount"]} for u in used])
    tx.conn.execute(_insert_allocations, [{"payment_id": u["payment_id"], "invoice_id": invoice_id,
                                           "amount": u["amount"], "date": tx.today} for u in used])
    data = {"invoice_id": invoice_id, "invoice_number": inv.number,
            "payments": [{"payment_id": u["payment_id"], "amount": str(u["amount"])} for u in used]}
    view = _settle(tx, {invoice_id: amount}, "customer_credit.applied", data)[0]
    if inv.currency == FUNCTIONAL_CURRENCY:
        tx.post(entry_for_credit_applied(tx.chart, tx.today, invoice_id, inv.number, amount, customer_id))
    else:
        used_value = -credit_value_change(tx, [(u["payment_id"], u["amount"]) for u in used], -1)
        tx.post(entry_in_currency(
            tx.chart, tx.today, "credit_application", invoice_id, inv.number,
            f"Customer credit applied {inv.number}", inv.currency,
            [("customer_credit", used_value, amount), ("receivables", -cleared_value(inv, amount), -amount)],
            customer_id))
    tx.audit("customer_credit.applied", "invoice", invoice_id, {"amount_paid": str(inv.amount_paid)},
             {"amount_paid": str(inv.amount_paid + amount), **data})
    return view, used


def _release(tx: Tx, customer_id: int, invoice_id: int, amount: Decimal) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Take ``amount`` applied to an invoice back as credit, from the latest payments first."""
    inv = _invoice_of(tx, customer_id, invoice_id)
    net = [(r.payment_id, r.amount) for r in tx.conn.execute(_net_on_invoice, {"iid": invoice_id}) if r.amount > 0]
    applied = sum((a for _, a in net), ZERO)
    if amount > applied:
        raise Conflict(f"Only {applied} is applied to invoice {inv.number}; cannot release {amount}.",
                       {"invoice_id": invoice_id, "applied": str(applied), "requested": str(amount)})
    left, used = amount, []
    for pid, a in net:
        if left <= 0:
            break
        take = min(a, left)
        left -= take
        used.append({"payment_id": pid, "amount": take})
    tx.conn.execute(_lock_payments, {"ids": sorted(u["payment_id"] for u in used)}).all()
    tx.conn.execute(_change_unapplied, [{"pid": u["payment_id"], "amt": u["amount"]} for u in used])
    tx.conn.execute(_insert_allocations, [{"payment_id": u["payment_id"], "invoice_id": invoice_id,
                                           "amount": -u["amount"], "date": tx.today} for u in used])
    data = {"invoice_id": invoice_id, "invoice_number": inv.number,
            "payments": [{"payment_id": u["payment_id"], "amount": str(u["amount"])} for u in used]}
    view = _settle(tx, {invoice_id: -amount}, "customer_credit.released", data)[0]
    if inv.currency == FUNCTIONAL_CURRENCY:
        tx.post(entry_for_credit_released(tx.chart, tx.today, invoice_id, inv.number, amount, customer_id))
    else:
        credit_value = credit_value_change(tx, [(u["payment_id"], u["amount"]) for u in used], +1)
        tx.post(entry_in_currency(
            tx.chart, tx.today, "credit_release", invoice_id, inv.number,
            f"Customer credit released from {inv.number}", inv.currency,
            [("receivables", -cleared_value(inv, -amount), amount), ("customer_credit", -credit_value, -amount)],
            customer_id))
    tx.audit("customer_credit.released", "invoice", invoice_id, {"amount_paid": str(inv.amount_paid)},
             {"amount_paid": str(inv.amount_paid - amount), **data})
    return view, used


def _lock_for(tx: Tx, customer_id: int, *invoice_ids: int) -> None:
    _check_customer(tx, customer_id)
    for iid in invoice_ids:
        _invoice_of(tx, customer_id, iid)
    tx.conn.execute(_lock_orders_of_invoices, {"ids": sorted(set(invoice_ids))}).all()


def apply_credit(tx: Tx, customer_id: int, invoice_id: int, amount: Decimal) -> dict[str, Any]:
    """Apply the customer's credit to one of their invoices, oldest payments first."""
    _lock_for(tx, customer_id, invoice_id)
    view, _ = _apply(tx, customer_id, invoice_id, amount)
    return credit_view(tx, customer_id, [view])


def release_credit(tx: Tx, customer_id: int, invoice_id: int, amount: Decimal) -> dict[str, Any]:
    """Take money applied to an invoice back as the customer's credit."""
    _lock_for(tx, customer_id, invoice_id)
    view, _ = _release(tx, customer_id, invoice_id, amount)
    return credit_view(tx, customer_id, [view])


def reallocate_credit(tx: Tx, customer_id: int, from_invoice_id: int, to_invoice_id: int,
                      amount: Decimal) -> dict[str, Any]:
    """Move ``amount`` paid on one invoice to another of the same customer: the
    same payments' money, released and applied again in one transaction."""
    if from_invoice_id == to_invoice_id:
        raise ValidationFailed("Pick two different invoices.", {"to_invoice_id": ["Must differ from from_invoice_id."]})
    _lock_for(tx, customer_id, from_invoice_id, to_invoice_id)  # both orders, in id order, before any payment
    source_currency = _invoice_of(tx, customer_id, from_invoice_id).currency
    target_currency = _invoice_of(tx, customer_id, to_invoice_id).currency
    if source_currency != target_currency:
        raise CurrencyMismatch(
            f"Money paid in {source_currency} cannot move to an invoice in {target_currency}.",
            {"from_currency": source_currency, "to_currency": target_currency})
    source, used = _release(tx, customer_id, from_invoice_id, amount)
    target, _ = _apply(tx, customer_id, to_invoice_id, amount, prefer=tuple(u["payment_id"] for u in used))
    return credit_view(tx, customer_id, [source, target])


_credit_of = (
    select(payments.c.id, payments.c.amount, payments.c.unapplied, payments.c.received_on, payments.c.created_at)
    .where(payments.c.customer_id == bindparam("cid"), payments.c.unapplied > 0, payments.c.status == "received")
    .order_by(payments.c.received_on, payments.c.id)
)


def credit_view(tx: Tx, customer_id: int, changed: list[dict[str, Any]] | None = None,
                currency: str | None = None) -> dict[str, Any]:
    """The customer's credit (in ``currency`` only, when given): the payments
    with money left, and the invoices a correction just changed."""
    if changed is None:
        _check_customer(tx, customer_id)
    q = _credit_of if currency is None else _credit_of.where(payments.c.currency == currency)
    rows = tx.conn.execute(q, {"cid": customer_id}).all()
    return {
        "customer_id": customer_id,
        "credit": sum((r.unapplied for r in rows), ZERO),
        "payments": [{"payment_id": r.id, "number": payment_number(r.id, r.created_at), "amount": r.amount,
                      "received_on": r.received_on, "unapplied": r.unapplied} for r in rows],
        "invoices": changed or [],
    }
