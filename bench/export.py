"""Build a journal of N lines with bulk inserts, then export it: seconds and
peak RSS per format. Not a test; the figures go in the closing notes.

    python bench/export.py                                   # 1,000,000 lines, SQLite in a temp folder
    python bench/export.py --db postgresql+psycopg://postgres@127.0.0.1/o2c_bench --lines 1000000
    python bench/export.py --formats csv xlsx saft --unsealed  # also time sealing the whole journal

Entries come in a repeating pattern (invoice: 3 lines, shipment: 2, payment:
2), dated over a year, hashed into the chain as they are written (or left for
the sealer with --unsealed). Each export runs in a child process, so its peak
RSS is its own: the export streams from a server-side cursor and must stay
flat whatever N is.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 20_000
CUSTOMERS = 200


def build(url: str, n_lines: int, sealed: bool) -> int:
    from o2c.db.engine import make_engine
    from o2c.db.migrate import upgrade
    from o2c.ledger.chain import GENESIS, ChainEntry, ChainLine, link

    engine = make_engine(url)
    upgrade(engine)
    pg = engine.dialect.name == "postgresql"
    raw = engine.raw_connection()
    cur = raw.cursor()
    if cur.execute("SELECT count(*) FROM journal_entries").fetchone()[0]:
        raise SystemExit("the database has journal entries already; use an empty one")
    if not pg:
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("BEGIN")
    now = dt.datetime.now(dt.timezone.utc)
    stamp = now if pg else now.strftime("%Y-%m-%d %H:%M:%S.%f")
    addr = json.dumps({"name": "Bench", "line1": "Via Roma 1", "city": "Milano", "postal_code": "20121",
                       "country": "IT"})
    cust_rows = [(c, f"BENCH-{c:04d}", f"Bench customer {c}", "", "IT", "it", "", 30, None, "EUR", addr, None, stamp)
                 for c in range(1, CUSTOMERS + 1)]
    ecols = "id, date, period, source_type, source_id, document, customer_id, description, created_at, seq, hash"
    lcols = "id, entry_id, account, debit, credit"

    def write(table: str, cols: str, rows: list[tuple]) -> None:  # type: ignore[type-arg]
        if pg:
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            marks = ", ".join("?" * len(cols.split(",")))
            cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)

    write("customers", "id, code, name, email, country, language, tax_id, payment_terms_days, credit_limit, "
                       "currency, billing_address, shipping_address, created_at", cust_rows)
    start = dt.date.today() - dt.timedelta(days=365)
    entries, lines = [], []
    eid = lid = 0
    prev = GENESIS
    patterns = (
        ("invoice", "INV", (("1100", 12200, 0), ("4000", 0, 10000), ("2200", 0, 2200)), "Invoice"),
        ("shipment", "SH", (("5000", 4000, 0), ("1200", 0, 4000)), "Cost of goods shipped"),
        ("payment", "PAY", (("1000", 12200, 0), ("1100", 0, 12200)), "Payment received"),
    )
    while lid < n_lines:
        source, prefix, legs, text = patterns[eid % 3]
        eid += 1
        day = start + dt.timedelta(days=(eid * 365) // (n_lines // 2 + 1))
        doc = f"{prefix}-{day.year}-{eid:07d}"
        cust = 1 + eid % CUSTOMERS
        seq, h = None, None
        chain_lines = []
        for account, debit, credit in legs:
            lid += 1
            lines.append((lid, eid, account, debit, credit))
            chain_lines.append(ChainLine(account, Decimal(debit).scaleb(-2), Decimal(credit).scaleb(-2)))
        description = f"{text} {doc}"
        if sealed:
            seq = eid
            h = prev = link(prev, ChainEntry(seq, eid, day, day.strftime("%Y-%m"), source, eid, doc, cust,
                                             description, tuple(chain_lines)))
        entries.append((eid, day if pg else day.isoformat(), day.strftime("%Y-%m"), source, eid, doc, cust,
                        description, stamp, seq, h))
        if len(lines) >= BATCH:
            write("journal_entries", ecols, entries)
            write("journal_lines", lcols, lines)
            entries, lines = [], []
    write("journal_entries", ecols, entries)
    write("journal_lines", lcols, lines)
    if sealed:
        cur.execute("UPDATE journal_chain SET last_seq = %s, last_hash = %s" if pg else
                    "UPDATE journal_chain SET last_seq = ?, last_hash = ?", (eid, prev))
    if pg:
        cur.execute("SELECT setval(pg_get_serial_sequence('journal_entries', 'id'), %s)", (eid,))
        cur.execute("SELECT setval(pg_get_serial_sequence('journal_lines', 'id'), %s)", (lid,))
    raw.commit()
    if pg:
        raw.dbapi_connection.autocommit = True
        raw.dbapi_connection.execute("VACUUM ANALYZE journal_entries")
        raw.dbapi_connection.execute("VACUUM ANALYZE journal_lines")
    else:
        cur.execute("ANALYZE")
    raw.close()
    engine.dispose()
    return lid


def measure(url: str, fmt: str) -> None:
    """In a child process: export everything, print seconds, peak RSS and size."""
    from o2c.db.engine import make_engine
    from o2c.services.books import exports
    from o2c.services.books.chain import seal_journal
    engine = make_engine(url)
    out = Path(tempfile.gettempdir()) / f"o2c-bench-export.{exports.EXTENSIONS[fmt]}"
    t = time.monotonic()
    seal_journal(engine)
    with out.open("wb") as f:
        exports.write_journal(engine, fmt, None, None, f)
    secs = time.monotonic() - t
    size = out.stat().st_size
    out.unlink()
    engine.dispose()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"format": fmt, "seconds": round(secs, 1), "peak_rss_mb": round(rss_mb), "bytes": size}))


def seal_only(url: str) -> None:
    from o2c.db.engine import make_engine
    from o2c.services.books.chain import seal_journal
    engine = make_engine(url)
    t = time.monotonic()
    result = seal_journal(engine)
    secs = time.monotonic() - t
    engine.dispose()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"format": "seal", "sealed": result.sealed, "seconds": round(secs, 1),
                      "peak_rss_mb": round(rss_mb)}))


def child(*args: str) -> dict:  # type: ignore[type-arg]
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="database URL (empty or new); default: an SQLite file in a temp folder")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--formats", nargs="+", default=["csv"], choices=["csv", "xlsx", "saft"])
    ap.add_argument("--unsealed", action="store_true", help="leave the chain to the sealer and time it")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--seal-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        return measure(args.db, args.measure)
    if args.seal_only:
        return seal_only(args.db)
    tmp = None
    url = args.db
    if url is None:
        tmp = tempfile.mkdtemp(prefix="o2c-bench-")
        url = f"sqlite:///{tmp}/bench.sqlite3"
    t = time.monotonic()
    n = build(url, args.lines, sealed=not args.unsealed)
    print(f"built {n:,} journal lines in {time.monotonic() - t:.1f} s ({url.split('://')[0]})", flush=True)
    if args.unsealed:
        r = child("--db", url, "--seal-only")
        print(f"seal: {r['sealed']:,} entries in {r['seconds']} s, peak RSS {r['peak_rss_mb']} MB", flush=True)
    for fmt in args.formats:
        r = child("--db", url, "--measure", fmt)
        print(f"export {fmt}: {r['seconds']} s, peak RSS {r['peak_rss_mb']} MB, {r['bytes'] / 1e6:.0f} MB written",
              flush=True)
    if tmp:
        for f in Path(tmp).iterdir():
            f.unlink()
        os.rmdir(tmp)


if __name__ == "__main__":
    main()
