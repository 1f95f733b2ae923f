"""After-sales: returns (RMA), credit notes, refunds and exchanges.

A return takes back shipped units of an order (never more than shipped minus
already returned). In one transaction it

- restocks the goods at the cost they left with (Dr inventory / Cr COGS), or
  writes them off as damaged (Dr inventory write-off / Cr COGS);
- issues a credit note, from its own gapless series, per invoice the returned
  units were invoiced on, at the prices and VAT they were invoiced at
  (Dr revenue, Dr VAT / Cr receivables);
- lets the credit note reduce the invoice's open balance; what it takes off
  an invoice already paid goes back to the paying payments as unapplied
  customer credit (a negative allocation; Dr receivables / Cr customer
  credit), and with ``refund: "bank"`` is paid back at once (a refund,
  Dr customer credit / Cr bank);
- with ``exchange``, creates the replacement order, linked to the return.

Locks follow the protocol of o2c.services.sales.orders: the order row first, then
stock rows in product id order, payments by id, the number counter last.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import Conflict, NotFound, ValidationFailed
from o2c.domain.fx import check_amount, minor_units, settled_value, to_functional
from o2c.domain.money import ZERO, Totals, line_net, share_of_value, spread
from o2c.domain.numbering import document_number, order_number
from o2c.domain.states import derive_order_statuses, invoice_status
from o2c.domain.tax import posting_roles, vat_rows
from o2c.ledger.posting import (
    entry_for_credit_note,
    entry_for_credit_note_in_currency,
    entry_for_credit_note_released,
    entry_in_currency,
    entry_for_refund,
    entry_for_return,
)
from o2c.services.books import fx
from o2c.services.cash import corrections
from o2c.services.cash import payments as cash
from o2c.services.customers import records
from o2c.services.platform import jobs
from o2c.services.platform.uow import Tx
from o2c.services.sales.tax import vat_view
from o2c.services.sales.orders import (
    FUNCTIONAL_CURRENCY,
    hand_over_freed_stock,
    load_order,
    order_lines,
    progress,
    record_progress,
)

orders = m.Order.__table__
lines = m.OrderLine.__table__
customers = m.Customer.__table__
company = m.Company.__table__
stock = m.Stock.__table__
movements = m.StockMovement.__table__
invoices = m.Invoice.__table__
invoice_lines = m.InvoiceLine.__table__
invoice_vat = m.InvoiceVat.__table__
payments = m.Payment.__table__
allocations = m.PaymentAllocation.__table__
returns = m.Return.__table__
return_lines = m.ReturnLine.__table__
credit_notes = m.CreditNote.__table__
cn_lines = m.CreditNoteLine.__table__
cn_vat = m.CreditNoteVat.__table__
refunds = m.Refund.__table__
refund_sources = m.RefundSource.__table__

REFUND_MODES = ("credit", "bank")

_line_costs = select(lines.c.id, lines.c.shipped_cost, lines.c.returned_cost).where(
    lines.c.order_id == bindparam("oid"))
_mark_returned = (
    update(lines).where(lines.c.id == bindparam("lid"))
    .values(returned_quantity=lines.c.returned_quantity + bindparam("qty"),
            returned_cost=lines.c.returned_cost + bindparam("cost", type_=lines.c.returned_cost.type),
            invoiced_quantity=lines.c.invoiced_quantity - bindparam("credited"))
)
_lock_stock = (
    select(stock.c.product_id).where(stock.c.product_id.in_(bindparam("pids", expanding=True)))
    .order_by(stock.c.product_id).with_for_update()
)
_stock_in = (
    update(stock).where(stock.c.product_id == bindparam("pid"))
    .values(on_hand=stock.c.on_hand + bindparam("qty"),
            value=stock.c.value + bindparam("cost", type_=stock.c.value.type))
)
_credit_invoice = (
    update(invoices).where(invoices.c.id == bindparam("iid"))
    .values(credited_amount=invoices.c.credited_amount + bindparam("cn", type_=invoices.c.credited_amount.type),
            amount_paid=invoices.c.amount_paid - bindparam("released", type_=invoices.c.amount_paid.type),
            status=bindparam("st"))
)
_payment_credit = (
    update(payments).where(payments.c.id == bindparam("pid"))
    .values(unapplied=payments.c.unapplied + bindparam("amt", type_=payments.c.unapplied.type))
)

RENDER_CREDIT_NOTE_JOB = "credit_note.render_pdf"


def return_number(return_id: int, created_at: Any) -> str:
    return document_number("RMA", created_at.year, return_id)


def refund_number(refund_id: int, created_at: Any) -> str:
    return document_number("RF", created_at.year, refund_id)


def credit_note_prefix(tx: Tx) -> str:
    return tx.conn.execute(select(company.c.credit_note_prefix).limit(1)).scalar() or "CN"


# -- the return -------------------------------------------------------------------

def _plan_lines(ls: list[dict[str, Any]], requested: list[dict[str, Any]], number: str) -> list[tuple[dict[str, Any], int]]:
    """(order line, quantity) per line the return takes, filling lines of a SKU
    in order; refuses unknown SKUs (422) and more than is returnable (409)."""
    on_order = {l["sku"] for l in ls}
    unknown = {str(i): {"sku": [f"SKU “{r['sku']}” is not on order {number}."]}
               for i, r in enumerate(requested) if r["sku"] not in on_order}
    if unknown:
        raise ValidationFailed("Some lines are not on this order.", {"lines": unknown})
    want: dict[str, int] = defaultdict(int)
    for r in requested:
        want[r["sku"]] += r["quantity"]
    plan, too_many = [], []
    for sku, qty in want.items():
        returnable = sum(l["shipped_quantity"] - l["returned_quantity"] for l in ls if l["sku"] == sku)
        if qty > returnable:
            too_many.append({"sku": sku, "requested": qty, "returnable": returnable})
            continue
        for l in ls:
            open_qty = l["shipped_quantity"] - l["returned_quantity"]
            if l["sku"] == sku and qty > 0 and open_qty > 0:
                take = min(qty, open_qty)
                plan.append((l, take))
                qty -= take
    if too_many:
        raise Conflict(f"Cannot return more than was shipped and not yet returned on order {number}.",
                       {"lines": too_many})
    return plan


def create_return(tx: Tx, order_id: int, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """Receive returned goods of an order; see the module docstring."""
    o = load_order(tx, order_id, principal, lock=True)
    number = order_number(o.id, o.created_at)
    tx.check_period_open(tx.today)
    restock = bool(data.get("restock", True))
    refund_mode = data.get("refund") or "credit"
    ls = order_lines(tx, order_id)
    costs = {r.id: r for r in tx.conn.execute(_line_costs, {"oid": order_id})}
    plan = _plan_lines(ls, data["lines"], number)

    # Units shipped but not yet invoiced come back first: they need no credit.
    items = []
    for l, qty in plan:
        c = costs[l["id"]]
        open_qty = l["shipped_quantity"] - l["returned_quantity"]
        cost = share_of_value(c.shipped_cost - c.returned_cost, qty, open_qty)
        uninvoiced = max(open_qty - l["invoiced_quantity"], 0)
        items.append({"line": l, "qty": qty, "cost": cost, "credited": max(qty - uninvoiced, 0)})
    total_cost = sum((i["cost"] for i in items), ZERO)

    rid = tx.conn.execute(insert(returns).returning(returns.c.id), {
        "order_id": order_id, "customer_id": o.customer_id, "status": "received", "restock": restock,
        "refund": refund_mode, "cost": total_cost, "exchange_order_id": None, "created_by": tx.actor,
        "created_at": tx.now,
    }).scalar_one()
    rma = return_number(rid, tx.now)
    tx.conn.execute(insert(return_lines), [
        {"return_id": rid, "order_line_id": i["line"]["id"], "product_id": i["line"]["product_id"],
         "sku": i["line"]["sku"], "quantity": i["qty"], "cost": i["cost"]} for i in items])
    tx.conn.execute(_mark_returned, [
        {"lid": i["line"]["id"], "qty": i["qty"], "cost": i["cost"], "credited": i["credited"]} for i in items])

    if restock:
        per_product: dict[int, list[Any]] = defaultdict(lambda: [0, ZERO])
        for i in items:
            per_product[i["line"]["product_id"]][0] += i["qty"]
            per_product[i["line"]["product_id"]][1] += i["cost"]
        tx.conn.execute(_lock_stock, {"pids": sorted(per_product)}).all()
        tx.conn.execute(_stock_in, [{"pid": p, "qty": q, "cost": v} for p, (q, v) in sorted(per_product.items())])
        tx.conn.execute(insert(movements), [
            {"product_id": p, "date": tx.today, "kind": "return", "quantity": q, "value": v,
             "document": rma, "source_id": rid} for p, (q, v) in sorted(per_product.items())])
        hand_over_freed_stock(tx, per_product)
    tx.post(entry_for_return(tx.chart, tx.today, rid, rma, total_cost, restock, o.customer_id))

    exchange = None
    if data.get("exchange"):
        exchange = _exchange(tx, principal, o, rma, data["exchange"])
        tx.conn.execute(update(returns).where(returns.c.id == rid).values(exchange_order_id=exchange["id"]))

    # The return first, then the credit notes and refunds it causes.
    summary = [{"sku": i["line"]["sku"], "quantity": i["qty"]} for i in items]
    payload = {"return_id": rid, "number": rma, "order_id": order_id, "lines": summary, "restock": restock,
               "refund": refund_mode, "exchange_order_id": exchange["id"] if exchange else None}
    tx.emit("return.received", o.channel, order_id, payload)

    credited = {i["line"]["id"]: i["credited"] for i in items if i["credited"]}
    issued = _credit_notes(tx, o, rid, credited, refund_mode) if credited else []
    cn_total = sum((c["total"] for c in issued), ZERO)
    released = sum((c["to_credit"] for c in issued), ZERO)
    refunded = sum((c["refunded"] for c in issued), ZERO)

    returned = {i["line"]["id"]: (i["qty"], i["credited"]) for i in items}
    for l in ls:
        q, cr = returned.get(l["id"], (0, 0))
        l["returned_quantity"] += q
        l["invoiced_quantity"] -= cr
    paid_after = o.amount_paid - released
    # Everything paid for the order went back (to the bank or as credit).
    full_refund = released > 0 and paid_after <= 0
    new = derive_order_statuses(o.status, progress(ls), o.invoiced_total - cn_total, paid_after,
                                refunded=full_refund)
    record_progress(tx, o, new, invoiced_delta=-cn_total, paid_delta=-released)

    tx.audit("return.received", "return", rid, None, {
        **payload, "credit_note_ids": [c["id"] for c in issued], "cost": str(total_cost),
        "credited": str(cn_total), "refunded": str(refunded)})
    return get_return(tx, rid, principal)


def _exchange(tx: Tx, principal: Principal, o: Row[Any], rma: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The replacement order of an exchange, for the same customer and address."""
    from o2c.services.sales.orders import create_order
    created = create_order(tx, principal, {
        "customer": {"id": o.customer_id}, "currency": o.currency, "lines": spec["lines"],
        "shipping_address": o.shipping_address, "confirm": bool(spec.get("confirm", True)),
        "external_ref": None,
    })
    tx.audit("order.exchange", "order", created["id"], None, {"exchange_for": rma, "original_order_id": o.id})
    return created


# -- credit notes ------------------------------------------------------------------

def _credit_notes(tx: Tx, o: Row[Any], return_id: int, credited: dict[int, int],
                  refund_mode: str) -> list[dict[str, Any]]:
    """One credit note per invoice the credited units were invoiced on, the
    latest invoices first."""
    inv_rows = tx.conn.execute(
        select(invoices.c.id, invoices.c.number, invoices.c.total, invoices.c.amount_paid,
               invoices.c.credited_amount, invoices.c.currency, invoices.c.tax_treatment,
               invoices.c.tax_country, invoices.c.buyer_vat_id, invoices.c.exchange_rate,
               invoices.c.functional_total)
        .where(invoices.c.order_id == o.id).order_by(invoices.c.id.desc())).all()
    ids = [r.id for r in inv_rows]
    # Payments a credit note may give money back to, locked now, before the
    # number counter (the lock protocol: the counter comes last).
    tx.conn.execute(select(payments.c.id).where(payments.c.id.in_(
        select(allocations.c.payment_id).where(allocations.c.invoice_id.in_(ids))))
        .order_by(payments.c.id).with_for_update()).all()
    ilines = tx.conn.execute(
        select(invoice_lines).where(invoice_lines.c.invoice_id.in_(ids), invoice_lines.c.order_line_id.in_(
            list(credited))).order_by(invoice_lines.c.id)).all()
    before = _credited_so_far(tx, ids)
    want = dict(credited)
    per_invoice: dict[int, list[tuple[Any, int]]] = defaultdict(list)
    for inv in inv_rows:
        for il in ilines:
            if il.invoice_id != inv.id or want.get(il.order_line_id, 0) <= 0:
                continue
            left = il.quantity - before["qty"].get((inv.id, il.id), 0)
            take = min(left, want[il.order_line_id])
            if take > 0:
                per_invoice[inv.id].append((il, take))
                want[il.order_line_id] -= take
    prefix = credit_note_prefix(tx)
    out = []
    for inv in inv_rows:
        if inv.id in per_invoice:
            out.append(_issue_credit_note(tx, o, inv, per_invoice[inv.id], before, return_id, refund_mode, prefix))
    return out


def _credited_so_far(tx: Tx, invoice_ids: list[int]) -> dict[str, dict[Any, Any]]:
    """Per invoice line: quantity and net already credited; per invoice and rate: net and VAT."""
    qty: dict[tuple[int, int], int] = defaultdict(int)
    net: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    il = invoice_lines
    for r in tx.conn.execute(
        select(credit_notes.c.invoice_id, il.c.id, cn_lines.c.quantity, cn_lines.c.net)
        .join(credit_notes, credit_notes.c.id == cn_lines.c.credit_note_id)
        .join(il, (il.c.invoice_id == credit_notes.c.invoice_id) & (il.c.order_line_id == cn_lines.c.order_line_id))
        .where(credit_notes.c.invoice_id.in_(invoice_ids))
    ):
        qty[(r[0], r[1])] += r[2]
        net[(r[0], r[1])] += r[3]
    rate_net: dict[tuple[int, Decimal], Decimal] = defaultdict(lambda: ZERO)
    rate_vat: dict[tuple[int, Decimal], Decimal] = defaultdict(lambda: ZERO)
    rate_fnet: dict[tuple[int, Decimal], Decimal] = defaultdict(lambda: ZERO)
    rate_fvat: dict[tuple[int, Decimal], Decimal] = defaultdict(lambda: ZERO)
    for r in tx.conn.execute(
        select(credit_notes.c.invoice_id, cn_vat.c.category, cn_vat.c.rate, cn_vat.c.net, cn_vat.c.vat,
               cn_vat.c.functional_net, cn_vat.c.functional_vat)
        .join(credit_notes, credit_notes.c.id == cn_vat.c.credit_note_id)
        .where(credit_notes.c.invoice_id.in_(invoice_ids))
    ):
        rate_net[(r[0], (r[1], r[2]))] += r[3]
        rate_vat[(r[0], (r[1], r[2]))] += r[4]
        rate_fnet[(r[0], (r[1], r[2]))] += r[5]
        rate_fvat[(r[0], (r[1], r[2]))] += r[6]
    return {"qty": qty, "net": net, "rate_net": rate_net, "rate_vat": rate_vat, "rate_fnet": rate_fnet,
            "rate_fvat": rate_fvat}


def _issue_credit_note(tx: Tx, o: Row[Any], inv: Row[Any], items: list[tuple[Any, int]],
                       before: dict[str, dict[Any, Any]], return_id: int, refund_mode: str,
                       prefix: str) -> dict[str, Any]:
    """Credit ``items`` (invoice line, quantity) of one invoice. A line or a
    rate credited in full takes exactly what is left of the invoice's figure,
    so crediting a whole invoice in parts leaves no cent behind — in the
    functional currency too: a credit note of an invoice in another currency
    takes the invoice's frozen rate, and a VAT row credited in full the rest
    of the row's functional figures."""
    foreign = inv.currency != FUNCTIONAL_CURRENCY
    places = minor_units(inv.currency) if foreign else 2
    rows = []
    for il, q in items:
        if before["qty"][(inv.id, il.id)] + q == il.quantity:
            net = il.net - before["net"][(inv.id, il.id)]
        else:
            net = line_net(q, il.unit_price, il.discount, places)
        rows.append({"order_line_id": il.order_line_id, "sku": il.sku, "description": il.description,
                     "quantity": q, "unit_price": il.unit_price, "discount": il.discount,
                     "vat_rate": il.vat_rate, "vat_category": il.vat_category, "net": net})
    # A credit note follows its invoice: the same treatment, categories and rates.
    invoice_rates = {(r.category, r.rate): r for r in
                     tx.conn.execute(select(invoice_vat).where(invoice_vat.c.invoice_id == inv.id))}
    by_rate, functional = [], []
    for v in vat_rows(((r["net"], r["vat_category"], r["vat_rate"]) for r in rows), places):
        key = (v.category, v.rate)
        done = before["rate_net"][(inv.id, key)] + v.net
        full = key in invoice_rates and done == invoice_rates[key].net
        vat = invoice_rates[key].vat - before["rate_vat"][(inv.id, key)] if full else v.vat
        by_rate.append(v._replace(vat=vat))
        if full:
            functional.append((invoice_rates[key].functional_net - before["rate_fnet"][(inv.id, key)],
                               invoice_rates[key].functional_vat - before["rate_fvat"][(inv.id, key)]))
        else:
            functional.append((to_functional(v.net, inv.exchange_rate, inv.currency),
                               to_functional(vat, inv.exchange_rate, inv.currency)))
    net_total = sum((v.net for v in by_rate), ZERO)
    vat_total = sum((v.vat for v in by_rate), ZERO)
    totals = Totals(net_total, vat_total, net_total + vat_total, ())
    fnet = sum((n for n, _ in functional), ZERO)
    fvat = sum((v for _, v in functional), ZERO)
    for r, share in zip(rows, spread(fnet, [r["net"] for r in rows])):
        r["functional_net"] = share

    open_balance = inv.total - inv.amount_paid - inv.credited_amount
    applied = min(totals.gross, open_balance)
    released = totals.gross - applied
    year = tx.today.year
    seq = tx.take_number(prefix, year)
    number = f"{prefix}-{year}-{seq:06d}"
    refunded = released if refund_mode == "bank" else ZERO
    cid = tx.conn.execute(insert(credit_notes).returning(credit_notes.c.id), {
        "number": number, "series": prefix, "year": year, "seq": seq, "invoice_id": inv.id, "order_id": o.id,
        "customer_id": o.customer_id, "return_id": return_id, "issue_date": tx.today, "currency": inv.currency,
        "net_total": totals.net, "vat_total": totals.vat, "total": totals.gross, "applied": applied,
        "to_credit": released, "refunded": refunded, "created_at": tx.now, "exchange_rate": inv.exchange_rate,
        "functional_net_total": fnet, "functional_vat_total": fvat, "functional_total": fnet + fvat,
        "tax_treatment": inv.tax_treatment, "tax_country": inv.tax_country, "buyer_vat_id": inv.buyer_vat_id,
    }).scalar_one()
    tx.conn.execute(insert(cn_lines), [{**r, "credit_note_id": cid} for r in rows])
    tx.conn.execute(insert(cn_vat), [{"credit_note_id": cid, **v._asdict(), "functional_net": fn,
                                      "functional_vat": fv} for v, (fn, fv) in zip(by_rate, functional)])
    new_status = invoice_status(inv.total, inv.amount_paid - released, inv.credited_amount + totals.gross)
    tx.conn.execute(_credit_invoice, {"iid": inv.id, "cn": totals.gross, "released": released, "st": new_status})
    roles = posting_roles(inv.tax_treatment, inv.tax_country)
    if not foreign:
        tx.post(entry_for_credit_note(tx.chart, tx.today, cid, number, totals.net, totals.vat, o.customer_id,
                                      roles.revenue, roles.vat))
    sources = _release_payments(tx, inv.id, released) if released else []
    if not foreign:
        tx.post(entry_for_credit_note_released(tx.chart, tx.today, cid, number, released, o.customer_id))
    else:
        # The receivable falls by the value of what the note settles at the
        # invoice's booked figures, the customer's credit rises by the value
        # of what it gives back at its payments' rates; what is left between
        # those and the note's own functional figures is an exchange difference.
        settled = inv.amount_paid + inv.credited_amount
        cleared = (settled_value(inv.functional_total, inv.total, settled + applied)
                   - settled_value(inv.functional_total, inv.total, settled))
        tx.post(entry_for_credit_note_in_currency(
            tx.chart, tx.today, cid, number, o.customer_id, inv.currency, (totals.net, fnet), (totals.vat, fvat),
            (applied, cleared), (released, cash.credit_value_change(tx, sources, +1)), roles.revenue, roles.vat))
    tx.emit("credit_note.issued", o.channel, o.id, {
        "credit_note_id": cid, "number": number, "invoice_id": inv.id, "invoice_number": inv.number,
        "order_id": o.id, "return_id": return_id, "total": str(totals.gross), "applied": str(applied), "to_credit": str(released)})
    # Its PDF is rendered after commit (o2c.services.platform.background), and
    # e-mailed from there to a customer who gets documents automatically.
    jobs.enqueue(tx.conn, RENDER_CREDIT_NOTE_JOB, {"credit_note_id": cid}, key=f"credit-note-pdf:{cid}", now=tx.now)
    tx.audit("credit_note.issued", "credit_note", cid, None, {
        "number": number, "invoice_id": inv.id, "total": str(totals.gross), "applied": str(applied),
        "to_credit": str(released)})
    tx.audit("invoice.credited", "invoice", inv.id,
             {"credited_amount": str(inv.credited_amount), "amount_paid": str(inv.amount_paid)},
             {"credited_amount": str(inv.credited_amount + totals.gross),
              "amount_paid": str(inv.amount_paid - released), "status": new_status})
    if refunded:
        _pay_refund(tx, o.customer_id, o.id, cid, refunded, inv.currency, "bank_transfer", o.channel, sources)
    return {"id": cid, "number": number, "total": totals.gross, "to_credit": released, "refunded": refunded}


def _release_payments(tx: Tx, invoice_id: int, amount: Decimal) -> list[tuple[int, Decimal]]:
    """Give ``amount`` of an invoice's payments back to them as unapplied
    credit, the latest payments first: negative allocations."""
    per_payment = tx.conn.execute(
        select(allocations.c.payment_id, func.sum(allocations.c.amount).label("amt"),
               func.max(allocations.c.id).label("last"))
        .where(allocations.c.invoice_id == invoice_id).group_by(allocations.c.payment_id)).all()
    taken: list[tuple[int, Decimal]] = []
    left = amount
    for p in sorted(per_payment, key=lambda r: r.last, reverse=True):
        if left <= 0:
            break
        take = min(left, p.amt)
        if take > 0:
            taken.append((p.payment_id, take))
            left -= take
    if left > 0:  # cannot happen while allocations and amount_paid agree
        raise Conflict(f"Invoice {invoice_id}: payments do not cover {amount}.", {"invoice_id": invoice_id})
    taken.sort()
    tx.conn.execute(insert(allocations), [
        {"payment_id": pid, "invoice_id": invoice_id, "amount": -amt, "date": tx.today} for pid, amt in taken])
    tx.conn.execute(_payment_credit, [{"pid": pid, "amt": amt} for pid, amt in taken])
    return taken


# -- refunds and customer credit ------------------------------------------------------

def _pay_refund(tx: Tx, customer_id: int, order_id: int | None, credit_note_id: int | None, amount: Decimal,
                currency: str, method: str, channel: str, sources: list[tuple[int, Decimal]]) -> dict[str, Any]:
    """Pay ``amount`` of customer credit back, drawn from ``sources`` (payment, amount)."""
    fid = tx.conn.execute(insert(refunds).returning(refunds.c.id), {
        "customer_id": customer_id, "order_id": order_id, "credit_note_id": credit_note_id, "amount": amount,
        "currency": currency, "paid_on": tx.today, "method": method, "created_at": tx.now,
    }).scalar_one()
    number = refund_number(fid, tx.now)
    tx.conn.execute(insert(refund_sources), [{"refund_id": fid, "payment_id": p, "amount": a} for p, a in sources])
    for p, a in sources:
        done = tx.conn.execute(
            update(payments).where(payments.c.id == p, payments.c.unapplied >= a)
            .values(unapplied=payments.c.unapplied - a)).rowcount
        if done != 1:
            raise Conflict(f"Payment {p} no longer has {a} of unapplied credit.", {"payment_id": p})
    if currency == FUNCTIONAL_CURRENCY:
        tx.post(entry_for_refund(tx.chart, tx.today, fid, number, amount, customer_id))
    else:
        # Paid out at today's rate, the credit taken at the values it was booked at.
        paid_out = to_functional(amount, fx.document_rate(tx, currency, tx.today).rate, currency)
        taken = -cash.credit_value_change(tx, sources, -1)
        # From the bank account held in the currency, whose statement reports it.
        tx.post(entry_in_currency(tx.chart, tx.today, "refund", fid, number, f"Refund paid {number}", currency,
                                  [("customer_credit", taken, amount), ("bank", -paid_out, -amount)], customer_id,
                                  cash.bank_in(tx, currency)))
    payload = {"refund_id": fid, "number": number, "customer_id": customer_id, "order_id": order_id,
               "credit_note_id": credit_note_id, "amount": str(amount)}
    tx.emit("refund.paid", channel, order_id, payload)
    tx.audit("refund.paid", "refund", fid, None, {**payload, "sources": [
        {"payment_id": p, "amount": str(a)} for p, a in sources]})
    return {"id": fid, "number": number}


def _take(credit: list[Row[Any]], amount: Decimal) -> list[tuple[int, Decimal]]:
    out, left = [], amount
    for p in credit:
        if left <= 0:
            break
        a = min(left, p.unapplied)
        out.append((p.id, a))
        left -= a
    return out


def refund_credit(tx: Tx, data: dict[str, Any]) -> dict[str, Any]:
    """Pay unapplied customer credit back to the customer's bank, oldest credit first."""
    customer_id, amount = data["customer_id"], data["amount"]
    if tx.conn.execute(select(customers.c.id).where(customers.c.id == customer_id)).first() is None:
        raise ValidationFailed("Unknown customer.", {"customer_id": [f"No customer with id {customer_id}."]})
    currency = data.get("currency", FUNCTIONAL_CURRENCY)
    if currency != FUNCTIONAL_CURRENCY:
        fx.require_enabled(tx, currency)
        check_amount(amount, currency)
    tx.check_period_open(tx.today)
    credit = corrections.credit_payments(tx, customer_id, currency)
    available = sum((p.unapplied for p in credit), ZERO)
    if amount > available:
        raise Conflict(f"Customer {customer_id} has {available} of unapplied credit, less than {amount}.",
                       {"available": str(available), "requested": str(amount)})
    made = _pay_refund(tx, customer_id, None, None, amount, currency,
                       data.get("method") or "bank_transfer", "internal", _take(credit, amount))
    return get_refund(tx, made["id"])


def apply_credit(tx: Tx, invoice_id: int, principal: Principal, amount: Decimal | None = None) -> int:
    """Pay an open invoice from the customer's unapplied credit, oldest credit
    first (Dr customer credit / Cr receivables): the customer-credit
    correction of ``o2c.services.cash.corrections``, by default for as much as
    both the balance and the credit allow. Returns the invoice id."""
    row = tx.conn.execute(select(invoices.c.order_id, invoices.c.customer_id, invoices.c.number, invoices.c.total,
                                 invoices.c.amount_paid, invoices.c.credited_amount, invoices.c.currency)
                          .where(invoices.c.id == invoice_id)).first()
    if row is None:
        raise NotFound(f"No invoice with id {invoice_id}.")
    load_order(tx, row.order_id, principal)  # a webshop key sees its own channel's only
    if amount is None:
        balance = row.total - row.amount_paid - row.credited_amount
        available = corrections.credit_view(tx, row.customer_id, currency=row.currency)["credit"]
        amount = min(balance, available)
        if amount <= 0:
            raise Conflict(f"Invoice {row.number} has nothing to pay from credit (balance {balance}, "
                           f"customer credit {available}).", {"balance_due": str(balance), "credit": str(available)})
    corrections.apply_credit(tx, row.customer_id, invoice_id, amount)
    return invoice_id


# -- reading ------------------------------------------------------------------------

def _return_visible(tx: Tx, return_id: int, principal: Principal) -> Row[Any]:
    row = tx.conn.execute(
        select(returns, orders.c.channel, orders.c.created_at.label("order_created_at"))
        .join(orders, orders.c.id == returns.c.order_id).where(returns.c.id == return_id)).first()
    scope = principal.channel_scope
    if row is None or (scope is not None and row.channel != scope):
        raise NotFound(f"No return with id {return_id}.")
    return row


def _return_views(tx: Tx, rows: list[Row[Any]]) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    ls: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for l in tx.conn.execute(select(return_lines).where(return_lines.c.return_id.in_(ids)).order_by(return_lines.c.id)):
        ls[l.return_id].append({"sku": l.sku, "quantity": l.quantity, "cost": l.cost})
    cns: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in tx.conn.execute(select(credit_notes.c.return_id, credit_notes.c.id, credit_notes.c.number,
                                    credit_notes.c.total).where(credit_notes.c.return_id.in_(ids))
                             .order_by(credit_notes.c.id)):
        cns[c.return_id].append({"id": c.id, "number": c.number, "total": c.total})
    ex_ids = [r.exchange_order_id for r in rows if r.exchange_order_id]
    ex_created = dict(tx.conn.execute(select(orders.c.id, orders.c.created_at).where(orders.c.id.in_(ex_ids))).all()) \
        if ex_ids else {}
    out = []
    for r in rows:
        out.append({
            "id": r.id, "number": return_number(r.id, r.created_at), "order_id": r.order_id,
            "order_number": order_number(r.order_id, r.order_created_at), "customer_id": r.customer_id,
            "status": r.status, "restock": r.restock, "refund": r.refund, "lines": ls[r.id], "cost": r.cost,
            "credit_note_ids": [c["id"] for c in cns[r.id]], "credit_notes": cns[r.id],
            "credited_total": sum((c["total"] for c in cns[r.id]), ZERO),
            "exchange_order_id": r.exchange_order_id,
            "exchange_order_number": order_number(r.exchange_order_id, ex_created[r.exchange_order_id])
            if r.exchange_order_id else None,
            "created_by": r.created_by, "created_at": r.created_at,
        })
    return out


def get_return(tx: Tx, return_id: int, principal: Principal) -> dict[str, Any]:
    return _return_views(tx, [_return_visible(tx, return_id, principal)])[0]


def list_returns(tx: Tx, principal: Principal, *, order_id: int | None = None, customer_id: int | None = None,
                 exchange_order_id: int | None = None, cursor: int | None = None,
                 limit: int = 20) -> tuple[list[dict[str, Any]], int | None]:
    q = (select(returns, orders.c.channel, orders.c.created_at.label("order_created_at"))
         .join(orders, orders.c.id == returns.c.order_id).order_by(returns.c.id.desc()).limit(limit + 1))
    if principal.channel_scope is not None:
        q = q.where(orders.c.channel == principal.channel_scope)
    if order_id is not None:
        q = q.where(returns.c.order_id == order_id)
    if exchange_order_id is not None:
        q = q.where(returns.c.exchange_order_id == exchange_order_id)
    if customer_id is not None:
        if not records.may_use_customer(tx, principal, customer_id):
            return [], None
        q = q.where(returns.c.customer_id == customer_id)
    if cursor is not None:
        q = q.where(returns.c.id < cursor)
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    return _return_views(tx, page), (page[-1].id if len(rows) > limit else None)


CN_COLS = [c for c in credit_notes.c if c.name not in ("series", "year", "seq")]


def _cn_views(tx: Tx, rows: list[Row[Any]]) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    ls: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for l in tx.conn.execute(select(cn_lines).where(cn_lines.c.credit_note_id.in_(ids)).order_by(cn_lines.c.id)):
        ls[l.credit_note_id].append({"sku": l.sku, "description": l.description, "quantity": l.quantity,
                                     "unit_price": l.unit_price, "discount": l.discount, "vat_rate": l.vat_rate,
                                     "vat_category": l.vat_category, "net": l.net})
    raw: dict[int, list[Any]] = defaultdict(list)
    for v in tx.conn.execute(select(cn_vat).where(cn_vat.c.credit_note_id.in_(ids))):
        raw[v.credit_note_id].append(v)
    foreign = {r.id for r in rows if r.currency != FUNCTIONAL_CURRENCY}
    vat = {i: vat_view(raw[i], i in foreign) for i in ids}
    inv_numbers = dict(tx.conn.execute(select(invoices.c.id, invoices.c.number).where(
        invoices.c.id.in_({r.invoice_id for r in rows}))).all())
    out = []
    for r in rows:
        d = {c.name: getattr(r, c.name) for c in CN_COLS}
        d["invoice_number"] = inv_numbers.get(r.invoice_id)
        d["functional_currency"] = FUNCTIONAL_CURRENCY
        d["lines"] = ls[r.id]
        d["vat"] = vat[r.id]
        out.append(d)
    return out


def _cn_query(principal: Principal) -> Any:
    q = select(*CN_COLS)
    if principal.channel_scope is not None:
        q = q.join(orders, orders.c.id == credit_notes.c.order_id).where(orders.c.channel == principal.channel_scope)
    return q


def get_credit_note(tx: Tx, credit_note_id: int, principal: Principal) -> dict[str, Any]:
    row = tx.conn.execute(_cn_query(principal).where(credit_notes.c.id == credit_note_id)).first()
    if row is None:
        raise NotFound(f"No credit note with id {credit_note_id}.")
    return _cn_views(tx, [row])[0]


def list_credit_notes(tx: Tx, principal: Principal, *, customer_id: int | None = None,
                      invoice_id: int | None = None, order_id: int | None = None, cursor: int | None = None,
                      limit: int = 20) -> tuple[list[dict[str, Any]], int | None]:
    q = _cn_query(principal).order_by(credit_notes.c.id.desc()).limit(limit + 1)
    if customer_id is not None:
        if not records.may_use_customer(tx, principal, customer_id):
            return [], None
        q = q.where(credit_notes.c.customer_id == customer_id)
    if invoice_id is not None:
        q = q.where(credit_notes.c.invoice_id == invoice_id)
    if order_id is not None:
        q = q.where(credit_notes.c.order_id == order_id)
    if cursor is not None:
        q = q.where(credit_notes.c.id < cursor)
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    return _cn_views(tx, page), (page[-1].id if len(rows) > limit else None)


def get_refund(tx: Tx, refund_id: int) -> dict[str, Any]:
    row = tx.conn.execute(select(refunds).where(refunds.c.id == refund_id)).first()
    if row is None:
        raise NotFound(f"No refund with id {refund_id}.")
    d = row._asdict()
    d["number"] = refund_number(row.id, row.created_at)
    d["sources"] = [{"payment_id": s.payment_id, "amount": s.amount} for s in tx.conn.execute(
        select(refund_sources).where(refund_sources.c.refund_id == refund_id).order_by(refund_sources.c.payment_id))]
    return d
