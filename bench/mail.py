"""Mails per second through a real SMTP server (aiosmtpd, in this process):
N invoice messages, each with a PDF-sized attachment, queued and sent by one
worker's ``mail`` lane — queueing, claiming, rendering the MIME message, the
SMTP dialogue and recording the outcome included. Also the embedded default
(``.eml`` files) for comparison.

    python bench/mail.py --messages 500 --threads 1
    python bench/mail.py --messages 500 --threads 4 --db postgresql+psycopg://postgres@127.0.0.1/o2c_bench
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1, help="threads of the mail lane")
    ap.add_argument("--attachment-kb", type=int, default=60)
    ap.add_argument("--db", default="")
    args = ap.parse_args()

    from aiosmtpd.controller import Controller
    from sqlalchemy import func, insert, select

    from o2c.config import Config
    from o2c.db import models as m
    from o2c.db.engine import make_engine
    from o2c.db.migrate import upgrade
    from o2c.services.platform import outbox
    from o2c.services.platform.uow import unit_of_work
    from o2c.worker import Worker, load_job_modules

    load_job_modules()
    tmp = Path(tempfile.mkdtemp(prefix="o2c-mail-bench-"))
    url = args.db or f"sqlite:///{tmp / 'bench.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    ctx = {"number": "INV-2026-000001", "total": Decimal("122.00"), "currency": "EUR",
           "due_date": dt.date(2026, 4, 30)}
    pdf = os.urandom(args.attachment_kb * 1024)
    msgs = m.Message.__table__

    def queue(n: int) -> float:
        began = time.perf_counter()
        with unit_of_work(engine, "bench") as tx:
            cid = tx.conn.execute(insert(m.Customer.__table__).returning(m.Customer.__table__.c.id), {
                "code": f"B-{time.time_ns()}", "name": "Bench Buyer S.r.l.", "email": "buyer@bench.example",
                "country": "IT", "language": "it", "tax_id": "", "payment_terms_days": 30, "credit_limit": None,
                "currency": "EUR", "billing_address": {"line1": "Via Roma 1", "city": "Milano",
                                                       "postal_code": "20100", "country": "IT"},
                "shipping_address": None, "created_at": tx.now}).scalar_one()
        for _ in range(n):
            with unit_of_work(engine, "bench") as tx:
                outbox.queue_message(tx, kind="invoice", customer_id=cid, template="invoice", context=ctx,
                                     attachments=[outbox.Attachment("INV.pdf", "application/pdf", pdf)])
        return time.perf_counter() - began

    def sent() -> int:
        with engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(msgs).where(msgs.c.status == "sent")).scalar_one())

    def run(config: Config, target: int) -> float:
        began = time.perf_counter()
        Worker(engine, config, lanes={"mail": args.threads}, poll_interval=0.01, periodic=[]).run(
            until=lambda: sent() >= target, timeout=600)
        return time.perf_counter() - began

    sink = Sink()
    port = free_port()
    server = Controller(sink, hostname="127.0.0.1", port=port)
    server.start()
    try:
        q = queue(args.messages)
        smtp_s = run(Config(DATABASE_URL=url, MAIL_URL=f"smtp://127.0.0.1:{port}"), args.messages)
    finally:
        server.stop()
    assert sink.count == args.messages, sink.count
    q2 = queue(args.messages)
    eml_s = run(Config(DATABASE_URL=url, MAIL_URL="", OUTBOX_DIR=str(tmp / "outbox")), 2 * args.messages)
    db = engine.dialect.name
    print(f"{args.messages} messages with a {args.attachment_kb} KB attachment, {db}, mail lane threads={args.threads}")
    print(f"  queue_message:        {args.messages / q:8.1f} messages/s (one transaction each)")
    print(f"  through aiosmtpd:     {args.messages / smtp_s:8.1f} mails/s  ({smtp_s:.2f} s)")
    print(f"  as .eml files:        {args.messages / eml_s:8.1f} mails/s  ({eml_s:.2f} s); queueing again "
          f"{args.messages / q2:.1f}/s")


if __name__ == "__main__":
    main()
