"""Fill a database with a year of business: orders with their shipments,
invoices, payments, stock movements, journal entries, events and audit rows —
consistent books (the reconciliation stays at zero), written with bulk
inserts (COPY on PostgreSQL), not through the API.

    python bench/bulk_load.py --orders 1000000 --db sqlite:////tmp/o2c-1m.sqlite3
    python bench/bulk_load.py --orders 1000000 --db postgresql+psycopg://postgres@127.0.0.1/o2c_1m

Of the orders, 95 % are completed (shipped, invoiced, paid), 3 % shipped and
invoiced but unpaid (open receivables of every age), 2 % confirmed and waiting
(stock reserved). Run it on a freshly migrated, empty database.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

UTC = dt.timezone.utc
CUSTOMERS = 2000
PRODUCTS = 50
UNIT_COST = 735  # cents: one cost for all receipts keeps moving averages exact
RATES = (2200, 1000)  # ten-thousandths
BATCH = 50_000

COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("id", "code", "name", "email", "country", "language", "tax_id", "payment_terms_days",
                  "credit_limit", "currency", "billing_address", "shipping_address", "created_at"),
    "products": ("id", "sku", "name", "unit_price", "vat_rate", "unit", "active", "created_at"),
    "stock": ("product_id", "on_hand", "reserved", "value"),
    "stock_movements": ("id", "product_id", "date", "kind", "quantity", "value", "document", "source_id"),
    "orders": ("id", "channel", "external_ref", "customer_id", "currency", "status", "fulfillment_status",
               "payment_status", "shipping_address", "net_total", "vat_total", "total", "invoiced_total",
               "amount_paid", "created_at", "confirmed_at"),
    "order_lines": ("id", "order_id", "line_no", "product_id", "sku", "description", "quantity", "unit_price",
                    "discount", "vat_rate", "net", "reserved_quantity", "packed_quantity", "shipped_quantity",
                    "invoiced_quantity", "returned_quantity", "cancelled_quantity"),
    "shipments": ("id", "order_id", "status", "carrier", "tracking_number", "shipped_at", "invoice_id", "cost",
                  "created_at"),
    "shipment_lines": ("id", "shipment_id", "order_line_id", "product_id", "sku", "quantity"),
    "invoices": ("id", "number", "series", "year", "seq", "order_id", "customer_id", "shipment_id", "status",
                 "issue_date", "due_date", "currency", "net_total", "vat_total", "total", "amount_paid",
                 "credited_amount", "created_at"),
    "invoice_lines": ("id", "invoice_id", "order_line_id", "sku", "description", "quantity", "unit_price",
                      "discount", "vat_rate", "net"),
    "invoice_vat": ("invoice_id", "rate", "net", "vat"),
    "payments": ("id", "customer_id", "amount", "currency", "received_on", "method", "reference", "unapplied",
                 "created_at"),
    "payment_allocations": ("id", "payment_id", "invoice_id", "amount", "date"),
    "journal_entries": ("id", "date", "period", "source_type", "source_id", "document", "customer_id",
                        "description", "created_at"),
    "journal_lines": ("id", "entry_id", "account", "debit", "credit"),
    "events": ("id", "type", "channel", "order_id", "data", "created_at"),
    "audit_log": ("id", "at", "actor", "action", "object_type", "object_id", "before", "after"),
    "number_series": ("series", "year", "last_value"),
}
ORDER = list(COLUMNS)  # insertion order respects foreign keys


def vat_of(net: int, rate: int) -> int:
    """round(net × rate, 2) half-up in cents, for non-negative nets."""
    return (net * rate * 2 + 10_000) // 20_000


class Sink:
    """Buffers rows per table and writes them in batches."""

    def __init__(self, url: str):
        from o2c.db.engine import make_engine
        self.engine = make_engine(url)
        self.pg = self.engine.dialect.name == "postgresql"
        self.raw = self.engine.raw_connection()
        self.cur = self.raw.cursor()
        if not self.pg:
            self.cur.execute("PRAGMA synchronous=OFF")
            self.cur.execute("PRAGMA cache_size=-200000")
            self.cur.execute("BEGIN")
        self.rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.count: dict[str, int] = defaultdict(int)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        rows = self.rows[table]
        rows.append(row)
        if len(rows) >= BATCH:
            self.flush_all()  # every table, in foreign-key order

    def flush(self, table: str) -> None:
        rows = self.rows.pop(table, [])
        if not rows:
            return
        cols = COLUMNS[table]
        self.count[table] += len(rows)
        if self.pg:
            with self.cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            marks = ", ".join("?" * len(cols))
            self.cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)

    def flush_all(self) -> None:
        for table in ORDER:
            self.flush(table)

    def finish(self) -> None:
        self.flush_all()
        if self.pg:
            for table in ORDER:
                if "id" in COLUMNS[table]:
                    self.cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)")
        self.raw.commit()
        if self.pg:
            dbapi = self.raw.dbapi_connection
            dbapi.autocommit = True
            dbapi.execute("VACUUM ANALYZE")
        else:
            self.cur.execute("ANALYZE")
        self.raw.close()
        self.engine.dispose()


def ts(day: dt.date, seconds: int, pg: bool) -> Any:
    moment = dt.datetime.combine(day, dt.time(), UTC) + dt.timedelta(seconds=seconds)
    return moment if pg else moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def d(day: dt.date, pg: bool) -> Any:
    return day if pg else day.isoformat()


def load(url: str, n_orders: int, days: int, with_events: bool) -> dict[str, int]:
    sink = Sink(url)
    pg = sink.pg
    jsn = json.dumps
    today = dt.date.today()
    start = today - dt.timedelta(days=days)
    t0 = ts(start, 0, pg)
    address = {"name": "Bulk", "line1": "Via Roma 1", "line2": None, "city": "Milano",
               "postal_code": "20121", "country": "IT"}
    addr = jsn(address)

    for c in range(1, CUSTOMERS + 1):
        sink.add("customers", (c, f"BULK-C{c:05d}", f"Bulk customer {c}", f"c{c}@bulk.example", "IT", "it",
                               f"IT{c:011d}", 30, None, "EUR", addr, None, t0))
    prices = {}
    for p in range(1, PRODUCTS + 1):
        prices[p] = 1990 + 100 * p
        sink.add("products", (p, f"BULK-{p:03d}", f"Bulk item {p}", prices[p], RATES[p % 2], "pcs", True, t0))

    # Receipts first: enough stock for everything the orders take.
    need = defaultdict(int)
    for i in range(1, n_orders + 1):
        need[1 + i % PRODUCTS] += 1 + i % 3
    ids = defaultdict(int)

    def nid(table: str) -> int:
        ids[table] += 1
        return ids[table]

    shipped_qty = defaultdict(int)
    reserved_qty = defaultdict(int)
    for p in range(1, PRODUCTS + 1):
        qty = need[p] + 1000
        mid = nid("stock_movements")
        value = qty * UNIT_COST
        sink.add("stock_movements", (mid, p, d(start, pg), "receipt", qty, value, f"GR-{mid:06d}", mid))
        eid = nid("journal_entries")
        sink.add("journal_entries", (eid, d(start, pg), start.strftime("%Y-%m"), "stock_receipt", mid,
                                     f"GR-{mid:06d}", None, f"Goods received GR-{mid:06d}", t0))
        sink.add("journal_lines", (nid("journal_lines"), eid, "1200", value, 0))
        sink.add("journal_lines", (nid("journal_lines"), eid, "2100", 0, value))

    seq: dict[int, int] = defaultdict(int)
    started = time.monotonic()
    for i in range(1, n_orders + 1):
        day = start + dt.timedelta(days=(i - 1) * days // n_orders)
        sec = (i * 7919) % 80_000
        at = ts(day, sec, pg)
        cust = 1 + (i * 31) % CUSTOMERS
        prod = 1 + i % PRODUCTS
        qty = 1 + i % 3
        price = prices[prod]
        rate = RATES[prod % 2]
        net = qty * price
        vat = vat_of(net, rate)
        total = net + vat
        kind = "confirmed" if i % 50 == 0 else ("unpaid" if i % 33 == 0 else "completed")
        shipped = kind != "confirmed"
        paid = kind == "completed"
        oid = nid("orders")
        sink.add("orders", (
            oid, "bulk", f"bulk-{i}", cust, "EUR", "completed" if paid else "confirmed",
            "shipped" if shipped else "unfulfilled", "paid" if paid else "unpaid", addr,
            net, vat, total, total if shipped else 0, total if paid else 0, at, at))
        lid = nid("order_lines")
        sink.add("order_lines", (lid, oid, 1, prod, f"BULK-{prod:03d}", f"Bulk item {prod}", qty, price, 0, rate,
                                 net, 0 if shipped else qty, 0, qty if shipped else 0, qty if shipped else 0, 0, 0))
        number = f"SO-{day.year}-{oid:06d}"
        if with_events:
            sink.add("events", (nid("events"), "order.created", "bulk", oid, jsn(
                {"order_id": oid, "number": number, "external_ref": f"bulk-{i}", "status": "draft",
                 "total": f"{total / 100:.2f}"}), at))
            sink.add("events", (nid("events"), "order.confirmed", "bulk", oid, jsn(
                {"order_id": oid, "number": number, "status": "confirmed"}), at))
            sink.add("audit_log", (nid("audit_log"), at, "api_key:bulk", "order.created", "order", oid, None,
                                   jsn({"status": "draft", "number": number})))
        if not shipped:
            reserved_qty[prod] += qty
            continue
        shipped_qty[prod] += qty
        cost = qty * UNIT_COST
        sid = nid("shipments")
        iid = nid("invoices")
        sh_number = f"SH-{day.year}-{sid:06d}"
        sink.add("shipments", (sid, oid, "shipped", "BRT", f"T{i:09d}", at, iid, cost, at))
        sink.add("shipment_lines", (nid("shipment_lines"), sid, lid, prod, f"BULK-{prod:03d}", qty))
        sink.add("stock_movements", (nid("stock_movements"), prod, d(day, pg), "shipment", -qty, -cost,
                                     sh_number, sid))
        eid = nid("journal_entries")
        sink.add("journal_entries", (eid, d(day, pg), day.strftime("%Y-%m"), "shipment", sid, sh_number, cust,
                                     f"Cost of goods shipped {sh_number}", at))
        sink.add("journal_lines", (nid("journal_lines"), eid, "5000", cost, 0))
        sink.add("journal_lines", (nid("journal_lines"), eid, "1200", 0, cost))
        seq[day.year] += 1
        inv_number = f"INV-{day.year}-{seq[day.year]:06d}"
        due = day + dt.timedelta(days=30)
        sink.add("invoices", (iid, inv_number, "INV", day.year, seq[day.year], oid, cust, sid,
                              "paid" if paid else "open", d(day, pg), d(due, pg), "EUR", net, vat, total,
                              total if paid else 0, 0, at))
        sink.add("invoice_lines", (nid("invoice_lines"), iid, lid, f"BULK-{prod:03d}", f"Bulk item {prod}", qty,
                                   price, 0, rate, net))
        sink.add("invoice_vat", (iid, rate, net, vat))
        eid = nid("journal_entries")
        sink.add("journal_entries", (eid, d(day, pg), day.strftime("%Y-%m"), "invoice", iid, inv_number, cust,
                                     f"Invoice {inv_number}", at))
        sink.add("journal_lines", (nid("journal_lines"), eid, "1100", total, 0))
        sink.add("journal_lines", (nid("journal_lines"), eid, "4000", 0, net))
        sink.add("journal_lines", (nid("journal_lines"), eid, "2200", 0, vat))
        if with_events:
            sink.add("events", (nid("events"), "shipment.shipped", "bulk", oid, jsn(
                {"shipment_id": sid, "number": sh_number, "order_id": oid, "carrier": "BRT",
                 "tracking_number": f"T{i:09d}", "invoice_id": iid}), at))
            sink.add("events", (nid("events"), "invoice.issued", "bulk", oid, jsn(
                {"invoice_id": iid, "number": inv_number, "order_id": oid, "total": f"{total / 100:.2f}"}), at))
        if paid:
            received = min(day + dt.timedelta(days=i % 20), today)
            pid = nid("payments")
            p_number = f"PAY-{day.year}-{pid:06d}"
            sink.add("payments", (pid, cust, total, "EUR", d(received, pg), "bank_transfer", f"BULK-PAY-{i}",
                                  0, at))
            sink.add("payment_allocations", (nid("payment_allocations"), pid, iid, total, d(received, pg)))
            eid = nid("journal_entries")
            sink.add("journal_entries", (eid, d(received, pg), received.strftime("%Y-%m"), "payment", pid,
                                         p_number, cust, f"Payment received {p_number}", at))
            sink.add("journal_lines", (nid("journal_lines"), eid, "1000", total, 0))
            sink.add("journal_lines", (nid("journal_lines"), eid, "1100", 0, total))
            if with_events:
                sink.add("events", (nid("events"), "payment.received", "bulk", oid, jsn(
                    {"payment_id": pid, "number": p_number, "order_id": oid, "amount": f"{total / 100:.2f}"}), at))
        if i % 100_000 == 0:
            rate_ = i / (time.monotonic() - started)
            print(f"  {i:>9,} orders  {rate_:,.0f} orders/s", flush=True)

    for p in range(1, PRODUCTS + 1):
        on_hand = need[p] + 1000 - shipped_qty[p]
        sink.add("stock", (p, on_hand, reserved_qty[p], on_hand * UNIT_COST))
    for year, last in seq.items():
        sink.add("number_series", ("INV", year, last))
    sink.finish()
    return dict(sink.count)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="database URL (it is migrated first; it must be empty)")
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365, help="spread the orders over this many past days")
    ap.add_argument("--no-events", action="store_true", help="skip event and audit rows")
    args = ap.parse_args()

    from o2c.db.engine import make_engine
    from o2c.db.migrate import upgrade
    engine = make_engine(args.db)
    upgrade(engine)
    with engine.connect() as c:
        if c.exec_driver_sql("SELECT count(*) FROM orders").scalar():
            raise SystemExit("the database has orders already; bulk-load into an empty one")
    engine.dispose()

    t = time.monotonic()
    counts = load(args.db, args.orders, args.days, not args.no_events)
    secs = time.monotonic() - t
    total = sum(counts.values())
    print(f"loaded {args.orders:,} orders in {secs:.0f} s: {total:,} rows "
          f"({counts.get('journal_lines', 0):,} journal lines, {counts.get('events', 0):,} events)")


if __name__ == "__main__":
    main()
