"""Business events as subscribers see them: the catalogue of event types and
how a subscription's type patterns select them (pure)."""
from __future__ import annotations

from collections.abc import Iterable

#: Every event type o2c emits (API.md, Events).
EVENT_TYPES: tuple[str, ...] = (
    "order.created", "order.confirmed", "order.cancelled", "order.completed",
    "shipment.packed", "shipment.shipped", "shipment.cancelled",
    "invoice.issued", "invoice.paid", "payment.received",
    "return.received", "credit_note.issued", "refund.paid",
    # Emitted as well, so listed: subscribers may name them.
    "order.lines_cancelled", "order.backorder_reserved", "payment.reversed", "dunning.notice",
)
ALL = "*"


def pattern_error(pattern: str) -> str | None:
    """Why a subscription pattern is not valid, or ``None`` when it is.

    A pattern is an event type (``shipment.shipped``), a family
    (``shipment.*``) or ``*`` for every event."""
    if pattern == ALL or pattern in EVENT_TYPES:
        return None
    if pattern.endswith(".*") and any(t.startswith(pattern[:-1]) for t in EVENT_TYPES):
        return None
    families = sorted({t.split(".")[0] + ".*" for t in EVENT_TYPES})
    return (f"Unknown event type {pattern!r}: use one of {', '.join(EVENT_TYPES)}, "
            f"a family ({', '.join(families)}) or '*'.")


def matches(patterns: Iterable[str], event_type: str) -> bool:
    for p in patterns:
        if p == ALL or p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1])):
            return True
    return False
