"""Full order-to-cash cycles through HTTP against the service as run in
production (gunicorn, workers = cores), compared with a trivial endpoint.

    python bench/load.py                       # SQLite file in a temp folder
    python bench/load.py --db postgresql+psycopg://postgres@127.0.0.1/o2c_bench
    python bench/load.py --clients 1 8 32 --seconds 10

Each client is a thread in one of a few load processes; a cycle is four
requests: create+confirm (with Idempotency-Key), pack, ship (invoices), pay.
Traffic stays on 127.0.0.1 and every level stops after --seconds.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENDPOINTS = ("create+confirm", "pack", "ship", "pay")
SKUS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """One keep-alive connection (reopened when the server closes it)."""

    def __init__(self, port: int, key: str):
        self.port, self.key = port, key
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        h = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json", **(headers or {})}
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                payload = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, (json.loads(payload) if payload else {})
            except (ConnectionError, http.client.HTTPException, OSError):
                if self.conn:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _client(port: int, key: str, customer_id: int, until: float, kind: str, out: list, seed: int) -> None:
    import random
    rnd = random.Random(seed)
    http_ = Http(port, key)
    lat: dict[str, list[float]] = {e: [] for e in (ENDPOINTS if kind == "cycle" else ("ping",))}
    cycles = errors = 0
    today = dt.date.today().isoformat()
    while time.monotonic() < until:
        if kind == "ping":
            t = time.perf_counter()
            st, _ = http_.call("GET", "/api/ping")
            lat["ping"].append(time.perf_counter() - t)
            cycles += st == 200
            errors += st != 200
            continue
        ref = uuid.uuid4().hex
        sku = f"BENCH-{rnd.randrange(SKUS):02d}"
        steps = []
        t = time.perf_counter()
        st, o = http_.call("POST", "/api/v1/orders", {
            "customer": {"id": customer_id}, "external_ref": ref, "confirm": True,
            "lines": [{"sku": sku, "quantity": 1 + rnd.randrange(3)}]}, {"Idempotency-Key": ref})
        steps.append(("create+confirm", time.perf_counter() - t, st, 201))
        if st == 201:
            t = time.perf_counter()
            st, s = http_.call("POST", f"/api/v1/orders/{o['id']}/shipments", {}, {"Idempotency-Key": ref + "p"})
            steps.append(("pack", time.perf_counter() - t, st, 201))
            if st == 201:
                t = time.perf_counter()
                st, s = http_.call("POST", f"/api/v1/shipments/{s['id']}/ship",
                                   {"carrier": "BRT", "tracking_number": ref[:12]}, {"Idempotency-Key": ref + "s"})
                steps.append(("ship", time.perf_counter() - t, st, 200))
                if st == 200:
                    t = time.perf_counter()
                    st, _ = http_.call("POST", "/api/v1/payments", {
                        "customer_id": customer_id, "amount": o["total"], "currency": "EUR", "received_on": today,
                        "method": "bank_transfer", "reference": "B" + ref}, {"Idempotency-Key": ref + "y"})
                    steps.append(("pay", time.perf_counter() - t, st, 201))
        for name, secs, got, want in steps:
            lat[name].append(secs)
            if got != want:
                errors += 1
        cycles += all(got == want for _, _, got, want in steps) and len(steps) == 4
    out.append((cycles, errors, lat))


def _loader(port: int, key: str, customers: list[int], until: float, kind: str, q: mp.Queue, seed: int) -> None:
    out: list = []
    threads = [threading.Thread(target=_client, args=(port, key, c, until, kind, out, seed + i))
               for i, c in enumerate(customers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q.put(out)


def run_level(port: int, key: str, customers: list[int], clients: int, seconds: float, kind: str) -> dict:
    procs = min(clients, 4)
    q: mp.Queue = mp.Queue()
    start = time.monotonic()
    until = start + seconds
    ps = []
    for p in range(procs):
        mine = [customers[i % len(customers)] for i in range(p, clients, procs)]
        ps.append(mp.Process(target=_loader, args=(port, key, mine, until, kind, q, 1000 * p)))
    for p in ps:
        p.start()
    results = [r for _ in ps for r in q.get()]
    for p in ps:
        p.join()
    elapsed = time.monotonic() - start
    cycles = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    lat: dict[str, list[float]] = {}
    for r in results:
        for k, v in r[2].items():
            lat.setdefault(k, []).extend(v)
    requests = sum(len(v) for v in lat.values())
    return {"clients": clients, "kind": kind, "seconds": elapsed, "cycles": cycles, "errors": errors,
            "rate": cycles / elapsed, "rps": requests / elapsed, "requests": requests,
            "latency": {k: _pcts(v) for k, v in lat.items()}}


def _pcts(v: list[float]) -> dict[str, float]:
    if not v:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    v = sorted(v)
    pick = lambda p: v[min(len(v) - 1, int(p * len(v)))] * 1000  # noqa: E731
    return {"p50": statistics.median(v) * 1000, "p95": pick(0.95), "p99": pick(0.99)}


def seed(url: str, n_customers: int) -> tuple[str, list[int]]:
    """Schema, an admin key, customers, products and plenty of stock (through services)."""
    from decimal import Decimal

    from o2c.db.engine import make_engine
    from o2c.db.migrate import upgrade
    from o2c.services.customers import records
    from o2c.services.fulfilment import stock
    from o2c.services.platform import apikeys
    from o2c.services.platform.uow import unit_of_work
    from o2c.services.sales import catalog
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(engine, "bench") as tx:
        key = apikeys.create_api_key(tx, f"bench-{uuid.uuid4().hex[:8]}", "admin")[1]
        try:
            catalog.get_product(tx, "BENCH-00")
            have = True
        except Exception:  # noqa: BLE001 - NotFound on a fresh database
            have = False
        if not have:
            for i in range(SKUS):
                catalog.create_product(tx, {"sku": f"BENCH-{i:02d}", "name": f"Bench item {i}",
                                            "unit_price": Decimal("19.90") + i, "vat_rate": Decimal("0.22")})
                stock.receive(tx, f"BENCH-{i:02d}", 10_000_000, Decimal("7.35"))
        ids = []
        for i in range(n_customers):
            c = records.create_customer(tx, {
                "code": f"BENCH-{uuid.uuid4().hex[:10]}", "name": f"Bench customer {i}", "country": "IT",
                "billing_address": {"name": "B", "line1": "Via Roma 1", "city": "Milano",
                                    "postal_code": "20121", "country": "IT"}})
            ids.append(c["id"])
    engine.dispose()
    return key, ids


def start_server(url: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    """The service as in production. Its log (a JSON line per request) goes to
    a file: a pipe nobody reads fills up and stalls every worker."""
    # Rate limits off: a benchmark's clients are one key at hundreds of requests a second.
    env = {**os.environ, "O2C_DATABASE_URL": url, "PYTHONPATH": str(ROOT), "O2C_RATELIMIT_ENABLED": "0"}
    log = tempfile.NamedTemporaryFile(prefix="o2c-bench-server-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "o2c.cli", "serve", "--port", str(port), "--workers", str(workers),
         "--threads", str(threads), "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    log.close()
    proc.log_path = log.name  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server did not start: {Path(log.name).read_text()[-2000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="o2c-bench-")
    url = args.db or f"sqlite:///{tmp}/bench.sqlite3"
    key, customers = seed(url, max(args.clients))
    port = free_port()
    server = start_server(url, port, args.workers, args.threads)
    results = []
    try:
        for n in args.clients:
            cyc = run_level(port, key, customers, n, args.seconds, "cycle")
            # The ceiling: as many requests to a trivial JSON endpoint, same clients.
            ping = run_level(port, key, customers, n, args.seconds, "ping")
            results.append((cyc, ping))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"\nFull cycles through HTTP — {db}, gunicorn {args.workers} workers × {args.threads} threads, "
          f"{os.cpu_count()} cores, {args.seconds:.0f} s per level")
    print(f"{'clients':>7} {'cycles/s':>9} {'req/s':>7} {'errors':>6} {'ping req/s':>10} {'ratio':>6}   "
          + "  ".join(f"{e} p50/p95/p99 ms" for e in ENDPOINTS))
    for cyc, ping in results:
        ratio = cyc["rate"] * 4 / ping["rps"] if ping["rps"] else 0
        lat = "  ".join(
            f"{cyc['latency'][e]['p50']:5.1f}/{cyc['latency'][e]['p95']:5.1f}/{cyc['latency'][e]['p99']:6.1f}".ljust(len(e) + 16)
            for e in ENDPOINTS)
        print(f"{cyc['clients']:>7} {cyc['rate']:>9.1f} {cyc['rps']:>7.0f} {cyc['errors']:>6} {ping['rps']:>10.0f} "
              f"{ratio:>6.0%}   {lat}")
    print("ratio = cycle requests per second ÷ trivial-endpoint requests per second, same clients")
    if args.json:
        Path(args.json).write_text(json.dumps([{"cycle": c, "ping": p} for c, p in results], indent=1))


if __name__ == "__main__":
    main()
