"""Document states, the one table of allowed transitions per document, and the
statuses derived from facts (shipped quantities, invoice balances).

Transitions are verbs; states are past participles. A move not in the table
raises ``InvalidTransition``.
"""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from o2c.domain.errors import InvalidTransition

ORDER_TRANSITIONS: dict[str, dict[str, str]] = {
    # verb: {from_state: to_state}
    "confirm": {"draft": "confirmed"},
    "cancel": {"draft": "cancelled", "confirmed": "cancelled"},
    # Cancelling the open quantity of some lines keeps the order confirmed
    # (or cancels it, when nothing is left).
    "cancel_lines": {"confirmed": "confirmed"},
    # A completed order whose payment was reversed is open again.
    "reopen": {"completed": "confirmed"},
    "complete": {"confirmed": "completed"},
    "pack": {"confirmed": "confirmed"},
    "invoice": {"confirmed": "confirmed", "completed": "completed"},
}

SHIPMENT_TRANSITIONS: dict[str, dict[str, str]] = {
    "ship": {"packed": "shipped"},
    "cancel": {"packed": "cancelled"},
}


def _move(kind: str, table: dict[str, dict[str, str]], verb: str, state: str, name: str) -> str:
    try:
        return table[verb][state]
    except KeyError:
        allowed = ", ".join(sorted(table.get(verb, {}))) or "no state"
        raise InvalidTransition(
            f"Cannot {verb} {kind} {name}: it is {state}; {verb} is allowed from {allowed}.",
            {"status": state, "action": verb},
        ) from None


def order_transition(verb: str, state: str, number: str) -> str:
    return _move("order", ORDER_TRANSITIONS, verb, state, number)


def shipment_transition(verb: str, state: str, number: str) -> str:
    return _move("shipment", SHIPMENT_TRANSITIONS, verb, state, number)


class LineProgress(NamedTuple):
    quantity: int
    shipped: int
    invoiced: int
    returned: int
    cancelled: int


class OrderStatuses(NamedTuple):
    status: str
    fulfillment_status: str
    payment_status: str


def derive_order_statuses(
    status: str,
    lines: Iterable[LineProgress],
    invoiced_total: Decimal,
    amount_paid: Decimal,
    refunded: bool = False,
) -> OrderStatuses:
    """Fulfilment and payment status follow from quantities and money; the
    order completes by itself once everything is shipped, invoiced and paid."""
    lines = list(lines)
    to_ship = sum(l.quantity - l.cancelled for l in lines)
    shipped = sum(l.shipped for l in lines)
    returned = sum(l.returned for l in lines)
    invoiced = sum(l.invoiced for l in lines)

    if returned and returned >= shipped:
        fulfillment = "returned"
    elif returned:
        fulfillment = "partially_returned"
    elif shipped == 0:
        fulfillment = "unfulfilled"
    elif shipped >= to_ship:
        fulfillment = "shipped"
    else:
        fulfillment = "partially_shipped"

    # Returned units are credited: they no longer need an invoice.
    fully_invoiced = invoiced >= to_ship - returned and to_ship > 0
    balance = invoiced_total - amount_paid
    if refunded:
        payment = "refunded"
    elif amount_paid <= 0:
        payment = "unpaid"
    elif fully_invoiced and balance <= 0:
        payment = "paid"
    else:
        payment = "partially_paid"

    if (
        status == "confirmed"
        and shipped >= to_ship
        and fully_invoiced
        and payment == "paid"
    ):
        status = order_transition("complete", status, "")
    return OrderStatuses(status, fulfillment, payment)


def invoice_status(total: Decimal, amount_paid: Decimal, credited: Decimal) -> str:
    if credited > 0 and credited >= total:
        return "credited"
    if amount_paid + credited >= total:
        return "paid"
    if amount_paid > 0:
        return "partially_paid"
    return "open"
