"""Payments received: allocated to open invoices (oldest first unless told),
the excess kept as the customer's unapplied credit."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from o2c.db import models as m
from o2c.domain.allocation import oldest_first
from o2c.domain.errors import Conflict, CurrencyMismatch, NotFound, ValidationFailed
from o2c.domain.fx import check_amount, settled_value, to_functional
from o2c.domain.money import ZERO
from o2c.domain.numbering import document_number, order_number
from o2c.domain.states import LineProgress, OrderStatuses, derive_order_statuses, invoice_status
from o2c.ledger.accounts import CURRENCY_BANK, Account
from o2c.ledger.posting import entry_for_payment, entry_for_payment_in_currency
from o2c.services.books import fx
from o2c.services.platform.uow import Tx, insert_ignoring_conflicts, period_of
from o2c.services.sales.orders import FUNCTIONAL_CURRENCY, ORDER_COLS

payments = m.Payment.__table__
allocations = m.PaymentAllocation.__table__
invoices = m.Invoice.__table__
orders = m.Order.__table__
lines = m.OrderLine.__table__
customers = m.Customer.__table__

_apply_to_invoice = (
    update(invoices).where(invoices.c.id == bindparam("iid"))
    .values(amount_paid=invoices.c.amount_paid + bindparam("amt"), status=bindparam("st"))
)
_apply_to_order = (
    update(orders).where(orders.c.id == bindparam("oid"))
    .values(amount_paid=orders.c.amount_paid + bindparam("amt"), status=bindparam("st"),
            fulfillment_status=bindparam("fs"), payment_status=bindparam("ps"))
)
OPEN = ("open", "partially_paid")
EARLIEST_PAYMENT = dt.date(2000, 1, 1)
_INVOICE_COLS = [invoices.c.id, invoices.c.number, invoices.c.order_id, invoices.c.customer_id, invoices.c.status,
                 invoices.c.total, invoices.c.amount_paid, invoices.c.credited_amount, invoices.c.issue_date,
                 invoices.c.currency, invoices.c.functional_total]
_head = select(customers.c.id, Tx.period_closed_column).where(customers.c.id == bindparam("cid"))
_open_of_customer = (invoices.c.customer_id == bindparam("cid")) & invoices.c.status.in_(OPEN)
_given = invoices.c.id.in_(bindparam("ids", expanding=True))
_lock_orders_of_customer = (
    select(orders.c.id).where(orders.c.id.in_(select(invoices.c.order_id).where(_open_of_customer)))
    .order_by(orders.c.id).with_for_update()
)
_lock_orders_of_invoices = (
    select(orders.c.id).where(orders.c.id.in_(select(invoices.c.order_id).where(_given)))
    .order_by(orders.c.id).with_for_update()
)
_open_invoices = (select(*_INVOICE_COLS).where(_open_of_customer, invoices.c.currency == bindparam("cur"))
                  .order_by(invoices.c.issue_date, invoices.c.id))
_given_invoices = select(*_INVOICE_COLS).where(_given)
_insert_allocations = insert(allocations)
_sums = (
    select(lines.c.order_id, func.sum(lines.c.quantity).label("q"), func.sum(lines.c.shipped_quantity).label("s"),
           func.sum(lines.c.invoiced_quantity).label("i"), func.sum(lines.c.returned_quantity).label("r"),
           func.sum(lines.c.cancelled_quantity).label("c"))
    .where(lines.c.order_id.in_(bindparam("oids", expanding=True))).group_by(lines.c.order_id).subquery()
)
_orders_with_sums = (
    select(*ORDER_COLS, _sums.c.q, _sums.c.s, _sums.c.i, _sums.c.r, _sums.c.c)
    .join(_sums, _sums.c.order_id == orders.c.id).order_by(orders.c.id)
)


def bank_in(tx: Tx, currency: str) -> Account | None:
    """The GL account money in a foreign ``currency`` arrives on or leaves
    from when no statement line says which: that of the first bank account
    held in it (read with the chart, no statement of its own). None for the
    functional currency, or without such an account: the ``bank`` role's
    account then."""
    return tx.chart.get(CURRENCY_BANK + currency) if currency != FUNCTIONAL_CURRENCY else None


def payment_number(payment_id: int, created_at: Any) -> str:
    return document_number("PAY", created_at.year, payment_id)


def record_payment(tx: Tx, data: dict[str, Any]) -> dict[str, Any]:
    customer_id = data["customer_id"]
    received_on = data["received_on"]
    head = tx.conn.execute(_head, {"cid": customer_id, "period": period_of(received_on)}).first()
    if head is None:
        raise ValidationFailed("Unknown customer.", {"customer_id": [f"No customer with id {customer_id}."]})
    currency = data["currency"]
    if not EARLIEST_PAYMENT <= received_on <= tx.today + dt.timedelta(days=1):
        raise ValidationFailed(
            f"A payment received on {received_on.isoformat()} is out of range: not in the future, "
            f"not before {EARLIEST_PAYMENT.isoformat()}.",
            {"received_on": ["Must not be in the future."]})
    tx.note_period(received_on, head.period_closed_at)
    amount: Decimal = data["amount"]
    rate, functional = Decimal(1), amount
    if currency != FUNCTIONAL_CURRENCY:
        # The day's rate (one statement), and amounts the currency can hold.
        amount = check_amount(amount, currency)
        for i, a in enumerate(data.get("allocations") or ()):
            check_amount(a["amount"], currency, f"allocations.{i}.amount")
        rate = fx.document_rate(tx, currency, received_on).rate
        functional = to_functional(amount, rate, currency)

    plan = _plan_allocations(tx, customer_id, amount, data.get("allocations"), currency)
    applied = sum((a for _, a, _ in plan), ZERO)
    pid = tx.conn.execute(insert_ignoring_conflicts(tx.conn, payments, ("id",)), {
        "customer_id": customer_id, "amount": amount, "currency": currency, "received_on": received_on,
        "method": data["method"], "reference": data["reference"], "unapplied": amount - applied, "created_at": tx.now,
        "exchange_rate": rate, "functional_amount": functional,
    }).scalar()
    if pid is None:
        existing = tx.conn.execute(
            select(payments.c.id, payments.c.created_at).where(payments.c.reference == data["reference"])
        ).one()
        number = payment_number(existing.id, existing.created_at)
        raise Conflict(
            f"Bank reference “{data['reference']}” is already recorded as payment {number}.",
            {"payment_id": existing.id, "number": number},
        )
    number = payment_number(pid, tx.now)
    if plan:
        tx.conn.execute(_apply_to_invoice, [{"iid": i.id, "amt": a, "st": st} for i, a, st in plan])
        tx.conn.execute(_insert_allocations, [
            {"payment_id": pid, "invoice_id": i.id, "amount": a, "date": received_on} for i, a, _ in plan
        ])
        _update_orders(tx, plan, pid, number)
    else:
        tx.emit("payment.received", "internal", None, {"payment_id": pid, "number": number, "amount": str(amount)})
    if currency == FUNCTIONAL_CURRENCY:
        tx.post(entry_for_payment(tx.chart, received_on, pid, number, amount, applied, customer_id,
                                  data.get("bank_account")))
    else:
        tx.post(entry_for_payment_in_currency(
            tx.chart, received_on, pid, number, customer_id, currency, (amount, functional),
            (applied, sum((cleared_value(i, a) for i, a, _ in plan), ZERO)),
            (amount - applied, settled_value(functional, amount, amount - applied)),
            data.get("bank_account") or bank_in(tx, currency)))
    allocs = [{"invoice_id": i.id, "amount": a} for i, a, _ in plan]
    tx.audit("payment.received", "payment", pid, None, {
        "number": number, "amount": str(amount), "applied": str(applied), "unapplied": str(amount - applied),
        "allocations": [{"invoice_id": x["invoice_id"], "amount": str(x["amount"])} for x in allocs],
    })
    return {"id": pid, "number": number, "customer_id": customer_id, "amount": amount, "currency": currency,
            "received_on": received_on, "method": data["method"], "reference": data["reference"],
            "allocations": allocs, "unapplied": amount - applied, "created_at": tx.now, "status": "received",
            "reversed_at": None, "reversal_reason": None}


def _update_orders(tx: Tx, plan: list[tuple[Any, Decimal, str]], pid: int, number: str) -> None:
    """Money and derived statuses of the orders whose invoices were paid (their
    rows are locked by ``_plan_allocations``)."""
    per_order: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for i, a, _ in plan:
        per_order[i.order_id] += a
    rows = tx.conn.execute(_orders_with_sums, {"oids": sorted(per_order)}).all()
    updates = []
    for o in rows:
        new = order_paid(tx, o, (o.status, o.fulfillment_status, o.payment_status), o.amount_paid,
                         per_order[o.id], plan, pid, number)
        updates.append({"oid": o.id, "amt": per_order[o.id], "st": new.status, "fs": new.fulfillment_status,
                        "ps": new.payment_status})
    tx.conn.execute(_apply_to_order, updates)


def order_paid(tx: Tx, o: Any, before: tuple[str, str, str], paid_before: Decimal, amount: Decimal,
               plan: list[tuple[Any, Decimal, str]], pid: int, number: str) -> OrderStatuses:
    """``amount`` of a payment reaching order ``o`` (a row of
    ``_orders_with_sums``) that had ``before`` statuses and ``paid_before``:
    its new statuses (audited when they change) and the events."""
    new = derive_order_statuses(before[0], [LineProgress(*(int(x) for x in o[-5:]))], o.invoiced_total,
                                paid_before + amount)
    if tuple(new) != before:
        tx.audit("order.statuses", "order", o.id,
                 dict(zip(("status", "fulfillment_status", "payment_status"), before)), new._asdict())
    tx.emit("payment.received", o.channel, o.id, {
        "payment_id": pid, "number": number, "order_id": o.id, "amount": str(amount)})
    for i, _, st in plan:
        if i.order_id == o.id and st == "paid":
            tx.emit("invoice.paid", o.channel, o.id, {"invoice_id": i.id, "number": i.number, "order_id": o.id})
    if new.status == "completed" and before[0] != "completed":
        tx.emit("order.completed", o.channel, o.id, {"order_id": o.id, "number": order_number(o.id, o.created_at)})
    return new


def cleared_value(invoice: Any, amount: Decimal) -> Decimal:
    """The functional value by which paying ``amount`` more of an invoice
    lowers its receivable: the value of what is settled after, less the
    value of what was settled before (``o2c.domain.fx.settled_value``)."""
    settled = invoice.amount_paid + invoice.credited_amount
    return (settled_value(invoice.functional_total, invoice.total, settled + amount)
            - settled_value(invoice.functional_total, invoice.total, settled))


def credit_value_change(tx: Tx, changes: list[tuple[int, Decimal]], sign: int) -> Decimal:
    """The functional change of customer credit when the unapplied credit of
    payments changed by ``sign × amount`` each (read after the change): each
    payment's credit is worth its share of the payment's functional value."""
    if not changes:
        return ZERO
    rows = {r.id: r for r in tx.conn.execute(_credit_values, {"ids": sorted({p for p, _ in changes})})}
    total = ZERO
    for pid, amt in changes:
        r = rows[pid]
        total += (settled_value(r.functional_amount, r.amount, r.unapplied)
                  - settled_value(r.functional_amount, r.amount, r.unapplied - sign * amt))
    return total


_credit_values = select(payments.c.id, payments.c.amount, payments.c.functional_amount, payments.c.unapplied).where(
    payments.c.id.in_(bindparam("ids", expanding=True)))


def _plan_allocations(
    tx: Tx, customer_id: int, amount: Decimal, requested: list[dict[str, Any]] | None,
    currency: str = FUNCTIONAL_CURRENCY,
) -> list[tuple[Any, Decimal, str]]:
    """(invoice, amount applied, new invoice status) per invoice paid: only
    invoices in the payment's currency (another's, named: 422 ``currency_mismatch``)."""
    plan = []
    if requested is None:
        # Lock, in id order, the orders of the invoices this payment may touch.
        tx.conn.execute(_lock_orders_of_customer, {"cid": customer_id}).all()
        rows = tx.conn.execute(_open_invoices, {"cid": customer_id, "cur": currency}).all()
        return [(r, take, invoice_status(r.total, r.amount_paid + take, r.credited_amount))
                for r, take in oldest_first(((r, r.total - r.amount_paid - r.credited_amount) for r in rows), amount)]

    ids = [a["invoice_id"] for a in requested]
    if len(set(ids)) != len(ids):
        raise ValidationFailed("An invoice appears twice in allocations.",
                               {"allocations": ["Each invoice may appear once."]})
    total = sum((a["amount"] for a in requested), ZERO)
    if total > amount:
        raise ValidationFailed(
            f"Allocations ({total}) exceed the payment amount ({amount}).",
            {"allocations": [f"Allocations total {total}, more than the payment's {amount}."]},
        )
    tx.conn.execute(_lock_orders_of_invoices, {"ids": ids}).all()
    rows = {r.id: r for r in tx.conn.execute(_given_invoices, {"ids": ids})}
    problems = []
    for a in requested:
        r = rows.get(a["invoice_id"])
        if r is None or r.customer_id != customer_id:
            raise NotFound(f"No invoice with id {a['invoice_id']} for customer {customer_id}.",
                           {"invoice_id": a["invoice_id"]})
        if r.currency != currency:
            raise CurrencyMismatch(
                f"Invoice {r.number} is in {r.currency}, the payment in {currency}: a payment pays invoices "
                "in its own currency.", {"invoice_id": r.id, "invoice_currency": r.currency, "currency": currency})
        balance = r.total - r.amount_paid - r.credited_amount
        if a["amount"] > balance:
            problems.append({"invoice_id": r.id, "number": r.number, "requested": str(a["amount"]),
                             "balance_due": str(balance)})
            continue
        plan.append((r, a["amount"], invoice_status(r.total, r.amount_paid + a["amount"], r.credited_amount)))
    if problems:
        raise Conflict("Allocation exceeds the open balance of "
                       f"{len(problems)} invoice{'s' if len(problems) > 1 else ''}.", {"allocations": problems})
    return plan


def get_payment(tx: Tx, payment_id: int) -> dict[str, Any]:
    row = tx.conn.execute(
        select(payments.c.id, payments.c.customer_id, payments.c.amount, payments.c.currency,
               payments.c.received_on, payments.c.method, payments.c.reference, payments.c.unapplied,
               payments.c.created_at, payments.c.status, payments.c.reversed_at, payments.c.reversal_reason)
        .where(payments.c.id == payment_id)
    ).first()
    if row is None:
        raise NotFound(f"No payment with id {payment_id}.")
    d = row._asdict()
    d["number"] = payment_number(row.id, row.created_at)
    # What the payment pays now, per invoice (an application taken back is a
    # negative row, so the net is what counts).
    d["allocations"] = [
        {"invoice_id": a.invoice_id, "amount": a.amount}
        for a in tx.conn.execute(
            select(allocations.c.invoice_id, func.sum(allocations.c.amount).label("amount"))
            .where(allocations.c.payment_id == payment_id).group_by(allocations.c.invoice_id)
            .order_by(func.min(allocations.c.id))
        ) if a.amount
    ]
    return d
