"""Several ``o2c worker`` processes against one database: every job done
exactly once in effect, never by two workers at a time, and a worker killed
with SIGKILL in the middle of a job loses nothing. Then the whole chain:
orders placed while workers deliver to a receiver that dies and comes back.

On PostgreSQL this is SKIP LOCKED at work; on SQLite the same code is
serialised by the database's write lock."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from o2c.db import models as m
from o2c.services.crm import background as crm_background
from o2c.services.platform import background, jobs
from tests.conftest import Client, customer, product
from tests.receiver import Receiver
from tests.services.test_webhooks import assert_in_order_per_order, assert_signed, feed, full_cycle, subscribe

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """Worker processes started by a test, and stopped (or killed) by it."""

    def __init__(self, db_url: str, tmp: Path):
        self.db_url, self.tmp = db_url, tmp
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "O2C_DATABASE_URL": self.db_url, "PYTHONPATH": str(ROOT),
               "O2C_WEBHOOK_RETRY_BASE": "0.05", "O2C_WEBHOOK_RETRY_MAX_DELAY": "0.3"}
        log = open(self.tmp / f"worker-{len(self.procs)}.log", "wb")
        p = subprocess.Popen([sys.executable, "-m", "o2c.cli", "worker", "--import", "tests.jobkinds",
                              "--poll-interval", "0.05", *args], cwd=ROOT, env=env, stdout=log, stderr=log)
        log.close()
        self.procs.append(p)
        return p

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def output(self) -> str:
        return "\n".join(f.read_text(errors="replace") for f in sorted(self.tmp.glob("worker-*.log")))


@pytest.fixture
def workers(db_url: str, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(db_url, tmp_path)
    yield w
    w.stop_all()


def wait_for(cond: Callable[[], bool], timeout: float, what: str, workers: Workers | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{workers.output() if workers else ''}")
        time.sleep(0.05)


def jobs_left(engine: Engine) -> int:
    """Jobs not done yet, leaving out the recurring ones (the journal seal and
    the mining of product associations reschedule themselves: they never end)."""
    t = m.Job.__table__
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(t).where(
            t.c.kind.not_in((background.SEAL, crm_background.ASSOCIATIONS)))).scalar_one()


def runs(log: Path) -> dict[int, list[tuple[str, int, int]]]:
    """job id -> [(start|end, pid, ns)] in the order written."""
    out: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    if log.exists():
        for line in log.read_text().splitlines():
            what, job, pid, ns = line.split()
            out[int(job)].append((what, int(pid), int(ns)))
    return out


def test_many_workers_do_every_job_exactly_once(engine: Engine, workers: Workers, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    with engine.begin() as conn:
        for _ in range(240):
            jobs.enqueue(conn, "test.record", {"log": str(log), "seconds": 0.02})
    procs = [workers.start("--concurrency", "3") for _ in range(4)]
    wait_for(lambda: jobs_left(engine) == 0, 120, "every job done", workers)
    workers.stop_all()
    assert all(p.returncode == 0 for p in procs), workers.output()

    done = runs(log)
    assert len(done) == 240
    for job, entries in done.items():
        assert [w for w, _, _ in entries] == ["start", "end"], (job, entries)  # once, start to end
    pids = {entries[0][1] for entries in done.values()}
    assert len(pids) >= 2, "the work was not shared between processes"


def test_a_worker_killed_mid_job_loses_nothing_and_no_job_runs_twice_at_once(
    engine: Engine, workers: Workers, tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    with engine.begin() as conn:
        # Longer than the lease: only the heartbeat keeps it from a second worker.
        jobs.enqueue(conn, "test.record", {"log": str(log), "seconds": 4}, key="the-long-one")
    a = workers.start("--concurrency", "1", "--lease", "1.5")
    b = workers.start("--concurrency", "1", "--lease", "1.5")
    wait_for(lambda: len(runs(log)) == 1, 30, "the long job to start", workers)
    ((job, entries),) = runs(log).items()
    first_pid = entries[0][1]
    time.sleep(2.5)  # past the lease: the heartbeat must have kept it
    assert runs(log)[job] == entries, "a second worker started the job while the first was alive"

    victim, survivor = (a, b) if first_pid == a.pid else (b, a)
    assert first_pid == victim.pid
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    killed_at = time.time_ns()
    with engine.connect() as conn:
        row = conn.execute(select(m.Job.__table__).where(m.Job.__table__.c.key == "the-long-one")).one()
    assert row.status == "running"  # still leased to the dead worker

    wait_for(lambda: jobs_left(engine) == 0, 60, "the job to be taken over and finished", workers)
    entries = runs(log)[job]
    assert [(w, pid) for w, pid, _ in entries] == [
        ("start", victim.pid), ("start", survivor.pid), ("end", survivor.pid)], entries
    assert entries[1][2] > killed_at, "taken over only after its worker died"


def test_orders_flow_to_a_flaky_receiver_through_several_workers_in_order(
    engine: Engine, workers: Workers, admin: Client, shop: Client,
) -> None:
    customer(admin, "C-ROSSI", channels=["shop-a"])
    product(admin, "RETRO-CLOCK", "49.00", stock=500, cost="20.00")
    receiver = Receiver().start()
    try:
        hook = subscribe(shop, receiver.url)
        for i in range(5):
            full_cycle(admin, shop, f"S-{i}")
        for _ in range(3):
            workers.start("--concurrency", "2")

        # More orders while the workers deliver, and the receiver dies twice.
        placing = threading.Thread(target=lambda: [full_cycle(admin, shop, f"T-{i}") for i in range(10)])
        placing.start()
        for _ in range(2):
            wait_for(lambda: len(receiver.accepted()) >= 20, 60, "deliveries to start", workers)
            receiver.stop()
            time.sleep(0.5)
            receiver.start()
        placing.join(60)

        expected = {e["id"] for e in feed(shop)}
        assert len(expected) == 15 * 8
        wait_for(lambda: {r.event["id"] for r in receiver.accepted()} >= expected, 120, "every event", workers)
        got = receiver.accepted()
        for r in got:
            assert_signed(r, hook["secret"])
        assert_in_order_per_order(got)
        assert {r.event["id"] for r in got} == expected
    finally:
        receiver.stop()
    workers.stop_all()
    assert all(p.returncode == 0 for p in workers.procs), workers.output()
