"""Packing and shipping. Shipping moves stock out at moving-average cost,
posts cost of goods sold and, under the ``on_shipment`` policy, invoices
exactly what shipped — all in one transaction."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.actions import open_to_pack
from o2c.domain.errors import Conflict, NotFound, ValidationFailed
from o2c.domain.money import ZERO, share_of_value
from o2c.domain.numbering import document_number, order_number
from o2c.domain.states import derive_order_statuses, order_transition, shipment_transition
from o2c.ledger.posting import entry_for_shipment
from o2c.services.billing import invoicing
from o2c.services.platform.uow import Tx, period_of
from o2c.services.sales.orders import DUE_IN_DAYS, LINE_COLS, ORDER_COLS, load_order, order_lines, progress, record_progress

orders = m.Order.__table__
lines = m.OrderLine.__table__
customers = m.Customer.__table__
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
            reserved_quantity=lines.c.reserved_quantity - bindparam("qty"),
            invoiced_quantity=lines.c.invoiced_quantity + bindparam("inv"),
            shipped_cost=lines.c.shipped_cost + bindparam("cost", type_=lines.c.shipped_cost.type))
)
_stock_out = (
    update(stock).where(stock.c.product_id == bindparam("pid"))
    .values(on_hand=stock.c.on_hand - bindparam("qty"), reserved=stock.c.reserved - bindparam("qty"),
            value=stock.c.value - bindparam("cost"))
)


_insert_shipment = insert(shipments).returning(shipments.c.id)
_insert_shipment_lines = insert(shipment_lines)
_insert_movements = insert(movements)
_head_stmt = (
    select(*ORDER_COLS, shipments.c.id.label("shipment_id"), shipments.c.status.label("shipment_status"),
           shipments.c.created_at.label("shipment_created_at"), DUE_IN_DAYS,
           Tx.period_closed_column)
    .select_from(shipments.join(orders, orders.c.id == shipments.c.order_id)
                 .join(customers, customers.c.id == orders.c.customer_id))
    .where(shipments.c.id == bindparam("sid"))
    .with_for_update(of=[orders, shipments])
)
_lines_with_shipment = (
    select(*LINE_COLS, shipment_lines.c.quantity.label("ship_qty"))
    .select_from(lines.outerjoin(shipment_lines, and_(shipment_lines.c.order_line_id == lines.c.id,
                                                      shipment_lines.c.shipment_id == bindparam("sid"))))
    .where(lines.c.order_id == bindparam("oid")).order_by(lines.c.line_no)
)
_lock_stock = (
    select(stock.c.product_id, stock.c.on_hand, stock.c.reserved, stock.c.value)
    .where(stock.c.product_id.in_(bindparam("pids", expanding=True)))
    .order_by(stock.c.product_id).with_for_update()
)
_mark_shipped = (
    update(shipments).where(shipments.c.id == bindparam("sid"))
    .values(status=bindparam("st"), carrier=bindparam("carrier"), tracking_number=bindparam("tracking"),
            shipped_at=bindparam("at"), invoice_id=bindparam("iid"), cost=bindparam("cost", type_=shipments.c.cost.type))
)


def shipment_number(shipment_id: int, created_at: Any) -> str:
    return document_number("SH", created_at.year, shipment_id)


def _view(sid: int, created_at: Any, order_id: int, status: str, items: list[dict[str, Any]],
          carrier: str | None = None, tracking: str | None = None, shipped_at: Any = None,
          invoice_id: int | None = None) -> dict[str, Any]:
    return {"id": sid, "number": shipment_number(sid, created_at), "order_id": order_id, "status": status,
            "lines": items, "carrier": carrier, "tracking_number": tracking, "shipped_at": shipped_at,
            "invoice_id": invoice_id, "created_at": created_at}


def pack(tx: Tx, order_id: int, principal: Principal, requested: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Create a shipment in ``packed`` for the requested quantities, or for
    everything still open when nothing is requested."""
    o = load_order(tx, order_id, principal, lock=True)
    number = order_number(o.id, o.created_at)
    order_transition("pack", o.status, number)
    open_lines = [(l["id"], l["sku"], l["product_id"], open_to_pack(l)) for l in order_lines(tx, order_id)]
    items: list[tuple[int, str, int, int]] = []  # (order line, sku, product, qty)
    if requested is None:
        items = [l for l in open_lines if l[3] > 0]
        if not items:
            raise Conflict(f"Order {number} has nothing left to pack.", {"order_id": order_id})
    else:
        on_order = {l[1] for l in open_lines}
        unknown = {str(i): {"sku": [f"SKU “{r['sku']}” is not on order {number}."]}
                   for i, r in enumerate(requested) if r["sku"] not in on_order}
        if unknown:
            raise ValidationFailed("Some lines are not on this order.", {"lines": unknown})
        want: dict[str, int] = defaultdict(int)
        for r in requested:
            want[r["sku"]] += r["quantity"]
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
                f"Cannot pack more than is open and reserved on order {number} (ordered minus shipped, packed, "
                "cancelled or still backordered).",
                {"lines": too_many},
            )
    sid = tx.conn.execute(_insert_shipment, {
        "order_id": order_id, "status": "packed", "created_at": tx.now, "cost": ZERO,
    }).scalar_one()
    tx.conn.execute(_insert_shipment_lines, [
        {"shipment_id": sid, "order_line_id": lid, "product_id": pid, "sku": sku, "quantity": q}
        for lid, sku, pid, q in items
    ])
    tx.conn.execute(_pack_line, [{"lid": lid, "qty": q} for lid, _, _, q in items])
    view = _view(sid, tx.now, order_id, "packed", [{"sku": sku, "quantity": q} for _, sku, _, q in items])
    payload = {"shipment_id": sid, "number": view["number"], "order_id": order_id, "lines": view["lines"]}
    tx.emit("shipment.packed", o.channel, order_id, payload)
    tx.audit("shipment.packed", "shipment", sid, None, {"status": "packed", **payload})
    return view


def _head(tx: Tx, shipment_id: int, principal: Principal) -> Any:
    """The shipment with its order and the customer's terms, order and shipment
    rows locked (the order first in the lock protocol)."""
    row = tx.conn.execute(_head_stmt, {"sid": shipment_id, "period": period_of(tx.today)}).first()
    scope = principal.channel_scope
    if row is None or (scope is not None and row.channel != scope):
        raise NotFound(f"No shipment with id {shipment_id}.")
    return row


def ship(tx: Tx, shipment_id: int, principal: Principal, carrier: str, tracking_number: str) -> dict[str, Any]:
    h = _head(tx, shipment_id, principal)
    number = shipment_number(shipment_id, h.shipment_created_at)
    new_status = shipment_transition("ship", h.shipment_status, number)
    tx.note_period(tx.today, h.period_closed_at)
    settings = invoicing.company_settings(tx)
    invoice_now = settings.invoicing_policy == "on_shipment"

    ls = [r._asdict() for r in tx.conn.execute(_lines_with_shipment, {"sid": shipment_id, "oid": h.id})]
    items = [l for l in ls if l["ship_qty"]]

    # Stock out at moving-average cost, stock rows locked in product id order.
    levels = {
        r.product_id: [r.on_hand, r.reserved, r.value]
        for r in tx.conn.execute(_lock_stock, {"pids": sorted({i["product_id"] for i in items})})
    }
    stock_rows, move_rows = [], []
    line_cost: dict[int, Any] = {}
    total_cost = ZERO
    for i in sorted(items, key=lambda i: (i["product_id"], i["id"])):
        lvl, qty = levels[i["product_id"]], i["ship_qty"]
        if lvl[0] < qty or lvl[1] < qty:
            raise Conflict(f"Shipment {number}: stock of {i['sku']} is not reserved for it.", {"sku": i["sku"]})
        cost = share_of_value(lvl[2], qty, lvl[0])
        lvl[0] -= qty
        lvl[1] -= qty
        lvl[2] -= cost
        total_cost += cost
        line_cost[i["id"]] = cost
        stock_rows.append({"pid": i["product_id"], "qty": qty, "cost": cost})
        move_rows.append({"product_id": i["product_id"], "date": tx.today, "kind": "shipment",
                          "quantity": -qty, "value": -cost, "document": number, "source_id": shipment_id})
    tx.conn.execute(_stock_out, stock_rows)
    tx.conn.execute(_insert_movements, move_rows)
    tx.conn.execute(_ship_line, [{"lid": i["id"], "qty": i["ship_qty"], "inv": i["ship_qty"] if invoice_now else 0,
                                  "cost": line_cost[i["id"]]} for i in items])
    tx.post(entry_for_shipment(tx.chart, tx.today, shipment_id, number, total_cost, h.customer_id))

    issued = None
    if invoice_now:
        issued = invoicing.issue_invoice(
            tx, h, [{**i, "quantity": i["ship_qty"]} for i in items], shipment_id,
            settings.invoice_prefix, h.due_in_days)
    for l in ls:
        if l["ship_qty"]:
            l["shipped_quantity"] += l["ship_qty"]
            if invoice_now:
                l["invoiced_quantity"] += l["ship_qty"]
    invoiced = issued.totals.gross if issued else ZERO
    new = derive_order_statuses(h.status, progress(ls), h.invoiced_total + invoiced, h.amount_paid)
    record_progress(tx, h, new, invoiced_delta=invoiced)
    invoice_id = issued.id if issued else None
    tx.conn.execute(_mark_shipped, {"sid": shipment_id, "st": new_status, "carrier": carrier,
                                    "tracking": tracking_number, "at": tx.now, "iid": invoice_id, "cost": total_cost})
    tx.emit("shipment.shipped", h.channel, h.id, {
        "shipment_id": shipment_id, "number": number, "order_id": h.id, "carrier": carrier,
        "tracking_number": tracking_number, "invoice_id": invoice_id,
    })
    tx.audit("shipment.shipped", "shipment", shipment_id, {"status": h.shipment_status},
             {"status": new_status, "carrier": carrier, "tracking_number": tracking_number,
              "cost": str(total_cost), "invoice_id": invoice_id})
    return _view(shipment_id, h.shipment_created_at, h.id, new_status,
                 [{"sku": i["sku"], "quantity": i["ship_qty"]} for i in items],
                 carrier, tracking_number, tx.now, invoice_id)


def cancel_shipment(tx: Tx, shipment_id: int, principal: Principal) -> dict[str, Any]:
    """Unpack: the goods stay on hand and stay reserved for the order."""
    h = _head(tx, shipment_id, principal)
    number = shipment_number(shipment_id, h.shipment_created_at)
    new_status = shipment_transition("cancel", h.shipment_status, number)
    items = tx.conn.execute(
        select(shipment_lines.c.order_line_id, shipment_lines.c.sku, shipment_lines.c.quantity)
        .where(shipment_lines.c.shipment_id == shipment_id).order_by(shipment_lines.c.id)
    ).all()
    tx.conn.execute(_pack_line, [{"lid": i.order_line_id, "qty": -i.quantity} for i in items])
    tx.conn.execute(update(shipments).where(shipments.c.id == shipment_id).values(status=new_status))
    tx.emit("shipment.cancelled", h.channel, h.id, {"shipment_id": shipment_id, "number": number, "order_id": h.id})
    tx.audit("shipment.cancelled", "shipment", shipment_id, {"status": h.shipment_status}, {"status": new_status})
    return _view(shipment_id, h.shipment_created_at, h.id, new_status,
                 [{"sku": i.sku, "quantity": i.quantity} for i in items])


def get_shipment(tx: Tx, shipment_id: int, principal: Principal) -> dict[str, Any]:
    row = tx.conn.execute(
        select(shipments.c.id, shipments.c.order_id, shipments.c.status,
               shipments.c.carrier, shipments.c.tracking_number, shipments.c.shipped_at,
               shipments.c.invoice_id, shipments.c.created_at, orders.c.channel)
        .join(orders, orders.c.id == shipments.c.order_id).where(shipments.c.id == shipment_id)
    ).first()
    scope = principal.channel_scope
    if row is None or (scope is not None and row.channel != scope):
        raise NotFound(f"No shipment with id {shipment_id}.")
    items = [{"sku": r.sku, "quantity": r.quantity} for r in tx.conn.execute(
        select(shipment_lines.c.sku, shipment_lines.c.quantity)
        .where(shipment_lines.c.shipment_id == shipment_id).order_by(shipment_lines.c.id))]
    return _view(row.id, row.created_at, row.order_id, row.status, items, row.carrier,
                 row.tracking_number, row.shipped_at, row.invoice_id)
