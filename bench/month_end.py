"""Month-end work on a large book: reconciliation, trial balance, receivables
aging and the ledger export, each through the JSON API in a fresh process so
its peak RSS is its own.

    python bench/bulk_load.py --orders 1000000 --db sqlite:////tmp/o2c-1m.sqlite3
    python bench/month_end.py --db sqlite:////tmp/o2c-1m.sqlite3

Prints seconds (median of --repeat runs) and peak RSS per report.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

REPORTS = {
    "reconciliation": "/api/v1/reconciliation",
    "trial balance": "/api/v1/ledger/trial-balance",
    "receivables aging": "/api/v1/receivables/aging",
    "ledger export (csv)": "/api/v1/ledger/export?format=csv",
}


def export_range(url: str, lines: int) -> tuple[str, str] | None:
    """The latest dates whose journal holds about ``lines`` lines (whole days)."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import func, select

    from o2c.db import models as m
    from o2c.db.engine import make_engine
    e, jl = m.JournalEntry.__table__, m.JournalLine.__table__
    engine = make_engine(url)
    with engine.connect() as c:
        per_day = c.execute(select(e.c.date, func.count()).join(jl, jl.c.entry_id == e.c.id)
                            .group_by(e.c.date).order_by(e.c.date.desc())).all()
    engine.dispose()
    if not per_day:
        return None
    total = 0
    for day, n in per_day:
        total += n
        if total >= lines:
            break
    return str(day), str(per_day[0][0])

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from o2c import create_app
from o2c.config import Config
from o2c.services.platform import apikeys
from o2c.services.platform.uow import unit_of_work
app = create_app(Config(DATABASE_URL={url!r}, RATELIMIT_ENABLED=False))
engine = app.extensions["o2c.engine"]
with unit_of_work(engine, "bench") as tx:
    key = apikeys.create_api_key(tx, "month-end-" + str(time.time_ns()), "admin")[1]
client = app.test_client()
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
r = client.get({path!r}, headers={{"Authorization": "Bearer " + key}}, buffered=False)
size = 0
rows = 0
for chunk in r.response:
    size += len(chunk)
    rows += chunk.count(b"\n") if isinstance(chunk, bytes) else 0
r.close()
secs = time.perf_counter() - t
print(json.dumps({{"status": r.status_code, "seconds": secs, "bytes": size, "lines": rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_mb": base_rss / 1024}}))
"""


def run(url: str, path: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), url=url, path=path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--export-lines", type=int, default=1_000_000,
                    help="export the latest days holding about this many journal lines (0: the whole journal)")
    args = ap.parse_args()
    if args.export_lines:
        span = export_range(args.db, args.export_lines)
        if span:
            REPORTS["ledger export (csv)"] += f"&from={span[0]}&to={span[1]}"
    db = "PostgreSQL" if args.db.startswith("postgresql") else "SQLite"
    print(f"Month-end reports through the API on {db} ({args.db})")
    print(f"{'report':<22} {'status':>6} {'median s':>9} {'peak RSS MB':>12} {'output':>14}")
    for name, path in REPORTS.items():
        runs = [run(args.db, path) for _ in range(args.repeat)]
        secs = statistics.median(r["seconds"] for r in runs)
        rss = max(r["peak_rss_mb"] for r in runs)
        out = f"{runs[0]['lines']:,} lines" if "export" in name else f"{runs[0]['bytes']:,} B"
        print(f"{name:<22} {runs[0]['status']:>6} {secs:>9.2f} {rss:>12.0f} {out:>14}")


if __name__ == "__main__":
    main()
