"""Packing and shipping. Shipping moves stock out at moving-average cost,
posts cost of goods sold and, under the ``on_shipment`` policy, invoices
exactly what shipped — all in one transaction."""
from __future__ import annotations

from collections import defaultdict

from typing import Any

from sqlalchemy import bindparam, insert, select, update

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import Conflict, NotFound, ValidationFailed
from o2c.domain.money import ZERO, share_of_value
from o2c.domain.states import order_transition, shipment_transition
from o2c.ledger.posting import entry_for_shipment
from o2c.services import invoicing
from o2c.services.orders import load_order, refresh_statuses
from o2c.services.uow import Tx

orders = m.Order.__table__
lines = m.OrderLine.__table__
stock = m.Stock.__table__
movements = m.StockMovement.__table__
shipments = m.Shipment.__table__
shipment_lines = m.ShipmentLine.__table__

_pack_line = (
    update(lines).where(lines.c.id == bindparam("lid"))
    .values(packed_quantity=lines.c.packed_quantity + bindparam("qty"))
)
_ship_line = (
    update(lines).where(lines.c.id == bindparam("lid"))
    .values(packed_quantity=lines.c.packed_quantity - bindparam("qty"),
            shipped_quantity=lines.c.shipped_quantity + bindparam("qty"),
            reserved_quantity=lines.c.reserved_quantity - bindparam("qty"))
)
_stock_out = (
    update(stock).where(stock.c.product_id == bindparam("pid"))
    .values(on_hand=stock.c.on_hand - bindparam("qty"), reserved=stock.c.reserved - bindparam("qty"),
            value=stock.c.value - bindparam("cost"))
)
_line_cost = update(shipment_lines).where(shipment_lines.c.id == bindparam("slid")).values(cost=bindparam("cost"))


def pack(tx: Tx, order_id: int, principal: Principal, requested: list[dict[str, Any]] | None) -> int:
    """Create a shipment in ``packed`` for the requested quantities, or for
    everything still open when nothing is requested."""
    o = load_order(tx, order_id, principal, lock=True)
    order_transition("pack", o.status, o.number)
    open_lines = [
        (r.id, r.sku, r.product_id, r.quantity - r.shipped_quantity - r.packed_quantity - r.cancelled_quantity)
        for r in tx.conn.execute(
            select(lines.c.id, lines.c.sku, lines.c.product_id, lines.c.quantity, lines.c.shipped_quantity,
                   lines.c.packed_quantity, lines.c.cancelled_quantity)
            .where(lines.c.order_id == order_id).order_by(lines.c.line_no)
        )
    ]
    items: list[tuple[int, str, int, int]] = []  # (order line, sku, product, qty)
    if requested is None:
        items = [l for l in open_lines if l[3] > 0]
        if not items:
            raise Conflict(f"Order {o.number} has nothing left to pack.", {"order_id": order_id})
    else:
        want: dict[str, int] = defaultdict(int)
        for r in requested:
            want[r["sku"]] += r["quantity"]
        unknown = {str(i): {"sku": [f"SKU {r['sku']!r} is not on order {o.number}."]}
                   for i, r in enumerate(requested) if r["sku"] not in {l[1] for l in open_lines}}
        if unknown:
            raise ValidationFailed("Some lines are not on this order.", {"lines": unknown})
        too_many = []
        for sku, qty in want.items():
            available = sum(l[3] for l in open_lines if l[1] == sku)
            if qty > available:
                too_many.append({"sku": sku, "requested": qty, "open": available})
                continue
            for lid, lsku, pid, open_qty in open_lines:  # fill lines of that SKU in order
                if lsku == sku and qty > 0 and open_qty > 0:
                    take = min(qty, open_qty)
                    items.append((lid, sku, pid, take))
                    qty -= take
        if too_many:
            raise Conflict(
                f"Cannot pack more than is open on order {o.number} (ordered minus shipped, packed or cancelled).",
                {"lines": too_many},
            )
    sid = tx.conn.execute(insert(shipments).returning(shipments.c.id), {
        "order_id": order_id, "status": "packed", "created_at": tx.now, "cost": ZERO,
    }).scalar_one()
    number = f"SH-{tx.today.year}-{sid:06d}"
    tx.conn.execute(update(shipments).where(shipments.c.id == sid).values(number=number))
    tx.conn.execute(insert(shipment_lines), [
        {"shipment_id": sid, "order_line_id": lid, "product_id": pid, "sku": sku, "quantity": q, "cost": ZERO}
        for lid, sku, pid, q in items
    ])
    tx.conn.execute(_pack_line, [{"lid": lid, "qty": q} for lid, _, _, q in items])
    payload = {"shipment_id": sid, "number": number, "order_id": order_id,
               "lines": [{"sku": sku, "quantity": q} for _, sku, _, q in items]}
    tx.emit("shipment.packed", o.channel, order_id, payload)
    tx.audit("shipment.packed", "shipment", sid, None, {"status": "packed", **payload})
    return sid


def _load_shipment(tx: Tx, shipment_id: int, principal: Principal) -> tuple[Any, Any]:
    """The shipment and its order, locked order first (the fixed lock order)."""
    order_id = tx.conn.execute(select(shipments.c.order_id).where(shipments.c.id == shipment_id)).scalar()
    if order_id is None:
        raise NotFound(f"No shipment with id {shipment_id}.")
    try:
        o = load_order(tx, order_id, principal, lock=True)
    except NotFound:
        raise NotFound(f"No shipment with id {shipment_id}.") from None
    s = tx.conn.execute(
        select(shipments.c.id, shipments.c.number, shipments.c.status)
        .where(shipments.c.id == shipment_id).with_for_update()
    ).one()
    return o, s


def ship(tx: Tx, shipment_id: int, principal: Principal, carrier: str, tracking_number: str) -> None:
    o, s = _load_shipment(tx, shipment_id, principal)
    new_status = shipment_transition("ship", s.status, s.number)
    tx.check_period_open(tx.today)
    items = tx.conn.execute(
        select(shipment_lines.c.id, shipment_lines.c.order_line_id, shipment_lines.c.product_id,
               shipment_lines.c.quantity)
        .where(shipment_lines.c.shipment_id == shipment_id).order_by(shipment_lines.c.product_id, shipment_lines.c.id)
    ).all()
    # Stock out at moving-average cost, products locked in id order.
    pids = sorted({i.product_id for i in items})
    levels = {
        r.product_id: [r.on_hand, r.reserved, r.value]
        for r in tx.conn.execute(
            select(stock.c.product_id, stock.c.on_hand, stock.c.reserved, stock.c.value)
            .where(stock.c.product_id.in_(pids)).order_by(stock.c.product_id).with_for_update()
        )
    }
    stock_rows, move_rows, cost_rows = [], [], []
    total_cost = ZERO
    for i in items:
        lvl = levels[i.product_id]
        if lvl[0] < i.quantity or lvl[1] < i.quantity:
            raise Conflict(f"Shipment {s.number}: stock for product {i.product_id} is not reserved.", {})
        cost = share_of_value(lvl[2], i.quantity, lvl[0])
        lvl[0] -= i.quantity
        lvl[1] -= i.quantity
        lvl[2] -= cost
        total_cost += cost
        stock_rows.append({"pid": i.product_id, "qty": i.quantity, "cost": cost})
        move_rows.append({"product_id": i.product_id, "date": tx.today, "kind": "shipment",
                          "quantity": -i.quantity, "value": -cost, "document": s.number, "source_id": shipment_id})
        cost_rows.append({"slid": i.id, "cost": cost})
    tx.conn.execute(_stock_out, stock_rows)
    tx.conn.execute(insert(movements), move_rows)
    tx.conn.execute(_line_cost, cost_rows)
    tx.conn.execute(_ship_line, [{"lid": i.order_line_id, "qty": i.quantity} for i in items])
    tx.post(entry_for_shipment(tx.chart, tx.today, shipment_id, s.number, total_cost, o.customer_id))

    settings = invoicing.company_settings(tx)
    invoice_id = None
    if settings.invoicing_policy == "on_shipment":
        invoice_id = invoicing.issue_invoice(
            tx, o, [(i.order_line_id, i.quantity) for i in items], shipment_id, settings.invoice_prefix)
    tx.conn.execute(update(shipments).where(shipments.c.id == shipment_id).values(
        status=new_status, carrier=carrier, tracking_number=tracking_number, shipped_at=tx.now,
        invoice_id=invoice_id, cost=total_cost))
    refresh_statuses(tx, o.id)
    tx.emit("shipment.shipped", o.channel, o.id, {
        "shipment_id": shipment_id, "number": s.number, "order_id": o.id, "carrier": carrier,
        "tracking_number": tracking_number, "invoice_id": invoice_id,
    })
    tx.audit("shipment.shipped", "shipment", shipment_id, {"status": s.status},
             {"status": new_status, "carrier": carrier, "tracking_number": tracking_number,
              "cost": str(total_cost), "invoice_id": invoice_id})


def cancel_shipment(tx: Tx, shipment_id: int, principal: Principal) -> None:
    """Unpack: the goods stay on hand and stay reserved for the order."""
    o, s = _load_shipment(tx, shipment_id, principal)
    new_status = shipment_transition("cancel", s.status, s.number)
    items = tx.conn.execute(
        select(shipment_lines.c.order_line_id, shipment_lines.c.quantity)
        .where(shipment_lines.c.shipment_id == shipment_id)
    ).all()
    tx.conn.execute(_pack_line, [{"lid": i.order_line_id, "qty": -i.quantity} for i in items])
    tx.conn.execute(update(shipments).where(shipments.c.id == shipment_id).values(status=new_status))
    tx.emit("shipment.cancelled", o.channel, o.id, {"shipment_id": shipment_id, "number": s.number, "order_id": o.id})
    tx.audit("shipment.cancelled", "shipment", shipment_id, {"status": s.status}, {"status": new_status})


def get_shipment(tx: Tx, shipment_id: int, principal: Principal) -> dict[str, Any]:
    row = tx.conn.execute(
        select(shipments.c.id, shipments.c.number, shipments.c.order_id, shipments.c.status,
               shipments.c.carrier, shipments.c.tracking_number, shipments.c.shipped_at,
               shipments.c.invoice_id, shipments.c.created_at, orders.c.channel)
        .join(orders, orders.c.id == shipments.c.order_id).where(shipments.c.id == shipment_id)
    ).first()
    scope = principal.channel_scope
    if row is None or (scope is not None and row.channel != scope):
        raise NotFound(f"No shipment with id {shipment_id}.")
    d = row._asdict()
    d.pop("channel")
    d["lines"] = [
        {"sku": r.sku, "quantity": r.quantity}
        for r in tx.conn.execute(
            select(shipment_lines.c.sku, shipment_lines.c.quantity)
            .where(shipment_lines.c.shipment_id == shipment_id).order_by(shipment_lines.c.id)
        )
    ]
    return d



