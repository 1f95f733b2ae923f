"""Payments received: allocated to open invoices (oldest first unless told),
the excess kept as the customer's unapplied credit."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from o2c.db import models as m
from o2c.domain.errors import Conflict, NotFound, ValidationFailed
from o2c.domain.money import ZERO
from o2c.domain.states import invoice_status
from o2c.ledger.posting import entry_for_payment
from o2c.services.orders import FUNCTIONAL_CURRENCY, refresh_statuses
from o2c.services.uow import Tx, dialect_insert

payments = m.Payment.__table__
allocations = m.PaymentAllocation.__table__
invoices = m.Invoice.__table__
orders = m.Order.__table__
customers = m.Customer.__table__

_apply_to_invoice = (
    update(invoices).where(invoices.c.id == bindparam("iid"))
    .values(amount_paid=invoices.c.amount_paid + bindparam("amt"), status=bindparam("st"))
)
_apply_to_order = (
    update(orders).where(orders.c.id == bindparam("oid"))
    .values(amount_paid=orders.c.amount_paid + bindparam("amt"))
)
OPEN = ("open", "partially_paid")


def record_payment(tx: Tx, data: dict[str, Any]) -> int:
    customer_id = data["customer_id"]
    if tx.conn.execute(select(customers.c.id).where(customers.c.id == customer_id)).scalar() is None:
        raise ValidationFailed("Unknown customer.", {"customer_id": [f"No customer with id {customer_id}."]})
    if data["currency"] != FUNCTIONAL_CURRENCY:
        raise ValidationFailed(f"Payments in {data['currency']} are not supported.",
                               {"currency": [f"Must be {FUNCTIONAL_CURRENCY}."]})
    amount: Decimal = data["amount"]
    received_on = data["received_on"]
    tx.check_period_open(received_on)

    pid = tx.conn.execute(
        dialect_insert(tx.conn)(payments).values(
            customer_id=customer_id, amount=amount, currency=data["currency"], received_on=received_on,
            method=data["method"], reference=data["reference"], unapplied=amount, created_at=tx.now,
        ).on_conflict_do_nothing().returning(payments.c.id)
    ).scalar()
    if pid is None:
        existing = tx.conn.execute(
            select(payments.c.id, payments.c.number).where(payments.c.reference == data["reference"])
        ).one()
        raise Conflict(
            f"Bank reference {data['reference']!r} is already recorded as payment {existing.number}.",
            {"payment_id": existing.id, "number": existing.number},
        )
    number = f"PAY-{tx.today.year}-{pid:06d}"

    plan = _plan_allocations(tx, customer_id, amount, data.get("allocations"))
    applied = sum((a for _, _, a, _ in plan), ZERO)
    if plan:
        tx.conn.execute(_apply_to_invoice, [{"iid": i.id, "amt": a, "st": st} for i, _, a, st in plan])
        tx.conn.execute(insert(allocations), [
            {"payment_id": pid, "invoice_id": i.id, "amount": a, "date": received_on} for i, _, a, _ in plan
        ])
        per_order: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for i, _, a, _ in plan:
            per_order[i.order_id] += a
        tx.conn.execute(_apply_to_order, [{"oid": o, "amt": a} for o, a in sorted(per_order.items())])
    tx.conn.execute(update(payments).where(payments.c.id == pid).values(number=number, unapplied=amount - applied))
    tx.post(entry_for_payment(tx.chart, received_on, pid, number, amount, applied, customer_id))

    channels = {}
    if plan:
        channels = dict(tx.conn.execute(
            select(orders.c.id, orders.c.channel).where(orders.c.id.in_({i.order_id for i, *_ in plan}))
        ).all())
    for order_id in sorted({i.order_id for i, *_ in plan}):
        refresh_statuses(tx, order_id)
        tx.emit("payment.received", channels[order_id], order_id, {
            "payment_id": pid, "number": number, "order_id": order_id,
            "amount": str(sum((a for i, _, a, _ in plan if i.order_id == order_id), ZERO)),
        })
    for i, _, a, st in plan:
        if st == "paid":
            tx.emit("invoice.paid", channels[i.order_id], i.order_id,
                    {"invoice_id": i.id, "number": i.number, "order_id": i.order_id})
    if not plan:
        tx.emit("payment.received", "internal", None, {"payment_id": pid, "number": number, "amount": str(amount)})
    tx.audit("payment.received", "payment", pid, None, {
        "number": number, "amount": str(amount), "applied": str(applied), "unapplied": str(amount - applied),
        "allocations": [{"invoice_id": i.id, "amount": str(a)} for i, _, a, _ in plan],
    })
    return pid


def _plan_allocations(
    tx: Tx, customer_id: int, amount: Decimal, requested: list[dict[str, Any]] | None
) -> list[tuple[Any, Decimal, Decimal, str]]:
    """(invoice, balance before, amount applied, new status) per invoice, with the
    invoices locked in id order so concurrent payments serialise on them."""
    cols = [invoices.c.id, invoices.c.number, invoices.c.order_id, invoices.c.customer_id, invoices.c.status,
            invoices.c.total, invoices.c.amount_paid, invoices.c.credited_amount, invoices.c.issue_date]
    plan = []
    if requested is None:
        rows = tx.conn.execute(
            select(*cols).where(invoices.c.customer_id == customer_id, invoices.c.status.in_(OPEN))
            .order_by(invoices.c.id).with_for_update()
        ).all()
        rows.sort(key=lambda r: (r.issue_date, r.id))  # oldest first
        left = amount
        for r in rows:
            if left <= 0:
                break
            balance = r.total - r.amount_paid - r.credited_amount
            take = min(balance, left)
            if take > 0:
                plan.append((r, balance, take, invoice_status(r.total, r.amount_paid + take, r.credited_amount)))
                left -= take
        return plan

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
    rows = {r.id: r for r in tx.conn.execute(
        select(*cols).where(invoices.c.id.in_(ids)).order_by(invoices.c.id).with_for_update()
    )}
    problems = []
    for a in requested:
        r = rows.get(a["invoice_id"])
        if r is None or r.customer_id != customer_id:
            raise NotFound(f"No invoice with id {a['invoice_id']} for customer {customer_id}.",
                           {"invoice_id": a["invoice_id"]})
        balance = r.total - r.amount_paid - r.credited_amount
        if a["amount"] > balance:
            problems.append({"invoice_id": r.id, "number": r.number, "requested": str(a["amount"]),
                             "balance_due": str(balance)})
            continue
        plan.append((r, balance, a["amount"], invoice_status(r.total, r.amount_paid + a["amount"], r.credited_amount)))
    if problems:
        raise Conflict("Allocation exceeds the open balance of "
                       f"{len(problems)} invoice{'s' if len(problems) > 1 else ''}.", {"allocations": problems})
    return plan


def get_payment(tx: Tx, payment_id: int) -> dict[str, Any]:
    row = tx.conn.execute(
        select(payments.c.id, payments.c.number, payments.c.customer_id, payments.c.amount, payments.c.currency,
               payments.c.received_on, payments.c.method, payments.c.reference, payments.c.unapplied,
               payments.c.created_at).where(payments.c.id == payment_id)
    ).first()
    if row is None:
        raise NotFound(f"No payment with id {payment_id}.")
    d = row._asdict()
    d["allocations"] = [
        {"invoice_id": a.invoice_id, "amount": a.amount}
        for a in tx.conn.execute(
            select(allocations.c.invoice_id, allocations.c.amount)
            .where(allocations.c.payment_id == payment_id).order_by(allocations.c.id)
        )
    ]
    return d
