"""Background work on documents and the ledger, done by ``o2c worker``.

- ``invoice.render_pdf``: shipping (or invoicing) enqueues it in the same
  transaction that issues the invoice, keyed ``invoice-pdf:{id}``; the job
  renders and stores the invoice's PDF so the first download is instant. The
  PDF endpoint still renders on first request if the job has not run yet;
  either way the file is stored once and every later request gets the same
  bytes.
- ``credit_note.render_pdf``: issuing a credit note enqueues it, keyed
  ``credit-note-pdf:{id}``, as an invoice's. Storing an invoice's or credit
  note's PDF queues its e-mail for customers with ``send_invoices = auto``
  (``o2c.services.billing.documents.mail_when_issued``).
- ``dunning.render_letter``: a dunning run enqueues one per letter, keyed
  ``dunning-letter:{id}``; the letter is rendered from what the run recorded,
  so a download before the job ran gets the same letter.
- ``ledger.seal``: seals the journal's hash chain once per
  ``SEAL_INTERVAL_S`` across all workers. It is a single recurring job (key
  ``ledger.seal``) that reschedules itself to the start of the next
  interval; each worker only makes sure it exists (``jobs.ensure``), so with
  any number of workers exactly one seal runs per interval, under the job's
  lease.
- ``backorders.hand_over``: a cancellation or a restocked return that frees
  stock of a product some confirmed order waits for queues it, keyed
  ``backorders:{product_id}``; the job reserves the free stock for the waiting
  lines, oldest confirmation first, as a goods receipt would.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

from o2c.domain.errors import NotFound
from o2c.services.billing.documents import render_document, render_dunning_letter, render_invoice_document
from o2c.services.books import chain
from o2c.services.platform import jobs
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import backorders
from o2c.services.sales.orders import HAND_OVER

RENDER_INVOICE = "invoice.render_pdf"
RENDER_LETTER = "dunning.render_letter"
RENDER_CREDIT_NOTE = "credit_note.render_pdf"
SEAL = "ledger.seal"


@jobs.job_kind(RENDER_INVOICE, max_attempts=5, retry_base_s=10.0, retry_max_s=600.0)
def render_invoice_pdf(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
    try:
        render_invoice_document(ctx.engine, int(payload["invoice_id"]))
    except NotFound:
        return None  # nothing to render: the job is done, not retried


@jobs.job_kind(RENDER_CREDIT_NOTE, max_attempts=5, retry_base_s=10.0, retry_max_s=600.0)
def render_credit_note_pdf(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
    try:
        render_document(ctx.engine, "credit_note", int(payload["credit_note_id"]))
    except NotFound:
        return None


@jobs.job_kind(RENDER_LETTER, max_attempts=5, retry_base_s=10.0, retry_max_s=600.0)
def render_letter_pdf(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
    try:
        render_dunning_letter(ctx.engine, int(payload["letter_id"]))
    except NotFound:
        return None


@jobs.job_kind(HAND_OVER, max_attempts=10, retry_base_s=5.0, retry_max_s=300.0)
def hand_over_stock(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
    with unit_of_work(ctx.engine, "worker") as tx:
        backorders.hand_over(tx, int(payload["product_id"]))


def next_slot(now: dt.datetime, interval_s: float) -> dt.datetime:
    """The start of the next interval after ``now`` (intervals counted from
    the Unix epoch, so every worker computes the same boundaries)."""
    interval_s = max(interval_s, 0.001)
    ts = now.timestamp()
    return dt.datetime.fromtimestamp((math.floor(ts / interval_s) + 1) * interval_s, tz=dt.timezone.utc)


@jobs.job_kind(SEAL, max_attempts=1000, retry_base_s=5.0, retry_max_s=300.0)
def seal(ctx: jobs.JobContext, payload: dict[str, Any]) -> jobs.Reschedule:
    chain.seal_journal(ctx.engine)
    return jobs.Reschedule(next_slot(ctx.now(), ctx.config.SEAL_INTERVAL_S))


@jobs.periodic("ledger.seal.schedule", every_s=30.0)
def schedule_seal(ctx: jobs.JobContext) -> int:
    """Make sure the recurring seal job exists (after a fresh install, or
    after it failed for good). Returns 0: this finds no work by itself."""
    now = ctx.now()
    with unit_of_work(ctx.engine, "worker") as tx:
        jobs.ensure(tx.conn, SEAL, {}, key=SEAL, run_at=now, now=now)
    return 0


__all__ = ["HAND_OVER", "RENDER_CREDIT_NOTE", "RENDER_INVOICE", "RENDER_LETTER", "SEAL", "hand_over_stock", "next_slot",
           "render_invoice_pdf", "render_letter_pdf", "schedule_seal", "seal"]
