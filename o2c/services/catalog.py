"""Customers and products: master data."""
from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from o2c.db import models as m
from o2c.domain.errors import Conflict, NotFound
from o2c.services.uow import Tx

customers = m.Customer.__table__
products = m.Product.__table__
stock = m.Stock.__table__

CUSTOMER_FIELDS = (
    "code", "name", "email", "country", "language", "tax_id", "payment_terms_days",
    "credit_limit", "currency", "billing_address", "shipping_address",
)
PRODUCT_FIELDS = ("sku", "name", "unit_price", "vat_rate", "unit", "active")


def _customer_row(row: Any) -> dict[str, Any]:
    return {"id": row.id, **{f: getattr(row, f) for f in CUSTOMER_FIELDS}}


def create_customer(tx: Tx, data: dict[str, Any]) -> dict[str, Any]:
    exists = tx.conn.execute(select(customers.c.id).where(customers.c.code == data["code"])).scalar()
    if exists is not None:
        raise Conflict(f"A customer with code “{data['code']}” already exists.", {"customer_id": exists})
    values = {f: data[f] for f in CUSTOMER_FIELDS if f in data}
    values.setdefault("shipping_address", None)
    values["created_at"] = tx.now
    cid = tx.conn.execute(insert(customers).returning(customers.c.id), values).scalar_one()
    result = get_customer(tx, cid)
    tx.audit("customer.created", "customer", cid, None, _jsonable(result))
    return result


def get_customer(tx: Tx, customer_id: int) -> dict[str, Any]:
    row = tx.conn.execute(select(customers).where(customers.c.id == customer_id)).first()
    if row is None:
        raise NotFound(f"No customer with id {customer_id}.")
    return _customer_row(row)


def find_customer_id(tx: Tx, ref: dict[str, Any]) -> int:
    """Resolve ``{"id": …}`` or ``{"code": …}`` to a customer id."""
    if ref.get("id") is not None:
        cond = customers.c.id == ref["id"]
        what = f"id {ref['id']}"
    else:
        cond = customers.c.code == ref["code"]
        what = f"code “{ref['code']}”"
    cid = tx.conn.execute(select(customers.c.id).where(cond)).scalar()
    if cid is None:
        raise NotFound(f"No customer with {what}.", {"customer": ref})
    return int(cid)


def update_customer(tx: Tx, customer_id: int, data: dict[str, Any]) -> dict[str, Any]:
    before = get_customer(tx, customer_id)
    values = {f: data[f] for f in CUSTOMER_FIELDS if f in data and f != "code"}
    if "code" in data and data["code"] != before["code"]:
        taken = tx.conn.execute(select(customers.c.id).where(customers.c.code == data["code"])).scalar()
        if taken is not None:
            raise Conflict(f"A customer with code “{data['code']}” already exists.", {"customer_id": taken})
        values["code"] = data["code"]
    if values:
        tx.conn.execute(update(customers).where(customers.c.id == customer_id).values(**values))
    after = get_customer(tx, customer_id)
    tx.audit("customer.updated", "customer", customer_id, _jsonable(before), _jsonable(after))
    return after


def list_customers(tx: Tx, cursor: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    q = select(customers).order_by(customers.c.id.desc()).limit(limit + 1)
    if cursor is not None:
        q = q.where(customers.c.id < cursor)
    rows = tx.conn.execute(q).all()
    items = [_customer_row(r) for r in rows[:limit]]
    return items, (rows[limit - 1].id if len(rows) > limit else None)


# -- products ----------------------------------------------------------------

_product_cols = [
    products.c.id, products.c.sku, products.c.name, products.c.unit_price, products.c.vat_rate,
    products.c.unit, products.c.active, stock.c.on_hand, stock.c.reserved, stock.c.value,
]


def _product_row(row: Any) -> dict[str, Any]:
    from o2c.services.stock import unit_cost
    return {
        "id": row.id, "sku": row.sku, "name": row.name, "unit_price": row.unit_price,
        "vat_rate": row.vat_rate, "unit": row.unit, "active": row.active,
        "unit_cost": unit_cost(row.value, row.on_hand),
    }


def create_product(tx: Tx, data: dict[str, Any]) -> dict[str, Any]:
    exists = tx.conn.execute(select(products.c.id).where(products.c.sku == data["sku"])).scalar()
    if exists is not None:
        raise Conflict(f"A product with SKU “{data['sku']}” already exists.", {"sku": data["sku"]})
    values = {f: data[f] for f in PRODUCT_FIELDS if f in data}
    values["created_at"] = tx.now
    pid = tx.conn.execute(insert(products).returning(products.c.id), values).scalar_one()
    tx.conn.execute(insert(stock), {"product_id": pid, "on_hand": 0, "reserved": 0, "value": 0})
    result = get_product(tx, data["sku"])
    tx.audit("product.created", "product", pid, None, _jsonable(result))
    return result


def get_product(tx: Tx, sku: str) -> dict[str, Any]:
    row = tx.conn.execute(
        select(*_product_cols).join(stock, stock.c.product_id == products.c.id).where(products.c.sku == sku)
    ).first()
    if row is None:
        raise NotFound(f"No product with SKU “{sku}”.")
    return _product_row(row)


def update_product(tx: Tx, sku: str, data: dict[str, Any]) -> dict[str, Any]:
    before = get_product(tx, sku)
    values = {f: data[f] for f in PRODUCT_FIELDS if f in data and f != "sku"}
    if values:
        tx.conn.execute(update(products).where(products.c.sku == sku).values(**values))
    after = get_product(tx, sku)
    tx.audit("product.updated", "product", before["id"], _jsonable(before), _jsonable(after))
    return after


def list_products(tx: Tx, cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    q = (
        select(*_product_cols).join(stock, stock.c.product_id == products.c.id)
        .order_by(products.c.sku).limit(limit + 1)
    )
    if cursor is not None:
        q = q.where(products.c.sku > cursor)
    rows = tx.conn.execute(q).all()
    items = [_product_row(r) for r in rows[:limit]]
    return items, (rows[limit - 1].sku if len(rows) > limit else None)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    """Audit snapshots: decimals as strings so JSON stays exact."""
    from decimal import Decimal
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in d.items()}


jsonable = _jsonable
