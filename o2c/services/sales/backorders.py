"""Backorders: confirmed quantities of orders that allow them, waiting for
stock. A goods receipt reserves what it brings for the lines waiting for that
SKU, oldest confirmation first, in the receipt's own transaction. Stock freed
by a cancellation or a restocked return is handed over the same way by the
``backorders.hand_over`` job its transaction queues (:func:`hand_over`).

Locks (PostgreSQL; see o2c.services.sales.orders): order rows come before stock
rows. A receipt therefore first finds the orders waiting for the SKU and locks
them in id order, then locks the stock row, then looks again: an order that
started waiting in the meantime (its confirmation committed while the receipt
waited for the stock row) is locked with SKIP LOCKED, never waiting with a
stock row held, so no circle of waits can form. An order skipped that way (it
is busy in another transaction right now) keeps waiting for the next receipt.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, update

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.numbering import order_number
from o2c.services.customers import records
from o2c.services.platform.uow import Tx

orders = m.Order.__table__
lines = m.OrderLine.__table__
customers = m.Customer.__table__
stock = m.Stock.__table__

_waiting = (lines.c.product_id == bindparam("pid")) & (lines.c.backordered_quantity > 0) & (
    orders.c.status == "confirmed")
_orders_waiting = (
    select(lines.c.order_id).join(orders, orders.c.id == lines.c.order_id).where(_waiting).distinct()
)
_lock_orders = (
    select(orders.c.id).where(orders.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(orders.c.id).with_for_update()
)
_lock_orders_skipping = (
    select(orders.c.id).where(orders.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(orders.c.id).with_for_update(skip_locked=True)
)
_waiting_lines = (
    select(lines.c.id, lines.c.order_id, lines.c.line_no, lines.c.sku, lines.c.backordered_quantity,
           orders.c.channel, orders.c.created_at)
    .join(orders, orders.c.id == lines.c.order_id).where(_waiting)
    .order_by(orders.c.confirmed_at, orders.c.id, lines.c.line_no)
)
_fill_line = (
    update(lines).where(lines.c.id == bindparam("lid"))
    .values(reserved_quantity=lines.c.reserved_quantity + bindparam("qty"),
            backordered_quantity=lines.c.backordered_quantity - bindparam("qty"))
)


def lock_waiting_orders(tx: Tx, product_id: int) -> set[int]:
    """Before the stock row: lock the orders waiting for this product, in id order."""
    ids = list(tx.conn.execute(_orders_waiting, {"pid": product_id}).scalars())
    if not ids:
        return set()
    return set(tx.conn.execute(_lock_orders, {"ids": sorted(ids)}).scalars())


_any_waiting = _orders_waiting.limit(1)


def anyone_waiting(tx: Tx, product_id: int) -> bool:
    """With the stock row locked: whether an order started waiting for this
    product after the first look (its confirmation committed meanwhile)."""
    return tx.conn.execute(_any_waiting, {"pid": product_id}).first() is not None


def fill(tx: Tx, product_id: int, available: int, locked: set[int]) -> list[dict[str, Any]]:
    """With the stock row locked: reserve up to ``available`` for the lines
    waiting for this product, oldest confirmation first. Returns what each
    order line got; the caller adds the total to the stock's reservation."""
    if available <= 0:
        return []
    waiting = tx.conn.execute(_waiting_lines, {"pid": product_id}).all()
    late = sorted({w.order_id for w in waiting} - locked)
    if late:  # confirmed while this receipt waited for the stock row
        locked = locked | set(tx.conn.execute(_lock_orders_skipping, {"ids": late}).scalars())
    filled: list[dict[str, Any]] = []
    for w in waiting:
        if available <= 0:
            break
        if w.order_id not in locked:
            continue
        take = min(w.backordered_quantity, available)
        available -= take
        filled.append({"line_id": w.id, "order_id": w.order_id, "number": order_number(w.order_id, w.created_at),
                       "channel": w.channel, "sku": w.sku, "line_no": w.line_no, "quantity": take,
                       "still_backordered": w.backordered_quantity - take})
    if not filled:
        return []
    tx.conn.execute(_fill_line, [{"lid": f["line_id"], "qty": f["quantity"]} for f in filled])
    by_order: dict[int, list[dict[str, Any]]] = {}
    for f in filled:
        by_order.setdefault(f["order_id"], []).append(f)
    for oid, fs in by_order.items():
        data = {"order_id": oid, "number": fs[0]["number"],
                "lines": [{"sku": f["sku"], "line_no": f["line_no"], "quantity": f["quantity"],
                           "still_backordered": f["still_backordered"]} for f in fs]}
        tx.emit("order.backorder_reserved", fs[0]["channel"], oid, data)
        tx.audit("order.backorder_reserved", "order", oid, None, data)
    return filled


def reserve_for_waiting(tx: Tx, product_id: int, incoming: int = 0) -> tuple[Any, list[dict[str, Any]]]:
    """Lock the orders waiting for a product, then its stock row (the lock
    order), and reserve what is free — plus ``incoming`` units arriving in this
    transaction — for them, oldest confirmation first. Returns the stock row as
    it was (``on_hand``, ``reserved``, ``value``) and what each line got; the
    caller adds the total to the stock's reservation."""
    locked = lock_waiting_orders(tx, product_id)
    before = tx.conn.execute(select(stock.c.on_hand, stock.c.reserved, stock.c.value)
                             .where(stock.c.product_id == product_id).with_for_update()).one()
    if not (locked or anyone_waiting(tx, product_id)):
        return before, []
    return before, fill(tx, product_id, before.on_hand + incoming - before.reserved, locked)


def hand_over(tx: Tx, product_id: int) -> list[dict[str, Any]]:
    """Reserve what is free of a product for the orders waiting for it, as a
    goods receipt does (the ``backorders.hand_over`` job)."""
    _, filled = reserve_for_waiting(tx, product_id)
    reserved = sum(f["quantity"] for f in filled)
    if reserved:
        tx.conn.execute(update(stock).where(stock.c.product_id == product_id)
                        .values(reserved=stock.c.reserved + reserved))
    return filled


def list_backorders(
    tx: Tx, principal: Principal, *, sku: str | None = None, customer_id: int | None = None,
    order_id: int | None = None, cursor: int | None = None, limit: int = 20,
) -> tuple[list[dict[str, Any]], int | None]:
    """What waits for what: order lines with a backordered quantity, oldest first
    (the order receipts serve them in, by line id within a confirmation instant)."""
    q = (select(lines.c.id, lines.c.order_id, lines.c.line_no, lines.c.sku, lines.c.description,
                lines.c.quantity, lines.c.reserved_quantity, lines.c.backordered_quantity,
                orders.c.customer_id, orders.c.channel, orders.c.created_at, orders.c.confirmed_at,
                customers.c.code.label("customer_code"), customers.c.name.label("customer_name"))
         .join(orders, orders.c.id == lines.c.order_id)
         .join(customers, customers.c.id == orders.c.customer_id)
         .where(lines.c.backordered_quantity > 0, orders.c.status == "confirmed")
         .order_by(lines.c.id).limit(limit + 1))
    if principal.channel_scope is not None:
        q = q.where(orders.c.channel == principal.channel_scope)
    if sku:
        q = q.where(lines.c.sku == sku)
    if customer_id is not None:
        if not records.may_use_customer(tx, principal, customer_id):
            return [], None
        q = q.where(orders.c.customer_id == customer_id)
    if order_id is not None:
        q = q.where(lines.c.order_id == order_id)
    if cursor is not None:
        q = q.where(lines.c.id > cursor)
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    items = [{
        "order_id": r.order_id, "order_number": order_number(r.order_id, r.created_at), "line_no": r.line_no,
        "sku": r.sku, "description": r.description, "ordered": r.quantity, "reserved": r.reserved_quantity,
        "waiting": r.backordered_quantity, "customer_id": r.customer_id, "customer_code": r.customer_code,
        "customer_name": r.customer_name, "channel": r.channel, "since": r.confirmed_at,
    } for r in page]
    return items, (page[-1].id if len(rows) > limit else None)
