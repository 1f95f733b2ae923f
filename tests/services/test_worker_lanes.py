"""Worker lanes: each lane of job kinds has its own threads, so a webhook
delivery never waits behind a backlog of PDF renders."""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from o2c.cli import main
from o2c.config import Config
from o2c.services.platform import jobs
from o2c.services.platform.background import RENDER_INVOICE
from o2c.services.platform.webhooks import DELIVER
from o2c.worker import Worker, load_job_modules
from tests.conftest import Client, customer, order, product
from tests.receiver import Receiver

BACKLOG = 500
RENDER_S = 0.3  # what one stand-in render takes


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


class Renders:
    """A stand-in for the invoice renderer that takes ``RENDER_S`` and notes
    when each render started and ended (``time.monotonic``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: list[float] = []
        self.ended: list[float] = []
        self.running = 0
        self.most_at_once = 0

    def __call__(self, ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
        with self.lock:
            self.started.append(time.monotonic())
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(RENDER_S)
        with self.lock:
            self.running -= 1
            self.ended.append(time.monotonic())


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Renders:
    load_job_modules()
    stand_in = Renders()
    monkeypatch.setitem(jobs.KINDS, RENDER_INVOICE, dataclasses.replace(jobs.KINDS[RENDER_INVOICE], handler=stand_in))
    return stand_in


def test_a_delivery_queued_behind_500_renders_is_sent_within_one_render(
        admin: Client, engine: Engine, db_url: str, receiver: Receiver, renders: Renders) -> None:
    with engine.begin() as conn:
        for n in range(1, BACKLOG + 1):
            jobs.enqueue(conn, RENDER_INVOICE, {"invoice_id": n}, key=f"invoice-pdf:{n}")
    admin.ok("post", "/api/v1/webhooks", {"url": receiver.url, "event_types": ["order.created"]}, status=201)
    customer(admin, "C-ROSSI")
    product(admin, "RETRO-CLOCK", "49.00", stock=5)
    assert order(admin, "C-ROSSI", [("RETRO-CLOCK", 1)]).status_code == 201  # the event, after the backlog

    began = time.monotonic()
    worker = Worker(engine, Config(DATABASE_URL=db_url, ENV="testing"), poll_interval=0.02)  # the default lanes
    worker.run(until=lambda: bool(receiver.accepted()), timeout=60)

    got = receiver.accepted()
    assert [r.event["type"] for r in got] == ["order.created"]
    delivered = got[0].at
    finished_before = sum(1 for t in renders.ended if t < delivered)
    # The delivery did not wait for the backlog: it was sent before the
    # second render finished, i.e. within one render's time.
    assert finished_before <= 1, (finished_before, delivered - began)
    assert delivered - began < 2 * RENDER_S + 1.0, delivered - began
    # The documents lane kept to its one thread, and the backlog is still there.
    assert renders.most_at_once == 1
    with engine.connect() as conn:
        left = {r["kind"]: r["n"] for r in jobs.summary(conn) if r["status"] == "queued"}
    assert left[RENDER_INVOICE] >= BACKLOG - 3


def test_a_mail_queued_behind_500_renders_is_sent_within_one_render(
        engine: Engine, db_url: str, renders: Renders) -> None:
    from o2c.services.platform import outbox
    from tests.outbox.smtp import SmtpServer
    from tests.outbox.test_queue import CTX, make_customer
    with engine.begin() as conn:
        for n in range(1, BACKLOG + 1):
            jobs.enqueue(conn, RENDER_INVOICE, {"invoice_id": n}, key=f"invoice-pdf:{n}")
    cid = make_customer(engine)
    with SmtpServer() as smtp:
        from o2c.services.platform.uow import unit_of_work
        with unit_of_work(engine, "test") as tx:  # the mail, after the backlog
            outbox.queue_message(tx, kind="invoice", customer_id=cid, template="invoice", context=CTX)
        began = time.monotonic()
        worker = Worker(engine, Config(DATABASE_URL=db_url, ENV="testing", MAIL_URL=smtp.url), poll_interval=0.02)
        worker.run(until=lambda: bool(smtp.handler.received), timeout=60)
        sent = time.monotonic()
        assert len(smtp.handler.messages()) == 1
    assert sum(1 for t in renders.ended if t < sent) <= 1
    assert sent - began < 2 * RENDER_S + 1.0, sent - began
    assert renders.most_at_once == 1


def test_each_lane_claims_its_own_kinds_oldest_first_whatever_waits_in_other_lanes(engine: Engine) -> None:
    load_job_modules()
    with engine.begin() as conn:
        for n in range(20):
            jobs.enqueue(conn, RENDER_INVOICE, {"invoice_id": n})
        jobs.enqueue(conn, DELIVER, {"webhook_id": 1, "event_id": 1})
        jobs.enqueue(conn, DELIVER, {"webhook_id": 1, "event_id": 2})
    lanes = [(jobs.lane_kinds(lane, jobs.KINDS), n) for lane, n in (("deliveries", 5), ("documents", 2))]
    deliveries, documents = jobs.claim_lanes(engine, "w1", lanes, 60)
    assert [j.payload["event_id"] for j in deliveries] == [1, 2]
    assert [j.payload["invoice_id"] for j in documents] == [0, 1]
    # Another worker takes the next ones; nothing is claimed twice.
    deliveries2, documents2 = jobs.claim_lanes(engine, "w2", lanes, 60)
    assert deliveries2 == [] and [j.payload["invoice_id"] for j in documents2] == [2, 3]


def test_every_kind_the_worker_runs_has_a_lane() -> None:
    """A new kind must be placed in a lane, not fall into ``other`` unnoticed."""
    load_job_modules()
    ours = {k for k in jobs.KINDS if not k.startswith("test.")}
    assert ours and ours <= set(jobs.LANE_OF), sorted(ours - set(jobs.LANE_OF))
    assert set(jobs.LANE_OF.values()) <= set(jobs.LANES)


def test_lanes_summary_counts_per_lane_and_kind_with_the_oldest_wait(engine: Engine) -> None:
    load_job_modules()
    now = jobs.clock.now()
    with engine.begin() as conn:
        jobs.enqueue(conn, RENDER_INVOICE, {"invoice_id": 1}, now=now - dt.timedelta(seconds=90))
        jobs.enqueue(conn, RENDER_INVOICE, {"invoice_id": 2}, now=now)
        jobs.enqueue(conn, RENDER_INVOICE, {"invoice_id": 3}, run_at=now + dt.timedelta(hours=1), now=now)
    [claimed] = jobs.claim(engine, "w1", [RENDER_INVOICE], 1, 60, now)
    assert claimed.payload["invoice_id"] == 1
    with engine.begin() as conn:
        lanes = {lane["lane"]: lane for lane in jobs.lanes_summary(conn, now + dt.timedelta(seconds=10))}
    assert list(lanes) == list(jobs.LANES)
    docs = lanes["documents"]
    assert (docs["queued"], docs["scheduled"], docs["running"], docs["failed"]) == (1, 1, 1, 0)
    assert docs["oldest_age_s"] == pytest.approx(10, abs=0.01)  # the running one does not wait any more
    assert lanes["deliveries"]["queued"] == 0 and lanes["deliveries"]["oldest_age_s"] is None
    assert {k["kind"] for k in docs["kinds"]} == {RENDER_INVOICE, "dunning.render_letter", "credit_note.render_pdf"}


def test_parse_lanes_overrides_the_defaults_and_refuses_nonsense() -> None:
    assert jobs.parse_lanes("") == jobs.DEFAULT_LANES
    lanes = jobs.parse_lanes("documents=4, deliveries=0")
    assert lanes == {**jobs.DEFAULT_LANES, "documents": 4, "deliveries": 0}
    for bad in ("renders=2", "documents", "documents=-1", "documents=x", "documents=1000",
                ",".join(f"{lane}=0" for lane in jobs.LANES)):
        with pytest.raises(ValueError):
            jobs.parse_lanes(bad)


def test_a_worker_runs_only_the_lanes_it_is_given(engine: Engine, db_url: str, renders: Renders) -> None:
    with engine.begin() as conn:
        jobs.enqueue(conn, RENDER_INVOICE, {"invoice_id": 1})
    config = Config(DATABASE_URL=db_url, ENV="testing")
    w = Worker(engine, config, lanes={**jobs.DEFAULT_LANES, "documents": 0}, poll_interval=0.01, periodic=[])
    assert "documents" not in [lane.name for lane in w.lanes]
    w.run(once=True)
    assert renders.started == []
    w = Worker(engine, config, lanes={"documents": 3}, poll_interval=0.01, periodic=[])
    assert [(lane.name, lane.threads) for lane in w.lanes] == [("documents", 3)] and w.concurrency == 3
    w.run(once=True)
    assert len(renders.ended) == 1


def test_worker_help_shows_the_lanes_and_bad_lanes_are_refused() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["worker", "--help"]).output
    assert "--lanes" in out and "deliveries=2" in out
    for lane in jobs.LANES:
        assert f"  {lane} " in out
    assert "webhooks.deliver" in out and "invoice.render_pdf" in out
    bad = runner.invoke(main, ["worker", "--lanes", "renders=2"])
    assert bad.exit_code == 2 and "unknown lane 'renders'" in bad.output
    both = runner.invoke(main, ["worker", "--lanes", "documents=1", "--concurrency", "2"])
    assert both.exit_code == 2 and "exclude each other" in both.output
