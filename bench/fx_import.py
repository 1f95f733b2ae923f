"""How long ``o2c fx import`` takes on a file the size of the ECB's full
history (eurofxref-hist.xml: about 6,800 working days since 1999, 30
currencies): parsing, the first import, and importing it again (nothing to
do). Prints figures; run it on a quiet machine.

    python bench/fx_import.py [--days 6800] [--all] [--db sqlite:////tmp/o2c-fx.sqlite3]

``--all`` keeps every currency's rates (``--include-disabled``); without it
only PLN and USD are enabled and kept.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from o2c.db.engine import make_engine  # noqa: E402
from o2c.db.migrate import upgrade  # noqa: E402
from o2c.domain.currencies import ECB_CURRENCIES  # noqa: E402
from o2c.services.books import fx, fx_files  # noqa: E402
from o2c.services.platform.uow import unit_of_work  # noqa: E402


def history_xml(days: int) -> bytes:
    codes = sorted(ECB_CURRENCIES)
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"'
           ' xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref"><gesmes:subject>Reference rates</gesmes:subject>'
           '<Cube>']
    day, n = dt.date(2026, 12, 4), 0
    while n < days:
        if day.weekday() < 5:
            out.append(f"<Cube time='{day.isoformat()}'>")
            out.extend(f"<Cube currency='{c}' rate='{1 + (i * 7 + n) % 9000 / 1000:.4f}'/>" for i, c in enumerate(codes))
            out.append("</Cube>")
            n += 1
        day -= dt.timedelta(days=1)
    out.append("</Cube></gesmes:Envelope>\n")
    return "".join(out).encode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=6800)
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--db", default=None)
    args = ap.parse_args()
    url = args.db or f"sqlite:///{tempfile.mkdtemp()}/fx.sqlite3"
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(engine, "bench") as tx:
        for code in ("PLN", "USD"):
            fx.set_currency(tx, code, True)
    data = history_xml(args.days)
    t0 = time.perf_counter()
    rows = fx_files.parse(data, "history.xml")
    t1 = time.perf_counter()
    print(f"file: {len(data) / 1e6:.1f} MB, {len(rows):,} rates; parsed in {t1 - t0:.2f} s")
    for label in ("first import", "again"):
        t0 = time.perf_counter()
        with unit_of_work(engine, "bench") as tx:
            result = fx.import_rates(tx, rows, include_disabled=args.all)
        print(f"{label}: {time.perf_counter() - t0:.2f} s — {result.added:,} added, {result.changed:,} changed, "
              f"{result.unchanged:,} unchanged")
    engine.dispose()


if __name__ == "__main__":
    main()
