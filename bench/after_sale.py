"""Customers after the sale at scale: mining the product associations
(exact SQL co-occurrence, and efficient-apriori on the same baskets for
comparison), refreshing the RFM figures, one customer's insights, a year of
KPIs, and serving recommendations. Prints figures; asserts nothing.

    python bench/bulk_load.py --orders 1000000 --no-events --db sqlite:////tmp/o2c-1m.sqlite3
    python bench/after_sale.py --db sqlite:////tmp/o2c-1m.sqlite3 --add-lines 2 [--apriori]

(``--add-lines 2`` once: the issue's scale is 1M orders with 3M lines.)
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from o2c.db import models as m  # noqa: E402
from o2c.db.engine import make_engine  # noqa: E402
from o2c.domain.access import SYSTEM  # noqa: E402
from o2c.services.crm import associations, insights, kpis  # noqa: E402
from o2c.services.platform.uow import unit_of_work  # noqa: E402


def timed(label: str, fn: object) -> object:
    t = time.perf_counter()
    out = fn()  # type: ignore[operator]
    print(f"{label}: {time.perf_counter() - t:.2f} s")
    return out


def percentiles(label: str, samples: list[float]) -> None:
    s = sorted(samples)
    p99 = s[max(0, int(len(s) * 0.99) - 1)]
    print(f"{label}: median {statistics.median(s) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms over {len(s)} calls")


#: Every added line's product, chosen in SQL from the order and the line
#: number: seven in ten from the family of the order's first product (five
#: families: products by position modulo 5), the rest from all products.
_ADD_LINE = """
INSERT INTO order_lines (order_id, line_no, product_id, sku, description, quantity, unit_price, discount,
                         vat_rate, net, reserved_quantity, packed_quantity, shipped_quantity, invoiced_quantity,
                         returned_quantity, cancelled_quantity, backordered_quantity)
SELECT b.order_id, :line_no, p.id, p.sku, p.sku, 1, p.unit_price, 0, p.vat_rate, p.unit_price, 0, 0, 0, 0, 0, 0, 0
FROM (SELECT ol.order_id, pn.n % 5 AS fam, (ol.order_id * 2654435761 + :line_no * 40503) % 1000003 AS h
      FROM order_lines ol
      JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n FROM products) pn ON pn.id = ol.product_id
      WHERE ol.line_no = 1) b
JOIN (SELECT id, sku, unit_price, vat_rate, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n FROM products) p
  ON p.n = CASE WHEN b.h % 10 < 7 THEN (b.fam + 5 * ((b.h / 10) % :per_family)) % :products
                ELSE (b.h / 10) % :products END
"""


def add_lines(engine: object, n: int) -> None:
    """Give every order ``n`` more lines, one INSERT … SELECT per line number
    (the database writes them; nothing passes through Python)."""
    from sqlalchemy import text
    t = time.perf_counter()
    with engine.begin() as c:  # type: ignore[attr-defined]
        products = c.execute(select(func.count()).select_from(m.Product)).scalar_one()
        for k in range(n):
            c.execute(text(_ADD_LINE), {"line_no": 2 + k, "per_family": max(1, products // 5),
                                        "products": products})
    with engine.begin() as c:  # type: ignore[attr-defined]
        c.exec_driver_sql("ANALYZE")
    print(f"added {n} lines to every order in {time.perf_counter() - t:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--apriori", action="store_true", help="also mine with efficient-apriori (memory-hungry)")
    ap.add_argument("--add-lines", type=int, default=0, metavar="N",
                    help="first give every order N more lines of other products (bench/bulk_load.py writes one "
                         "line per order; baskets need several; the order totals are not changed)")
    args = ap.parse_args()
    engine = make_engine(args.db)
    if args.add_lines:
        add_lines(engine, args.add_lines)
    with engine.connect() as c:
        n_orders = c.execute(select(func.count()).select_from(m.Order)).scalar_one()
        n_lines = c.execute(select(func.count()).select_from(m.OrderLine)).scalar_one()
        customers = c.execute(select(m.Customer.id)).scalars().all()
        skus = c.execute(select(m.Product.sku)).scalars().all()
    print(f"database: {engine.dialect.name}, {n_orders:,} orders, {n_lines:,} order lines")

    with unit_of_work(engine, "bench") as tx:
        run = timed("associations recomputed (SQL co-occurrence)", lambda: associations.recompute(tx))
    print(f"  {run['rules']:,} rules over {run['orders']:,} orders")
    if args.apriori:
        from efficient_apriori import apriori
        with engine.connect() as c:
            t = time.perf_counter()
            baskets: dict[int, set[int]] = {}
            for oid, pid in c.execute(select(m.OrderLine.order_id, m.OrderLine.product_id)
                                      .join(m.Order, m.Order.id == m.OrderLine.order_id)
                                      .where(m.Order.status.in_(("confirmed", "completed")))):
                baskets.setdefault(oid, set()).add(pid)
            load = time.perf_counter() - t
        min_support = associations.MIN_PAIR_ORDERS / max(len(baskets), 1)
        t = time.perf_counter()
        _, rules = apriori([tuple(b) for b in baskets.values()], min_support=min_support, min_confidence=0,
                           max_length=2)
        print(f"efficient-apriori on the same baskets: {load:.2f} s loading + {time.perf_counter() - t:.2f} s "
              f"mining, {len(rules):,} rules")
    with unit_of_work(engine, "bench") as tx:
        timed("RFM figures refreshed", lambda: insights.refresh_rfm(tx))
    with unit_of_work(engine, "bench", readonly=True) as tx:
        timed("KPIs for a year", lambda: kpis.kpis(tx))

    rng = random.Random(7)
    samples = []
    for _ in range(min(args.calls, 200)):
        cid = rng.choice(customers)
        t = time.perf_counter()
        with unit_of_work(engine, "bench", readonly=True) as tx:
            insights.insights(tx, SYSTEM, cid)
        samples.append(time.perf_counter() - t)
    percentiles("insights of one customer", samples)
    for label, call in (("recommendations for a product", lambda tx: associations.for_product(tx, rng.choice(skus))),
                        ("recommendations for a customer",
                         lambda tx: associations.for_customer(tx, SYSTEM, rng.choice(customers)))):
        samples = []
        for _ in range(args.calls):
            t = time.perf_counter()
            with unit_of_work(engine, "bench", readonly=True) as tx:
                call(tx)
            samples.append(time.perf_counter() - t)
        percentiles(label, samples)


if __name__ == "__main__":
    main()
