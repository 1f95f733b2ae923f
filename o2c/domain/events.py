"""Business events as subscribers see them: the one registry of event types
(what o2c emits, what a subscription may ask for, what the back office
offers) and how a subscription's type patterns select them (pure)."""
from __future__ import annotations

from collections.abc import Iterable

#: Every event type o2c emits, with what it means. ``Tx.emit`` refuses any
#: other type, the API validates subscriptions against it and the webhooks
#: page lists it, so the three cannot drift apart.
EVENTS: dict[str, str] = {
    "order.created": "An order was entered (draft or confirmed).",
    "order.confirmed": "An order was confirmed: its stock is reserved.",
    "order.lines_cancelled": "Quantities of an order's lines were cancelled.",
    "order.backorder_reserved": "Goods that arrived were reserved for a waiting order.",
    "order.cancelled": "An order was cancelled.",
    "order.completed": "An order is shipped, invoiced and paid in full.",
    "shipment.packed": "A shipment was packed.",
    "shipment.shipped": "A shipment left, with carrier and tracking number.",
    "shipment.cancelled": "A packed shipment was cancelled.",
    "invoice.issued": "An invoice was issued.",
    "invoice.paid": "An invoice is paid in full.",
    "payment.received": "A payment was recorded.",
    "payment.reversed": "A payment was reversed (bounced or recorded by mistake).",
    "bank_line.matched": "A bank statement line was matched to payments (or to a refund paid out).",
    "customer_credit.applied": "A customer's unapplied credit was applied to an invoice.",
    "customer_credit.released": "Credit applied to an invoice was released back to the customer.",
    "return.received": "Returned goods were received.",
    "credit_note.issued": "A credit note was issued.",
    "refund.paid": "A refund was paid to a customer.",
    "dunning.notice": "A payment reminder was recorded for an overdue invoice.",
    "bank_statement.imported": "A bank statement was imported, its lines waiting to be applied.",
    "message.sent": "An e-mail to a customer was accepted by the mail server (or written to the outbox folder).",
    "message.failed": "An e-mail to a customer failed for good: the server's answer is in the message.",
    "quote.sent": "A quotation (revision) was sent with its acceptance link.",
    "quote.revised": "A sent quotation was revised: a new revision exists.",
    "quote.accepted": "A quotation was accepted and became an order.",
    "quote.declined": "A quotation was declined by the customer.",
    "quote.expired": "A sent quotation passed its validity date.",
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENTS)
ALL = "*"


def families() -> list[str]:
    """``order.*``, ``shipment.*``, … — one per family of event types."""
    return sorted({t.split(".")[0] + ".*" for t in EVENT_TYPES})


def pattern_error(pattern: str) -> str | None:
    """Why a subscription pattern is not valid, or ``None`` when it is.

    A pattern is an event type (``shipment.shipped``), a family
    (``shipment.*``) or ``*`` for every event."""
    if pattern == ALL or pattern in EVENT_TYPES:
        return None
    if pattern.endswith(".*") and any(t.startswith(pattern[:-1]) for t in EVENT_TYPES):
        return None
    return (f"Unknown event type “{pattern}”: use one of {', '.join(EVENT_TYPES)}, "
            f"a family ({', '.join(families())}) or '*'.")


def matches(patterns: Iterable[str], event_type: str) -> bool:
    for p in patterns:
        if p == ALL or p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1])):
            return True
    return False
