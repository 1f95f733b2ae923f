"""Quotations in the background: the worker expires sent quotations whose
validity has ended and, when ``O2C_QUOTE_REMINDER_DAYS`` is set (off by
default), reminds the customer that many days before the end."""
from __future__ import annotations

from sqlalchemy import update

from o2c.services.platform import jobs, outbox
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import quotes

EXPIRE = "quotes.expire"


def expire_and_remind(engine: object, reminder_days: int) -> int:
    """One pass: expire what is due, queue the reminders due; how many quotations it touched."""
    with unit_of_work(engine, "worker") as tx:  # type: ignore[arg-type]
        done = len(quotes.expire_due(tx))
        for q in quotes.reminders_due(tx, reminder_days):
            outbox.queue_message(tx, kind="quotation", customer_id=q.customer_id, template="quotation_reminder",
                                 context={"number": quotes.revision_label(q.number, q.revision),
                                          "valid_until": q.valid_until, "sent_on": q.sent_at.date()},
                                 document=("quote", q.id))
            tx.conn.execute(update(quotes.quotes).where(quotes.quotes.c.id == q.id).values(reminded_at=tx.now))
            tx.audit("quote.reminded", "quote", q.id, None, {"valid_until": q.valid_until.isoformat()})
            done += 1
    return done


@jobs.periodic(EXPIRE, every_s=60.0)
def expire_quotes(ctx: jobs.JobContext) -> int:
    """Once a minute (across workers the statuses make it idempotent)."""
    return expire_and_remind(ctx.engine, ctx.config.QUOTE_REMINDER_DAYS)
