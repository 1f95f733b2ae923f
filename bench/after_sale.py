"""Customers after the sale at scale: mining the product associations
(exact SQL co-occurrence, and efficient-apriori on the same baskets for
comparison), refreshing the RFM figures, one customer's insights, a year of
KPIs, and serving recommendations. Prints figures; asserts nothing.

    python bench/bulk_load.py --orders 1000000 --db sqlite:////tmp/o2c-1m.sqlite3
    python bench/after_sale.py --db sqlite:////tmp/o2c-1m.sqlite3 [--apriori]
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


def add_lines(engine: object, n: int) -> None:
    from sqlalchemy import insert
    rng = random.Random(11)
    t = time.perf_counter()
    with engine.begin() as c:  # type: ignore[attr-defined]
        prods = c.execute(select(m.Product.id, m.Product.sku, m.Product.unit_price, m.Product.vat_rate)).all()
        # Products go together in a few families, so there is something to find.
        families = [prods[i::5] for i in range(5)]
        next_id = (c.execute(select(func.max(m.OrderLine.id))).scalar() or 0) + 1
        batch = []
        for oid, pid in c.execute(select(m.OrderLine.order_id, m.OrderLine.product_id)
                                  .where(m.OrderLine.line_no == 1)).all():
            fam = families[pid % 5]
            for k in range(n):
                p = rng.choice(fam) if rng.random() < 0.7 else rng.choice(prods)
                batch.append({"id": next_id, "order_id": oid, "line_no": 2 + k, "product_id": p.id, "sku": p.sku,
                              "description": p.sku, "quantity": 1, "unit_price": p.unit_price, "discount": 0,
                              "vat_rate": p.vat_rate, "net": p.unit_price, "reserved_quantity": 0,
                              "packed_quantity": 0, "shipped_quantity": 0, "invoiced_quantity": 0,
                              "returned_quantity": 0, "cancelled_quantity": 0, "backordered_quantity": 0})
                next_id += 1
            if len(batch) >= 50_000:
                c.execute(insert(m.OrderLine.__table__), batch)
                batch = []
        if batch:
            c.execute(insert(m.OrderLine.__table__), batch)
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
