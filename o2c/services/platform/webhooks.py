"""Webhook subscriptions and their deliveries.

How an event reaches a subscriber, after the business transaction committed
(nothing here runs inside one):

1. **Fan-out** (``dispatch``, on every worker poll): for each active
   subscription, read the events after its ``cursor`` up to the settled
   horizon (``o2c.services.platform.events``), add a pending delivery for each event
   it wants, move the cursor, and enqueue one ``webhooks.deliver`` job per
   *lane*. Subscriptions are locked with ``SKIP LOCKED``, so several workers
   fan out different subscriptions at once; a delivery is unique per
   subscription and event, so doing it twice changes nothing.
2. **Delivery** (job ``webhooks.deliver``, one per lane): a lane is the
   deliveries of one subscription for one order (an event without an order
   is a lane of its own). The job sends the lane's deliveries one at a time
   in event order, signed, through ``o2c.outbound`` (no transaction is open
   while it waits for the receiver). A failure is retried with backoff and
   jitter until the horizon; then the delivery is ``failed`` and it holds back
   the rest of its lane — so events of an order never arrive out of order —
   until it is redelivered. Other orders' lanes carry on.
3. **Sweep** (every minute): queue lanes that have pending deliveries and no
   job (after a webhook is switched back on, say), and delete delivered
   deliveries older than the retention period.

At least once: a receiver may see an event twice (a worker that dies after
the receiver answered, a redelivery). The ``O2C-Event-Id`` header and the
body's ``id`` identify an event; receivers deduplicate on it.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import secrets
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.orm import aliased

from o2c.config import Config
from o2c.db import models as m
from o2c.domain import netaddr, signing
from o2c.domain.access import Principal
from o2c.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from o2c.domain.events import matches
from o2c.domain.retry import RetryPolicy
from o2c.services.platform import jobs
from o2c.services.platform.events import event_fields, settled_horizon
from o2c.services.platform.uow import Tx, dialect_insert, unit_of_work

webhooks = m.Webhook.__table__
deliveries = m.WebhookDelivery.__table__
attempts = m.WebhookAttempt.__table__
events = m.Event.__table__

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
DELIVER = "webhooks.deliver"
MAX_PER_CHANNEL = 20
ROTATION_GRACE = dt.timedelta(hours=24)
FANOUT_BATCH = 1000
# A lane job gives its worker back after this many deliveries or seconds, so
# one busy order cannot hold a worker while other lanes wait.
LANE_RUN_DELIVERIES = 200
LANE_RUN_SECONDS = 10.0


def retry_policy(config: Config) -> RetryPolicy:
    return RetryPolicy(config.WEBHOOK_RETRY_BASE_S, config.WEBHOOK_RETRY_MAX_DELAY_S,
                       config.WEBHOOK_RETRY_HORIZON_S)


def lane_key(webhook_id: int, order_id: int | None, event_id: int) -> str:
    """The job key of a lane: one job at a time sends a lane's deliveries."""
    if order_id is not None:
        return f"{DELIVER}:{webhook_id}:order:{order_id}"
    return f"{DELIVER}:{webhook_id}:event:{event_id}"


def _enqueue_lane(conn: Connection, webhook_id: int, order_id: int | None, event_id: int,
                  now: dt.datetime) -> None:
    payload: dict[str, Any] = {"webhook_id": webhook_id}
    if order_id is not None:
        payload["order_id"] = order_id
    else:
        payload["event_id"] = event_id
    jobs.enqueue(conn, DELIVER, payload, key=lane_key(webhook_id, order_id, event_id), now=now)


def _enqueue_lanes(conn: Connection, lanes: Iterable[tuple[int, int | None, int]], now: dt.datetime) -> int:
    seen: set[str] = set()
    for wid, oid, eid in sorted(lanes, key=lambda l: lane_key(*l)):  # a fixed order: no lock cycles
        key = lane_key(wid, oid, eid)
        if key not in seen:
            seen.add(key)
            _enqueue_lane(conn, wid, oid, eid, now)
    return len(seen)


# -- subscriptions (API) ------------------------------------------------------------------

WEBHOOK_COLS = (
    webhooks.c.id, webhooks.c.channel, webhooks.c.url, webhooks.c.description, webhooks.c.event_types,
    webhooks.c.active, webhooks.c.cursor, webhooks.c.secret_salt, webhooks.c.previous_secret_salt,
    webhooks.c.previous_secret_expires_at, webhooks.c.created_by, webhooks.c.created_at, webhooks.c.updated_at,
)


def _load(tx: Tx, principal: Principal, webhook_id: int, *, lock: bool = False) -> Any:
    """The subscription, if this principal may see it (a webshop: its own
    channel's only; others' are not found)."""
    q = select(*WEBHOOK_COLS).where(webhooks.c.id == webhook_id)
    if lock:
        q = q.with_for_update()
    row = tx.conn.execute(q).first()
    scope = principal.channel_scope
    if row is None or (scope is not None and row.channel != scope):
        raise NotFound(f"No webhook with id {webhook_id}.")
    return row


def _counts(tx: Tx, ids: list[int]) -> dict[int, dict[str, int]]:
    out = {i: {PENDING: 0, DELIVERED: 0, FAILED: 0} for i in ids}
    if ids:
        for r in tx.conn.execute(
            select(deliveries.c.webhook_id, deliveries.c.status, func.count().label("n"))
            .where(deliveries.c.webhook_id.in_(ids)).group_by(deliveries.c.webhook_id, deliveries.c.status)
        ):
            out[r.webhook_id][r.status] = r.n
    return out


def _view(row: Any, counts: dict[str, int], now: dt.datetime) -> dict[str, Any]:
    rotating = row.previous_secret_expires_at if (
        row.previous_secret_salt and row.previous_secret_expires_at and row.previous_secret_expires_at > now) else None
    return {
        "id": row.id, "channel": row.channel, "url": row.url, "description": row.description,
        "event_types": list(row.event_types), "active": row.active, "last_event_id": row.cursor,
        "deliveries": counts, "previous_secret_valid_until": rotating,
        "created_by": row.created_by, "created_at": row.created_at, "updated_at": row.updated_at,
    }


def check_target(url: str, *, allow_private: bool = False) -> None:
    """Refuse a webhook URL whose host is an IP address that is not public
    (loopback, private, link-local and the cloud metadata service, CGNAT,
    multicast, reserved: in any notation, o2c.domain.netaddr) or a name of
    this machine or a private network (``localhost``, ``*.localhost``,
    ``*.local``, ``*.internal``). ``allow_private`` (development and tests
    only, ``Config.webhook_allow_private``) lets those through; a host that
    is no host at all (``1.2.3.999``) never passes. A name is judged again at
    each delivery by what it resolves to (o2c.outbound)."""
    host = urlsplit(url).hostname or ""
    try:
        netaddr.ip_literal(host)
    except netaddr.NotAHost as exc:
        raise ValidationFailed(f"The webhook URL has no valid host: {exc}.", {"url": [f"{exc}."]}) from None
    why = None if allow_private else netaddr.host_refusal(host)
    if why:
        raise ValidationFailed(
            f"Webhooks go to public addresses only: {why}.",
            {"url": [f"{why}. A webhook URL must reach a public address."]})


def create_webhook(tx: Tx, principal: Principal, data: dict[str, Any], *,
                   allow_private: bool = False) -> dict[str, Any]:
    """Subscribe ``url`` to the channel's events from now on. A webshop key
    subscribes to its own channel; an admin names one, or none for every
    channel. The URL must reach a public address (``check_target``)."""
    check_target(data["url"], allow_private=allow_private)
    scope = principal.channel_scope
    channel = data.get("channel")
    if scope is not None:
        if channel not in (None, scope):
            raise Forbidden(f"A webshop key subscribes to its own channel (“{scope}”) only.",
                            {"channel": channel})
        channel = scope
    same_channel = webhooks.c.channel.is_(None) if channel is None else webhooks.c.channel == channel
    n = tx.conn.execute(select(func.count()).select_from(webhooks).where(same_channel)).scalar_one()
    if n >= MAX_PER_CHANNEL:
        raise Conflict(f"Channel “{channel}” has {n} webhooks already, the most allowed; "
                       "delete one or subscribe one URL to more event types.")
    cursor = tx.conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()
    wid = tx.conn.execute(insert(webhooks).returning(webhooks.c.id), {
        "channel": channel, "url": data["url"], "description": data.get("description") or "",
        "event_types": list(data["event_types"]), "active": data.get("active", True),
        "secret_salt": secrets.token_hex(32), "cursor": cursor, "created_by": principal.actor,
        "created_at": tx.now, "updated_at": tx.now,
    }).scalar_one()
    tx.audit("webhook.created", "webhook", wid, None, {
        "channel": channel, "url": data["url"], "event_types": list(data["event_types"])})
    return get_webhook(tx, principal, wid)


def current_secrets(row: Any, server_key: str, now: dt.datetime) -> list[str]:
    """The secrets deliveries are signed with: the current one and, during a
    rotation, the previous one."""
    out = [signing.derive_secret(server_key, row.secret_salt)]
    if row.previous_secret_salt and row.previous_secret_expires_at and row.previous_secret_expires_at > now:
        out.append(signing.derive_secret(server_key, row.previous_secret_salt))
    return out


def reveal_secret(tx: Tx, principal: Principal, webhook_id: int, server_key: str) -> str:
    """The current secret, for the answer to whoever just created or rotated it."""
    return signing.derive_secret(server_key, _load(tx, principal, webhook_id).secret_salt)


def get_webhook(tx: Tx, principal: Principal, webhook_id: int) -> dict[str, Any]:
    row = _load(tx, principal, webhook_id)
    return _view(row, _counts(tx, [row.id])[row.id], tx.now)


def list_webhooks(tx: Tx, principal: Principal, cursor: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Subscriptions, newest first."""
    q = select(*WEBHOOK_COLS)
    if principal.channel_scope is not None:
        q = q.where(webhooks.c.channel == principal.channel_scope)
    if cursor is not None:
        q = q.where(webhooks.c.id < cursor)
    rows = tx.conn.execute(q.order_by(webhooks.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    counts = _counts(tx, [r.id for r in rows])
    return [_view(r, counts[r.id], tx.now) for r in rows], (rows[-1].id if more else None)


def update_webhook(tx: Tx, principal: Principal, webhook_id: int, data: dict[str, Any], *,
                   allow_private: bool = False) -> dict[str, Any]:
    """Change the URL (to a public address, ``check_target``), event types,
    description, or switch it off and on. Switched off, a webhook neither
    fans out nor sends; switched on again it catches up from where it stopped."""
    row = _load(tx, principal, webhook_id, lock=True)
    if "url" in data:
        check_target(data["url"], allow_private=allow_private)
    changes = {k: data[k] for k in ("url", "description", "event_types", "active") if k in data}
    if "event_types" in changes:
        changes["event_types"] = list(changes["event_types"])
    if not changes:
        return get_webhook(tx, principal, webhook_id)
    tx.conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**changes, updated_at=tx.now))
    if changes.get("active") and not row.active:
        _enqueue_lanes(tx.conn, _pending_lanes(tx.conn, webhook_id), tx.now)
    tx.audit("webhook.updated", "webhook", webhook_id,
             {k: getattr(row, k) for k in changes}, {k: v for k, v in changes.items()})
    return get_webhook(tx, principal, webhook_id)


def delete_webhook(tx: Tx, principal: Principal, webhook_id: int) -> None:
    row = _load(tx, principal, webhook_id, lock=True)
    mine = select(deliveries.c.id).where(deliveries.c.webhook_id == webhook_id)
    tx.conn.execute(delete(attempts).where(attempts.c.delivery_id.in_(mine)))
    tx.conn.execute(delete(deliveries).where(deliveries.c.webhook_id == webhook_id))
    tx.conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))
    # Queued lane jobs would find nothing to do; running ones stop by themselves.
    tx.conn.execute(delete(jobs.jobs).where(
        jobs.jobs.c.kind == DELIVER, jobs.jobs.c.status == jobs.QUEUED,
        jobs.jobs.c.key.like(f"{DELIVER}:{webhook_id}:%")))
    tx.audit("webhook.deleted", "webhook", webhook_id, {"url": row.url, "channel": row.channel}, None)


def rotate_secret(tx: Tx, principal: Principal, webhook_id: int) -> dict[str, Any]:
    """A new secret; deliveries carry a signature with the old one as well for
    24 hours, so receivers can switch without losing a delivery."""
    row = _load(tx, principal, webhook_id, lock=True)
    tx.conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(
        secret_salt=secrets.token_hex(32), previous_secret_salt=row.secret_salt,
        previous_secret_expires_at=tx.now + ROTATION_GRACE, updated_at=tx.now))
    tx.audit("webhook.secret_rotated", "webhook", webhook_id, None, None)
    return get_webhook(tx, principal, webhook_id)


# -- deliveries (API) ------------------------------------------------------------------

_earlier = aliased(deliveries)
_blocked_by = (
    select(func.min(_earlier.c.id)).where(
        _earlier.c.webhook_id == deliveries.c.webhook_id, _earlier.c.order_id == deliveries.c.order_id,
        _earlier.c.event_id < deliveries.c.event_id, _earlier.c.status == FAILED)
    .correlate(deliveries).scalar_subquery()
)
DELIVERY_COLS = (
    deliveries.c.id, deliveries.c.webhook_id, deliveries.c.event_id, deliveries.c.event_type,
    deliveries.c.order_id, deliveries.c.status, deliveries.c.attempts, deliveries.c.next_attempt_at,
    deliveries.c.first_attempt_at, deliveries.c.last_attempt_at, deliveries.c.last_status_code,
    deliveries.c.last_error, deliveries.c.delivered_at, deliveries.c.created_at,
)


def _delivery_view(row: Any) -> dict[str, Any]:
    d = row._asdict()
    if d["status"] != PENDING:
        d["blocked_by"] = None
        d["next_attempt_at"] = None
    return d


def list_deliveries(
    tx: Tx, principal: Principal, webhook_id: int, status: str | None, cursor: int | None, limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """A subscription's deliveries, newest first. A pending delivery held back
    by a failed earlier one of the same order names it in ``blocked_by``."""
    _load(tx, principal, webhook_id)
    q = select(*DELIVERY_COLS, _blocked_by.label("blocked_by")).where(deliveries.c.webhook_id == webhook_id)
    if status:
        q = q.where(deliveries.c.status == status)
    if cursor is not None:
        q = q.where(deliveries.c.id < cursor)
    rows = tx.conn.execute(q.order_by(deliveries.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [_delivery_view(r) for r in rows], (rows[-1].id if more else None)


def _load_delivery(tx: Tx, principal: Principal, webhook_id: int, delivery_id: int) -> Any:
    _load(tx, principal, webhook_id)
    row = tx.conn.execute(
        select(*DELIVERY_COLS, _blocked_by.label("blocked_by"))
        .where(deliveries.c.id == delivery_id, deliveries.c.webhook_id == webhook_id)
    ).first()
    if row is None:
        raise NotFound(f"Webhook {webhook_id} has no delivery with id {delivery_id}.")
    return row


def get_delivery(tx: Tx, principal: Principal, webhook_id: int, delivery_id: int) -> dict[str, Any]:
    """A delivery with its log: every attempt, with the receiver's answer."""
    d = _delivery_view(_load_delivery(tx, principal, webhook_id, delivery_id))
    d["attempt_log"] = [r._asdict() for r in tx.conn.execute(
        select(attempts.c.attempted_at, attempts.c.status_code, attempts.c.error, attempts.c.duration_ms,
               attempts.c.response_excerpt).where(attempts.c.delivery_id == delivery_id).order_by(attempts.c.id))]
    return d


def redeliver(tx: Tx, principal: Principal, webhook_id: int, delivery_id: int) -> dict[str, Any]:
    """Send a delivery again now, whatever its state, with a fresh retry
    horizon. A failed delivery that held back its order's later events
    releases them once it gets through."""
    row = _load_delivery(tx, principal, webhook_id, delivery_id)
    tx.conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
        status=PENDING, next_attempt_at=tx.now, first_attempt_at=None, delivered_at=None))
    _enqueue_lane(tx.conn, webhook_id, row.order_id, row.event_id, tx.now)
    tx.audit("webhook.redeliver", "webhook_delivery", delivery_id, {"status": row.status}, {"status": PENDING})
    return get_delivery(tx, principal, webhook_id, delivery_id)


def redeliver_failed(tx: Tx, principal: Principal, webhook_id: int) -> dict[str, Any]:
    """Send every failed delivery of the subscription again (in order per order)."""
    _load(tx, principal, webhook_id, lock=True)
    rows = tx.conn.execute(
        select(deliveries.c.id, deliveries.c.order_id, deliveries.c.event_id)
        .where(deliveries.c.webhook_id == webhook_id, deliveries.c.status == FAILED)
    ).all()
    if rows:
        tx.conn.execute(update(deliveries).where(
            deliveries.c.webhook_id == webhook_id, deliveries.c.status == FAILED,
        ).values(status=PENDING, next_attempt_at=tx.now, first_attempt_at=None))
        _enqueue_lanes(tx.conn, [(webhook_id, r.order_id, r.event_id) for r in rows], tx.now)
        tx.audit("webhook.redeliver_failed", "webhook", webhook_id, None, {"deliveries": len(rows)})
    return {"webhook_id": webhook_id, "requeued": len(rows)}


def failed_deliveries(tx: Tx, principal: Principal, cursor: int | None, limit: int,
                      webhook_id: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Failed deliveries of every subscription this principal may see, newest
    first, with the subscription's URL."""
    q = (select(*DELIVERY_COLS, webhooks.c.url, webhooks.c.channel)
         .join(webhooks, webhooks.c.id == deliveries.c.webhook_id).where(deliveries.c.status == FAILED))
    if principal.channel_scope is not None:
        q = q.where(webhooks.c.channel == principal.channel_scope)
    if webhook_id is not None:
        q = q.where(deliveries.c.webhook_id == webhook_id)
    if cursor is not None:
        q = q.where(deliveries.c.id < cursor)
    rows = tx.conn.execute(q.order_by(deliveries.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [r._asdict() for r in rows], (rows[-1].id if more else None)


def redeliver_all_failed(tx: Tx, principal: Principal) -> dict[str, Any]:
    """``redeliver_failed`` for every subscription with failed deliveries."""
    q = select(deliveries.c.webhook_id).where(deliveries.c.status == FAILED).distinct()
    if principal.channel_scope is not None:
        q = q.join(webhooks, webhooks.c.id == deliveries.c.webhook_id).where(
            webhooks.c.channel == principal.channel_scope)
    ids = sorted(tx.conn.execute(q).scalars())
    requeued = sum(redeliver_failed(tx, principal, wid)["requeued"] for wid in ids)
    return {"webhooks": len(ids), "requeued": requeued}


def _pending_lanes(conn: Connection, webhook_id: int) -> list[tuple[int, int | None, int]]:
    return [(webhook_id, r.order_id, r.event_id) for r in conn.execute(
        select(deliveries.c.order_id, func.min(deliveries.c.event_id).label("event_id"))
        .where(deliveries.c.webhook_id == webhook_id, deliveries.c.status == PENDING)
        .group_by(deliveries.c.order_id, func.coalesce(deliveries.c.order_id, -deliveries.c.event_id)))]


# -- fan-out (worker) -------------------------------------------------------------------

_behind = select(
    select(func.coalesce(func.max(events.c.id), 0)).scalar_subquery(),
    select(func.min(webhooks.c.cursor)).where(webhooks.c.active.is_(True)).scalar_subquery(),
)


@jobs.periodic("webhooks.dispatch")
def dispatch(ctx: jobs.JobContext) -> int:
    """Fan new events out into deliveries; returns how many were added."""
    with unit_of_work(ctx.engine, "worker", readonly=True) as tx:
        top, lowest = tx.conn.execute(_behind).one()
        if lowest is None or lowest >= top:
            return 0  # nothing new for any active subscription: the idle poll ends here
        horizon = settled_horizon(tx.conn, ctx.config.EVENTS_SETTLE_WAIT_S)
    if horizon is None:
        return 0
    added = 0
    with unit_of_work(ctx.engine, "worker") as tx:
        subs = tx.conn.execute(
            select(webhooks.c.id, webhooks.c.channel, webhooks.c.event_types, webhooks.c.cursor)
            .where(webhooks.c.active.is_(True), webhooks.c.cursor < horizon)
            .order_by(webhooks.c.id).with_for_update(skip_locked=True)
        ).all()
        lanes: list[tuple[int, int | None, int]] = []
        for sub in subs:
            q = (select(events.c.id, events.c.type, events.c.order_id)
                 .where(events.c.id > sub.cursor, events.c.id <= horizon))
            if sub.channel is not None:
                q = q.where(events.c.channel == sub.channel)
            rows = tx.conn.execute(q.order_by(events.c.id).limit(FANOUT_BATCH)).all()
            new_cursor = rows[-1].id if len(rows) == FANOUT_BATCH else horizon
            wanted = [r for r in rows if matches(sub.event_types, r.type)]
            if wanted:
                tx.conn.execute(
                    dialect_insert(tx.conn)(deliveries).on_conflict_do_nothing(
                        index_elements=[deliveries.c.webhook_id, deliveries.c.event_id]),
                    [{"webhook_id": sub.id, "event_id": r.id, "event_type": r.type, "order_id": r.order_id,
                      "status": PENDING, "attempts": 0, "created_at": tx.now} for r in wanted])
                lanes.extend((sub.id, r.order_id, r.id) for r in wanted)
                added += len(wanted)
            tx.conn.execute(update(webhooks).where(webhooks.c.id == sub.id).values(cursor=new_cursor))
        _enqueue_lanes(tx.conn, lanes, tx.now)
    return added


# -- delivery (worker) --------------------------------------------------------------------

_HEAD_COLS = (
    deliveries.c.id, deliveries.c.event_id, deliveries.c.status, deliveries.c.attempts,
    deliveries.c.next_attempt_at, deliveries.c.first_attempt_at,
    webhooks.c.url, webhooks.c.active, webhooks.c.secret_salt, webhooks.c.previous_secret_salt,
    webhooks.c.previous_secret_expires_at,
    events.c.type, events.c.channel, events.c.order_id, events.c.created_at, events.c.data,
)
_head_base = (
    select(*_HEAD_COLS)
    .select_from(deliveries.join(webhooks, webhooks.c.id == deliveries.c.webhook_id)
                 .join(events, events.c.id == deliveries.c.event_id))
    .where(deliveries.c.webhook_id == bindparam("wid"), deliveries.c.status != DELIVERED)
    .order_by(deliveries.c.event_id).limit(1)
)
_head_of_order = _head_base.where(deliveries.c.order_id == bindparam("oid"))
_head_of_event = _head_base.where(deliveries.c.event_id == bindparam("eid"))


def _lane_head(conn: Connection, payload: dict[str, Any]) -> Any:
    if "order_id" in payload:
        return conn.execute(_head_of_order, {"wid": payload["webhook_id"], "oid": payload["order_id"]}).first()
    return conn.execute(_head_of_event, {"wid": payload["webhook_id"], "eid": payload["event_id"]}).first()


def delivery_body(head: Any) -> bytes:
    """The request body: the event exactly as the feed shows it."""
    doc = event_fields(head.event_id, head.type, head.channel, head.order_id, head.created_at, head.data)
    return json.dumps(doc, separators=(",", ":")).encode()


def _record(conn: Connection, head: Any, result: Any, started: dt.datetime, now: dt.datetime,
            policy: RetryPolicy) -> tuple[str | None, dt.datetime | None]:
    """Write one attempt's outcome, fenced: nothing changes if the delivery
    changed meanwhile (redelivered, deleted). Returns the new status (``None``
    when fenced off) and when to try next."""
    first = head.first_attempt_at or started
    common = {"attempts": head.attempts + 1, "last_attempt_at": started, "first_attempt_at": first,
              "last_status_code": result.status, "last_error": result.error}
    if result.ok:
        values = {**common, "status": DELIVERED, "delivered_at": now, "next_attempt_at": None}
    else:
        nxt = policy.next_attempt(head.attempts + 1, first, now, random.random())
        values = {**common, "status": FAILED if nxt is None else PENDING, "next_attempt_at": nxt}
    changed = conn.execute(update(deliveries).where(
        deliveries.c.id == head.id, deliveries.c.status == PENDING, deliveries.c.attempts == head.attempts,
    ).values(**values)).rowcount
    still_there = changed or conn.execute(
        select(deliveries.c.id).where(deliveries.c.id == head.id).with_for_update()).first()
    if still_there:
        conn.execute(insert(attempts), {
            "delivery_id": head.id, "attempted_at": started, "status_code": result.status,
            "error": result.error, "duration_ms": result.duration_ms, "response_excerpt": result.excerpt})
    return (values["status"], values["next_attempt_at"]) if changed else (None, None)


@jobs.job_kind(DELIVER, max_attempts=20, retry_base_s=5.0, retry_max_s=600.0)
def deliver_lane(ctx: jobs.JobContext, payload: dict[str, Any]) -> jobs.Reschedule | None:
    """Send a lane's deliveries in event order, until it is empty, must wait
    for a retry, or is held by a failed delivery."""
    policy = retry_policy(ctx.config)
    server_key = ctx.config.webhook_key
    began = time.monotonic()
    sent = 0
    with ctx.engine.execution_options(sqlite_begin="DEFERRED").begin() as conn:
        head = _lane_head(conn, payload)
    while True:
        if head is None or not head.active or head.status == FAILED:
            return None  # done; or switched off; or held until a redelivery
        now = ctx.now()
        if head.next_attempt_at is not None and head.next_attempt_at > now:
            return jobs.Reschedule(head.next_attempt_at)
        if sent >= LANE_RUN_DELIVERIES or time.monotonic() - began > LANE_RUN_SECONDS:
            return jobs.Reschedule(now)  # let other lanes have this worker
        body = delivery_body(head)
        stamp = int(now.timestamp())
        headers = {
            signing.HEADER: signing.signature_header(current_secrets(head, server_key, now), stamp, body),
            "O2C-Event-Id": str(head.event_id), "O2C-Event-Type": head.type,
            "O2C-Delivery-Id": str(head.id), "O2C-Delivery-Attempt": str(head.attempts + 1),
        }
        result = ctx.outbound.post(head.url, body, headers)
        sent += 1
        # Recorded durably before the lane's next event is sent.
        with ctx.engine.begin() as conn:
            status, retry_at = _record(conn, head, result, now, ctx.now(), policy)
            if status != PENDING and status != FAILED:  # delivered, or changed meanwhile: what next?
                head = _lane_head(conn, payload)
        if status == FAILED:
            return None  # the lane is held until a redelivery
        if status == PENDING and retry_at is not None:
            return jobs.Reschedule(retry_at)


# -- sweep (worker) ----------------------------------------------------------------------

_failed_before = aliased(deliveries)


@jobs.periodic("webhooks.sweep", every_s=60.0)
def sweep(ctx: jobs.JobContext) -> int:
    """Queue lanes with pending deliveries but no job, and drop delivered
    deliveries past the retention period. Returns how many lanes it queued."""
    now = ctx.now()
    held = exists().where(
        _failed_before.c.webhook_id == deliveries.c.webhook_id, _failed_before.c.order_id == deliveries.c.order_id,
        _failed_before.c.event_id < deliveries.c.event_id, _failed_before.c.status == FAILED)
    with unit_of_work(ctx.engine, "worker", readonly=True) as tx:
        lanes = tx.conn.execute(
            select(deliveries.c.webhook_id, deliveries.c.order_id, func.min(deliveries.c.event_id).label("event_id"))
            .select_from(deliveries.join(webhooks, webhooks.c.id == deliveries.c.webhook_id))
            .where(deliveries.c.status == PENDING, webhooks.c.active.is_(True), ~held)
            .group_by(deliveries.c.webhook_id, deliveries.c.order_id,
                      func.coalesce(deliveries.c.order_id, -deliveries.c.event_id))
            .limit(5000)
        ).all()
        keys = {lane_key(*l): l for l in lanes}
        queued: set[str] = set()
        chunk = list(keys)
        for i in range(0, len(chunk), 500):
            queued.update(tx.conn.execute(select(jobs.jobs.c.key).where(
                jobs.jobs.c.key.in_(chunk[i:i + 500]), jobs.jobs.c.status.in_(jobs.UNFINISHED))).scalars())
    missing = [keys[k] for k in keys if k not in queued]
    cutoff = now - dt.timedelta(days=ctx.config.WEBHOOK_LOG_RETENTION_DAYS)
    with unit_of_work(ctx.engine, "worker") as tx:
        _enqueue_lanes(tx.conn, missing, now)
        old = select(deliveries.c.id).where(deliveries.c.status == DELIVERED, deliveries.c.delivered_at < cutoff)
        ids = list(tx.conn.execute(old.limit(5000)).scalars())
        if ids:
            tx.conn.execute(delete(attempts).where(attempts.c.delivery_id.in_(ids)))
            tx.conn.execute(delete(deliveries).where(deliveries.c.id.in_(ids)))
    return len(missing)


__all__ = [
    "DELIVER", "check_target", "create_webhook", "current_secrets", "delete_webhook", "deliver_lane", "dispatch",
    "failed_deliveries", "get_delivery",
    "get_webhook", "lane_key", "list_deliveries", "list_webhooks", "redeliver", "redeliver_all_failed",
    "redeliver_failed",
    "reveal_secret", "rotate_secret", "sweep", "update_webhook",
]
