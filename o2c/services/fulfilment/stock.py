"""Stock levels, goods receipts and the moving-average cost."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from o2c.db import models as m
from o2c.domain.errors import NotFound, ValidationFailed
from o2c.domain.money import round_money, unit_cost
from o2c.ledger.posting import entry_for_goods_receipt
from o2c.services.platform.uow import Tx
from o2c.services.sales import backorders

products = m.Product.__table__
stock = m.Stock.__table__
movements = m.StockMovement.__table__


def _stock_row(row: Any) -> dict[str, Any]:
    return {
        "sku": row.sku, "on_hand": row.on_hand, "reserved": row.reserved,
        "available": row.on_hand - row.reserved, "unit_cost": unit_cost(row.value, row.on_hand),
        "value": row.value,
    }


_stock_cols = [products.c.sku, stock.c.on_hand, stock.c.reserved, stock.c.value]


def get_stock(tx: Tx, sku: str) -> dict[str, Any]:
    row = tx.conn.execute(
        select(*_stock_cols).join(stock, stock.c.product_id == products.c.id).where(products.c.sku == sku)
    ).first()
    if row is None:
        raise NotFound(f"No product with SKU “{sku}”.")
    return _stock_row(row)


def list_stock(tx: Tx, cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    q = select(*_stock_cols).join(stock, stock.c.product_id == products.c.id).order_by(products.c.sku).limit(limit + 1)
    if cursor is not None:
        q = q.where(products.c.sku > cursor)
    rows = tx.conn.execute(q).all()
    return [_stock_row(r) for r in rows[:limit]], (rows[limit - 1].sku if len(rows) > limit else None)


def receive(tx: Tx, sku: str, quantity: int, unit_cost_: Decimal) -> dict[str, Any]:
    """Goods received: on hand and inventory value up, Dr Inventory / Cr GR clearing."""
    pid = tx.conn.execute(select(products.c.id).where(products.c.sku == sku)).scalar()
    if pid is None:
        raise ValidationFailed(f"Unknown SKU “{sku}”.", {"sku": [f"Unknown SKU “{sku}”."]})
    value = round_money(unit_cost_ * quantity)
    before, filled = backorders.reserve_for_waiting(tx, pid, incoming=quantity)  # orders before stock
    reserved = sum(f["quantity"] for f in filled)
    tx.conn.execute(
        update(stock).where(stock.c.product_id == pid)
        .values(on_hand=stock.c.on_hand + quantity, value=stock.c.value + value,
                reserved=stock.c.reserved + reserved)
    )
    mid = tx.conn.execute(
        insert(movements).returning(movements.c.id),
        {"product_id": pid, "date": tx.today, "kind": "receipt", "quantity": quantity,
         "value": value, "document": "", "source_id": None},
    ).scalar_one()
    document = f"GR-{mid:06d}"
    tx.conn.execute(update(movements).where(movements.c.id == mid).values(document=document, source_id=mid))
    tx.post(entry_for_goods_receipt(tx.chart, tx.today, mid, document, value))
    after = get_stock(tx, sku)
    tx.audit("stock.received", "product", pid,
             {"on_hand": before.on_hand, "value": str(before.value)},
             {"on_hand": after["on_hand"], "value": str(after["value"]), "document": document,
              **({"reserved_for_backorders": reserved} if reserved else {})})
    return {"id": mid, "document": document, "sku": sku, "quantity": quantity,
            "unit_cost": unit_cost_, "value": value, "stock": after,
            "backorders_filled": [{k: f[k] for k in ("order_id", "number", "sku", "line_no", "quantity",
                                                      "still_backordered")} for f in filled]}

