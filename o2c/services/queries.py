"""Read models for the back-office screens: searches with filters and keyset
pagination, a document with everything around it, the audit trail, stock
movements and the dashboard's figures. Set-based: one query per list, never
a query per row."""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select, type_coerce

from o2c.db import models as m
from o2c.db.types import Money, money_sum
from o2c.domain.access import Principal
from o2c.domain.actions import packing_state
from o2c.domain.errors import NotFound
from o2c.domain.money import ZERO, unit_cost
from o2c.domain.numbering import order_number
from o2c.ledger.accounts import REVENUE_ROLES
from o2c.services.billing import invoicing
from o2c.services.books import ledger, reports
from o2c.services.cash.payments import OPEN, payment_number
from o2c.services.fulfilment import shipping
from o2c.services.platform.uow import Tx, period_of
from o2c.services.sales import orders as order_service

orders = m.Order.__table__
lines = m.OrderLine.__table__
customers = m.Customer.__table__
products = m.Product.__table__
stock = m.Stock.__table__
movements = m.StockMovement.__table__
shipments = m.Shipment.__table__
shipment_lines = m.ShipmentLine.__table__
invoices = m.Invoice.__table__
payments = m.Payment.__table__
allocations = m.PaymentAllocation.__table__
audit = m.AuditLog.__table__
entries = m.JournalEntry.__table__
jlines = m.JournalLine.__table__
periods = m.Period.__table__
returns_t = m.Return.__table__
credit_notes = m.CreditNote.__table__
refunds = m.Refund.__table__

_ORDER_NUMBER = re.compile(r"^(?:SO-\d{4}-)?0*(\d{1,18})$", re.IGNORECASE)
_INVOICE_NUMBER = re.compile(r"^[A-Z]+-\d{4}-\d+$", re.IGNORECASE)


@dataclass(frozen=True)
class Page:
    """One page of a list (keyset pagination) with the cursors of its
    neighbours: pass ``next`` as ``next_`` for the following page and
    ``prev`` as ``prev`` for the one before; ``None`` where there is none."""

    items: list[dict[str, Any]]
    prev: Any | None
    next: Any | None


def _page(tx: Tx, q: Select[Any], key: Any, key_name: str, before: Any, after: Any, limit: int,
          descending: bool = True) -> tuple[list[Any], Any, Any]:
    """``limit`` rows of ``q`` in ``key`` order (descending: newest first),
    following the cursor ``before`` (the next page) or preceding ``after``
    (the previous page); returns the rows and the prev and next cursors."""
    if after is not None:
        q = q.where(key > after if descending else key < after)
        q = q.order_by(key.asc() if descending else key.desc())
    else:
        if before is not None:
            q = q.where(key < before if descending else key > before)
        q = q.order_by(key.desc() if descending else key.asc())
    rows = tx.conn.execute(q.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if after is not None:
        rows.reverse()
        prev = getattr(rows[0], key_name) if rows and more else None
        nxt = getattr(rows[-1], key_name) if rows else None
    else:
        prev = getattr(rows[0], key_name) if rows and before is not None else None
        nxt = getattr(rows[-1], key_name) if rows and more else None
    return rows, prev, nxt


def _day_start(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time(), tzinfo=dt.timezone.utc)


# -- orders ----------------------------------------------------------------------

# What is packed is read from the shipments waiting in "packed", here and
# nowhere else: the orders list, its filters and the order page all use these
# expressions (no packing state is stored on the order).

def _packed_on_line(line: Any) -> Any:
    """The quantity of an order line lying in packed (not yet shipped) shipments."""
    return (select(func.coalesce(func.sum(shipment_lines.c.quantity), 0))
            .join(shipments, shipments.c.id == shipment_lines.c.shipment_id)
            .where(shipments.c.order_id == line.c.order_id, shipments.c.status == "packed",
                   shipment_lines.c.order_line_id == line.c.id)
            .scalar_subquery())


def _packing_columns(line: Any) -> tuple[Any, Any, Any]:
    """Per line: still to ship, packed, and ready to pack now (reserved, not
    yet packed; a backordered quantity waits for its goods)."""
    packed = _packed_on_line(line)
    to_ship = line.c.quantity - line.c.shipped_quantity - line.c.cancelled_quantity
    unpacked, free = to_ship - packed, line.c.reserved_quantity - packed
    ready = case((unpacked < free, unpacked), else_=free)
    return to_ship, packed, case((ready > 0, ready), else_=0)


def _has_packed_shipment() -> Any:
    return select(shipments.c.id).where(shipments.c.order_id == orders.c.id,
                                        shipments.c.status == "packed").exists()


def _has_goods_to_pack() -> Any:
    ol = lines.alias("ol")
    _, _, ready = _packing_columns(ol)
    return and_(orders.c.status == "confirmed",
                select(ol.c.id).where(ol.c.order_id == orders.c.id, ready > 0).exists())


#: The list filters a warehouse works from (``OrderFilters.stage``).
STAGES = {"to_pack": "to pack", "packed": "packed, not shipped"}


def packing(tx: Tx, order_ids: list[int]) -> dict[int, dict[str, Any]]:
    """For each order: the quantities still to ship, packed and ready to pack,
    and the packing state in words' keys (``packed``, ``partially_packed`` or
    ``None``), in one query."""
    if not order_ids:
        return {}
    to_ship, packed, ready = _packing_columns(lines)
    out = {}
    for r in tx.conn.execute(
        select(lines.c.order_id, func.sum(to_ship).label("to_ship"), func.sum(packed).label("packed"),
               func.sum(ready).label("ready"))
        .where(lines.c.order_id.in_(order_ids)).group_by(lines.c.order_id)
    ):
        out[r.order_id] = {"to_ship": int(r.to_ship), "packed": int(r.packed), "ready": int(r.ready),
                           "state": packing_state(int(r.to_ship), int(r.packed))}
    return out



@dataclass(frozen=True)
class OrderFilters:
    q: str = ""
    status: str = ""
    fulfillment: str = ""
    payment: str = ""
    channel: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    customer_id: int | None = None
    stage: str = ""  # a key of STAGES


_ORDER_LIST_COLS = [
    orders.c.id, orders.c.created_at, orders.c.channel, orders.c.external_ref, orders.c.status,
    orders.c.fulfillment_status, orders.c.payment_status, orders.c.currency, orders.c.total,
    orders.c.invoiced_total, orders.c.amount_paid, orders.c.customer_id,
    customers.c.code.label("customer_code"), customers.c.name.label("customer_name"),
]


def search_orders(tx: Tx, principal: Principal, f: OrderFilters, *, next_: int | None = None,
                  prev: int | None = None, limit: int = 25) -> Page:
    """Orders matching a search (number, customer name or code, external
    reference) and filters, newest first."""
    q = select(*_ORDER_LIST_COLS).join(customers, customers.c.id == orders.c.customer_id)
    if principal.channel_scope is not None:
        q = q.where(orders.c.channel == principal.channel_scope)
    text = f.q.strip()
    if text:
        number = _ORDER_NUMBER.match(text)
        conds = [orders.c.external_ref == text, func.lower(customers.c.code) == text.lower(),
                 func.lower(customers.c.name).contains(text.lower(), autoescape=True)]
        if number and int(number.group(1)) <= 2**63 - 1:
            conds.append(orders.c.id == int(number.group(1)))
        q = q.where(or_(*conds))
    for col, value in ((orders.c.status, f.status), (orders.c.fulfillment_status, f.fulfillment),
                       (orders.c.payment_status, f.payment), (orders.c.channel, f.channel)):
        if value:
            q = q.where(col == value)
    if f.customer_id is not None:
        q = q.where(orders.c.customer_id == f.customer_id)
    if f.date_from:
        q = q.where(orders.c.created_at >= _day_start(f.date_from))
    if f.date_to:
        q = q.where(orders.c.created_at < _day_start(f.date_to + dt.timedelta(days=1)))
    if f.stage == "to_pack":
        q = q.where(_has_goods_to_pack())
    elif f.stage == "packed":
        q = q.where(_has_packed_shipment())
    rows, prev, nxt = _page(tx, q, orders.c.id, "id", next_, prev, limit)
    packed = packing(tx, [r.id for r in rows])
    items = []
    for r in rows:
        d = r._asdict()
        d["number"] = order_number(r.id, r.created_at)
        d["packing"] = packed.get(r.id)
        items.append(d)
    return Page(items, prev, nxt)


def order_channels(tx: Tx) -> list[str]:
    return list(tx.conn.execute(select(orders.c.channel).distinct().order_by(orders.c.channel)).scalars())


def order_page(tx: Tx, order_id: int, principal: Principal) -> dict[str, Any]:
    """An order with its customer, shipments, invoices, payments and audit trail."""
    order = order_service.get_order(tx, order_id, principal)
    customer = tx.conn.execute(
        select(customers.c.id, customers.c.code, customers.c.name, customers.c.credit_limit,
               customers.c.payment_terms_days).where(customers.c.id == order["customer_id"])
    ).one()._asdict()
    ships = _shipments(tx, [order_id])
    invs = [r._asdict() for r in tx.conn.execute(
        select(invoices.c.id, invoices.c.number, invoices.c.status, invoices.c.issue_date, invoices.c.due_date,
               invoices.c.total, invoices.c.amount_paid, invoices.c.credited_amount, invoices.c.shipment_id)
        .where(invoices.c.order_id == order_id).order_by(invoices.c.id))]
    for i in invs:
        i["balance_due"] = i["total"] - i["amount_paid"] - i["credited_amount"]
    pays = _allocations(tx, invoices.c.order_id == order_id)
    after_sale = [(kind, list(tx.conn.execute(select(t.c.id).where(t.c.order_id == order_id)).scalars()))
                  for kind, t in (("return", returns_t), ("credit_note", credit_notes))]
    trail = audit_trail(tx, [("order", [order_id]), ("shipment", [s["id"] for s in ships]),
                             ("invoice", [i["id"] for i in invs]), *after_sale], principal=principal)
    return {"order": order, "customer": customer, "shipments": ships, "invoices": invs,
            "payments": pays, "audit": trail, "policy": invoicing.company_settings(tx).invoicing_policy,
            "packing": packing(tx, [order_id]).get(order_id)}


def _shipments(tx: Tx, order_ids: list[int], shipment_id: int | None = None) -> list[dict[str, Any]]:
    q = select(shipments.c.id, shipments.c.order_id, shipments.c.status, shipments.c.carrier,
               shipments.c.tracking_number, shipments.c.shipped_at, shipments.c.invoice_id,
               shipments.c.created_at, invoices.c.number.label("invoice_number")) \
        .outerjoin(invoices, invoices.c.id == shipments.c.invoice_id).order_by(shipments.c.id)
    q = q.where(shipments.c.id == shipment_id) if shipment_id is not None else q.where(
        shipments.c.order_id.in_(order_ids))
    ships = [r._asdict() for r in tx.conn.execute(q)]
    if not ships:
        return []
    by_ship: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in tx.conn.execute(
        select(shipment_lines.c.shipment_id, shipment_lines.c.sku, shipment_lines.c.quantity,
               lines.c.description, lines.c.line_no, products.c.unit)
        .join(lines, lines.c.id == shipment_lines.c.order_line_id)
        .join(products, products.c.id == shipment_lines.c.product_id)
        .where(shipment_lines.c.shipment_id.in_([s["id"] for s in ships]))
        .order_by(shipment_lines.c.shipment_id, lines.c.line_no, shipment_lines.c.id)
    ):
        d = r._asdict()
        by_ship[d.pop("shipment_id")].append(d)
    for s in ships:
        s["number"] = shipping.shipment_number(s["id"], s["created_at"])
        s["lines"] = by_ship[s["id"]]
    return ships


def _allocations(tx: Tx, where: Any) -> list[dict[str, Any]]:
    rows = tx.conn.execute(
        select(payments.c.id.label("payment_id"), payments.c.created_at, payments.c.received_on,
               payments.c.method, payments.c.reference, payments.c.amount.label("payment_amount"),
               allocations.c.amount, allocations.c.date, invoices.c.id.label("invoice_id"),
               invoices.c.number.label("invoice_number"))
        .join(allocations, allocations.c.payment_id == payments.c.id)
        .join(invoices, invoices.c.id == allocations.c.invoice_id)
        .where(where).order_by(allocations.c.date, allocations.c.id)
    ).all()
    out = []
    for r in rows:
        d = r._asdict()
        d["number"] = payment_number(r.payment_id, r.created_at)
        out.append(d)
    return out


#: Figures of what goods cost: for those who read the books, not for clerks.
COST_KEYS = frozenset({"cost", "value", "unit_cost", "shipped_cost", "returned_cost"})

#: Keys of audit values that name a document, and the document's kind.
DOCUMENT_KEYS = {"order_id": "order", "original_order_id": "order", "exchange_order_id": "order",
                  "shipment_id": "shipment", "invoice_id": "invoice", "payment_id": "payment",
                  "credit_note_id": "credit_note", "credit_note_ids": "credit_note", "return_id": "return",
                  "refund_id": "refund"}
DOCUMENT_KINDS = frozenset(DOCUMENT_KEYS.values())


def audit_trail(tx: Tx, refs: list[tuple[str, list[int]]], limit: int = 200,
                principal: Principal | None = None) -> list[dict[str, Any]]:
    """Audit rows of the given objects, oldest first, each with the numbers
    of the documents it names (``documents``: ``(kind, id) → number``).
    Cost figures are left out for a ``principal`` who does not read the
    ledger."""
    conds = [and_(audit.c.object_type == kind, audit.c.object_id.in_(ids)) for kind, ids in refs if ids]
    if not conds:
        return []
    rows = [r._asdict() for r in tx.conn.execute(
        select(audit.c.id, audit.c.at, audit.c.actor, audit.c.action, audit.c.object_type, audit.c.object_id,
               audit.c.before, audit.c.after).where(or_(*conds)).order_by(audit.c.id).limit(limit))]
    if principal is not None and not principal.can("ledger:read"):
        for r in rows:
            r["before"], r["after"] = _without_costs(r["before"]), _without_costs(r["after"])
    wanted: dict[str, set[int]] = defaultdict(set)
    for r in rows:
        r["refs"] = _references(r)
        for kind, id_ in r["refs"]:
            wanted[kind].add(id_)
    numbers = document_numbers(tx, wanted)
    for r in rows:
        r["documents"] = {ref: numbers[ref] for ref in r.pop("refs") if ref in numbers}
    return rows


def _without_costs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_costs(v) for k, v in value.items() if k not in COST_KEYS}
    if isinstance(value, list):
        return [_without_costs(v) for v in value]
    return value


def _references(row: dict[str, Any]) -> set[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    if row["object_type"] in DOCUMENT_KINDS:
        found.add((row["object_type"], row["object_id"]))

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                kind = DOCUMENT_KEYS.get(k)
                if kind and isinstance(v, int) and not isinstance(v, bool):
                    found.add((kind, v))
                elif kind and isinstance(v, list):
                    found.update((kind, i) for i in v if isinstance(i, int) and not isinstance(i, bool))
                else:
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
    walk(row["before"])
    walk(row["after"])
    return found


def document_numbers(tx: Tx, ids: dict[str, set[int]]) -> dict[tuple[str, int], str]:
    """The numbers of documents by kind and id (one query per kind asked for)."""
    from o2c.services.fulfilment.returns import refund_number, return_number
    by_date = {"order": (orders, order_number), "shipment": (shipments, shipping.shipment_number),
               "payment": (payments, payment_number), "return": (returns_t, return_number),
               "refund": (refunds, refund_number)}
    numbered = {"invoice": invoices, "credit_note": credit_notes}
    out: dict[tuple[str, int], str] = {}
    for kind, wanted in ids.items():
        if not wanted:
            continue
        if kind in by_date:
            table, number = by_date[kind]
            for r in tx.conn.execute(select(table.c.id, table.c.created_at).where(table.c.id.in_(sorted(wanted)))):
                out[(kind, r.id)] = number(r.id, r.created_at)
        elif kind in numbered:
            table = numbered[kind]
            for r in tx.conn.execute(select(table.c.id, table.c.number).where(table.c.id.in_(sorted(wanted)))):
                out[(kind, r.id)] = r.number
    return out


def shipment_page(tx: Tx, shipment_id: int, principal: Principal) -> dict[str, Any]:
    shipping.get_shipment(tx, shipment_id, principal)  # visibility and existence
    ship = _shipments(tx, [], shipment_id)[0]
    order = order_service.get_order(tx, ship["order_id"], principal)
    customer = tx.conn.execute(select(customers).where(customers.c.id == order["customer_id"])).one()._asdict()
    trail = audit_trail(tx, [("shipment", [shipment_id])], principal=principal)
    return {"shipment": ship, "order": order, "customer": customer, "audit": trail}


# -- invoices and payments -----------------------------------------------------------

@dataclass(frozen=True)
class InvoiceFilters:
    q: str = ""
    status: str = ""
    overdue: bool = False
    customer_id: int | None = None


_balance = invoices.c.total - invoices.c.amount_paid - invoices.c.credited_amount
_balance_money = type_coerce(_balance, Money())


def search_invoices(tx: Tx, principal: Principal, f: InvoiceFilters, *, next_: int | None = None,
                    prev: int | None = None, limit: int = 25) -> Page:
    q = (select(invoices.c.id, invoices.c.number, invoices.c.order_id, invoices.c.customer_id,
                invoices.c.status, invoices.c.issue_date, invoices.c.due_date, invoices.c.currency,
                invoices.c.total, invoices.c.amount_paid, invoices.c.credited_amount,
                customers.c.code.label("customer_code"), customers.c.name.label("customer_name"))
         .join(customers, customers.c.id == invoices.c.customer_id))
    if principal.channel_scope is not None:
        q = q.join(orders, orders.c.id == invoices.c.order_id).where(orders.c.channel == principal.channel_scope)
    text = f.q.strip()
    if text:
        conds = [func.lower(customers.c.code) == text.lower(),
                 func.lower(customers.c.name).contains(text.lower(), autoescape=True)]
        if _INVOICE_NUMBER.match(text):
            conds.append(invoices.c.number == text.upper())
        q = q.where(or_(*conds))
    if f.status:
        q = q.where(invoices.c.status == f.status)
    if f.overdue:
        q = q.where(invoices.c.status.in_(OPEN), invoices.c.due_date < tx.today)
    if f.customer_id is not None:
        q = q.where(invoices.c.customer_id == f.customer_id)
    rows, prev, nxt = _page(tx, q, invoices.c.id, "id", next_, prev, limit)
    items = []
    for r in rows:
        d = r._asdict()
        d["balance_due"] = r.total - r.amount_paid - r.credited_amount
        d["days_overdue"] = (tx.today - r.due_date).days if r.status in OPEN and r.due_date < tx.today else 0
        items.append(d)
    return Page(items, prev, nxt)


def invoice_page(tx: Tx, invoice_id: int, principal: Principal) -> dict[str, Any]:
    inv = invoicing.get_invoice(tx, invoice_id, principal)
    customer = tx.conn.execute(select(customers).where(customers.c.id == inv["customer_id"])).one()._asdict()
    order = tx.conn.execute(select(orders.c.id, orders.c.created_at).where(orders.c.id == inv["order_id"])).one()
    inv["order_number"] = order_number(order.id, order.created_at)
    inv["days_overdue"] = (tx.today - inv["due_date"]).days \
        if inv["status"] in OPEN and inv["due_date"] < tx.today else 0
    return {"invoice": inv, "customer": customer, "payments": _allocations(tx, invoices.c.id == invoice_id),
            "audit": audit_trail(tx, [("invoice", [invoice_id])], principal=principal)}


def open_invoices(tx: Tx, customer_id: int, currency: str | None = None) -> list[dict[str, Any]]:
    """The customer's open invoices (in ``currency``, when given), oldest first
    (the order payments are applied in)."""
    q = (select(invoices.c.id, invoices.c.number, invoices.c.order_id, invoices.c.issue_date, invoices.c.due_date,
                invoices.c.total, invoices.c.amount_paid, invoices.c.credited_amount, invoices.c.status)
         .where(invoices.c.customer_id == customer_id, invoices.c.status.in_(OPEN))
         .order_by(invoices.c.issue_date, invoices.c.id))
    if currency is not None:
        q = q.where(invoices.c.currency == currency)
    rows = tx.conn.execute(q).all()
    out = []
    for r in rows:
        d = r._asdict()
        d["balance_due"] = r.total - r.amount_paid - r.credited_amount
        d["days_overdue"] = max((tx.today - r.due_date).days, 0)
        out.append(d)
    return out


def customer_code_of(tx: Tx, *, invoice_id: int | None = None, order_id: int | None = None) -> str | None:
    """The code of the customer an invoice (or else an order) belongs to."""
    if invoice_id is not None:
        q = select(customers.c.code).join(invoices, invoices.c.customer_id == customers.c.id) \
            .where(invoices.c.id == invoice_id)
    elif order_id is not None:
        q = select(customers.c.code).join(orders, orders.c.customer_id == customers.c.id).where(orders.c.id == order_id)
    else:
        return None
    return tx.conn.execute(q).scalar()


def order_number_of(tx: Tx, order_id: int | None) -> str | None:
    row = tx.conn.execute(select(orders.c.id, orders.c.created_at).where(orders.c.id == order_id)).first() \
        if order_id is not None else None
    return order_number(row.id, row.created_at) if row else None


def customer_credit(tx: Tx, customer_id: int, currency: str = "EUR") -> Decimal:
    """The customer's unapplied credit in ``currency``: what payments in it left over
    (credit is kept per currency)."""
    return tx.conn.execute(
        select(money_sum(payments.c.unapplied)).where(payments.c.customer_id == customer_id,
                                                      payments.c.unapplied > 0, payments.c.currency == currency)
    ).scalar_one()


def search_payments(tx: Tx, *, customer_id: int | None = None, q: str = "", next_: int | None = None,
                    prev: int | None = None, limit: int = 25) -> Page:
    query = (select(payments.c.id, payments.c.created_at, payments.c.customer_id, payments.c.amount,
                    payments.c.currency, payments.c.received_on, payments.c.method, payments.c.reference,
                    payments.c.unapplied, customers.c.code.label("customer_code"),
                    customers.c.name.label("customer_name"))
             .join(customers, customers.c.id == payments.c.customer_id))
    if customer_id is not None:
        query = query.where(payments.c.customer_id == customer_id)
    text = q.strip()
    if text:
        query = query.where(or_(payments.c.reference == text, func.lower(customers.c.code) == text.lower(),
                                func.lower(customers.c.name).contains(text.lower(), autoescape=True)))
    rows, prev, nxt = _page(tx, query, payments.c.id, "id", next_, prev, limit)
    items = []
    for r in rows:
        d = r._asdict()
        d["number"] = payment_number(r.id, r.created_at)
        items.append(d)
    return Page(items, prev, nxt)


def payment_page(tx: Tx, payment_id: int, principal: Principal | None = None) -> dict[str, Any]:
    row = tx.conn.execute(
        select(payments, customers.c.code.label("customer_code"), customers.c.name.label("customer_name"))
        .join(customers, customers.c.id == payments.c.customer_id).where(payments.c.id == payment_id)
    ).first()
    if row is None:
        raise NotFound(f"No payment with id {payment_id}.")
    p = row._asdict()
    p["number"] = payment_number(row.id, row.created_at)
    return {"payment": p, "allocations": _allocations(tx, payments.c.id == payment_id),
            "audit": audit_trail(tx, [("payment", [payment_id])], principal=principal)}


# -- master data -----------------------------------------------------------------------

def customer_choices(tx: Tx, limit: int = 1000) -> list[dict[str, Any]]:
    return [r._asdict() for r in tx.conn.execute(
        select(customers.c.id, customers.c.code, customers.c.name).order_by(customers.c.code).limit(limit))]


def customer_by_code(tx: Tx, code: str) -> dict[str, Any] | None:
    row = tx.conn.execute(select(customers.c.id, customers.c.code, customers.c.name, customers.c.currency)
                          .where(customers.c.code == code)).first()
    return row._asdict() if row else None


def search_customers(tx: Tx, q: str = "", *, next_: int | None = None, prev: int | None = None,
                     limit: int = 25) -> Page:
    query = select(customers.c.id, customers.c.code, customers.c.name, customers.c.email, customers.c.country,
                   customers.c.language, customers.c.payment_terms_days, customers.c.credit_limit,
                   customers.c.currency)
    text = q.strip()
    if text:
        query = query.where(or_(func.lower(customers.c.code) == text.lower(),
                                func.lower(customers.c.name).contains(text.lower(), autoescape=True),
                                func.lower(customers.c.email).contains(text.lower(), autoescape=True)))
    rows, prev, nxt = _page(tx, query, customers.c.id, "id", next_, prev, limit)
    return Page([r._asdict() for r in rows], prev, nxt)


def customer_summary(tx: Tx, customer_id: int) -> dict[str, Any]:
    """Open receivables, overdue part and unapplied credit of a customer:
    ``open`` and ``overdue`` in the functional currency (foreign balances at
    their booked values), ``by_currency`` in each invoice currency."""
    ar = reports.open_receivables(tx, invoices.c.customer_id == customer_id, overdue_before=tx.today)
    return {"open": ar["open"], "overdue": ar["overdue"], "open_invoices": ar["open_invoices"],
            "by_currency": ar["by_currency"], "functional_currency": ar["functional_currency"],
            "credit": customer_credit(tx, customer_id),
            "exposure": order_service.customer_exposure(tx, customer_id)}


def product_choices(tx: Tx) -> list[dict[str, Any]]:
    """Active products with what is available, for the SKU look-up of order lines."""
    return [r._asdict() for r in tx.conn.execute(
        select(products.c.sku, products.c.name, products.c.unit_price, products.c.vat_rate, products.c.unit,
               (stock.c.on_hand - stock.c.reserved).label("available"))
        .join(stock, stock.c.product_id == products.c.id)
        .where(products.c.active.is_(True)).order_by(products.c.sku))]


def search_products(tx: Tx, q: str = "", *, include_inactive: bool = True, next_: str | None = None,
                    prev: str | None = None, limit: int = 50) -> Page:
    """Products with their stock, by SKU."""
    query = (select(products.c.id, products.c.sku, products.c.name, products.c.unit_price, products.c.vat_rate,
                    products.c.unit, products.c.active, stock.c.on_hand, stock.c.reserved, stock.c.value)
             .join(stock, stock.c.product_id == products.c.id))
    text = q.strip()
    if text:
        query = query.where(or_(func.lower(products.c.sku).contains(text.lower(), autoescape=True),
                                func.lower(products.c.name).contains(text.lower(), autoescape=True)))
    if not include_inactive:
        query = query.where(products.c.active.is_(True))
    rows, prev, nxt = _page(tx, query, products.c.sku, "sku", next_, prev, limit, descending=False)
    items = []
    for r in rows:
        d = r._asdict()
        d["available"] = r.on_hand - r.reserved
        d["unit_cost"] = unit_cost(r.value, r.on_hand)
        items.append(d)
    return Page(items, prev, nxt)


def stock_movements(tx: Tx, sku: str, *, next_: int | None = None, prev: int | None = None,
                    limit: int = 50) -> tuple[dict[str, Any], Page]:
    """A SKU's stock and its movements, newest first, each with the on-hand
    quantity after it (a running total computed by the database)."""
    product = tx.conn.execute(
        select(products.c.id, products.c.sku, products.c.name, products.c.unit, products.c.active,
               stock.c.on_hand, stock.c.reserved, stock.c.value)
        .join(stock, stock.c.product_id == products.c.id).where(products.c.sku == sku)
    ).first()
    if product is None:
        raise NotFound(f"No product with SKU “{sku}”.")
    running = func.sum(movements.c.quantity).over(order_by=movements.c.id).label("on_hand_after")
    inner = (select(movements.c.id, movements.c.date, movements.c.kind, movements.c.quantity, movements.c.value,
                    movements.c.document, movements.c.source_id, running)
             .where(movements.c.product_id == product.id).subquery())
    rows, prev, nxt = _page(tx, select(inner), inner.c.id, "id", next_, prev, limit)
    p = product._asdict()
    p["available"] = product.on_hand - product.reserved
    p["unit_cost"] = unit_cost(product.value, product.on_hand)
    items = [r._asdict() for r in rows]
    _link_movements(tx, items)
    return p, Page(items, prev, nxt)


def _link_movements(tx: Tx, items: list[dict[str, Any]]) -> None:
    """The order a shipment movement belongs to, for a link."""
    ship_ids = [i["source_id"] for i in items if i["kind"] == "shipment" and i["source_id"]]
    order_of = dict(tx.conn.execute(select(shipments.c.id, shipments.c.order_id)
                                    .where(shipments.c.id.in_(ship_ids))).all()) if ship_ids else {}
    for i in items:
        i["order_id"] = order_of.get(i["source_id"]) if i["kind"] == "shipment" else None


# -- books -----------------------------------------------------------------------------

def periods_overview(tx: Tx) -> list[dict[str, Any]]:
    """Every month with postings, and any closed month, newest first."""
    posted = {r.period: (int(r.n), r.first, r.last) for r in tx.conn.execute(
        select(entries.c.period, func.count().label("n"), func.min(entries.c.date).label("first"),
               func.max(entries.c.date).label("last")).group_by(entries.c.period))}
    closed = {r.period: r for r in tx.conn.execute(select(periods))}
    current = period_of(tx.today)
    previous = period_of(tx.today.replace(day=1) - dt.timedelta(days=1))  # the month one closes next
    out = []
    for p in sorted(set(posted) | set(closed) | {current, previous}, reverse=True):
        n, _, _ = posted.get(p, (0, None, None))
        c = closed.get(p)
        out.append({"period": p, "entries": n, "closed": bool(c and c.closed_at),
                    "closed_at": c.closed_at if c else None, "closed_by": c.closed_by if c else None,
                    "reopened_at": c.reopened_at if c else None, "reopened_by": c.reopened_by if c else None,
                    "current": p == current})
    return out


def periods_history(tx: Tx, periods_shown: list[str]) -> list[dict[str, Any]]:
    """Who closed and reopened these periods, when, and why (audit rows,
    oldest first), each with its period as ``YYYY-MM``."""
    rows = audit_trail(tx, [("period", [int(p.replace("-", "")) for p in periods_shown])])
    for r in rows:
        r["period"] = f"{r['object_id'] // 100:04d}-{r['object_id'] % 100:02d}"
    return rows


def journal_documents(tx: Tx, source_refs: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The order behind journal entries' source documents (shipments, invoices), for links."""
    out: dict[tuple[str, int], int] = {}
    ship_ids = [i for t, i in source_refs if t == "shipment"]
    inv_ids = [i for t, i in source_refs if t == "invoice"]
    if ship_ids:
        out.update({("shipment", s): o for s, o in tx.conn.execute(
            select(shipments.c.id, shipments.c.order_id).where(shipments.c.id.in_(ship_ids)))})
    if inv_ids:
        out.update({("invoice", i): o for i, o in tx.conn.execute(
            select(invoices.c.id, invoices.c.order_id).where(invoices.c.id.in_(inv_ids)))})
    return out


#: The entry kinds each document page shows: an invoice's own entry and the
#: customer credit applied to it or released from it; a payment's entry and
#: its reversal; a credit note's entries and the refunds paid for it.
_DOCUMENT_SOURCES = {
    "invoice": ("invoice", "credit_application", "credit_release"),
    "payment": ("payment", "payment_reversal"),
    "shipment": ("shipment",),
    "return": ("return",),
    "credit_note": ("credit_note",),
}


def document_journal(tx: Tx, kind: str, doc_id: int) -> list[dict[str, Any]]:
    """The journal entries posted for one document (for an order: for every
    document of the order), oldest first, in one query."""
    sources: list[tuple[str, Any]] = [(t, [doc_id]) for t in _DOCUMENT_SOURCES.get(kind, ())]
    if kind == "credit_note":
        sources.append(("refund", select(refunds.c.id).where(refunds.c.credit_note_id == doc_id)))
    elif kind == "order":
        of_order = {
            "shipment": select(shipments.c.id).where(shipments.c.order_id == doc_id),
            "invoice": select(invoices.c.id).where(invoices.c.order_id == doc_id),
            "return": select(returns_t.c.id).where(returns_t.c.order_id == doc_id),
            "credit_note": select(credit_notes.c.id).where(credit_notes.c.order_id == doc_id),
            "refund": select(refunds.c.id).where(refunds.c.order_id == doc_id),
        }
        for doc, ids in of_order.items():
            sources += [(t, ids) for t in _DOCUMENT_SOURCES.get(doc, (doc,))]
    elif kind not in _DOCUMENT_SOURCES:
        raise ValueError(f"No journal for documents of kind {kind!r}.")
    return ledger.source_entries(tx, sources)


# -- the dashboard ------------------------------------------------------------------------

def dashboard(tx: Tx, months: int = 12) -> dict[str, Any]:
    today = tx.today
    start = _day_start(today)
    # Per currency: an order's total is in its own currency, never added to another's.
    todays = tx.conn.execute(
        select(orders.c.currency, func.count(), money_sum(orders.c.total))
        .where(orders.c.created_at >= start, orders.c.status != "cancelled")
        .group_by(orders.c.currency).order_by(orders.c.currency)
    ).all()
    open_qty = (lines.c.quantity - lines.c.shipped_quantity - lines.c.packed_quantity - lines.c.cancelled_quantity)
    to_pack = (select(orders.c.id, orders.c.created_at, orders.c.confirmed_at, orders.c.total, orders.c.currency,
                      orders.c.fulfillment_status, customers.c.name.label("customer_name"),
                      func.sum(open_qty).label("open_quantity"))
               .join(lines, lines.c.order_id == orders.c.id)
               .join(customers, customers.c.id == orders.c.customer_id)
               .where(orders.c.status == "confirmed")
               .group_by(orders.c.id, orders.c.created_at, orders.c.confirmed_at, orders.c.total, orders.c.currency,
                         orders.c.fulfillment_status, customers.c.name)
               .having(func.sum(open_qty) > 0))
    to_pack_count = tx.conn.execute(select(func.count()).select_from(to_pack.subquery())).scalar_one()
    to_pack_rows = tx.conn.execute(to_pack.order_by(orders.c.id).limit(8)).all()
    packed = tx.conn.execute(
        select(shipments.c.id, shipments.c.order_id, shipments.c.created_at, orders.c.created_at.label("order_created"),
               customers.c.name.label("customer_name"))
        .join(orders, orders.c.id == shipments.c.order_id).join(customers, customers.c.id == orders.c.customer_id)
        .where(shipments.c.status == "packed").order_by(shipments.c.id)
    ).all()
    overdue_cond = and_(invoices.c.status.in_(OPEN), invoices.c.due_date < today)
    # In the functional currency, foreign balances at their booked values.
    ar = reports.open_receivables(tx, overdue_before=today)
    overdue_rows = tx.conn.execute(
        select(invoices.c.id, invoices.c.number, invoices.c.due_date, invoices.c.currency,
               _balance_money.label("balance"),
               customers.c.name.label("customer_name"))
        .join(customers, customers.c.id == invoices.c.customer_id)
        .where(overdue_cond).order_by(invoices.c.due_date, invoices.c.id).limit(8)
    ).all()
    return {
        "today": today,
        "orders_today": sum(int(n) for _, n, _ in todays),
        "orders_today_by_currency": [{"currency": c, "orders": int(n), "total": t} for c, n, t in todays],
        "to_pack": int(to_pack_count),
        "to_pack_rows": [{**r._asdict(), "number": order_number(r.id, r.created_at)} for r in to_pack_rows],
        "to_ship": len(packed),
        "packed_rows": [{**r._asdict(), "number": shipping.shipment_number(r.id, r.created_at),
                         "order_number": order_number(r.order_id, r.order_created)} for r in packed[:8]],
        "overdue_count": ar["overdue_invoices"], "overdue_total": ar["overdue"], "open_receivables": ar["open"],
        "receivables_by_currency": ar["by_currency"], "functional_currency": ar["functional_currency"],
        "overdue_rows": [{**r._asdict(), "days": (today - r.due_date).days} for r in overdue_rows],
        "revenue": revenue_by_month(tx, months),
    }


def _months_back(today: dt.date, n: int) -> list[str]:
    y, mth = today.year, today.month
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{mth:02d}")
        mth -= 1
        if mth == 0:
            y, mth = y - 1, 12
    return list(reversed(out))


def revenue_by_month(tx: Tx, months: int = 12) -> list[tuple[str, Decimal]]:
    """Net revenue per period as the ledger has it (credits less debits of the
    revenue accounts: domestic, intra-EU and export), for the last ``months``
    months including this one,
    starting at the first of them with any revenue posting: months before
    the first sale are left out (none at all when nothing is posted yet)."""
    wanted = _months_back(tx.today, months)
    codes = [tx.chart[r].code for r in REVENUE_ROLES]
    got = {p: (c or ZERO) - (d or ZERO) for p, d, c in tx.conn.execute(
        select(entries.c.period, func.sum(jlines.c.debit), func.sum(jlines.c.credit))
        .join(jlines, jlines.c.entry_id == entries.c.id)
        .where(jlines.c.account.in_(codes), entries.c.period >= wanted[0])
        .group_by(entries.c.period))}
    first = min(got, default=None)
    return [(p, got.get(p, ZERO)) for p in wanted if first is not None and p >= first]
