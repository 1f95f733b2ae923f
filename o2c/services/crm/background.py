"""Background work for customers after the sale, done by ``o2c worker``.

- ``crm.associations``: mines the product associations again and refreshes
  the customers' RFM figures that insights score against (one job, key
  ``crm.associations``, that reschedules itself every
  ``ASSOCIATIONS_INTERVAL_S``; ``POST /api/v1/recommendations/recompute``
  brings it forward to now).
- ``crm.followups`` (periodic, every five minutes): the satisfaction messages
  due ``FOLLOWUP_DAYS`` after a shipment, queued in the outbox.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from o2c.services.crm import associations, feedback, insights
from o2c.services.platform import jobs
from o2c.services.platform.background import next_slot
from o2c.services.platform.uow import unit_of_work

ASSOCIATIONS = "crm.associations"


@jobs.job_kind(ASSOCIATIONS, max_attempts=1000, retry_base_s=30.0, retry_max_s=3600.0)
def mine_associations(ctx: jobs.JobContext, payload: dict[str, Any]) -> jobs.Reschedule:
    refresh(ctx.engine)
    return jobs.Reschedule(next_slot(ctx.now(), ctx.config.ASSOCIATIONS_INTERVAL_S))


@jobs.periodic("crm.associations.schedule", every_s=60.0)
def schedule_associations(ctx: jobs.JobContext) -> int:
    """Make sure the recurring job exists. Returns 0: it finds no work by itself."""
    now = ctx.now()
    with unit_of_work(ctx.engine, "worker") as tx:
        jobs.ensure(tx.conn, ASSOCIATIONS, {}, key=ASSOCIATIONS, run_at=now, now=now)
    return 0


@jobs.periodic("crm.followups", every_s=300.0)
def send_followups(ctx: jobs.JobContext) -> int:
    """Queue the satisfaction messages that are due (``FOLLOWUP_DAYS`` after a shipment)."""
    with unit_of_work(ctx.engine, "worker") as tx:
        return feedback.request_followups(tx, ctx.config.PUBLIC_URL, ctx.config.FOLLOWUP_DAYS)


def refresh(engine: Any) -> None:
    with unit_of_work(engine, "worker") as tx:
        associations.recompute(tx)
        insights.refresh_rfm(tx)


def recompute_soon(conn: Connection, now: Any) -> None:
    """Ask a worker to mine the associations now (the recurring job is brought forward)."""
    jobs.enqueue(conn, ASSOCIATIONS, {}, key=ASSOCIATIONS, run_at=now, now=now)
