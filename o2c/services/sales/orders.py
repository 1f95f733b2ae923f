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
    Conflict,
    CreditLimitExceeded,
    InvalidTransition,
    NotFound,
    OutOfStock,
    ValidationFailed,
)
from o2c.domain import fx as dfx
from o2c.domain.fx import minor_units
from o2c.domain.money import ZERO, document_totals, line_net
from o2c.domain.numbering import document_number, order_number
from o2c.domain.states import LineProgress, OrderStatuses, derive_order_statuses, order_transition
from o2c.services.books import fx, reports
from o2c.services.crm import coupons
from o2c.services.customers import records
from o2c.services.platform import jobs
from o2c.services.platform.company import company_settings
from o2c.services.sales import tax
from o2c.services.platform.uow import Tx, insert_ignoring_conflicts

orders = m.Order.__table__
lines = m.OrderLine.__table__
products = m.Product.__table__
stock = m.Stock.__table__
customers = m.Customer.__table__
invoices = m.Invoice.__table__
shipments = m.Shipment.__table__

FUNCTIONAL_CURRENCY = dfx.FUNCTIONAL_CURRENCY

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
    orders.c.confirmed_at, orders.c.allow_backorder, orders.c.tax_treatment, orders.c.tax_country,
    orders.c.buyer_vat_id, orders.c.coupon_id, orders.c.promised_date, orders.c.payment_terms_days,
]
#: Days after issue an order's invoice falls due: the order's agreed terms
#: (a quotation's), else the customer's (needs ``customers`` joined).
DUE_IN_DAYS = func.coalesce(orders.c.payment_terms_days, customers.c.payment_terms_days).label("due_in_days")
LINE_COLS = [
    lines.c.order_id, lines.c.id, lines.c.line_no, lines.c.product_id, lines.c.sku, lines.c.description,
    lines.c.quantity, lines.c.unit_price, lines.c.discount, lines.c.vat_rate, lines.c.vat_category, lines.c.net,
    lines.c.reserved_quantity, lines.c.packed_quantity, lines.c.shipped_quantity, lines.c.invoiced_quantity,
    lines.c.returned_quantity, lines.c.cancelled_quantity, lines.c.backordered_quantity,
]


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

_insert_lines = insert(lines)
_mark_reserved = (
    update(lines).where(lines.c.order_id == bindparam("oid")).values(reserved_quantity=lines.c.quantity)
)
_mark_confirmed = (
    update(orders).where(orders.c.id == bindparam("oid")).values(status="confirmed", confirmed_at=bindparam("at"))
)


def create_order(tx: Tx, principal: Principal, data: dict[str, Any], *, channel: str | None = None,
                 coupon_id: int | None = None) -> dict[str, Any]:
    """Create an order; with ``confirm`` it is created confirmed or not at all.
    The customer is one this principal may use (``records.resolve_customer``).
    ``channel`` overrides the principal's (an accepted quotation's order is in
    channel ``quote``); ``data["payment_terms_days"]`` the customer's terms.
    ``coupon_id``: a coupon the lines' discounts include already (an accepted
    quotation's), redeemed at confirmation like ``data["coupon"]``."""
    customer = records.resolve_customer(tx, principal, data["customer"])
    currency = data.get("currency") or customer.currency
    req_lines = data["lines"]
    found, places = tax.products_in(tx, currency, req_lines)
    errors: dict[str, Any] = {}
    for i, l in enumerate(req_lines):
        p = found.get(l["sku"])
        if p is None:
            errors[str(i)] = {"sku": [f"Unknown SKU “{l['sku']}”."]}
        elif not p.active:
            errors[str(i)] = {"sku": [f"Product “{l['sku']}” is not active."]}
    if errors:
        raise ValidationFailed("Some order lines are invalid.", {"lines": errors})
    found = tax.with_prices(tx, currency, found, req_lines)

    confirm = bool(data.get("confirm"))
    # The tax treatment is decided with the prices, from what is read already
    # (company settings are cached; customer and products are in hand), and
    # frozen on the order: later invoices and credit notes copy it.
    shipping_address = data.get("shipping_address") or customer.shipping_address or customer.billing_address
    ship_to = tax.ship_to_of(customer, shipping_address)
    decision, priced = tax.price_lines(tx, company_settings(tx), customer, ship_to, found, req_lines, currency)
    line_rows = []
    for i, r in enumerate(priced, start=1):
        line_rows.append({
            "line_no": i, **r,
            "reserved_quantity": r["quantity"] if confirm else 0, "packed_quantity": 0,
            "shipped_quantity": 0, "invoiced_quantity": 0, "returned_quantity": 0, "cancelled_quantity": 0,
            "backordered_quantity": 0,
        })
    if data.get("coupon"):
        coupon_id = coupons.apply_coupon(tx, data["coupon"], customer.id, line_rows, currency=currency,
                                         places=places)
    totals = document_totals(((r["net"], r["vat_rate"]) for r in line_rows), places)

    channel = channel or principal.channel
    external_ref = data.get("external_ref")
    row = {
        "channel": channel, "external_ref": external_ref, "customer_id": customer.id,
        "currency": currency, "status": "confirmed" if confirm else "draft",
        "fulfillment_status": "unfulfilled", "payment_status": "unpaid",
        "shipping_address": shipping_address, **tax.tax_columns(decision, ship_to),
        "net_total": totals.net, "vat_total": totals.vat, "total": totals.gross,
        "invoiced_total": ZERO, "amount_paid": ZERO, "created_at": tx.now,
        "confirmed_at": tx.now if confirm else None, "allow_backorder": bool(data.get("allow_backorder")),
        "coupon_id": coupon_id, "promised_date": data.get("promised_date"),
        "payment_terms_days": data.get("payment_terms_days"),
    }
    oid = tx.conn.execute(insert_ignoring_conflicts(tx.conn, orders, ("id",)), row).scalar()
    if oid is None:
        existing = tx.conn.execute(
            select(orders.c.id, orders.c.created_at)
            .where(orders.c.channel == channel, orders.c.external_ref == external_ref)
        ).one()
        number = order_number(existing.id, existing.created_at)
        raise Conflict(
            f"Order {number} already has external_ref “{external_ref}” in channel “{channel}”.",
            {"order_id": existing.id, "number": number},
        )
    row["id"] = oid
    number = order_number(oid, tx.now)
    for r in line_rows:
        r["order_id"] = oid
    tx.conn.execute(_insert_lines, line_rows)
    # The event describes the order as committed: created with ``confirm`` it
    # is confirmed (order.confirmed follows in the same transaction).
    tx.emit("order.created", channel, oid, {
        "order_id": oid, "number": number, "external_ref": external_ref,
        "status": row["status"], "total": str(totals.gross),
    })
    tx.audit("order.created", "order", oid, None, {"status": "draft", "number": number, "total": str(totals.gross)})
    if confirm:
        # The order row is inserted first so a duplicate external_ref is reported
        # as such; a refused confirmation rolls the whole creation back.
        _check_credit(tx, principal, customer.id, customer.credit_limit, totals.gross, currency, number, oid)
        if coupon_id is not None:
            coupons.redeem(tx, coupon_id)
        waiting = _reserve_lines(tx, line_rows, backorder=row["allow_backorder"])
        if waiting:
            _mark_backordered(tx, oid, line_rows)
        _confirmed(tx, oid, number, channel, "draft", _waiting_view(line_rows))
    return order_view(row, [{k: r[k] for k in r if k != "order_id"} for r in line_rows], [], [])


# -- confirm / cancel ---------------------------------------------------------------

_uninvoiced = (
    select(orders.c.currency, money_sum(orders.c.total - orders.c.invoiced_total))
    .where(orders.c.customer_id == bindparam("cid"), orders.c.status == "confirmed",
           orders.c.total > orders.c.invoiced_total, orders.c.id != bindparam("exclude"))
    .group_by(orders.c.currency))


def customer_exposure(tx: Tx, customer_id: int, exclude_order: int = 0) -> Decimal:
    """Open receivables plus confirmed orders not yet invoiced (but for one),
    in the functional currency the credit limit is set in: open foreign
    invoices at their booked values, foreign orders at the day's rate."""
    open_ar = reports.open_receivables(tx, invoices.c.customer_id == customer_id)["open"]
    uninvoiced = ZERO
    for currency, amount in tx.conn.execute(_uninvoiced, {"cid": customer_id, "exclude": exclude_order}):
        uninvoiced += in_functional(tx, amount, currency)
    return open_ar + uninvoiced


def in_functional(tx: Tx, amount: Decimal, currency: str) -> Decimal:
    """An amount not (yet) on a document, in the functional currency at the day's rate."""
    if currency == FUNCTIONAL_CURRENCY:
        return amount
    return dfx.to_functional(amount, fx.day_rate(tx, currency, tx.today).rate, currency)


_lock_customer = (
    select(customers.c.id).where(customers.c.id == bindparam("cid"))
    # FOR NO KEY UPDATE: confirmations for one customer queue behind each other,
    # while inserts that merely reference the customer (orders, invoices,
    # payments take KEY SHARE locks) are not blocked and cannot deadlock with it.
    .with_for_update(key_share=True)
)


def _check_credit(tx: Tx, principal: Principal, customer_id: int, limit: Decimal | None, total: Decimal,
                  currency: str, number: str, order_id: int) -> None:
    """The order fits under the customer's credit limit (in the functional
    currency, as every figure it is compared with)."""
    if limit is None:
        return
    # Lock the customer so two confirmations cannot both fit under the limit.
    tx.conn.execute(_lock_customer, {"cid": customer_id})
    amount = in_functional(tx, total, currency)
    exposure = customer_exposure(tx, customer_id, exclude_order=order_id)
    if exposure + amount > limit:
        if principal.channel_scope is not None:
            # A webshop learns that the order does not fit, not the customer's
            # limit or what the back office and other channels have open.
            raise CreditLimitExceeded(
                f"Order {number} ({amount}) is over the customer's credit limit; the back office can help.",
                {"order_total": str(amount)})
        raise CreditLimitExceeded(
            f"Order {number} ({amount}) would take the customer's exposure to "
            f"{exposure + amount}, over the credit limit of {limit}.",
            {"credit_limit": str(limit), "exposure": str(exposure), "order_total": str(amount)},
        )


_available_locked = (
    select(stock.c.on_hand - stock.c.reserved).where(stock.c.product_id == bindparam("pid")).with_for_update()
)
_backorder_line = (
    update(lines).where(lines.c.order_id == bindparam("oid"), lines.c.line_no == bindparam("no"))
    .values(reserved_quantity=bindparam("res"), backordered_quantity=bindparam("wait"))
)


def _reserve_lines(tx: Tx, line_dicts: list[dict[str, Any]], *, backorder: bool = False) -> int:
    """Reserve every line's quantity, all or nothing (``out_of_stock``). With
    ``backorder`` a short SKU is reserved as far as it is available and the
    rest stays backordered: the line dicts get their ``reserved_quantity`` and
    ``backordered_quantity``, and the quantity backordered is returned."""
    need: dict[int, int] = defaultdict(int)
    sku_of: dict[int, str] = {}
    for l in line_dicts:
        need[l["product_id"]] += l["quantity"]
        sku_of[l["product_id"]] = l["sku"]
    short = [pid for pid in sorted(need)  # a fixed order: concurrent confirmations cannot deadlock
             if tx.conn.execute(_reserve, {"pid": pid, "qty": need[pid]}).rowcount != 1]
    if short and backorder:
        waiting = 0
        for pid in short:  # still in product id order; the stock row is locked, so this figure holds
            # Goods may have arrived since the first attempt: never more than the lines need.
            available = min(max(int(tx.conn.execute(_available_locked, {"pid": pid}).scalar() or 0), 0), need[pid])
            if available:
                tx.conn.execute(_reserve, {"pid": pid, "qty": available})
            for l in line_dicts:  # the earlier lines of a SKU are served first
                if l["product_id"] == pid:
                    take = min(l["quantity"], available)
                    available -= take
                    l["reserved_quantity"] = take
                    l["backordered_quantity"] = l["quantity"] - take
                    waiting += l["quantity"] - take
        return waiting
    if short:
        avail = dict(tx.conn.execute(
            select(stock.c.product_id, stock.c.on_hand - stock.c.reserved).where(stock.c.product_id.in_(short))
        ).all())
        raise OutOfStock(
            f"Not enough stock for {len(short)} line{'s' if len(short) != 1 else ''}",
            {"lines": [{"sku": sku_of[p], "requested": need[p], "available": max(int(avail.get(p, 0)), 0)}
                       for p in short]},
        )
    return 0


def _mark_backordered(tx: Tx, order_id: int, line_dicts: list[dict[str, Any]]) -> None:
    tx.conn.execute(_backorder_line, [
        {"oid": order_id, "no": l["line_no"], "res": l["reserved_quantity"], "wait": l["backordered_quantity"]}
        for l in line_dicts if l.get("backordered_quantity")])


def _waiting_view(line_dicts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"sku": l["sku"], "line_no": l["line_no"], "quantity": l["backordered_quantity"]}
            for l in line_dicts if l.get("backordered_quantity")]


def _confirmed(tx: Tx, order_id: int, number: str, channel: str, before: str,
               backordered: list[dict[str, Any]] | None = None) -> None:
    data: dict[str, Any] = {"order_id": order_id, "number": number, "status": "confirmed"}
    after: dict[str, Any] = {"status": "confirmed"}
    if backordered:
        data["backordered"] = after["backordered"] = backordered
    tx.emit("order.confirmed", channel, order_id, data)
    tx.audit("order.confirmed", "order", order_id, {"status": before}, after)


def confirm_order(tx: Tx, order_id: int, principal: Principal) -> dict[str, Any]:
    o = load_order(tx, order_id, principal, lock=True, extra=[customers.c.credit_limit])
    number = order_number(o.id, o.created_at)
    new_status = order_transition("confirm", o.status, number)
    _check_credit(tx, principal, o.customer_id, o.credit_limit, o.total, o.currency, number, o.id)
    if o.coupon_id is not None:
        coupons.redeem(tx, o.coupon_id)
    ls = order_lines(tx, order_id)
    for l in ls:
        l.pop("order_id")
        l["reserved_quantity"] = l["quantity"]
    tx.conn.execute(_mark_reserved, {"oid": order_id})
    if _reserve_lines(tx, ls, backorder=o.allow_backorder):
        _mark_backordered(tx, order_id, ls)
    tx.conn.execute(_mark_confirmed, {"oid": order_id, "at": tx.now})
    _confirmed(tx, order_id, number, o.channel, o.status, _waiting_view(ls))
    row = {k: v for k, v in o._asdict().items() if k != "credit_limit"}
    return order_view({**row, "status": new_status, "confirmed_at": tx.now}, ls, [], [])


shipment_lines = m.ShipmentLine.__table__
_packed_of_order = (
    select(shipments.c.id, shipments.c.created_at, shipment_lines.c.order_line_id, shipment_lines.c.quantity)
    .join(shipment_lines, shipment_lines.c.shipment_id == shipments.c.id)
    .where(shipments.c.order_id == bindparam("oid"), shipments.c.status == "packed")
    .order_by(shipments.c.id, shipment_lines.c.id)
)
_unpack_line = (
    update(lines).where(lines.c.id == bindparam("lid"))
    .values(packed_quantity=lines.c.packed_quantity - bindparam("qty"))
)
_cancel_shipments = (
    update(shipments).where(shipments.c.id.in_(bindparam("sids", expanding=True))).values(status="cancelled")
)
_cancel_line = (
    update(lines).where(lines.c.id == bindparam("lid"))
    .values(cancelled_quantity=lines.c.cancelled_quantity + bindparam("qty"),
            reserved_quantity=lines.c.reserved_quantity - bindparam("res"),
            backordered_quantity=lines.c.backordered_quantity - bindparam("wait"))
)
_set_totals = (
    update(orders).where(orders.c.id == bindparam("oid"))
    .values(net_total=bindparam("net", type_=orders.c.net_total.type),
            vat_total=bindparam("vat", type_=orders.c.vat_total.type),
            total=bindparam("gross", type_=orders.c.total.type))
)


def open_quantity(line: dict[str, Any]) -> int:
    """What can still be cancelled on a line: ordered, not shipped or cancelled
    (packed goods count: their shipment is cancelled first)."""
    return int(line["quantity"] - line["shipped_quantity"] - line["cancelled_quantity"])


def _unpack(tx: Tx, order: Any, ls: list[dict[str, Any]], only_lines: set[int] | None) -> list[str]:
    """Cancel the order's packed shipments (all, or those holding one of
    ``only_lines``): the goods stay on hand and reserved for the order."""
    packed = tx.conn.execute(_packed_of_order, {"oid": order.id}).all()
    hit = {p.id for p in packed if only_lines is None or p.order_line_id in only_lines}
    if not hit:
        return []
    by_id = {l["id"]: l for l in ls}
    tx.conn.execute(_unpack_line, [{"lid": p.order_line_id, "qty": p.quantity} for p in packed if p.id in hit])
    for p in packed:
        if p.id in hit:
            by_id[p.order_line_id]["packed_quantity"] -= p.quantity
    tx.conn.execute(_cancel_shipments, {"sids": sorted(hit)})
    numbers = []
    for sid in sorted(hit):
        created = next(p.created_at for p in packed if p.id == sid)
        sh_number = document_number("SH", created.year, sid)
        numbers.append(sh_number)
        tx.emit("shipment.cancelled", order.channel, order.id,
                {"shipment_id": sid, "number": sh_number, "order_id": order.id})
        tx.audit("shipment.cancelled", "shipment", sid, {"status": "packed"},
                 {"status": "cancelled", "reason": "order cancellation"})
    return numbers


def cancel_order(
    tx: Tx, order_id: int, principal: Principal, requested: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Cancel a draft or confirmed order, or with ``requested`` lines (SKU and
    quantity) only that much of what is still open on a confirmed order.
    Reservations are released; packed shipments in the way are cancelled
    first (their goods stay on hand)."""
    if requested is not None:
        return _cancel_lines(tx, order_id, principal, requested)
    o = load_order(tx, order_id, principal, lock=True)
    number = order_number(o.id, o.created_at)
    new_status = order_transition("cancel", o.status, number)
    ls = order_lines(tx, order_id)
    if any(l["shipped_quantity"] for l in ls):
        raise InvalidTransition(
            f"Cannot cancel order {number} as a whole: part of it is shipped (shipped goods come back "
            "as a return). Cancel what is still open by naming its lines.",
            {"status": o.status, "action": "cancel"},
        )
    unpacked = _unpack(tx, o, ls, None)
    release: dict[int, int] = defaultdict(int)
    for l in ls:
        if l["reserved_quantity"]:
            release[l["product_id"]] += l["reserved_quantity"]
    if release:
        tx.conn.execute(_release, [{"pid": p, "qty": q} for p, q in sorted(release.items())])
    tx.conn.execute(
        update(lines).where(lines.c.order_id == order_id)
        .values(reserved_quantity=0, backordered_quantity=0,
                cancelled_quantity=lines.c.quantity - lines.c.shipped_quantity)
    )
    tx.conn.execute(update(orders).where(orders.c.id == order_id).values(status=new_status))
    if o.coupon_id is not None and o.status == "confirmed":
        coupons.give_back(tx, o.coupon_id)  # nothing shipped: the coupon may be used again
    hand_over_freed_stock(tx, release)
    data: dict[str, Any] = {"order_id": order_id, "number": number, "status": new_status}
    if unpacked:
        data["shipments_cancelled"] = unpacked
    tx.emit("order.cancelled", o.channel, order_id, data)
    tx.audit("order.cancelled", "order", order_id, {"status": o.status}, {"status": new_status, **data})
    return get_order(tx, order_id, principal)


def _cancel_lines(tx: Tx, order_id: int, principal: Principal, requested: list[dict[str, Any]]) -> dict[str, Any]:
    o = load_order(tx, order_id, principal, lock=True)
    number = order_number(o.id, o.created_at)
    order_transition("cancel_lines", o.status, number)
    ls = order_lines(tx, order_id)
    on_order = {l["sku"] for l in ls}
    unknown = {str(i): {"sku": [f"SKU “{r['sku']}” is not on order {number}."]}
               for i, r in enumerate(requested) if r["sku"] not in on_order}
    if unknown:
        raise ValidationFailed("Some lines are not on this order.", {"lines": unknown})
    want: dict[str, int] = defaultdict(int)
    for r in requested:
        want[r["sku"]] += r["quantity"]
    too_many = [{"sku": sku, "requested": q, "open": sum(open_quantity(l) for l in ls if l["sku"] == sku)}
                for sku, q in want.items()]
    too_many = [t for t in too_many if t["requested"] > t["open"]]
    if too_many:
        raise InvalidTransition(
            f"Cannot cancel more than is open on order {number} (ordered minus shipped and already cancelled): "
            + ", ".join(f"{t['sku']} {t['requested']} requested, {t['open']} open" for t in too_many) + ".",
            {"status": o.status, "action": "cancel_lines", "lines": too_many},
        )
    # What each line gives up: its open quantity, filled in line order per SKU.
    cut: dict[int, int] = {}
    for sku, q in want.items():
        for l in ls:
            if l["sku"] == sku and q > 0 and open_quantity(l) > 0:
                take = min(q, open_quantity(l))
                cut[l["id"]] = take
                q -= take
    # Packed goods in the way go back to the order first.
    in_the_way = {l["id"] for l in ls if l["id"] in cut
                  and cut[l["id"]] > l["quantity"] - l["shipped_quantity"] - l["cancelled_quantity"] - l["packed_quantity"]}
    unpacked = _unpack(tx, o, ls, in_the_way) if in_the_way else []
    release: dict[int, int] = defaultdict(int)
    changes, cancelled_view = [], []
    for l in ls:
        c = cut.get(l["id"], 0)
        if not c:
            continue
        wait = min(c, l["backordered_quantity"])  # what was never reserved goes first
        res = c - wait
        release[l["product_id"]] += res
        changes.append({"lid": l["id"], "qty": c, "res": res, "wait": wait})
        l["cancelled_quantity"] += c
        l["reserved_quantity"] -= res
        l["backordered_quantity"] -= wait
        cancelled_view.append({"sku": l["sku"], "line_no": l["line_no"], "quantity": c})
    to_release = [{"pid": p, "qty": q} for p, q in sorted(release.items()) if q]
    if to_release:
        tx.conn.execute(_release, to_release)
    tx.conn.execute(_cancel_line, changes)
    hand_over_freed_stock(tx, [r["pid"] for r in to_release])

    # The order's totals are what is still ordered; the statuses follow.
    places = minor_units(o.currency)
    remaining = [(line_net(l["quantity"] - l["cancelled_quantity"], l["unit_price"], l["discount"], places),
                  l["vat_rate"]) for l in ls]
    totals = document_totals(remaining, places)
    tx.conn.execute(_set_totals, {"oid": order_id, "net": totals.net, "vat": totals.vat, "gross": totals.gross})
    everything_cancelled = all(l["cancelled_quantity"] >= l["quantity"] for l in ls)
    if everything_cancelled:
        new = OrderStatuses("cancelled", o.fulfillment_status, o.payment_status)
    else:
        new = derive_order_statuses(o.status, progress(ls), o.invoiced_total, o.amount_paid)
    data: dict[str, Any] = {"order_id": order_id, "number": number, "lines": cancelled_view,
                            "total": str(totals.gross)}
    if unpacked:
        data["shipments_cancelled"] = unpacked
    tx.emit("order.lines_cancelled", o.channel, order_id, data)
    tx.audit("order.lines_cancelled", "order", order_id, {"total": str(o.total)}, data)
    record_progress(tx, o, new)
    if everything_cancelled and o.coupon_id is not None and not any(l["shipped_quantity"] for l in ls):
        coupons.give_back(tx, o.coupon_id)
    if everything_cancelled:
        tx.emit("order.cancelled", o.channel, order_id, {"order_id": order_id, "number": number, "status": "cancelled"})
    return get_order(tx, order_id, principal)


# -- stock freed for orders waiting --------------------------------------------------

#: The job that gives stock freed by a cancellation or a restocked return to
#: the orders waiting for it (``o2c.services.platform.background``).
HAND_OVER = "backorders.hand_over"

_waited_for = (
    select(lines.c.product_id).join(orders, orders.c.id == lines.c.order_id)
    .where(lines.c.product_id.in_(bindparam("pids", expanding=True)), lines.c.backordered_quantity > 0,
           orders.c.status == "confirmed")
    .distinct()
)


def hand_over_freed_stock(tx: Tx, product_ids: Iterable[int]) -> None:
    """Stock this transaction freed goes to the orders waiting for it right
    after the commit, in a job of its own (one per product, queued only when
    an order waits): reserving for them here would lock their order rows
    after stock rows, against the lock order."""
    pids = sorted(set(product_ids))
    if not pids:
        return
    for pid in tx.conn.execute(_waited_for, {"pids": pids}).scalars():
        jobs.enqueue(tx.conn, HAND_OVER, {"product_id": pid}, key=f"backorders:{pid}", now=tx.now)


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
        if not records.may_use_customer(tx, principal, customer_id):
            return [], None
        q = q.where(orders.c.customer_id == customer_id)
    if external_ref:
        q = q.where(orders.c.external_ref == external_ref)
    if cursor is not None:
        q = q.where(orders.c.id < cursor)
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    return _assemble(page, tx), (page[-1].id if len(rows) > limit else None)

