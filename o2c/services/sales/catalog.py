"""The catalogue: products, their prices and tax rates, with their stock's cost."""
from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from o2c.db import models as m
from o2c.domain.errors import Conflict, NotFound
from o2c.domain.text import audit_snapshot
from o2c.services.platform.uow import Tx

products = m.Product.__table__
stock = m.Stock.__table__

PRODUCT_FIELDS = ("sku", "name", "unit_price", "vat_rate", "tax_class", "unit", "active")


_product_cols = [
    products.c.id, products.c.sku, products.c.name, products.c.unit_price, products.c.vat_rate,
    products.c.tax_class, products.c.unit, products.c.active, stock.c.on_hand, stock.c.reserved, stock.c.value,
]


def _product_row(row: Any) -> dict[str, Any]:
    from o2c.domain.money import unit_cost
    return {
        "id": row.id, "sku": row.sku, "name": row.name, "unit_price": row.unit_price,
        "vat_rate": row.vat_rate, "tax_class": row.tax_class, "unit": row.unit, "active": row.active,
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
    tx.audit("product.created", "product", pid, None, audit_snapshot(result))
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
    tx.audit("product.updated", "product", before["id"], audit_snapshot(before), audit_snapshot(after))
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

