"""The job queue: claiming, leases, fencing, retries and keyed jobs."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

import tests.jobkinds  # noqa: F401  (registers test.record, test.flaky)
from o2c.config import Config
from o2c.db import models as m
from o2c.services.platform import jobs
from o2c.worker import Worker

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
KINDS = ["test.record", "test.flaky"]
jt = m.Job.__table__


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def add(engine: Engine, kind: str = "test.record", payload: dict[str, Any] | None = None, **kw: Any) -> None:
    with engine.begin() as conn:
        jobs.enqueue(conn, kind, payload or {}, now=kw.pop("now", T0), **kw)


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(jt).order_by(jt.c.id)).all()


def test_a_job_is_claimed_by_one_worker_and_deleted_when_done(engine: Engine) -> None:
    add(engine)
    first = jobs.claim(engine, "w1", KINDS, 10, 60, at(1))
    assert [j.attempts for j in first] == [1]
    assert jobs.claim(engine, "w2", KINDS, 10, 60, at(2)) == []  # leased to w1
    assert jobs.complete(engine, first[0], at(3))
    assert rows(engine) == []


def test_a_job_is_not_claimed_before_its_time_nor_by_a_worker_that_does_not_know_its_kind(engine: Engine) -> None:
    add(engine, run_at=at(100))
    assert jobs.claim(engine, "w1", KINDS, 10, 60, at(99)) == []
    assert jobs.claim(engine, "w1", ["invoice.render_pdf"], 10, 60, at(100)) == []
    assert len(jobs.claim(engine, "w1", KINDS, 10, 60, at(100))) == 1


def test_when_a_worker_dies_its_lease_runs_out_and_another_worker_takes_the_job(engine: Engine) -> None:
    add(engine)
    dead = jobs.claim(engine, "w1", KINDS, 1, 30, at(0))[0]
    assert jobs.claim(engine, "w2", KINDS, 1, 30, at(29)) == []
    again = jobs.claim(engine, "w2", KINDS, 1, 30, at(30))[0]
    assert again.id == dead.id and again.attempts == 2
    # The first worker wakes up: its writes are fenced off.
    assert not jobs.complete(engine, dead, at(31))
    assert not jobs.reschedule(engine, dead, at(40), at(31))
    assert not jobs.fail_run(engine, dead, "late", at(31))
    assert rows(engine)[0].locked_by == again.token
    assert jobs.complete(engine, again, at(32))
    assert rows(engine) == []


def test_the_heartbeat_keeps_a_long_job_leased(engine: Engine) -> None:
    add(engine)
    job = jobs.claim(engine, "w1", KINDS, 1, 30, at(0))[0]
    assert jobs.extend_leases(engine, [job], 30, at(25)) == 1
    assert jobs.claim(engine, "w2", KINDS, 1, 30, at(40)) == []
    assert len(jobs.claim(engine, "w2", KINDS, 1, 30, at(55))) == 1


def test_a_job_that_kills_its_worker_every_time_ends_as_failed(engine: Engine) -> None:
    add(engine, max_attempts=2)
    jobs.claim(engine, "w1", KINDS, 1, 10, at(0))
    jobs.claim(engine, "w2", KINDS, 1, 10, at(10))
    assert jobs.claim(engine, "w3", KINDS, 1, 10, at(20)) == []
    (row,) = rows(engine)
    assert row.status == "failed" and "lease expired" in row.last_error


def test_a_failing_job_is_retried_with_backoff_then_kept_as_failed(engine: Engine, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    add(engine, "test.flaky", {"log": log, "succeed_on": 99})
    for i in range(3):
        (job,) = jobs.claim(engine, "w", KINDS, 1, 60, at(i * 10))
        assert jobs.fail_run(engine, job, f"boom {i}", at(i * 10), rand=lambda: 0.0)
    (row,) = rows(engine)
    assert row.status == "failed" and row.last_error == "boom 2" and row.attempts == 3
    assert jobs.claim(engine, "w", KINDS, 1, 60, at(10_000)) == []
    with engine.begin() as conn:
        assert jobs.retry_failed(conn, now=at(10_000)) == 1
    assert len(jobs.claim(engine, "w", KINDS, 1, 60, at(10_000))) == 1


def test_a_key_holds_one_unfinished_job_and_enqueueing_again_brings_it_forward(engine: Engine) -> None:
    add(engine, key="k", run_at=at(100))
    add(engine, key="k", run_at=at(50))
    add(engine, key="k", run_at=at(70))
    (row,) = rows(engine)
    assert row.run_at == at(50) and not row.rerun


def test_a_keyed_job_enqueued_while_running_runs_once_more(engine: Engine) -> None:
    """Whatever the running job read may be stale: it must run again."""
    add(engine, key="lane")
    job = jobs.claim(engine, "w", KINDS, 1, 60, at(1))[0]
    add(engine, key="lane", now=at(2))
    assert len(rows(engine)) == 1 and rows(engine)[0].rerun
    assert jobs.complete(engine, job, at(3))
    (row,) = rows(engine)
    assert row.status == "queued" and row.run_at == at(3) and not row.rerun
    job = jobs.claim(engine, "w", KINDS, 1, 60, at(3))[0]
    assert jobs.complete(engine, job, at(4))
    assert rows(engine) == []


def test_a_rescheduled_job_asked_to_rerun_comes_back_at_once(engine: Engine) -> None:
    add(engine, key="lane")
    job = jobs.claim(engine, "w", KINDS, 1, 60, at(1))[0]
    add(engine, key="lane", now=at(2))
    assert jobs.reschedule(engine, job, at(500), at(3))
    assert rows(engine)[0].run_at == at(3)


def test_a_failed_keyed_job_does_not_block_a_new_one(engine: Engine) -> None:
    add(engine, key="k", max_attempts=1)
    job = jobs.claim(engine, "w", KINDS, 1, 60, at(1))[0]
    jobs.fail_run(engine, job, "boom", at(2))
    add(engine, key="k", now=at(3))
    assert [r.status for r in rows(engine)] == ["failed", "queued"]


def test_the_worker_runs_due_jobs_and_retries_failures(engine: Engine, db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "log"
    for i in range(5):
        add(engine, "test.record", {"log": str(log)}, now=jobs.clock.now())
    add(engine, "test.flaky", {"log": str(log), "succeed_on": 2}, now=jobs.clock.now())
    w = Worker(engine, Config(DATABASE_URL=db_url), concurrency=3, poll_interval=0.01, kinds=KINDS, periodic=[])
    stats = w.run(until=lambda: not rows(engine), timeout=10)
    assert rows(engine) == []
    lines = log.read_text().split("\n")
    assert sum(l.startswith("end") for l in lines) == 5
    assert [l.split()[2] for l in lines if l.startswith("try")] == ["1", "2"]
    assert stats.done == 6 and stats.errors == 1
