"""Background jobs: a queue in the database, worked off by ``o2c worker``.

A job kind is a function registered under a name::

    from o2c.services.platform import jobs

    @jobs.job_kind("invoice.render_pdf", max_attempts=5)
    def render_pdf(ctx: jobs.JobContext, payload: dict) -> jobs.Reschedule | None:
        render_invoice_document(ctx.engine, payload["invoice_id"])

and enqueued inside any transaction — the job exists exactly when that
transaction commits::

    jobs.enqueue(tx.conn, "invoice.render_pdf", {"invoice_id": 42}, key="invoice-pdf:42")

The module that registers a kind must be imported by the worker: list it in
``o2c.worker.JOB_MODULES`` (or pass ``o2c worker --import module``).

Guarantees. A job runs at least once and, while its worker keeps its lease
alive, on one worker at a time: workers claim due jobs with
``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; on SQLite the claiming
transaction holds the database's write lock), lease them until
``locked_until`` and extend the lease while the handler runs. When a worker
dies its lease runs out and another worker takes the job again, so handlers
must be idempotent. Every later write about a claimed job is fenced by the
claim's token (``locked_by``): a worker whose lease was taken over cannot
finish or reschedule the job behind the new owner's back.

A handler returns ``None`` (done: the row is deleted), ``Reschedule(at)``
(run again later, not a failure) or raises (retried with backoff, up to the
kind's ``max_attempts``; then the job stays as ``failed``). With a ``key``, at
most one queued or running job exists per key: enqueueing it again brings a
queued job forward, or asks a running one to run once more when it ends
(``rerun``), because whatever it read may have changed meanwhile.

Lanes. Every kind runs in one lane (``LANE_OF``, the one table of which kind
runs where); a worker gives each lane its own threads and claims for each lane
only that lane's kinds, oldest first. A backlog in one lane (a batch of PDF
renders) therefore never delays another (webhook deliveries): a delivery waits
at most for a thread of its own lane. The lane is derived from the kind, not
stored, so moving a kind to another lane needs no migration (the table is in
``o2c.services.platform.lanes``, light enough for ``o2c worker --help``); the index
``ix_jobs_due_by_kind`` (kind, run_at, id) over unfinished jobs serves each
lane's claim without reading the other lanes' rows.
"""
from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, case, delete, func, insert, or_, select, text, update

from o2c.config import Config
from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import Forbidden
from o2c.services.platform import clock
from o2c.services.platform.lanes import DEFAULT_LANES, LANE_OF, LANES, OTHER_LANE, lane_kinds, lane_of, parse_lanes

jobs = m.Job.__table__

QUEUED, RUNNING, FAILED = "queued", "running", "failed"
UNFINISHED = (QUEUED, RUNNING)
_UNFINISHED_SQL = text("status IN ('queued', 'running')")  # the unique index's predicate, verbatim


@dataclass(frozen=True)
class Reschedule:
    """A handler's answer: not done yet, run again at ``at`` (not a failure)."""

    at: dt.datetime


@dataclass
class JobContext:
    """What a handler gets besides its payload."""

    engine: Engine
    config: Config
    job_id: int
    kind: str
    attempt: int  # 1 on the first run after enqueueing or rescheduling
    worker: str
    now: Callable[[], dt.datetime] = clock.now
    outbound: Any = None  # o2c.outbound.Outbound: the HTTP seam


Handler = Callable[[JobContext, dict[str, Any]], "Reschedule | None"]


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    max_attempts: int
    retry_base_s: float
    retry_max_s: float


@dataclass(frozen=True)
class Periodic:
    """Work a worker does by itself on a schedule (``every_s``; ``None``: on
    every poll) rather than from a queued job, e.g. fanning new events out.
    ``fn`` returns how much it did, so the worker knows whether to poll again
    at once."""

    name: str
    fn: Callable[[JobContext], int]
    every_s: float | None


KINDS: dict[str, JobKind] = {}
PERIODIC: dict[str, Periodic] = {}


def job_kind(name: str, *, max_attempts: int = 10, retry_base_s: float = 5.0,
             retry_max_s: float = 3600.0) -> Callable[[Handler], Handler]:
    """Register a job handler under ``name`` (the ``kind`` of its jobs)."""
    def register(fn: Handler) -> Handler:
        KINDS[name] = JobKind(name, fn, max_attempts, retry_base_s, retry_max_s)
        return fn
    return register


def periodic(name: str, *, every_s: float | None = None) -> Callable[[Callable[[JobContext], int]], Callable[[JobContext], int]]:
    def register(fn: Callable[[JobContext], int]) -> Callable[[JobContext], int]:
        PERIODIC[name] = Periodic(name, fn, every_s)
        return fn
    return register


# -- enqueueing -------------------------------------------------------------------

def _insert_keyed(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return (dialect_insert(jobs)
            .on_conflict_do_nothing(index_elements=[jobs.c.key], index_where=_UNFINISHED_SQL)
            .returning(jobs.c.id))


def enqueue(
    conn: Connection, kind: str, payload: dict[str, Any], *, key: str | None = None,
    run_at: dt.datetime | None = None, max_attempts: int | None = None, now: dt.datetime | None = None,
) -> None:
    """Add a job in the caller's transaction; it is due at ``run_at`` (now by
    default). With a ``key`` that an unfinished job holds already, no second
    job is added: a queued one is brought forward to ``run_at`` if later, a
    running one will run once more when it ends."""
    now = now or clock.now()
    run_at = run_at or now
    kind_ = KINDS.get(kind)
    row = {
        "kind": kind, "key": key, "payload": payload, "status": QUEUED, "run_at": run_at, "attempts": 0,
        "max_attempts": max_attempts or (kind_.max_attempts if kind_ else 10), "rerun": False,
        "created_at": now, "updated_at": now,
    }
    if key is None:
        conn.execute(insert(jobs), row)
        return
    for _ in range(10):
        if conn.execute(_insert_keyed(conn), row).first() is not None:
            return
        touched = conn.execute(
            update(jobs).where(jobs.c.key == key, jobs.c.status.in_(UNFINISHED)).values(
                run_at=case((and_(jobs.c.status == QUEUED, jobs.c.run_at > run_at), run_at), else_=jobs.c.run_at),
                rerun=case((jobs.c.status == RUNNING, True), else_=jobs.c.rerun),
                updated_at=now)
        ).rowcount
        if touched:
            return
        # The holder finished between the two statements: insert again.
    raise RuntimeError(f"could not enqueue job {kind} with key {key!r}")


def ensure(conn: Connection, kind: str, payload: dict[str, Any], *, key: str, run_at: dt.datetime,
           now: dt.datetime | None = None) -> bool:
    """Add a keyed job unless an unfinished one holds ``key`` already, and
    leave that one exactly as it is (unlike ``enqueue``, which brings it
    forward or asks it to run again). For recurring work that reschedules
    itself: every worker may call it, one job exists. True if it added one."""
    now = now or clock.now()
    kind_ = KINDS.get(kind)
    row = {
        "kind": kind, "key": key, "payload": payload, "status": QUEUED, "run_at": run_at, "attempts": 0,
        "max_attempts": kind_.max_attempts if kind_ else 10, "rerun": False, "created_at": now, "updated_at": now,
    }
    return conn.execute(_insert_keyed(conn), row).first() is not None


# -- claiming and finishing (the worker's side) --------------------------------------

@contextmanager
def _bookkeeping(engine: Engine) -> Iterator[Connection]:
    """A transaction for the queue's own bookkeeping (claims, leases,
    outcomes). On PostgreSQL it commits without waiting for the disk: if the
    server crashed right after, the claim or the outcome would be lost and
    the job simply run again, which handlers must tolerate anyway. Whatever a
    handler writes (a delivery log entry, a document) commits durably, and
    that flushes the bookkeeping before it."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        yield conn


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    token: str


_counter = itertools.count(1)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claim(engine: Engine, worker: str, kinds: list[str], limit: int, lease_s: float,
          now: dt.datetime | None = None) -> list[Claimed]:
    """Lease up to ``limit`` due jobs of ``kinds`` to ``worker``: queued ones
    whose time has come and running ones whose lease ran out (their worker
    died). Rows another worker is claiming are skipped, not waited for."""
    return claim_lanes(engine, worker, [(kinds, limit)], lease_s, now)[0]


def claim_lanes(engine: Engine, worker: str, lanes: list[tuple[list[str], int]], lease_s: float,
                now: dt.datetime | None = None) -> list[list[Claimed]]:
    """``claim`` for several lanes at once, each ``(kinds, limit)`` on its
    own: the oldest due jobs of each lane, whatever waits in the others. One
    transaction for all of them (on SQLite, one turn of the write lock per
    poll, however many lanes)."""
    out: list[list[Claimed]] = [[] for _ in lanes]
    wanted = [(i, sorted(kinds), limit) for i, (kinds, limit) in enumerate(lanes) if kinds and limit > 0]
    if not wanted:
        return out
    now = now or clock.now()
    due = or_(and_(jobs.c.status == QUEUED, jobs.c.run_at <= now),
              and_(jobs.c.status == RUNNING, jobs.c.locked_until <= now))
    token = f"{worker}#{next(_counter)}"
    with _bookkeeping(engine) as conn:
        for i, kinds, limit in wanted:
            # Kind by kind, each read from ix_jobs_due_by_kind in its order
            # (a lane-wide ``kind IN (…)`` would sort the lane's whole
            # backlog), then the lane's oldest ``limit`` of them. Rows locked
            # here but not taken are free again at the commit.
            found = []
            for kind in kinds:
                found += conn.execute(
                    select(jobs.c.id, jobs.c.kind, jobs.c.payload, jobs.c.status, jobs.c.attempts,
                           jobs.c.max_attempts, jobs.c.run_at)
                    .where(jobs.c.kind == kind, _UNFINISHED_SQL, due)  # _UNFINISHED_SQL: the index's predicate
                    .order_by(jobs.c.run_at, jobs.c.id).limit(limit)
                    .with_for_update(skip_locked=True)
                ).all()
            rows = sorted(found, key=lambda r: (r.run_at, r.id))[:limit]
            if not rows:
                continue
            # A job whose lease ran out as often as it may be tried kills its
            # worker (or outlives every lease): stop taking it.
            dead = [r.id for r in rows if r.status == RUNNING and r.attempts >= r.max_attempts]
            if dead:
                conn.execute(update(jobs).where(jobs.c.id.in_(dead)).values(
                    status=FAILED, locked_by=None, locked_until=None, updated_at=now,
                    last_error="lease expired on every attempt: the worker stopped while running it"))
            out[i] = [Claimed(r.id, r.kind, r.payload, r.attempts + 1, r.max_attempts, token)
                      for r in rows if r.id not in dead]
        ids = [j.id for lane in out for j in lane]
        if ids:
            conn.execute(update(jobs).where(jobs.c.id.in_(ids)).values(
                status=RUNNING, locked_by=token, locked_until=now + dt.timedelta(seconds=lease_s),
                attempts=jobs.c.attempts + 1, updated_at=now))
    return out


def _mine(job: Claimed) -> Any:
    return and_(jobs.c.id == job.id, jobs.c.locked_by == job.token)


_requeue_values = dict(status=QUEUED, locked_by=None, locked_until=None, rerun=False)


def complete(engine: Engine, job: Claimed, now: dt.datetime | None = None) -> bool:
    """The handler finished: delete the job, unless it was asked to run again
    meanwhile (then it is due at once). False if the lease was lost."""
    now = now or clock.now()
    with _bookkeeping(engine) as conn:
        if conn.execute(delete(jobs).where(_mine(job), jobs.c.rerun.is_(False))).rowcount:
            return True
        return bool(conn.execute(update(jobs).where(_mine(job)).values(
            run_at=now, attempts=0, updated_at=now, **_requeue_values)).rowcount)


def reschedule(engine: Engine, job: Claimed, at: dt.datetime, now: dt.datetime | None = None) -> bool:
    now = now or clock.now()
    with _bookkeeping(engine) as conn:
        return bool(conn.execute(update(jobs).where(_mine(job)).values(
            run_at=case((jobs.c.rerun.is_(True), now), else_=at), attempts=0, updated_at=now,
            **_requeue_values)).rowcount)


def fail_run(engine: Engine, job: Claimed, error: str, now: dt.datetime | None = None,
             rand: Callable[[], float] = random.random) -> bool:
    """The handler raised: try again after a backoff, or give up."""
    now = now or clock.now()
    kind = KINDS.get(job.kind)
    base, cap = (kind.retry_base_s, kind.retry_max_s) if kind else (5.0, 3600.0)
    values: dict[str, Any] = {"last_error": error[:4000], "updated_at": now, "locked_by": None,
                              "locked_until": None, "rerun": False}
    if job.attempts >= job.max_attempts:
        values["status"] = FAILED
    else:
        delay = min(base * 2 ** (job.attempts - 1), cap) * (0.5 + rand() / 2)
        values.update(status=QUEUED, run_at=now + dt.timedelta(seconds=delay))
    with _bookkeeping(engine) as conn:
        return bool(conn.execute(update(jobs).where(_mine(job)).values(**values)).rowcount)


_extend = (
    update(jobs).where(jobs.c.locked_by == bindparam("token"), jobs.c.status == RUNNING)
    .values(locked_until=bindparam("until"))
)


def extend_leases(engine: Engine, claimed: list[Claimed], lease_s: float, now: dt.datetime | None = None) -> int:
    """The heartbeat: keep the leases of jobs still running."""
    tokens = sorted({j.token for j in claimed})
    if not tokens:
        return 0
    until = (now or clock.now()) + dt.timedelta(seconds=lease_s)
    with _bookkeeping(engine) as conn:
        return conn.execute(_extend, [{"token": t, "until": until} for t in tokens]).rowcount


# -- looking at the queue ----------------------------------------------------------------

def summary(conn: Connection) -> list[dict[str, Any]]:
    """Jobs per kind and status, with the oldest due time."""
    rows = conn.execute(
        select(jobs.c.kind, jobs.c.status, func.count().label("n"), func.min(jobs.c.run_at).label("next"))
        .group_by(jobs.c.kind, jobs.c.status).order_by(jobs.c.kind, jobs.c.status)
    ).all()
    return [{**r._asdict(), "lane": lane_of(r.kind)} for r in rows]


def _count(cond: Any) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def lanes_summary(conn: Connection, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per lane and kind: jobs waiting (queued and due), scheduled for later,
    running and failed, and since when the oldest waiting one is due. Every
    lane appears, also when it has no jobs."""
    now = now or clock.now()
    waiting = and_(jobs.c.status == QUEUED, jobs.c.run_at <= now)
    rows = conn.execute(
        select(jobs.c.kind,
               _count(waiting).label("queued"),
               _count(and_(jobs.c.status == QUEUED, jobs.c.run_at > now)).label("scheduled"),
               _count(jobs.c.status == RUNNING).label("running"),
               _count(jobs.c.status == FAILED).label("failed"),
               func.min(case((waiting, jobs.c.run_at)), type_=jobs.c.run_at.type).label("oldest_due"))
        .group_by(jobs.c.kind)
    ).all()
    kinds: dict[str, dict[str, Any]] = {k: {} for k in KINDS}
    for r in rows:
        kinds[r.kind] = r._asdict()
    lanes: dict[str, list[dict[str, Any]]] = {lane: [] for lane in LANES}
    for kind in sorted(kinds):
        r = kinds[kind]
        oldest = r.get("oldest_due")
        lanes.setdefault(lane_of(kind), []).append({
            "kind": kind, "queued": int(r.get("queued") or 0), "scheduled": int(r.get("scheduled") or 0),
            "running": int(r.get("running") or 0), "failed": int(r.get("failed") or 0),
            "oldest_due": oldest,
            "oldest_age_s": max(0.0, (now - oldest).total_seconds()) if oldest is not None else None,
        })
    out = []
    for lane, items in lanes.items():
        ages = [k["oldest_age_s"] for k in items if k["oldest_age_s"] is not None]
        out.append({"lane": lane, "kinds": items,
                    **{f: sum(k[f] for k in items) for f in ("queued", "scheduled", "running", "failed")},
                    "oldest_age_s": max(ages) if ages else None})
    return out


def overview(tx: Any, principal: Principal, failed_limit: int = 20) -> dict[str, Any]:
    """The queue as an administrator sees it: every lane with its kinds
    (``lanes_summary``) and the latest failed jobs."""
    if not principal.can("jobs:admin"):
        raise Forbidden("Only administrators see the job queue.")
    return {"lanes": lanes_summary(tx.conn, tx.now), "failed": failed(tx.conn, failed_limit)}


def failed(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(jobs.c.id, jobs.c.kind, jobs.c.key, jobs.c.payload, jobs.c.attempts, jobs.c.last_error,
               jobs.c.updated_at).where(jobs.c.status == FAILED).order_by(jobs.c.id.desc()).limit(limit)
    ).all()
    return [{**r._asdict(), "lane": lane_of(r.kind)} for r in rows]


def retry_failed(conn: Connection, ids: list[int] | None = None, now: dt.datetime | None = None) -> int:
    """Queue failed jobs again (all, or those ``ids``). A failed job whose key
    is held by a newer unfinished job is dropped instead: that one covers it."""
    now = now or clock.now()
    q = select(jobs.c.id, jobs.c.key).where(jobs.c.status == FAILED)
    if ids:
        q = q.where(jobs.c.id.in_(ids))
    n = 0
    for r in conn.execute(q.order_by(jobs.c.id)).all():
        held = r.key is not None and conn.execute(
            select(jobs.c.id).where(jobs.c.key == r.key, jobs.c.status.in_(UNFINISHED))).first()
        if held:
            conn.execute(delete(jobs).where(jobs.c.id == r.id))
            continue
        conn.execute(update(jobs).where(jobs.c.id == r.id).values(
            status=QUEUED, run_at=now, attempts=0, updated_at=now, last_error=None))
        n += 1
    return n


__all__ = [
    "DEFAULT_LANES", "LANES", "LANE_OF", "OTHER_LANE", "Claimed", "JobContext", "JobKind", "KINDS", "PERIODIC",
    "Periodic", "Reschedule", "claim", "claim_lanes", "complete", "enqueue", "ensure", "extend_leases", "fail_run",
    "failed", "job_kind", "lane_kinds", "overview", "lane_of", "lanes_summary", "parse_lanes", "periodic", "reschedule",
    "retry_failed", "summary", "worker_name",
]
