"""The event feed: business events in id order, as the transactional outbox
(table ``events``, written by ``Tx.emit`` with the change itself) holds them.

Reading ``id > after`` alone would lose events on PostgreSQL: ids come from a
sequence when a transaction inserts its events, but transactions commit in
their own order, so id 41 may become visible after id 42 has been read. A
reader therefore only goes up to the *settled horizon*: the highest id below
which no transaction still in flight can add an event. On SQLite writers take
turns (``BEGIN IMMEDIATE``), ids are visible in order and the horizon is
simply the highest id.
"""
from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import NotFound
from o2c.services.platform.uow import Tx

events = m.Event.__table__

EVENT_COLS = (events.c.id, events.c.type, events.c.channel, events.c.order_id, events.c.created_at, events.c.data)

_top = select(func.coalesce(func.max(events.c.id), 0))
# Transactions (other than ours) that hold the lock every INSERT INTO events
# takes before it draws an id, and keeps until it commits or rolls back.
_EVENT_WRITERS = text("""
    SELECT DISTINCT virtualtransaction FROM pg_locks
    WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' AND granted
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND relation = to_regclass('events') AND pid IS DISTINCT FROM pg_backend_pid()
""")
_STILL_WRITING = text("""
    SELECT count(*) FROM pg_locks
    WHERE locktype = 'relation' AND mode = 'RowExclusiveLock'
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND relation = to_regclass('events') AND virtualtransaction = ANY(:vxids)
""")


def settled_horizon(conn: Connection, wait_s: float = 2.0) -> int | None:
    """The highest event id up to which the feed is final: every event with
    a lower id is visible to the next statement, or will never exist.

    PostgreSQL: take the highest visible id, then wait until every
    transaction that was inserting events at that moment has ended — one of
    them may hold a lower id still invisible. Those are the last statements of
    short business transactions, so the wait is usually none or a few
    milliseconds. ``None`` when they did not end within ``wait_s``.
    Call it outside a REPEATABLE READ transaction: the events must then be
    read by a later statement, which sees what committed meanwhile.
    """
    top = int(conn.execute(_top).scalar_one())
    if conn.dialect.name != "postgresql":
        return top
    writers = list(conn.execute(_EVENT_WRITERS).scalars())
    if not writers:
        return top
    deadline = time.monotonic() + wait_s
    pause = 0.001
    while conn.execute(_STILL_WRITING, {"vxids": writers}).scalar_one():
        if time.monotonic() >= deadline:
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return top


def event_fields(id_: int, type_: str, channel: str, order_id: int | None, created_at: Any,
                 data: dict[str, Any]) -> dict[str, Any]:
    """An event as the feed and webhook bodies show it."""
    return {"id": id_, "type": type_, "channel": channel, "order_id": order_id,
            "created_at": created_at.isoformat(), "data": data}


def event_document(row: Any) -> dict[str, Any]:
    return event_fields(row.id, row.type, row.channel, row.order_id, row.created_at, row.data)


def list_events(
    tx: Tx, principal: Principal, after: int, limit: int, types: list[str] | None = None, wait_s: float = 2.0,
) -> tuple[list[dict[str, Any]], int | None]:
    """Events with ``after < id`` up to the settled horizon, oldest first; a
    webshop sees only its own channel's. The cursor is the last id returned."""
    items, last, _ = events_page(tx, principal, after, limit, types, wait_s)
    return items, last


def events_page(
    tx: Tx, principal: Principal, after: int, limit: int, types: list[str] | None = None, wait_s: float = 2.0,
) -> tuple[list[dict[str, Any]], int | None, bool]:
    """:func:`list_events`, and whether more settled events follow the page."""
    horizon = settled_horizon(tx.conn, wait_s)
    if horizon is None or horizon <= after:
        return [], None, False
    q = select(*EVENT_COLS).where(events.c.id > after, events.c.id <= horizon)
    if principal.channel_scope is not None:
        q = q.where(events.c.channel == principal.channel_scope)
    if types:
        q = q.where(events.c.type.in_(types))
    rows = tx.conn.execute(q.order_by(events.c.id).limit(limit + 1)).all()
    page = rows[:limit]
    return [event_document(r) for r in page], (page[-1].id if page else None), len(rows) > limit


_one = select(*EVENT_COLS).where(events.c.id == bindparam("eid"))


def get_event(tx: Tx, principal: Principal, event_id: int) -> dict[str, Any]:
    row = tx.conn.execute(_one, {"eid": event_id}).first()
    scope = principal.channel_scope
    if row is None or (scope is not None and row.channel != scope):
        raise NotFound(f"No event with id {event_id}.")
    return event_document(row)
