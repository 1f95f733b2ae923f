"""Invoices: issued for exactly what shipped, numbered from a gapless series
in the transaction that posts them."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Row, bindparam, insert, select, update

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import Conflict, NotFound
from o2c.domain.fx import FUNCTIONAL_CURRENCY, Functional, functional_figures, minor_units
from o2c.domain.money import Totals, document_totals, line_net
from o2c.domain.states import derive_order_statuses, order_transition
from o2c.domain.tax import posting_roles, vat_rows
from o2c.ledger.posting import entry_for_invoice
from o2c.services.books import fx
from o2c.services.customers import records
from o2c.services.platform import jobs
from o2c.services.platform.company import Settings, company_settings, forget_settings  # noqa: F401
from o2c.services.platform.uow import Tx
from o2c.services.sales.tax import vat_view

orders = m.Order.__table__
lines = m.OrderLine.__table__
customers = m.Customer.__table__
company = m.Company.__table__
invoices = m.Invoice.__table__
invoice_lines = m.InvoiceLine.__table__
invoice_vat = m.InvoiceVat.__table__

_mark_invoiced = (
    update(lines).where(lines.c.id == bindparam("lid"))
    .values(invoiced_quantity=lines.c.invoiced_quantity + bindparam("qty"))
)


_insert_invoice = insert(invoices).returning(invoices.c.id)
_insert_invoice_lines = insert(invoice_lines)
_insert_invoice_vat = insert(invoice_vat)


RENDER_PDF_JOB = "invoice.render_pdf"


class Issued(NamedTuple):
    id: int
    number: str
    totals: Totals


def issue_invoice(
    tx: Tx, order: Any, items: Sequence[dict[str, Any]], shipment_id: int | None,
    prefix: str, payment_terms_days: int,
) -> Issued:
    """Invoice ``items`` (order lines with the ``quantity`` to invoice) and post it.

    The caller holds the order's lock and records the invoiced quantities.
    An invoice in another currency than the functional one freezes the
    issue date's rate (``fx.document_rate``) and carries its figures in the
    functional currency (``o2c.domain.fx.functional_figures``): the entry
    posts exactly those."""
    currency = order.currency
    places = 2 if currency == FUNCTIONAL_CURRENCY else minor_units(currency)
    inv_lines = [{
        "order_line_id": i["id"], "sku": i["sku"], "description": i["description"],
        "quantity": i["quantity"], "unit_price": i["unit_price"], "discount": i["discount"],
        "vat_rate": i["vat_rate"], "vat_category": i["vat_category"],
        "net": line_net(i["quantity"], i["unit_price"], i["discount"], places),
    } for i in items]
    totals = document_totals(((l["net"], l["vat_rate"]) for l in inv_lines), places)
    rows = vat_rows(((l["net"], l["vat_category"], l["vat_rate"]) for l in inv_lines), places)
    if currency == FUNCTIONAL_CURRENCY:
        rate = Decimal(1)
        func = Functional(tuple((v.net, v.vat) for v in rows), totals.net, totals.vat, totals.gross,
                          tuple(l["net"] for l in inv_lines))
    else:
        rate = fx.document_rate(tx, currency, tx.today).rate
        func = functional_figures([(v.net, v.vat) for v in rows], [l["net"] for l in inv_lines], rate, currency)
    for l, fnet in zip(inv_lines, func.lines):
        l["functional_net"] = fnet
    year = tx.today.year
    seq = tx.take_number(prefix, year)
    number = f"{prefix}-{year}-{seq:06d}"
    due = tx.today + dt.timedelta(days=payment_terms_days)
    iid = tx.conn.execute(_insert_invoice, {
        "number": number, "series": prefix, "year": year, "seq": seq, "order_id": order.id,
        "customer_id": order.customer_id, "shipment_id": shipment_id, "status": "open",
        "issue_date": tx.today, "due_date": due, "currency": order.currency,
        "net_total": totals.net, "vat_total": totals.vat, "total": totals.gross,
        "exchange_rate": rate, "functional_net_total": func.net, "functional_vat_total": func.vat,
        "functional_total": func.total,
        "amount_paid": 0, "credited_amount": 0, "created_at": tx.now,
        "tax_treatment": order.tax_treatment, "tax_country": order.tax_country, "buyer_vat_id": order.buyer_vat_id,
    }).scalar_one()
    for l in inv_lines:
        l["invoice_id"] = iid
    tx.conn.execute(_insert_invoice_lines, inv_lines)
    tx.conn.execute(_insert_invoice_vat, [
        {"invoice_id": iid, **v._asdict(), "functional_net": fn, "functional_vat": fv}
        for v, (fn, fv) in zip(rows, func.rows)
    ])
    roles = posting_roles(order.tax_treatment, order.tax_country)
    if currency == FUNCTIONAL_CURRENCY:
        tx.post(entry_for_invoice(tx.chart, tx.today, iid, number, totals.net, totals.vat, order.customer_id,
                                  roles.revenue, roles.vat))
    else:
        tx.post(entry_for_invoice(tx.chart, tx.today, iid, number, func.net, func.vat, order.customer_id,
                                  roles.revenue, roles.vat, foreign=(currency, totals.net, totals.vat)))
    tx.emit("invoice.issued", order.channel, order.id, {
        "invoice_id": iid, "number": number, "order_id": order.id, "total": str(totals.gross),
        "due_date": due.isoformat(),
    })
    tx.audit("invoice.issued", "invoice", iid, None, {"number": number, "total": str(totals.gross), "status": "open"})
    # The PDF is rendered by a worker after commit (o2c.services.platform.background),
    # never in this transaction: one insert here.
    jobs.enqueue(tx.conn, RENDER_PDF_JOB, {"invoice_id": iid}, key=f"invoice-pdf:{iid}", now=tx.now)
    return Issued(iid, number, totals)


def invoice_order(tx: Tx, order_id: int, principal: Principal) -> int:
    """Invoice what is shipped and not yet invoiced (the ``manual`` policy)."""
    from o2c.domain.numbering import order_number
    from o2c.services.sales.orders import DUE_IN_DAYS, load_order, order_lines, progress, record_progress
    o = load_order(tx, order_id, principal, lock=True, extra=[DUE_IN_DAYS])
    order_transition("invoice", o.status, order_number(o.id, o.created_at))
    tx.check_period_open(tx.today)
    ls = order_lines(tx, order_id)
    items = [{**l, "quantity": l["shipped_quantity"] - l["returned_quantity"] - l["invoiced_quantity"]}
             for l in ls if l["shipped_quantity"] - l["returned_quantity"] > l["invoiced_quantity"]]
    if not items:
        raise Conflict(f"Order {order_number(o.id, o.created_at)} has nothing shipped and not yet invoiced.",
                       {"order_id": order_id})
    issued = issue_invoice(tx, o, items, None, company_settings(tx).invoice_prefix, o.due_in_days)
    tx.conn.execute(_mark_invoiced, [{"lid": i["id"], "qty": i["quantity"]} for i in items])
    invoiced = {i["id"]: i["quantity"] for i in items}
    for l in ls:
        l["invoiced_quantity"] += invoiced.get(l["id"], 0)
    new = derive_order_statuses(o.status, progress(ls), o.invoiced_total + issued.totals.gross, o.amount_paid)
    record_progress(tx, o, new, invoiced_delta=issued.totals.gross)
    return issued.id


INVOICE_COLS = [
    invoices.c.id, invoices.c.number, invoices.c.order_id, invoices.c.customer_id,
    invoices.c.shipment_id, invoices.c.status, invoices.c.issue_date, invoices.c.due_date,
    invoices.c.currency, invoices.c.net_total, invoices.c.vat_total, invoices.c.total,
    invoices.c.amount_paid, invoices.c.credited_amount, invoices.c.tax_treatment, invoices.c.tax_country,
    invoices.c.buyer_vat_id, invoices.c.exchange_rate, invoices.c.functional_net_total,
    invoices.c.functional_vat_total, invoices.c.functional_total,
]


def _assemble(rows: list[Row[Any]], tx: Tx) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    ls: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for l in tx.conn.execute(
        select(invoice_lines.c.invoice_id, invoice_lines.c.sku, invoice_lines.c.description,
               invoice_lines.c.quantity, invoice_lines.c.unit_price, invoice_lines.c.discount,
               invoice_lines.c.vat_rate, invoice_lines.c.vat_category, invoice_lines.c.net)
        .where(invoice_lines.c.invoice_id.in_(ids)).order_by(invoice_lines.c.id)
    ):
        d = l._asdict()
        ls[d.pop("invoice_id")].append(d)
    raw: dict[int, list[Any]] = {i: [] for i in ids}
    for v in tx.conn.execute(select(invoice_vat).where(invoice_vat.c.invoice_id.in_(ids))):
        raw[v.invoice_id].append(v)
    foreign = {r.id for r in rows if r.currency != FUNCTIONAL_CURRENCY}
    vat = {i: vat_view(rs, i in foreign) for i, rs in raw.items()}
    out = []
    for r in rows:
        d = r._asdict()
        d["lines"] = ls[r.id]
        d["vat"] = vat[r.id]
        d["balance_due"] = r.total - r.amount_paid - r.credited_amount
        d["functional_currency"] = FUNCTIONAL_CURRENCY
        out.append(d)
    return out


def _visible(principal: Principal, q: Any) -> Any:
    scope = principal.channel_scope
    if scope is not None:
        q = q.join(orders, orders.c.id == invoices.c.order_id).where(orders.c.channel == scope)
    return q


def get_invoice(tx: Tx, invoice_id: int, principal: Principal) -> dict[str, Any]:
    row = tx.conn.execute(_visible(principal, select(*INVOICE_COLS).where(invoices.c.id == invoice_id))).first()
    if row is None:
        raise NotFound(f"No invoice with id {invoice_id}.")
    return _assemble([row], tx)[0]


def list_invoices(
    tx: Tx, principal: Principal, *, customer_id: int | None = None, status: str | None = None,
    overdue: bool = False, cursor: int | None = None, limit: int = 20,
) -> tuple[list[dict[str, Any]], int | None]:
    q = _visible(principal, select(*INVOICE_COLS)).order_by(invoices.c.id.desc()).limit(limit + 1)
    if customer_id is not None:
        if not records.may_use_customer(tx, principal, customer_id):
            return [], None
        q = q.where(invoices.c.customer_id == customer_id)
    if status:
        q = q.where(invoices.c.status == status)
    if overdue:
        q = q.where(invoices.c.status.in_(("open", "partially_paid")), invoices.c.due_date < tx.today)
    if cursor is not None:
        q = q.where(invoices.c.id < cursor)
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    return _assemble(page, tx), (page[-1].id if len(rows) > limit else None)


