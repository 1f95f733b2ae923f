"""Kill the real server and the worker mid-load, again and again: every order
a client saw acknowledged exists exactly once, the books still reconcile
(invoice numbers gapless included), and the journal's hash chain verifies.

gunicorn serves the app; an ``o2c worker`` renders invoice PDFs and seals the
journal every second next to it; client processes drive full cycles with an
Idempotency-Key on every POST and retry through outages; the test SIGKILLs the
whole server process group and the worker at random moments and starts both
again.
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from o2c.services.customers import records
from o2c.services.fulfilment import stock
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import catalog
from tests.conftest import ADDRESS, make_key

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 3
KILLS = 4
RUN_SECONDS = 14.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "O2C_DATABASE_URL": url, "PYTHONPATH": str(ROOT), "O2C_ENV": "testing"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--graceful-timeout", "1", "o2c.wsgi:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("gunicorn did not start")


def _start_worker(url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "O2C_DATABASE_URL": url, "PYTHONPATH": str(ROOT), "O2C_ENV": "testing",
           "O2C_SEAL_INTERVAL": "1"}
    return subprocess.Popen([sys.executable, "-m", "o2c.cli", "worker", "--concurrency", "2",
                             "--poll-interval", "0.1", "--lease", "5"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, cwd=ROOT)


def _call(port: int, key: str, method: str, path: str, body: dict[str, Any] | None, idem: str | None,
          give_up: float) -> tuple[int, Any]:
    """One request, retried through refused or cut connections until ``give_up``."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if idem:
        headers["Idempotency-Key"] = idem
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            r = conn.getresponse()
            data = r.read()
            conn.close()
            if r.status >= 500:
                raise ConnectionError(f"{r.status}")  # a worker died mid-request: try again
            return r.status, json.loads(data)
        except (OSError, http.client.HTTPException):
            if time.monotonic() > give_up:
                raise
            time.sleep(0.1)


def _client(n: int, port: int, key: str, customer_id: int, until: float, out: Any) -> None:
    rnd = random.Random(n)
    acked: list[str] = []
    cycles = 0
    today = dt.date.today().isoformat()
    give_up = until + 60
    while time.monotonic() < until:
        ref = f"crash-{n}-{cycles}"
        st, o = _call(port, key, "POST", "/api/v1/orders", {
            "customer": {"id": customer_id}, "external_ref": ref, "confirm": True,
            "lines": [{"sku": f"CRASH-{rnd.randrange(3)}", "quantity": 1 + rnd.randrange(2)}]}, ref + "-c", give_up)
        assert st == 201, (st, o)
        acked.append(ref)
        st, s = _call(port, key, "POST", f"/api/v1/orders/{o['id']}/shipments", {}, ref + "-p", give_up)
        assert st == 201, (st, s)
        st, s = _call(port, key, "POST", f"/api/v1/shipments/{s['id']}/ship",
                      {"carrier": "BRT", "tracking_number": ref}, ref + "-s", give_up)
        assert st == 200, (st, s)
        st, p = _call(port, key, "POST", "/api/v1/payments", {
            "customer_id": customer_id, "amount": o["total"], "currency": "EUR", "received_on": today,
            "reference": "BANK-" + ref}, ref + "-y", give_up)
        assert st == 201, (st, p)
        cycles += 1
    out.put((n, acked, cycles))


@pytest.mark.slow
def test_orders_survive_the_server_being_killed(db_url: str, engine: Any) -> None:
    key = make_key(engine, "crash-admin", "admin")
    with unit_of_work(engine, "test") as tx:
        customers = [records.create_customer(tx, {"code": f"C-CRASH-{i}", "name": f"Crash {i}", "country": "IT",
                                                  "billing_address": ADDRESS})["id"] for i in range(CLIENTS)]
        for i in range(3):
            catalog.create_product(tx, {"sku": f"CRASH-{i}", "name": f"Crash item {i}",
                                        "unit_price": Decimal("12.34"), "vat_rate": Decimal("0.22")})
            stock.receive(tx, f"CRASH-{i}", 100_000, Decimal("4.56"))
    port = _free_port()
    server = _start(db_url, port)
    worker = _start_worker(db_url)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    until = time.monotonic() + RUN_SECONDS
    clients = [ctx.Process(target=_client, args=(n, port, key, customers[n], until, q)) for n in range(CLIENTS)]
    for c in clients:
        c.start()
    kills = 0
    rnd = random.Random(7)
    try:
        while kills < KILLS:
            time.sleep(rnd.uniform(1.0, 2.5))
            os.killpg(server.pid, signal.SIGKILL)
            os.killpg(worker.pid, signal.SIGKILL)
            server.wait()
            worker.wait()
            kills += 1
            server = _start(db_url, port)
            worker = _start_worker(db_url)
        results = [q.get(timeout=120) for _ in clients]
        for c in clients:
            c.join(timeout=30)
            assert c.exitcode == 0
    finally:
        for proc in (server, worker):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    acked = [ref for _, refs, _ in results for ref in refs]
    cycles = sum(n for _, _, n in results)
    assert kills == KILLS and cycles >= CLIENTS, (kills, cycles)
    from o2c import create_app
    from o2c.config import Config
    app = create_app(Config(DATABASE_URL=db_url, ENV="testing"))
    client = app.test_client()
    h = {"Authorization": f"Bearer {key}"}
    for ref in acked:
        found = client.get(f"/api/v1/orders?external_ref={ref}", headers=h).get_json()["items"]
        assert len(found) == 1, (ref, found)
    # No order exists that no client asked for, and none twice.
    all_refs = []
    cursor = None
    while True:
        page = client.get("/api/v1/orders?limit=100" + (f"&cursor={cursor}" if cursor else ""), headers=h).get_json()
        all_refs += [o["external_ref"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(all_refs) == sorted(set(all_refs)) and set(all_refs) == set(acked)
    rep = client.get("/api/v1/reconciliation", headers=h).get_json()
    assert rep["ok"], [c for c in rep["checks"] if c["difference"] not in ("0", "0.00")]
    # The worker sealed while it was being killed; seal the rest, then every
    # link of the chain must hold.
    from o2c.services.books.chain import seal_journal
    seal_journal(app.extensions["o2c.engine"])
    chain = client.get("/api/v1/ledger/verify", headers=h).get_json()
    assert chain["ok"] and chain["unsealed"] == 0 and chain["checked"] > 0, chain
    print(f"crash safety: {cycles} full cycles by {CLIENTS} client processes, {KILLS} SIGKILLs of server "
          f"and worker survived, {chain['checked']} journal entries verified")
    app.extensions["o2c.engine"].dispose()
