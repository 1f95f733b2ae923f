"""Satisfaction follow-up after delivery, and the follow-up tasks it creates.

``FOLLOWUP_DAYS`` after a shipment (shipments of the last two weeks beyond
that; customers who opted out or have no e-mail address are skipped) the
customer gets one message through the outbox, with a one-click link per
score 1–5 and a link to a public page with a comment box. The link carries a
random secret; only its SHA-256 is stored. One answer per shipment: a second
click changes it. A score of 2 or less, or a comment, opens a follow-up task
for the clerks (one per answer).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from sqlalchemy import and_, insert, select, update

from o2c.db import models as m
from o2c.domain.errors import NotFound, ValidationFailed
from o2c.domain.numbering import document_number, order_number
from o2c.services.platform import outbox
from o2c.services.platform.uow import Tx

feedback = m.Feedback.__table__
tasks = m.FollowUpTask.__table__
shipments = m.Shipment.__table__
orders = m.Order.__table__
customers = m.Customer.__table__

WINDOW_DAYS = 14
TASK_DUE_DAYS = 2
TASK_STATUSES = ("open", "done")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_followups(tx: Tx, base_url: str, days: int, limit: int = 200) -> int:
    """Queue the satisfaction messages that are due; returns how many."""
    return len(queue_followups(tx, base_url, days, limit))


def queue_followups(tx: Tx, base_url: str, days: int, limit: int = 200) -> list[tuple[int, str]]:
    """Queue the satisfaction messages that are due: (feedback id, link secret) of each."""
    due_before = tx.now - dt.timedelta(days=days)
    due_after = due_before - dt.timedelta(days=WINDOW_DAYS)
    rows = tx.conn.execute(
        select(shipments.c.id, shipments.c.created_at, orders.c.id.label("order_id"),
               orders.c.created_at.label("order_created"), orders.c.customer_id)
        .join(orders, orders.c.id == shipments.c.order_id)
        .join(customers, customers.c.id == orders.c.customer_id)
        .outerjoin(feedback, feedback.c.shipment_id == shipments.c.id)
        .where(shipments.c.status == "shipped", shipments.c.shipped_at <= due_before,
               shipments.c.shipped_at > due_after, feedback.c.id.is_(None),
               customers.c.followup_opt_out.is_(False), customers.c.email != "")
        .order_by(shipments.c.id).limit(limit)).all()
    base = base_url.rstrip("/")
    out = []
    for r in rows:
        token = secrets.token_urlsafe(24)
        fid = tx.conn.execute(insert(feedback).returning(feedback.c.id), {
            "customer_id": r.customer_id, "shipment_id": r.id, "token_hash": token_hash(token),
            "score": None, "comment": None, "created_at": tx.now, "answered_at": None}).scalar_one()
        page = f"{base}/f/{token}"
        outbox.queue_message(tx, kind="follow_up", customer_id=r.customer_id, template="follow_up", context={
            "shipment": document_number("SH", r.created_at.year, r.id),
            "order": order_number(r.order_id, r.order_created), "page_url": page,
            "scores": [{"score": s, "url": f"{page}?score={s}"} for s in range(1, 6)]},
            document=("shipment", r.id))
        tx.audit("feedback.requested", "feedback", fid, None, {"shipment_id": r.id})
        out.append((fid, token))
    return out


def _by_token(tx: Tx, token: str) -> Any:
    row = tx.conn.execute(
        select(feedback, customers.c.name.label("customer_name"), shipments.c.created_at.label("shipped_created"))
        .join(customers, customers.c.id == feedback.c.customer_id)
        .join(shipments, shipments.c.id == feedback.c.shipment_id)
        .where(feedback.c.token_hash == token_hash(token))).first()
    if row is None:
        raise NotFound("This link is not valid.")
    return row


def page(tx: Tx, token: str) -> dict[str, Any]:
    r = _by_token(tx, token)
    return {"customer_name": r.customer_name, "shipment": document_number("SH", r.shipped_created.year, r.shipment_id),
            "score": r.score, "comment": r.comment, "answered_at": r.answered_at}


def answer(tx: Tx, token: str, score: int | None = None, comment: str | None = None) -> dict[str, Any]:
    """Record (or change) the answer behind a link; opens a task for a low score or a comment."""
    r = _by_token(tx, token)
    if score is not None and not 1 <= score <= 5:
        raise ValidationFailed("A score is 1 to 5.", {"score": ["1 to 5."]})
    comment = (comment or "").strip()[:4000] or None
    values: dict[str, Any] = {"answered_at": tx.now}
    if score is not None:
        values["score"] = score
    if comment is not None:
        values["comment"] = comment
    tx.conn.execute(update(feedback).where(feedback.c.id == r.id).values(**values))
    new_score = score if score is not None else r.score
    new_comment = comment if comment is not None else r.comment
    tx.audit("feedback.answered", "feedback", r.id, {"score": r.score}, {"score": new_score})
    if (new_score is not None and new_score <= 2) or new_comment:
        exists = tx.conn.execute(select(tasks.c.id).where(tasks.c.feedback_id == r.id)).scalar()
        if exists is None:
            why = f"score {new_score} of 5" if new_score is not None and new_score <= 2 else "a comment"
            tid = tx.conn.execute(insert(tasks).returning(tasks.c.id), {
                "customer_id": r.customer_id, "feedback_id": r.id, "status": "open", "owner": None,
                "title": f"Ask {r.customer_name} the reasons: {why} after their delivery",
                "due_date": tx.today + dt.timedelta(days=TASK_DUE_DAYS), "note": None, "created_at": tx.now,
                "done_at": None}).scalar_one()
            tx.audit("task.created", "task", tid, None, {"feedback_id": r.id})
    return page(tx, token)


FEEDBACK_COLS = [feedback.c.id, feedback.c.customer_id, feedback.c.shipment_id, feedback.c.score, feedback.c.comment,
                 feedback.c.answered_at]


def list_feedback(tx: Tx, *, max_score: int | None = None, start: dt.date | None = None, end: dt.date | None = None,
                  cursor: int | None = None, limit: int = 20) -> tuple[list[dict[str, Any]], int | None]:
    """Answered feedback, newest first."""
    q = select(*FEEDBACK_COLS).where(feedback.c.answered_at.is_not(None)).order_by(feedback.c.id.desc()).limit(limit + 1)
    if max_score is not None:
        q = q.where(feedback.c.score <= max_score)
    if start is not None:
        q = q.where(feedback.c.answered_at >= dt.datetime.combine(start, dt.time.min, tzinfo=dt.timezone.utc))
    if end is not None:
        q = q.where(feedback.c.answered_at < dt.datetime.combine(end + dt.timedelta(1), dt.time.min,
                                                                 tzinfo=dt.timezone.utc))
    if cursor is not None:
        q = q.where(feedback.c.id < cursor)
    rows = [r._asdict() for r in tx.conn.execute(q)]
    return rows[:limit], (rows[limit - 1]["id"] if len(rows) > limit else None)


TASK_COLS = [tasks.c.id, tasks.c.customer_id, customers.c.code.label("customer_code"),
             customers.c.name.label("customer_name"), tasks.c.feedback_id, tasks.c.title, tasks.c.status,
             tasks.c.owner, tasks.c.due_date, tasks.c.note, tasks.c.created_at, tasks.c.done_at,
             feedback.c.score, feedback.c.comment]


def _tasks_q() -> Any:
    return (select(*TASK_COLS).join(customers, customers.c.id == tasks.c.customer_id)
            .outerjoin(feedback, feedback.c.id == tasks.c.feedback_id))


def list_tasks(tx: Tx, *, status: str | None = None, cursor: int | None = None,
               limit: int = 20) -> tuple[list[dict[str, Any]], int | None]:
    q = _tasks_q().order_by(tasks.c.id.desc()).limit(limit + 1)
    if status:
        q = q.where(tasks.c.status == status)
    if cursor is not None:
        q = q.where(tasks.c.id < cursor)
    rows = [r._asdict() for r in tx.conn.execute(q)]
    return rows[:limit], (rows[limit - 1]["id"] if len(rows) > limit else None)


def get_task(tx: Tx, task_id: int) -> dict[str, Any]:
    r = tx.conn.execute(_tasks_q().where(tasks.c.id == task_id)).first()
    if r is None:
        raise NotFound(f"No task with id {task_id}.")
    return r._asdict()


def update_task(tx: Tx, task_id: int, data: dict[str, Any]) -> dict[str, Any]:
    before = get_task(tx, task_id)
    values: dict[str, Any] = {}
    if data.get("status") is not None:
        values["status"] = data["status"]
        values["done_at"] = tx.now if data["status"] == "done" else None
    for k in ("owner", "note", "due_date"):
        if k in data:
            values[k] = data[k]
    if values:
        tx.conn.execute(update(tasks).where(and_(tasks.c.id == task_id)).values(**values))
        tx.audit("task.updated", "task", task_id, {k: str(before.get(k)) for k in values},
                 {k: str(v) for k, v in values.items()})
    return get_task(tx, task_id)
