"""Webhook delivery throughput of one worker process against a local receiver.

    python bench/webhooks.py                        # SQLite file in a temp folder
    python bench/webhooks.py --db postgresql+psycopg://postgres@127.0.0.1/o2c_bench
    python bench/webhooks.py --events 5000 --orders 1000 --concurrency 1 4 8

The events are written straight into the outbox (as business transactions
would), spread round-robin over --orders orders. A subscription takes all of
them; one worker (in this process, --concurrency threads) fans them out and
delivers them, signed, to a receiver in another process that checks every
signature and answers 200 over keep-alive connections. The clock runs from
the worker's start until the receiver has every event; events/s counts
fan-out, claiming, signing, the HTTP round trip and the delivery log.
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def receiver(port_out: Any, count: Any, bad: Any, secret: Any, ready: Any) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from o2c.domain.signing import verify

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if verify(self.headers.get("O2C-Signature", ""), body, secret.value.decode(), time.time()):
                with count.get_lock():
                    count.value += 1
            else:
                with bad.get_lock():
                    bad.value += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.value = server.server_address[1]
    ready.set()
    server.serve_forever()


def reset(engine: Any) -> None:
    from sqlalchemy import delete

    from o2c.db import models as m
    with engine.begin() as conn:
        for model in (m.WebhookAttempt, m.WebhookDelivery, m.Webhook, m.Job, m.Event):
            conn.execute(delete(model.__table__))


def run_level(engine: Any, config: Any, events: int, orders: int, concurrency: int, port: int,
              count: Any, bad: Any, secret: Any) -> dict[str, float]:
    from sqlalchemy import insert

    from o2c.db import models as m
    from o2c.domain.access import Principal
    from o2c.services.platform import webhooks
    from o2c.services.platform.uow import unit_of_work
    from o2c.worker import Worker

    reset(engine)
    shop = Principal("api_key", 1, "bench", "webshop")
    with unit_of_work(engine, "bench") as tx:
        hook = webhooks.create_webhook(tx, shop, {"url": f"http://127.0.0.1:{port}/hook", "event_types": ["*"]})
        secret.value = webhooks.reveal_secret(tx, shop, hook["id"], config.webhook_key).encode()
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        conn.execute(insert(m.Event.__table__), [
            {"type": "shipment.shipped", "channel": "bench", "order_id": 1 + i % orders,
             "data": {"shipment_id": i, "carrier": "BRT", "tracking_number": f"BRT{i:010d}"}, "created_at": now}
            for i in range(events)])
    with count.get_lock():
        count.value = 0
    with bad.get_lock():
        bad.value = 0
    worker = Worker(engine, config, concurrency=concurrency, poll_interval=0.01)
    started = time.perf_counter()
    worker.run(until=lambda: count.value + bad.value >= events, timeout=600)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "delivered": count.value, "bad_signatures": bad.value,
            "per_second": count.value / seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--orders", type=int, default=500, help="events are spread over this many orders (lanes)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    args = ap.parse_args()

    from o2c.config import Config
    from o2c.db.engine import make_engine
    from o2c.db.migrate import upgrade

    tmp = tempfile.TemporaryDirectory()
    url = args.db or f"sqlite:///{tmp.name}/bench.sqlite3"
    config = Config(DATABASE_URL=url, ENV="bench", RATELIMIT_ENABLED=False)
    engine = make_engine(url, pool_size=max(args.concurrency) + 4)
    upgrade(engine)

    port, count, bad = mp.Value("i", 0), mp.Value("l", 0), mp.Value("l", 0)
    secret, ready = mp.Array("c", 128), mp.Event()
    proc = mp.Process(target=receiver, args=(port, count, bad, secret, ready), daemon=True)
    proc.start()
    ready.wait(10)
    print(f"database {engine.url.render_as_string(hide_password=True)}; {args.events} events over "
          f"{args.orders} orders; one worker process; receiver on 127.0.0.1:{port.value} verifying signatures")
    print(f"{'threads':>8} {'seconds':>9} {'delivered':>10} {'events/s':>9}")
    try:
        for c in args.concurrency:
            r = run_level(engine, config, args.events, args.orders, c, port.value, count, bad, secret)
            assert r["bad_signatures"] == 0, r
            print(f"{c:>8} {r['seconds']:>9.2f} {int(r['delivered']):>10} {r['per_second']:>9.0f}", flush=True)
    finally:
        reset(engine)
        proc.terminate()
        engine.dispose()
        tmp.cleanup()


if __name__ == "__main__":
    main()
