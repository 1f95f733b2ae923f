"""Import and apply a 10,000-line CAMT.053 statement against 100,000 open
invoices, and print the figures (target: ≤ 15 s on SQLite and PostgreSQL,
memory flat in the file size).

    python bench/bank_match.py --db sqlite:////tmp/o2c-bank.sqlite3
    python bench/bank_match.py --db postgresql+psycopg://postgres@127.0.0.1/o2c_bank

The database is migrated and filled here (open invoices written with bulk
inserts; the database must be empty). The statement pays invoices the ways
customers do: 40 % with the creditor reference printed on the invoice, 20 %
with the invoice number in the text, 15 % from an IBAN o2c learned, 15 % by
name with a bank fee taken off, 10 % nobody knows.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bulk_load import COLUMNS, Sink, d, ts, vat_of  # noqa: E402

CUSTOMERS = 5000
OUR_IBAN = "IT60X0542811101000000123456"


def payer_iban(c: int) -> str:
    from schwifty import IBAN
    return IBAN.generate("DE", bank_code="37040044", account_code=f"{c:010d}").compact


def fill(url: str, n_invoices: int) -> list[tuple[int, str, int, Decimal]]:
    """Customers, one product, and ``n_invoices`` shipped, invoiced and unpaid orders."""
    COLUMNS["customer_ibans"] = ("iban", "customer_id", "learned_from_line_id", "created_at")
    sink = Sink(url)
    pg = sink.pg
    today = dt.date.today()
    start = today - dt.timedelta(days=60)
    t0 = ts(start, 0, pg)
    addr = json.dumps({"name": "Bulk", "line1": "Via Roma 1", "line2": None, "city": "Milano",
                       "postal_code": "20121", "country": "IT"})
    for c in range(1, CUSTOMERS + 1):
        sink.add("customers", (c, f"BANK-C{c:05d}", f"Bank customer {c}", f"c{c}@bulk.example", "IT", "it",
                               f"IT{c:011d}", 30, None, "EUR", addr, None, t0))
    sink.add("products", (1, "BULK-001", "Bulk item", 1000, 2200, "pcs", True, t0))
    sink.flush_all()
    for c in range(1, CUSTOMERS + 1, 3):  # a third of the customers paid before from a known IBAN
        sink.cur.execute("INSERT INTO customer_ibans (iban, customer_id, learned_from_line_id, created_at) "
                         + ("VALUES (%s, %s, NULL, %s)" if pg else "VALUES (?, ?, NULL, ?)"), (payer_iban(c), c, t0))
    out = []
    for i in range(1, n_invoices + 1):
        day = start + dt.timedelta(days=i * 59 // n_invoices)
        at = ts(day, i % 80_000, pg)
        cust = 1 + (i * 31) % CUSTOMERS
        net = 1000 + (i * 7919) % 400_000
        vat = vat_of(net, 2200)
        total = net + vat
        sink.add("orders", (i, "bulk", f"bank-{i}", cust, "EUR", "confirmed", "shipped", "unpaid", addr,
                            net, vat, total, total, 0, at, at))
        sink.add("order_lines", (i, i, 1, 1, "BULK-001", "Bulk item", 1, net, 0, 2200, net, 0, 0, 1, 1, 0, 0))
        number = f"INV-{day.year}-{i:06d}"
        sink.add("invoices", (i, number, "INV", day.year, i, i, cust, None, "open", d(day, pg),
                              d(day + dt.timedelta(days=30), pg), "EUR", net, vat, total, 0, 0, at))
        out.append((i, number, cust, Decimal(total) / 100))
    sink.finish()
    return out


def statement(invoices: list[tuple[int, str, int, Decimal]], n_lines: int) -> bytes:
    from o2c.documents.payment import creditor_reference
    from o2c.domain.bankfiles.generate import Stmt, Txn, camt053
    today = dt.date.today()
    txns = []
    step = max(1, len(invoices) // n_lines)
    for k in range(n_lines):
        iid, number, cust, total = invoices[(k * step) % len(invoices)]
        kind = k % 20
        if kind < 8:
            t = Txn(today, total, f"Bank customer {cust}", "", "Payment", creditor_reference(number))
        elif kind < 12:
            t = Txn(today, total, f"Bank customer {cust}", "", f"Invoice {number.replace('-', ' ')}")
        elif kind < 15 and cust % 3 == 1:
            t = Txn(today, total, f"Bank customer {cust}", payer_iban(cust), "Thank you")
        elif kind < 18:
            t = Txn(today, total - Decimal("1.00"), f"Bank customer {cust}", "", "Bonifico")
        else:
            t = Txn(today, Decimal(100 + k) / 100, "Someone", "", "???")
        t.bank_ref = f"BENCH-{k}"
        txns.append(t)
    return camt053(OUR_IBAN, "EUR", [Stmt("BENCH-1", today, today, Decimal("0.00"), txns)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="database URL (migrated here; it must be empty)")
    ap.add_argument("--invoices", type=int, default=100_000)
    ap.add_argument("--lines", type=int, default=10_000)
    args = ap.parse_args()

    from sqlalchemy import insert, select

    from o2c.db import models as m
    from o2c.db.engine import make_engine
    from o2c.db.migrate import upgrade
    from o2c.services.cash import bank_import, bankmatch
    from o2c.services.platform.uow import unit_of_work

    engine = make_engine(args.db)
    upgrade(engine)
    with unit_of_work(engine, "bench") as tx:
        if tx.conn.execute(select(m.BankAccount.id).where(m.BankAccount.iban == OUR_IBAN)).first() is None:
            tx.conn.execute(insert(m.BankAccount), {"iban": OUR_IBAN, "name": "Main", "currency": "EUR",
                                                    "gl_account": "1000", "csv_mappings": {}, "created_at": tx.now})
    t = time.perf_counter()
    invoices = fill(args.db, args.invoices)
    print(f"filled {args.invoices} open invoices in {time.perf_counter() - t:.1f} s")
    data = statement(invoices, args.lines)
    print(f"statement: {args.lines} lines, {len(data) / 1e6:.1f} MB of CAMT.053")

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with unit_of_work(engine, "bench") as tx:
        imported = bank_import.import_file(tx, data, "camt.053")
    t1 = time.perf_counter()
    counts = bankmatch.apply_lines(engine, "bench", statement_id=imported.statements[0]["id"])
    t2 = time.perf_counter()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n = sum(counts.values())
    print(f"{engine.dialect.name}: import {t1 - t0:.1f} s, apply {t2 - t1:.1f} s, total {t2 - t0:.1f} s "
          f"({'within' if t2 - t0 <= 15 else 'OVER'} 15 s); peak RSS {rss1 / 1024:.0f} MB "
          f"(+{(rss1 - rss0) / 1024:.0f} MB during import and apply)")
    print("lines: " + ", ".join(f"{k} {v} ({v / n:.0%})" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
