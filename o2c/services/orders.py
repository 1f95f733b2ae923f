"""Orders: create, confirm, cancel, read. Confirmation reserves stock for every
line or for none (SPEC.md §2).

Lock protocol (PostgreSQL; SQLite serialises writers anyway): every change to
an order, its lines, shipments, invoices and their allocations happens under
the order's row lock, taken first (in id order when several); stock rows come
next, in product id order; the invoice number counter last. So no two
transactions wait for each other in a circle.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update

from o2c.db import models as m
from o2c.db.types import money_sum
from o2c.domain.access import Principal
from o2c.domain.errors import (
    Conflict, CreditLimitExceeded, InvalidTransition, NotFound, OutOfStock, ValidationFailed,
)
from o2c.domain.money import ZERO, document_totals, line_net
from o2c.domain.states import LineProgress, OrderStatuses, derive_order_statuses, order_transition
from o2c.services.uow import Tx, document_number, insert_ignoring_conflicts

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
    orders.c.id, orders.c.status, orders.c.fulfillment_status,
    orders.c.payment_status, orders.c.channel, orders.c.external_ref, orders.c.customer_id,
    orders.c.currency, orders.c.shipping_address, orders.c.net_total, orders.c.vat_total,
    orders.c.total, orders.c.invoiced_total, orders.c.amount_paid, orders.c.created_at,
    orders.c.confirmed_at,
]
LINE_COLS = [
    lines.c.order_id, lines.c.id, lines.c.line_no, lines.c.product_id, lines.c.sku, lines.c.description,
    lines.c.quantity, lines.c.unit_price, lines.c.discount, lines.c.vat_rate, lines.c.net,
    lines.c.reserved_quantity, lines.c.packed_quantity, lines.c.shipped_quantity, lines.c.invoiced_quantity,
    lines.c.returned_quantity, lines.c.cancelled_quantity,
]


def order_number(order_id: int, created_at: Any) -> str:
    return document_number("SO", created_at.year, order_id)


_LOAD_ORDER: dict[tuple[bool, tuple[str, ...]], Any] = {}


def _load_order_stmt(lock: bool, extra: tuple[Any, ...]) -> Any:
    key = (lock, tuple(str(c) for c in extra))
    stmt = _LOAD_ORDER.get(key)
    if stmt is None:
        stmt = select(*ORDER_COLS, *extra).where(orders.c.id == bindparam("oid"))
        if extra:
            stmt = stmt.select_from(orders.join(customers, customers.c.id == orders.c.customer_id))
        if lock:
            stmt = stmt.with_for_update(of=orders)
        _LOAD_ORDER[key] = stmt
    return stmt


def load_order(tx: Tx, order_id: int, principal: Principal, *, lock: bool = False, extra: Iterable[Any] = ()) -> Row[Any]:
    """The order row, if this principal may see it (another channel's is not found).
    Locking it serialises every change to the order and its shipments."""
    row = tx.conn.execute(_load_order_stmt(lock, tuple(extra)), {"oid": order_id}).first()
    scope = principal.channel_scope
    if row is None or (scope is not None and row.channel != scope):
        raise NotFound(f"No order with id {order_id}.")
    return row


_order_lines = select(*LINE_COLS).where(lines.c.order_id == bindparam("oid")).order_by(lines.c.line_no)


def order_lines(tx: Tx, order_id: int) -> list[dict[str, Any]]:
    return [r._asdict() for r in tx.conn.execute(_order_lines, {"oid": order_id})]


def progress(line_dicts: Iterable[dict[str, Any]]) -> list[LineProgress]:
    return [LineProgress(l["quantity"], l["shipped_quantity"], l["invoiced_quantity"],
                         l["returned_quantity"], l["cancelled_quantity"]) for l in line_dicts]


def order_view(row: dict[str, Any], line_dicts: list[dict[str, Any]],
               shipment_ids: list[int], invoice_ids: list[int]) -> dict[str, Any]:
    """The order as the API shows it (API.md, Order)."""
    d = dict(row)
    d["number"] = order_number(d["id"], d["created_at"])
    d["lines"] = line_dicts
    d["shipment_ids"] = shipment_ids
    d["invoice_ids"] = invoice_ids
    fully_invoiced = all(l["invoiced_quantity"] >= l["quantity"] - l["cancelled_quantity"] - l["returned_quantity"]
                         for l in line_dicts)
    expected = d["invoiced_total"] if (fully_invoiced or d["status"] == "cancelled") else d["total"]
    d["balance_due"] = max(expected - d["amount_paid"], ZERO)
    return d


_record_progress = (
    update(orders).where(orders.c.id == bindparam("oid"))
    .values(status=bindparam("st"), fulfillment_status=bindparam("fs"), payment_status=bindparam("ps"),
            invoiced_total=orders.c.invoiced_total + bindparam("inv", type_=orders.c.invoiced_total.type),
            amount_paid=orders.c.amount_paid + bindparam("paid", type_=orders.c.amount_paid.type))
)


def record_progress(
    tx: Tx, order: Any, new: OrderStatuses, *, invoiced_delta: Decimal = ZERO, paid_delta: Decimal = ZERO,
) -> None:
    """Write derived statuses and money deltas of one order; emits completion."""
    tx.conn.execute(_record_progress, {"oid": order.id, "st": new.status, "fs": new.fulfillment_status,
                                       "ps": new.payment_status, "inv": invoiced_delta, "paid": paid_delta})
    old = (order.status, order.fulfillment_status, order.payment_status)
    if tuple(new) != old:
        tx.audit("order.statuses", "order", order.id,
                 dict(zip(("status", "fulfillment_status", "payment_status"), old)), new._asdict())
        if new.status == "completed" and order.status != "completed":
            tx.emit("order.completed", order.channel, order.id,
                    {"order_id": order.id, "number": order_number(order.id, order.created_at)})


# -- create ----------------------------------------------------------------------

_CUSTOMER_COLS = [customers.c.id, customers.c.currency, customers.c.credit_limit,
                  customers.c.shipping_address, customers.c.billing_address]
_customer_by_id = select(*_CUSTOMER_COLS).where(customers.c.id == bindparam("cid"))
_customer_by_code = select(*_CUSTOMER_COLS).where(customers.c.code == bindparam("code"))
_products_by_sku = (
    select(products.c.id, products.c.sku, products.c.name, products.c.unit_price, products.c.vat_rate,
           products.c.active).where(products.c.sku.in_(bindparam("skus", expanding=True)))
)
_insert_lines = insert(lines)
_mark_reserved = (
    update(lines).where(lines.c.order_id == bindparam("oid")).values(reserved_quantity=lines.c.quantity)
)
_mark_confirmed = (
    update(orders).where(orders.c.id == bindparam("oid")).values(status="confirmed", confirmed_at=bindparam("at"))
)


def _resolve_customer(tx: Tx, ref: dict[str, Any]) -> Row[Any]:
    if ref.get("id") is not None:
        row = tx.conn.execute(_customer_by_id, {"cid": ref["id"]}).first()
    elif ref.get("name") is None:
        row = tx.conn.execute(_customer_by_code, {"code": ref["code"]}).first()
    else:
        # A full customer: an existing code is reused as it is (webshops send
        # the whole customer with every order); a new one is created.
        row = None
        if ref.get("code"):
            row = tx.conn.execute(_customer_by_code, {"code": ref["code"]}).first()
        if row is None:
            from o2c.services import catalog
            data = {k: v for k, v in ref.items() if v is not None}
            data.setdefault("code", f"C-{tx.now:%y%m%d%H%M%S%f}")
            created = catalog.create_customer(tx, data)
            row = tx.conn.execute(_customer_by_id, {"cid": created["id"]}).first()
    if row is None:
        raise ValidationFailed("Unknown customer.", {"customer": [f"No customer matches {ref}."]})
    return row


def create_order(tx: Tx, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """Create an order; with ``confirm`` it is created confirmed or not at all."""
    customer = _resolve_customer(tx, data["customer"])
    currency = data.get("currency") or customer.currency
    if currency != FUNCTIONAL_CURRENCY:
        raise ValidationFailed(
            f"Orders in {currency} are not supported; use {FUNCTIONAL_CURRENCY}.",
            {"currency": [f"Must be {FUNCTIONAL_CURRENCY}."]},
        )
    req_lines = data["lines"]
    found = {r.sku: r for r in tx.conn.execute(_products_by_sku, {"skus": sorted({l["sku"] for l in req_lines})})}
    errors: dict[str, Any] = {}
    for i, l in enumerate(req_lines):
        p = found.get(l["sku"])
        if p is None:
            errors[str(i)] = {"sku": [f"Unknown SKU {l['sku']!r}."]}
        elif not p.active:
            errors[str(i)] = {"sku": [f"Product {l['sku']!r} is not active."]}
    if errors:
        raise ValidationFailed("Some order lines are invalid.", {"lines": errors})

    confirm = bool(data.get("confirm"))
    line_rows = []
    for i, l in enumerate(req_lines, start=1):
        p = found[l["sku"]]
        price = p.unit_price if l.get("unit_price") is None else l["unit_price"]
        discount = l.get("discount") or ZERO
        line_rows.append({
            "line_no": i, "product_id": p.id, "sku": p.sku, "description": p.name,
            "quantity": l["quantity"], "unit_price": price, "discount": discount,
            "vat_rate": p.vat_rate, "net": line_net(l["quantity"], price, discount),
            "reserved_quantity": l["quantity"] if confirm else 0, "packed_quantity": 0,
            "shipped_quantity": 0, "invoiced_quantity": 0, "returned_quantity": 0, "cancelled_quantity": 0,
        })
    totals = document_totals((r["net"], r["vat_rate"]) for r in line_rows)

    channel = principal.channel
    external_ref = data.get("external_ref")
    row = {
        "channel": channel, "external_ref": external_ref, "customer_id": customer.id,
        "currency": currency, "status": "confirmed" if confirm else "draft",
        "fulfillment_status": "unfulfilled", "payment_status": "unpaid",
        "shipping_address": data.get("shipping_address") or customer.shipping_address or customer.billing_address,
        "net_total": totals.net, "vat_total": totals.vat, "total": totals.gross,
        "invoiced_total": ZERO, "amount_paid": ZERO, "created_at": tx.now,
        "confirmed_at": tx.now if confirm else None,
    }
    oid = tx.conn.execute(insert_ignoring_conflicts(tx.conn, orders, ("id",)), row).scalar()
    if oid is None:
        existing = tx.conn.execute(
            select(orders.c.id, orders.c.created_at)
            .where(orders.c.channel == channel, orders.c.external_ref == external_ref)
        ).one()
        number = order_number(existing.id, existing.created_at)
        raise Conflict(
            f"Order {number} already has external_ref {external_ref!r} in channel {channel!r}.",
            {"order_id": existing.id, "number": number},
        )
    row["id"] = oid
    number = order_number(oid, tx.now)
    for r in line_rows:
        r["order_id"] = oid
    tx.conn.execute(_insert_lines, line_rows)
    tx.emit("order.created", channel, oid, {
        "order_id": oid, "number": number, "external_ref": external_ref,
        "status": "draft", "total": str(totals.gross),
    })
    tx.audit("order.created", "order", oid, None, {"status": "draft", "number": number, "total": str(totals.gross)})
    if confirm:
        # The order row is inserted first so a duplicate external_ref is reported
        # as such; a refused confirmation rolls the whole creation back.
        _check_credit(tx, customer.id, customer.credit_limit, totals.gross, number, oid)
        _reserve_lines(tx, line_rows)
        _confirmed(tx, oid, number, channel, "draft")
    return order_view(row, [{k: r[k] for k in r if k != "order_id"} for r in line_rows], [], [])


# -- confirm / cancel ---------------------------------------------------------------

_open_receivables = select(money_sum(invoices.c.total - invoices.c.amount_paid - invoices.c.credited_amount)).where(
    invoices.c.customer_id == bindparam("cid"), invoices.c.status.in_(("open", "partially_paid")))
_uninvoiced = select(money_sum(orders.c.total - orders.c.invoiced_total)).where(
    orders.c.customer_id == bindparam("cid"), orders.c.status == "confirmed",
    orders.c.total > orders.c.invoiced_total, orders.c.id != bindparam("exclude"))


def customer_exposure(tx: Tx, customer_id: int, exclude_order: int = 0) -> Decimal:
    """Open receivables plus confirmed orders not yet invoiced (but for one)."""
    open_ar = tx.conn.execute(_open_receivables, {"cid": customer_id}).scalar_one()
    uninvoiced = tx.conn.execute(_uninvoiced, {"cid": customer_id, "exclude": exclude_order}).scalar_one()
    return open_ar + uninvoiced


_lock_customer = (
    select(customers.c.id).where(customers.c.id == bindparam("cid"))
    # FOR NO KEY UPDATE: confirmations for one customer queue behind each other,
    # while inserts that merely reference the customer (orders, invoices,
    # payments take KEY SHARE locks) are not blocked and cannot deadlock with it.
    .with_for_update(key_share=True)
)


def _check_credit(tx: Tx, customer_id: int, limit: Decimal | None, amount: Decimal, number: str,
                  order_id: int) -> None:
    if limit is None:
        return
    # Lock the customer so two confirmations cannot both fit under the limit.
    tx.conn.execute(_lock_customer, {"cid": customer_id})
    exposure = customer_exposure(tx, customer_id, exclude_order=order_id)
    if exposure + amount > limit:
        raise CreditLimitExceeded(
            f"Order {number} ({amount}) would take the customer's exposure to "
            f"{exposure + amount}, over the credit limit of {limit}.",
            {"credit_limit": str(limit), "exposure": str(exposure), "order_total": str(amount)},
        )


def _reserve_lines(tx: Tx, line_dicts: Iterable[dict[str, Any]]) -> None:
    need: dict[int, int] = defaultdict(int)
    sku_of: dict[int, str] = {}
    for l in line_dicts:
        need[l["product_id"]] += l["quantity"]
        sku_of[l["product_id"]] = l["sku"]
    short = [pid for pid in sorted(need)  # a fixed order: concurrent confirmations cannot deadlock
             if tx.conn.execute(_reserve, {"pid": pid, "qty": need[pid]}).rowcount != 1]
    if short:
        avail = dict(tx.conn.execute(
            select(stock.c.product_id, stock.c.on_hand - stock.c.reserved).where(stock.c.product_id.in_(short))
        ).all())
        raise OutOfStock(
            f"Not enough stock for {len(short)} line{'s' if len(short) != 1 else ''}",
            {"lines": [{"sku": sku_of[p], "requested": need[p], "available": max(int(avail.get(p, 0)), 0)}
                       for p in short]},
        )


def _confirmed(tx: Tx, order_id: int, number: str, channel: str, before: str) -> None:
    tx.emit("order.confirmed", channel, order_id, {"order_id": order_id, "number": number, "status": "confirmed"})
    tx.audit("order.confirmed", "order", order_id, {"status": before}, {"status": "confirmed"})


def confirm_order(tx: Tx, order_id: int, principal: Principal) -> dict[str, Any]:
    o = load_order(tx, order_id, principal, lock=True, extra=[customers.c.credit_limit])
    number = order_number(o.id, o.created_at)
    new_status = order_transition("confirm", o.status, number)
    _check_credit(tx, o.customer_id, o.credit_limit, o.total, number, o.id)
    ls = order_lines(tx, order_id)
    _reserve_lines(tx, ls)
    tx.conn.execute(_mark_reserved, {"oid": order_id})
    tx.conn.execute(_mark_confirmed, {"oid": order_id, "at": tx.now})
    _confirmed(tx, order_id, number, o.channel, o.status)
    for l in ls:
        l.pop("order_id")
        l["reserved_quantity"] = l["quantity"]
    row = {k: v for k, v in o._asdict().items() if k != "credit_limit"}
    return order_view({**row, "status": new_status, "confirmed_at": tx.now}, ls, [], [])


def cancel_order(tx: Tx, order_id: int, principal: Principal) -> dict[str, Any]:
    o = load_order(tx, order_id, principal, lock=True)
    number = order_number(o.id, o.created_at)
    new_status = order_transition("cancel", o.status, number)
    ls = order_lines(tx, order_id)
    if any(l["packed_quantity"] or l["shipped_quantity"] for l in ls):
        raise InvalidTransition(
            f"Cannot cancel order {number}: part of it is packed or shipped. "
            "Cancel its packed shipments first; shipped goods come back as a return.",
            {"status": o.status, "action": "cancel"},
        )
    release: dict[int, int] = defaultdict(int)
    for l in ls:
        if l["reserved_quantity"]:
            release[l["product_id"]] += l["reserved_quantity"]
    if release:
        tx.conn.execute(_release, [{"pid": p, "qty": q} for p, q in sorted(release.items())])
    tx.conn.execute(
        update(lines).where(lines.c.order_id == order_id)
        .values(reserved_quantity=0, cancelled_quantity=lines.c.quantity - lines.c.shipped_quantity)
    )
    tx.conn.execute(update(orders).where(orders.c.id == order_id).values(status=new_status))
    tx.emit("order.cancelled", o.channel, order_id, {"order_id": order_id, "number": number, "status": new_status})
    tx.audit("order.cancelled", "order", order_id, {"status": o.status}, {"status": new_status})
    return get_order(tx, order_id, principal)


# -- read ----------------------------------------------------------------------------

_lines_of = (select(*LINE_COLS).where(lines.c.order_id.in_(bindparam("ids", expanding=True)))
             .order_by(lines.c.order_id, lines.c.line_no))
_shipments_of = (select(shipments.c.order_id, shipments.c.id)
                 .where(shipments.c.order_id.in_(bindparam("ids", expanding=True))).order_by(shipments.c.id))
_invoices_of = (select(invoices.c.order_id, invoices.c.id)
                .where(invoices.c.order_id.in_(bindparam("ids", expanding=True))).order_by(invoices.c.id))


def _assemble(order_rows: list[Row[Any]], tx: Tx) -> list[dict[str, Any]]:
    """Orders with their lines, shipment and invoice ids, in four queries for any page."""
    if not order_rows:
        return []
    ids = [r.id for r in order_rows]
    by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for l in tx.conn.execute(_lines_of, {"ids": ids}):
        d = l._asdict()
        by_order[d.pop("order_id")].append(d)
    ship_ids: dict[int, list[int]] = defaultdict(list)
    for s in tx.conn.execute(_shipments_of, {"ids": ids}):
        ship_ids[s.order_id].append(s.id)
    inv_ids: dict[int, list[int]] = defaultdict(list)
    for i in tx.conn.execute(_invoices_of, {"ids": ids}):
        inv_ids[i.order_id].append(i.id)
    return [order_view(r._asdict(), by_order[r.id], ship_ids[r.id], inv_ids[r.id]) for r in order_rows]


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

