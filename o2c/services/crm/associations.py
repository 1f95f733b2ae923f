"""Product associations mined from order history: "customers who bought X
also bought Y".

Exact co-occurrence counts in SQL, over the distinct products of every
confirmed or completed order, lines cancelled whole left out (an order is
one basket): for each ordered pair
(X, Y) the number of orders holding both, the orders holding X, those holding
Y, and all orders. From the counts:

- support(X→Y) = orders with X and Y ÷ all orders
- confidence(X→Y) = orders with X and Y ÷ orders with X
- lift(X→Y) = confidence(X→Y) ÷ (orders with Y ÷ all orders)

Only pairs seen together in at least ``min_pair_orders`` orders are kept. The
counts are exact (efficient-apriori with the same minimum support finds the
same pairs; ``bench/after_sale.py`` compares the two: on SQLite apriori mines
faster once the baskets are in memory, the SQL pass needs no baskets in
memory and runs where the data is). The table is rebuilt in one transaction by the worker job
``crm.associations`` on a schedule and on demand, stamped with when it was
computed and the day of the newest order it counted.
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine, and_, bindparam, delete, func, insert, literal, select

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import NotFound
from o2c.services.customers import records
from o2c.services.platform.uow import Tx, unit_of_work

orders = m.Order.__table__
lines = m.OrderLine.__table__
products = m.Product.__table__
stock = m.Stock.__table__
assoc = m.ProductAssociation.__table__
runs = m.AssociationRun.__table__

COUNTED = ("confirmed", "completed")
MIN_PAIR_ORDERS = 2
#: A customer buys a product "regularly" when it is in this many of their orders.
REGULAR_ORDERS = 2
PLACES = Decimal("0.000001")


def _baskets() -> Any:
    return (
        select(lines.c.order_id, lines.c.product_id)
        .join(orders, orders.c.id == lines.c.order_id)
        .where(orders.c.status.in_(COUNTED), lines.c.quantity > lines.c.cancelled_quantity)
        .distinct()
        .subquery("baskets")
    )


def recompute(tx: Tx, min_pair_orders: int = MIN_PAIR_ORDERS) -> dict[str, Any]:
    """Rebuild the association table from the orders as they are now."""
    b = _baskets()
    total = tx.conn.execute(select(func.count(func.distinct(b.c.order_id)))).scalar_one()
    newest = tx.conn.execute(select(func.max(orders.c.created_at)).where(orders.c.status.in_(COUNTED))).scalar()
    data_as_of = (newest.date() if isinstance(newest, dt.datetime) else tx.today) if newest else tx.today
    a, c = b.alias("a"), b.alias("c")
    item = select(b.c.product_id, func.count().label("n")).group_by(b.c.product_id).subquery("item")
    ix, iy = item.alias("ix"), item.alias("iy")
    pairs = (
        select(a.c.product_id.label("x"), c.c.product_id.label("y"), func.count().label("pair"))
        .select_from(a.join(c, and_(a.c.order_id == c.c.order_id, a.c.product_id != c.c.product_id)))
        .group_by(a.c.product_id, c.c.product_id)
        .having(func.count() >= min_pair_orders)
        .subquery("pairs")
    )
    rows = (
        select(pairs.c.x, pairs.c.y, pairs.c.pair, ix.c.n, iy.c.n, literal(total, type_=assoc.c.all_orders.type),
               literal(tx.now, type_=assoc.c.computed_at.type), literal(data_as_of, type_=assoc.c.data_as_of.type))
        .select_from(pairs.join(ix, ix.c.product_id == pairs.c.x).join(iy, iy.c.product_id == pairs.c.y))
    )
    tx.conn.execute(delete(assoc))
    tx.conn.execute(insert(assoc).from_select(
        ["x_product_id", "y_product_id", "pair_orders", "x_orders", "y_orders", "all_orders", "computed_at",
         "data_as_of"], rows))
    count = tx.conn.execute(select(func.count()).select_from(assoc)).scalar_one()
    tx.conn.execute(delete(runs))
    tx.conn.execute(insert(runs).values(computed_at=tx.now, data_as_of=data_as_of, orders=total, rules=count))
    return {"computed_at": tx.now, "data_as_of": data_as_of, "orders": total, "rules": count}


def recompute_now(engine: Engine, actor: str = "worker") -> dict[str, Any]:
    with unit_of_work(engine, actor) as tx:
        return recompute(tx)


def measures(pair: int, x: int, y: int, total: int) -> tuple[Decimal, Decimal, Decimal]:
    """support, confidence, lift from the exact counts (six places, half-up)."""
    support = Decimal(pair) / Decimal(total)
    confidence = Decimal(pair) / Decimal(x)
    lift = confidence / (Decimal(y) / Decimal(total))
    return tuple(v.quantize(PLACES, ROUND_HALF_UP) for v in (support, confidence, lift))  # type: ignore[return-value]


def _available() -> Any:
    """Active products with stock available now."""
    return and_(products.c.active.is_(True), (stock.c.on_hand - stock.c.reserved) > 0)


_run = select(runs.c.computed_at, runs.c.data_as_of)
_for_product = (
    select(products.c.sku, products.c.name, assoc.c.pair_orders, assoc.c.x_orders, assoc.c.y_orders,
           assoc.c.all_orders)
    .select_from(assoc.join(products, products.c.id == assoc.c.y_product_id)
                 .join(stock, stock.c.product_id == products.c.id))
    .where(assoc.c.x_product_id == bindparam("pid"), _available())
    .order_by(assoc.c.pair_orders.desc(), (assoc.c.y_orders).asc(), products.c.sku)
    .limit(bindparam("lim"))
)


def _answer(tx: Tx, items: list[dict[str, Any]]) -> dict[str, Any]:
    run = tx.conn.execute(_run).first()
    return {"items": items, "computed_at": run.computed_at if run else None,
            "data_as_of": run.data_as_of if run else None}


def _item(sku: str, name: str, pair: int, x: int, y: int, total: int) -> dict[str, Any]:
    support, confidence, lift = measures(pair, x, y, total)
    return {"sku": sku, "name": name, "support": support, "confidence": confidence, "lift": lift}


def for_product(tx: Tx, sku: str, limit: int = 5) -> dict[str, Any]:
    """What goes with ``sku``: most confident first (the pair count, X fixed), then the higher lift."""
    pid = tx.conn.execute(select(products.c.id).where(products.c.sku == sku)).scalar()
    if pid is None:
        raise NotFound(f"No product “{sku}”.")
    rows = tx.conn.execute(_for_product, {"pid": pid, "lim": limit}).all()
    return _answer(tx, [_item(r.sku, r.name, r.pair_orders, r.x_orders, r.y_orders, r.all_orders) for r in rows])


def bought_by(tx: Tx, customer_id: int) -> dict[int, int]:
    """Product id → number of the customer's (confirmed or completed) orders holding it."""
    q = (select(lines.c.product_id, func.count(func.distinct(lines.c.order_id)))
         .join(orders, orders.c.id == lines.c.order_id)
         .where(orders.c.customer_id == customer_id, orders.c.status.in_(COUNTED))
         .group_by(lines.c.product_id))
    return {pid: n for pid, n in tx.conn.execute(q)}


def _best(tx: Tx, basis: set[int], exclude: set[int], limit: int) -> list[dict[str, Any]]:
    """For each product outside ``exclude``, the most confident rule from a product of ``basis``."""
    if not basis:
        return []
    q = (
        select(assoc.c.y_product_id, products.c.sku, products.c.name, assoc.c.pair_orders, assoc.c.x_orders,
               assoc.c.y_orders, assoc.c.all_orders)
        .select_from(assoc.join(products, products.c.id == assoc.c.y_product_id)
                     .join(stock, stock.c.product_id == products.c.id))
        .where(assoc.c.x_product_id.in_(sorted(basis)), _available())
    )
    if exclude:
        q = q.where(assoc.c.y_product_id.not_in(sorted(exclude)))
    # Most confident rules first: the first rule met for each product is its
    # best, and reading stops once ``limit`` products are found (the SQL
    # order is a floating-point approximation; ties are settled exactly below).
    confidence = assoc.c.pair_orders * 1.0 / assoc.c.x_orders
    q = q.order_by(confidence.desc(), (assoc.c.pair_orders * 1.0 / assoc.c.y_orders).desc(), products.c.sku)
    best: dict[int, dict[str, Any]] = {}
    last: Decimal | None = None
    for r in tx.conn.execute(q):
        it = _item(r.sku, r.name, r.pair_orders, r.x_orders, r.y_orders, r.all_orders)
        if len(best) >= limit and last is not None and it["confidence"] < last:
            break
        cur = best.get(r.y_product_id)
        if cur is None or (it["confidence"], it["lift"]) > (cur["confidence"], cur["lift"]):
            best[r.y_product_id] = it
        if len(best) >= limit and last is None:
            last = it["confidence"]
    return sorted(best.values(), key=lambda i: (-i["confidence"], -i["lift"], i["sku"]))[:limit]


def for_customer(tx: Tx, principal: Principal, customer_id: int, limit: int = 5) -> dict[str, Any]:
    """What goes with the customer's history: for each product they do not
    already buy regularly, the most confident rule from something they bought."""
    if not records.may_use_customer(tx, principal, customer_id):
        raise NotFound(f"No customer with id {customer_id}.")
    history = bought_by(tx, customer_id)
    regular = {pid for pid, n in history.items() if n >= REGULAR_ORDERS}
    return _answer(tx, _best(tx, set(history), regular, limit))


def for_basket(tx: Tx, skus: list[str], customer_id: int | None = None, limit: int = 5) -> list[dict[str, Any]]:
    """Suggestions for an order being written: what goes with its lines and
    with the customer's history, leaving out what is on it already and what
    the customer buys regularly."""
    on_order = {r.id for r in tx.conn.execute(select(products.c.id).where(products.c.sku.in_(sorted(set(skus)))))} \
        if skus else set()
    history = bought_by(tx, customer_id) if customer_id is not None else {}
    regular = {pid for pid, n in history.items() if n >= REGULAR_ORDERS}
    return _best(tx, on_order | set(history), on_order | regular, limit)


def last_run(tx: Tx) -> dict[str, Any] | None:
    r = tx.conn.execute(select(runs.c.computed_at, runs.c.data_as_of, runs.c.orders, runs.c.rules)).first()
    return r._asdict() if r else None
