"""The VAT return's reports over a year of a million invoices: the VAT report
(a month and the whole year), the EC sales list of a month and the OSS return
of a quarter, timed on SQLite or PostgreSQL.

    python bench/tax_reports.py --invoices 1000000 --db sqlite:////tmp/o2c-tax.sqlite3
    python bench/tax_reports.py --invoices 1000000 --db postgresql+psycopg://postgres@127.0.0.1/o2c_bench

The database is emptied and migrated, then filled with bulk inserts (COPY on
PostgreSQL) with what the reports read: invoices of every treatment with
their VAT rows (70 % domestic at 22 % and 10 %, 12 % intra-EU supplies to 200
businesses, 8 % distance sales into ten member states at their rates, 5 %
exports, 5 % exempt) and a credit note for every twentieth invoice. Each
report runs three times; the best time is printed. ``--keep`` reuses a
database filled before.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

YEAR = 2026
BATCH = 50_000
UTC = dt.timezone.utc
OSS = {"DE": (1900, 700), "FR": (2000, 550), "PL": (2300, 800), "ES": (2100, 1000), "AT": (2000, 1000),
       "NL": (2100, 900), "BE": (2100, 600), "SE": (2500, 1200), "PT": (2300, 600), "CZ": (2100, 1200)}
INTRA = ("DE", "FR", "PL", "ES", "AT")

INVOICE_COLS = ("id", "number", "series", "year", "seq", "order_id", "customer_id", "status", "issue_date",
                "due_date", "currency", "net_total", "vat_total", "total", "amount_paid", "credited_amount",
                "created_at", "tax_treatment", "tax_country", "buyer_vat_id")
VAT_COLS = ("category", "rate", "net", "vat", "exemption_reason_code")
CN_COLS = ("id", "number", "series", "year", "seq", "invoice_id", "order_id", "customer_id", "issue_date",
           "currency", "net_total", "vat_total", "total", "applied", "to_credit", "refunded", "created_at",
           "tax_treatment", "tax_country", "buyer_vat_id")


def vat_of(net: int, rate: int) -> int:
    return (net * rate * 2 + 10_000) // 20_000


def customers(n: int) -> list[dict[str, Any]]:
    """Domestic buyers, 200 EU businesses with VAT ids, consumers abroad, exporters' buyers."""
    out = []
    for i in range(n):
        if i < 200:
            cc = INTRA[i % len(INTRA)]
            out.append({"country": cc, "vat_id": f"{cc}{100000000 + i}"})
        else:
            out.append({"country": "IT", "vat_id": ""})
    return out


def documents(n: int) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]], tuple[Any, ...] | None,
                                         list[tuple[Any, ...]]]]:
    """(invoice, its VAT rows, a credit note or None, its VAT rows) × n, dated over the year."""
    start = dt.date(YEAR, 1, 1)
    days = 365
    cn_seq = 0
    for i in range(1, n + 1):
        day = start + dt.timedelta(days=(i * days) // (n + 1))
        kind = i % 100
        net_a, net_b = 1000 + (i * 37) % 90_000, 500 + (i * 53) % 20_000
        if kind < 70:
            treatment, country, vat_id, customer = "domestic", "IT", "", 201 + i % 1000
            rows = [("S", 2200, net_a, vat_of(net_a, 2200), None), ("S", 1000, net_b, vat_of(net_b, 1000), None)]
        elif kind < 82:
            customer = 1 + i % 200
            country = INTRA[(customer - 1) % len(INTRA)]
            treatment, vat_id = "intra_eu_b2b", f"{country}{100000000 + customer - 1}"
            rows = [("K", 0, net_a + net_b, 0, "VATEX-EU-IC")]
        elif kind < 90:
            country = list(OSS)[i % len(OSS)]
            standard, reduced = OSS[country]
            treatment, vat_id, customer = "eu_distance_sale", "", 201 + i % 1000
            rows = [("S", reduced, net_b, vat_of(net_b, reduced), None), ("S", standard, net_a, vat_of(net_a, standard),
                                                                          None)]
        elif kind < 95:
            treatment, country, vat_id, customer = "export", "IT", "", 201 + i % 1000
            rows = [("G", 0, net_a + net_b, 0, "VATEX-EU-G")]
        else:
            treatment, country, vat_id, customer = "exempt", "IT", "", 201 + i % 1000
            rows = [("E", 0, net_a, 0, "VATEX-EU-132")]
        net = sum(r[2] for r in rows)
        vat = sum(r[3] for r in rows)
        moment = dt.datetime.combine(day, dt.time(12), UTC)
        invoice = (i, f"INV-{YEAR}-{i:07d}", "INV", YEAR, i, customer, customer, "paid", day,
                   day + dt.timedelta(days=30), "EUR", net, vat, net + vat, net + vat, 0, moment,
                   treatment, country, vat_id)
        credit, credit_rows = None, []
        if i % 20 == 0:  # a credit note of the first row's half, the same day
            cn_seq += 1
            c, rate, rnet, _, code = rows[0]
            cnet = rnet // 2
            cvat = vat_of(cnet, rate)
            credit = (cn_seq, f"CN-{YEAR}-{cn_seq:07d}", "CN", YEAR, cn_seq, i, customer, customer, day, "EUR",
                      cnet, cvat, cnet + cvat, 0, cnet + cvat, 0, moment, treatment, country, vat_id)
            credit_rows = [(cn_seq, c, rate, cnet, cvat, code)]
        yield invoice, [(i, *r) for r in rows], credit, credit_rows


class Loader:
    def __init__(self, engine: Any):
        self.pg = engine.dialect.name == "postgresql"
        self.raw = engine.raw_connection()
        self.cur = self.raw.cursor()
        if not self.pg:
            self.cur.execute("PRAGMA synchronous=OFF")
            self.cur.execute("BEGIN")

    def write(self, table: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.pg:
            with self.cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            def lite(v: Any) -> Any:
                if isinstance(v, dt.datetime):
                    return v.strftime("%Y-%m-%d %H:%M:%S.%f")
                if isinstance(v, dt.date):
                    return v.isoformat()
                return v
            marks = ", ".join("?" * len(cols))
            self.cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                                 [tuple(lite(v) for v in r) for r in rows])

    def finish(self) -> None:
        self.raw.commit()
        if self.pg:
            dbapi = self.raw.dbapi_connection
            dbapi.autocommit = True
            dbapi.execute("VACUUM ANALYZE")
        else:
            self.cur.execute("ANALYZE")
        self.raw.close()


def fill(url: str, n: int) -> None:
    from sqlalchemy import insert, text

    from o2c.db import models as m
    from o2c.db.engine import make_engine
    from o2c.db.migrate import upgrade

    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
    else:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        engine.dispose()
        engine = make_engine(url)
    upgrade(engine)
    now = dt.datetime(YEAR, 1, 1, tzinfo=UTC)
    people = customers(1200)
    with engine.begin() as c:  # master data through the models' defaults: a few rows
        c.execute(insert(m.Customer.__table__), [
            {"id": i, "code": f"C-{i:05d}", "name": f"Customer {i}", "email": "", "country": p["country"],
             "language": "en", "tax_id": p["vat_id"], "customer_type": "business" if p["vat_id"] else "consumer",
             "payment_terms_days": 30, "currency": "EUR", "billing_address": {"country": p["country"]},
             "created_at": now} for i, p in enumerate(people, start=1)])
        c.execute(insert(m.Order.__table__), [
            {"id": i, "channel": "backoffice", "customer_id": i, "currency": "EUR", "status": "completed",
             "fulfillment_status": "shipped", "payment_status": "paid", "net_total": 0, "vat_total": 0, "total": 0,
             "invoiced_total": 0, "amount_paid": 0, "created_at": now, "allow_backorder": False}
            for i in range(1, len(people) + 1)])
    load = Loader(engine)
    started = time.perf_counter()
    inv, inv_vat, cns, cn_vat = [], [], [], []
    for invoice, rows, credit, credit_rows in documents(n):
        inv.append(invoice)
        inv_vat.extend(rows)
        if credit:
            cns.append(credit)
            cn_vat.extend(credit_rows)
        if len(inv) >= BATCH:
            load.write("invoices", INVOICE_COLS, inv)
            load.write("invoice_vat", ("invoice_id", *VAT_COLS), inv_vat)
            load.write("credit_notes", CN_COLS, cns)
            load.write("credit_note_vat", ("credit_note_id", *VAT_COLS), cn_vat)
            inv, inv_vat, cns, cn_vat = [], [], [], []
    load.write("invoices", INVOICE_COLS, inv)
    load.write("invoice_vat", ("invoice_id", *VAT_COLS), inv_vat)
    load.write("credit_notes", CN_COLS, cns)
    load.write("credit_note_vat", ("credit_note_id", *VAT_COLS), cn_vat)
    load.finish()
    engine.dispose()
    print(f"filled {n} invoices and {n // 20} credit notes in {time.perf_counter() - started:.1f} s", flush=True)


def best(run: Callable[[], Any], times: int = 3) -> tuple[float, Any]:
    out, fastest = None, float("inf")
    for _ in range(times):
        t = time.perf_counter()
        out = run()
        fastest = min(fastest, time.perf_counter() - t)
    return fastest, out


def measure(url: str) -> None:
    from o2c.db.engine import make_engine
    from o2c.services.books import tax_reports as tr
    from o2c.services.platform.uow import unit_of_work

    engine = make_engine(url)

    def timed(label: str, fn: Callable[[Any], dict[str, Any]]) -> None:
        def run() -> dict[str, Any]:
            with unit_of_work(engine, "bench", readonly=True) as tx:
                return fn(tx)
        seconds, rep = best(run)
        total = rep["totals"]
        print(f"{engine.dialect.name:10} {label:32} {seconds:6.2f} s  {len(rep['rows']):3} rows  "
              f"net {total['net']}" + (f"  VAT {total['vat']}" if "vat" in total else ""), flush=True)

    timed("VAT report, March", lambda tx: tr.vat_report(tx, dt.date(YEAR, 3, 1), dt.date(YEAR, 3, 31)))
    timed("VAT report, Q1", lambda tx: tr.vat_report(tx, dt.date(YEAR, 1, 1), dt.date(YEAR, 3, 31)))
    timed("VAT report, the whole year", lambda tx: tr.vat_report(tx, dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)))
    timed("EC sales list, March", lambda tx: tr.ec_sales_list(tx, f"{YEAR}-03"))
    timed("OSS return, Q1", lambda tx: tr.oss_return(tx, f"{YEAR}-Q1"))
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--invoices", type=int, default=1_000_000)
    ap.add_argument("--db", required=True)
    ap.add_argument("--keep", action="store_true", help="measure a database filled before")
    args = ap.parse_args()
    if args.keep:  # a database filled before: bring its schema (indexes) up to date
        from o2c.db.engine import make_engine
        from o2c.db.migrate import upgrade
        engine = make_engine(args.db)
        upgrade(engine)
        engine.dispose()
    else:
        fill(args.db, args.invoices)
    measure(args.db)


if __name__ == "__main__":
    main()
