"""Orders: create, confirm, cancel, read. Confirmation reserves stock for every
line or for none (SPEC.md §2)."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import (
    Conflict, CreditLimitExceeded, InvalidTransition, NotFound, OutOfStock, ValidationFailed,
)
from o2c.domain.money import ZERO, document_totals, line_net
from o2c.domain.states import LineProgress, derive_order_statuses, order_transition
from o2c.services.uow import Tx, dialect_insert

orders = m.Order.__table__
lines = m.OrderLine.__table__
products = m.Product.__table__
stock = m.Stock.__table__
customers = m.Customer.__table__
invoices = m.Invoice.__table__
shipments = m.Shipment.__table__

FUNCTIONAL_CURRENCY = "EUR"

# Reserve only what is available, in one conditional statement: two
# confirmations racing for the last units cannot both succeed.
_reserve = (
    update(stock)
    .where(stock.c.product_id == bindparam("pid"),
           stock.c.on_hand - stock.c.reserved >= bindparam("qty"))
    .values(reserved=stock.c.reserved + bindparam("qty"))
)
_release = (
    update(stock)
    .where(stock.c.product_id == bindparam("pid"))
    .values(reserved=stock.c.reserved - bindparam("qty"))
)

ORDER_COLS = [
    orders.c.id, orders.c.number, orders.c.status, orders.c.fulfillment_status,
    orders.c.payment_status, orders.c.channel, orders.c.external_ref, orders.c.customer_id,
    orders.c.currency, orders.c.shipping_address, orders.c.net_total, orders.c.vat_total,
    orders.c.total, orders.c.invoiced_total, orders.c.amount_paid, orders.c.created_at,
    orders.c.confirmed_at,
]


def load_order(tx: Tx, order_id: int, principal: Principal, *, lock: bool = False) -> Row[Any]:
    """The order row, if this principal may see it (another channel's is not found)."""
    q = select(*ORDER_COLS).where(orders.c.id == order_id)
    if lock:
        q = q.with_for_update()
    row = tx.conn.execute(q).first()
    scope = principal.channel_scope
    if row is None or (scope is not None and row.channel != scope):
        raise NotFound(f"No order with id {order_id}.")
    return row


# -- create --------------------------------------------------------------------

def _resolve_customer(tx: Tx, ref: dict[str, Any]) -> Row[Any]:
    cols = [customers.c.id, customers.c.currency, customers.c.credit_limit,
            customers.c.shipping_address, customers.c.billing_address]
    if ref.get("id") is not None:
        row = tx.conn.execute(select(*cols).where(customers.c.id == ref["id"])).first()
    elif ref.get("name") is None:
        row = tx.conn.execute(select(*cols).where(customers.c.code == ref["code"])).first()
    else:
        # A full customer: an existing code is reused as it is (webshops send
        # the whole customer with every order); a new one is created.
        row = None
        if ref.get("code"):
            row = tx.conn.execute(select(*cols).where(customers.c.code == ref["code"])).first()
        if row is None:
            from o2c.services import catalog
            data = dict(ref)
            if not data.get("code"):
                data["code"] = f"C-{tx.now:%y%m%d%H%M%S%f}"
            created = catalog.create_customer(tx, data)
            row = tx.conn.execute(select(*cols).where(customers.c.id == created["id"])).first()
    if row is None:
        raise ValidationFailed("Unknown customer.", {"customer": [f"No customer matches {ref}."]})
    return row


def create_order(tx: Tx, principal: Principal, data: dict[str, Any]) -> int:
    customer = _resolve_customer(tx, data["customer"])
    currency = data.get("currency") or customer.currency
    if currency != FUNCTIONAL_CURRENCY:
        raise ValidationFailed(
            f"Orders in {currency} are not supported; use {FUNCTIONAL_CURRENCY}.",
            {"currency": [f"Must be {FUNCTIONAL_CURRENCY}."]},
        )
    req_lines = data["lines"]
    skus = {l["sku"] for l in req_lines}
    found = {
        r.sku: r for r in tx.conn.execute(
            select(products.c.id, products.c.sku, products.c.name, products.c.unit_price,
                   products.c.vat_rate, products.c.active).where(products.c.sku.in_(skus))
        )
    }
    errors: dict[str, Any] = {}
    for i, l in enumerate(req_lines):
        p = found.get(l["sku"])
        if p is None:
            errors[str(i)] = {"sku": [f"Unknown SKU {l['sku']!r}."]}
        elif not p.active:
            errors[str(i)] = {"sku": [f"Product {l['sku']!r} is not active."]}
    if errors:
        raise ValidationFailed("Some order lines are invalid.", {"lines": errors})

    line_rows = []
    for i, l in enumerate(req_lines, start=1):
        p = found[l["sku"]]
        price = l.get("unit_price")
        price = p.unit_price if price is None else price
        discount = l.get("discount") or ZERO
        line_rows.append({
            "line_no": i, "product_id": p.id, "sku": p.sku, "description": p.name,
            "quantity": l["quantity"], "unit_price": price, "discount": discount,
            "vat_rate": p.vat_rate, "net": line_net(l["quantity"], price, discount),
        })
    totals = document_totals((r["net"], r["vat_rate"]) for r in line_rows)

    channel = principal.channel
    external_ref = data.get("external_ref")
    oid = tx.conn.execute(
        dialect_insert(tx.conn)(orders).values(
            channel=channel, external_ref=external_ref, customer_id=customer.id,
            currency=currency, status="draft", fulfillment_status="unfulfilled",
            payment_status="unpaid",
            shipping_address=data.get("shipping_address") or customer.shipping_address
            or customer.billing_address,
            net_total=totals.net, vat_total=totals.vat, total=totals.gross,
            invoiced_total=ZERO, amount_paid=ZERO, created_at=tx.now,
        ).on_conflict_do_nothing().returning(orders.c.id)
    ).scalar()
    if oid is None:
        existing = tx.conn.execute(
            select(orders.c.id, orders.c.number)
            .where(orders.c.channel == channel, orders.c.external_ref == external_ref)
        ).one()
        raise Conflict(
            f"Order {existing.number} already has external_ref {external_ref!r} in channel {channel!r}.",
            {"order_id": existing.id, "number": existing.number},
        )
    number = f"SO-{tx.today.year}-{oid:06d}"
    tx.conn.execute(update(orders).where(orders.c.id == oid).values(number=number))
    for r in line_rows:
        r["order_id"] = oid
    tx.conn.execute(insert(lines), line_rows)
    tx.emit("order.created", channel, oid, {
        "order_id": oid, "number": number, "external_ref": external_ref,
        "status": "draft", "total": str(totals.gross),
    })
    tx.audit("order.created", "order", oid, None, {"status": "draft", "number": number, "total": str(totals.gross)})
    if data.get("confirm"):
        confirm_order(tx, oid, principal)
    return oid


# -- confirm / cancel ------------------------------------------------------------

def customer_exposure(tx: Tx, customer_id: int) -> Decimal:
    """Open receivables plus confirmed orders not yet invoiced."""
    open_ar = tx.conn.execute(
        select(func.coalesce(func.sum(invoices.c.total - invoices.c.amount_paid - invoices.c.credited_amount), 0))
        .where(invoices.c.customer_id == customer_id, invoices.c.status.in_(("open", "partially_paid")))
    ).scalar_one()
    uninvoiced = tx.conn.execute(
        select(func.coalesce(func.sum(orders.c.total - orders.c.invoiced_total), 0))
        .where(orders.c.customer_id == customer_id, orders.c.status == "confirmed",
               orders.c.total > orders.c.invoiced_total)
    ).scalar_one()
    return Decimal(open_ar) + Decimal(uninvoiced)


def confirm_order(tx: Tx, order_id: int, principal: Principal) -> None:
    o = load_order(tx, order_id, principal, lock=True)
    new_status = order_transition("confirm", o.status, o.number)

    limit = tx.conn.execute(
        select(customers.c.credit_limit).where(customers.c.id == o.customer_id).with_for_update()
    ).scalar()
    if limit is not None:
        exposure = customer_exposure(tx, o.customer_id)
        if exposure + o.total > limit:
            raise CreditLimitExceeded(
                f"Order {o.number} ({o.total}) would take the customer's exposure to "
                f"{exposure + o.total}, over the credit limit of {limit}.",
                {"credit_limit": str(limit), "exposure": str(exposure), "order_total": str(o.total)},
            )

    need: dict[int, int] = defaultdict(int)
    sku_of: dict[int, str] = {}
    for l in tx.conn.execute(select(lines.c.product_id, lines.c.sku, lines.c.quantity).where(lines.c.order_id == order_id)):
        need[l.product_id] += l.quantity
        sku_of[l.product_id] = l.sku
    short = []
    for pid in sorted(need):  # a fixed order, so concurrent confirmations cannot deadlock
        if tx.conn.execute(_reserve, {"pid": pid, "qty": need[pid]}).rowcount != 1:
            short.append(pid)
    if short:
        avail = dict(tx.conn.execute(
            select(stock.c.product_id, stock.c.on_hand - stock.c.reserved).where(stock.c.product_id.in_(short))
        ).all())
        details = [{"sku": sku_of[p], "requested": need[p], "available": max(int(avail.get(p, 0)), 0)} for p in short]
        raise OutOfStock(
            f"Not enough stock for {len(short)} line{'s' if len(short) != 1 else ''}",
            {"lines": details},
        )
    tx.conn.execute(update(lines).where(lines.c.order_id == order_id).values(reserved_quantity=lines.c.quantity))
    tx.conn.execute(update(orders).where(orders.c.id == order_id).values(status=new_status, confirmed_at=tx.now))
    tx.emit("order.confirmed", o.channel, order_id, {"order_id": order_id, "number": o.number, "status": new_status})
    tx.audit("order.confirmed", "order", order_id, {"status": o.status}, {"status": new_status})


def cancel_order(tx: Tx, order_id: int, principal: Principal) -> None:
    o = load_order(tx, order_id, principal, lock=True)
    new_status = order_transition("cancel", o.status, o.number)
    rows = tx.conn.execute(
        select(lines.c.product_id, lines.c.reserved_quantity, lines.c.packed_quantity, lines.c.shipped_quantity)
        .where(lines.c.order_id == order_id)
    ).all()
    if any(r.packed_quantity or r.shipped_quantity for r in rows):
        raise InvalidTransition(
            f"Cannot cancel order {o.number}: part of it is packed or shipped. "
            "Cancel its packed shipments first; shipped goods come back as a return.",
            {"status": o.status, "action": "cancel"},
        )
    release: dict[int, int] = defaultdict(int)
    for r in rows:
        if r.reserved_quantity:
            release[r.product_id] += r.reserved_quantity
    if release:
        tx.conn.execute(_release, [{"pid": p, "qty": q} for p, q in sorted(release.items())])
    tx.conn.execute(
        update(lines).where(lines.c.order_id == order_id)
        .values(reserved_quantity=0, cancelled_quantity=lines.c.quantity - lines.c.shipped_quantity)
    )
    tx.conn.execute(update(orders).where(orders.c.id == order_id).values(status=new_status))
    tx.emit("order.cancelled", o.channel, order_id, {"order_id": order_id, "number": o.number, "status": new_status})
    tx.audit("order.cancelled", "order", order_id, {"status": o.status}, {"status": new_status})


def refresh_statuses(tx: Tx, order_id: int) -> None:
    """Derive fulfilment and payment status (and completion) from the facts."""
    o = tx.conn.execute(
        select(orders.c.status, orders.c.fulfillment_status, orders.c.payment_status,
               orders.c.invoiced_total, orders.c.amount_paid, orders.c.channel, orders.c.number)
        .where(orders.c.id == order_id)
    ).one()
    progress = [
        LineProgress(*r) for r in tx.conn.execute(
            select(lines.c.quantity, lines.c.shipped_quantity, lines.c.invoiced_quantity,
                   lines.c.returned_quantity, lines.c.cancelled_quantity).where(lines.c.order_id == order_id)
        )
    ]
    new = derive_order_statuses(o.status, progress, o.invoiced_total, o.amount_paid)
    if new != (o.status, o.fulfillment_status, o.payment_status):
        tx.conn.execute(update(orders).where(orders.c.id == order_id).values(
            status=new.status, fulfillment_status=new.fulfillment_status, payment_status=new.payment_status))
        tx.audit("order.statuses", "order", order_id,
                 {"status": o.status, "fulfillment_status": o.fulfillment_status, "payment_status": o.payment_status},
                 new._asdict())
        if new.status == "completed" and o.status != "completed":
            tx.emit("order.completed", o.channel, order_id, {"order_id": order_id, "number": o.number})


# -- read ------------------------------------------------------------------------

LINE_COLS = [
    lines.c.order_id, lines.c.id, lines.c.line_no, lines.c.sku, lines.c.description, lines.c.quantity,
    lines.c.unit_price, lines.c.discount, lines.c.vat_rate, lines.c.net, lines.c.reserved_quantity,
    lines.c.packed_quantity, lines.c.shipped_quantity, lines.c.invoiced_quantity,
    lines.c.returned_quantity, lines.c.cancelled_quantity,
]


def _assemble(order_rows: list[Row[Any]], tx: Tx) -> list[dict[str, Any]]:
    """Orders with their lines, shipment and invoice ids, in four queries for any page."""
    if not order_rows:
        return []
    ids = [r.id for r in order_rows]
    by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for l in tx.conn.execute(select(*LINE_COLS).where(lines.c.order_id.in_(ids)).order_by(lines.c.order_id, lines.c.line_no)):
        d = l._asdict()
        by_order[d.pop("order_id")].append(d)
    ship_ids: dict[int, list[int]] = defaultdict(list)
    for s in tx.conn.execute(select(shipments.c.order_id, shipments.c.id).where(shipments.c.order_id.in_(ids)).order_by(shipments.c.id)):
        ship_ids[s.order_id].append(s.id)
    inv_ids: dict[int, list[int]] = defaultdict(list)
    for i in tx.conn.execute(select(invoices.c.order_id, invoices.c.id).where(invoices.c.order_id.in_(ids)).order_by(invoices.c.id)):
        inv_ids[i.order_id].append(i.id)
    result = []
    for r in order_rows:
        d = r._asdict()
        ls = by_order[r.id]
        d["lines"] = ls
        d["shipment_ids"] = ship_ids[r.id]
        d["invoice_ids"] = inv_ids[r.id]
        fully_invoiced = all(l["invoiced_quantity"] >= l["quantity"] - l["cancelled_quantity"] for l in ls)
        expected = d["invoiced_total"] if (fully_invoiced or r.status == "cancelled") else d["total"]
        d["balance_due"] = max(expected - d["amount_paid"], ZERO)
        result.append(d)
    return result


def get_order(tx: Tx, order_id: int, principal: Principal) -> dict[str, Any]:
    return _assemble([load_order(tx, order_id, principal)], tx)[0]


def list_orders(
    tx: Tx, principal: Principal, *, status: str | None = None, customer_id: int | None = None,
    external_ref: str | None = None, cursor: int | None = None, limit: int = 20,
) -> tuple[list[dict[str, Any]], int | None]:
    q = select(*ORDER_COLS).order_by(orders.c.id.desc()).limit(limit + 1)
    if principal.channel_scope is not None:
        q = q.where(orders.c.channel == principal.channel_scope)
    if status:
        q = q.where(orders.c.status == status)
    if customer_id is not None:
        q = q.where(orders.c.customer_id == customer_id)
    if external_ref:
        q = q.where(orders.c.external_ref == external_ref)
    if cursor is not None:
        q = q.where(orders.c.id < cursor)
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    return _assemble(page, tx), (page[-1].id if len(rows) > limit else None)
