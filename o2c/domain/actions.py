"""Which moves a document allows right now: the transition tables of
``o2c.domain.states`` plus the quantities that make a move meaningful.
Screens offer exactly these; the services still decide (and refuse with
``InvalidTransition`` when a move is not allowed)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from o2c.domain.states import ORDER_TRANSITIONS, SHIPMENT_TRANSITIONS


def _allowed(table: Mapping[str, Mapping[str, str]], verb: str, state: str) -> bool:
    return state in table.get(verb, {})


def open_to_pack(line: Mapping[str, Any]) -> int:
    """Ordered and not yet packed, shipped or cancelled, as far as it is
    reserved: a backordered quantity waits for its goods."""
    open_qty = line["quantity"] - line["shipped_quantity"] - line["packed_quantity"] - line["cancelled_quantity"]
    return int(min(open_qty, line["reserved_quantity"] - line["packed_quantity"]))


def open_to_cancel(line: Mapping[str, Any]) -> int:
    """Ordered and not yet shipped or cancelled (packed goods are unpacked first)."""
    return int(line["quantity"] - line["shipped_quantity"] - line["cancelled_quantity"])


def to_invoice(line: Mapping[str, Any]) -> int:
    """Shipped (less returned) and not yet invoiced."""
    return int(line["shipped_quantity"] - line["returned_quantity"] - line["invoiced_quantity"])


def order_actions(status: str, lines: Iterable[Mapping[str, Any]], invoicing_policy: str) -> frozenset[str]:
    """The order's moves now: ``confirm``, ``cancel``, ``cancel_lines``, ``pack``, ``invoice``."""
    lines = list(lines)
    moves = set()
    if _allowed(ORDER_TRANSITIONS, "confirm", status):
        moves.add("confirm")
    if _allowed(ORDER_TRANSITIONS, "cancel", status) and not any(l["shipped_quantity"] for l in lines):
        moves.add("cancel")
    if _allowed(ORDER_TRANSITIONS, "cancel_lines", status) and any(open_to_cancel(l) > 0 for l in lines):
        moves.add("cancel_lines")
    if _allowed(ORDER_TRANSITIONS, "pack", status) and any(open_to_pack(l) > 0 for l in lines):
        moves.add("pack")
    if (invoicing_policy == "manual" and _allowed(ORDER_TRANSITIONS, "invoice", status)
            and any(to_invoice(l) > 0 for l in lines)):
        moves.add("invoice")
    return frozenset(moves)


def shipment_actions(status: str) -> frozenset[str]:
    """The shipment's moves now: ``ship``, ``cancel``."""
    return frozenset(v for v in SHIPMENT_TRANSITIONS if _allowed(SHIPMENT_TRANSITIONS, v, status))


def packing_state(to_ship: int, packed: int) -> str | None:
    """What the warehouse has done with what is still to ship: ``packed``
    (all of it waits in packed shipments), ``partially_packed``, or ``None``
    (nothing packed)."""
    if packed <= 0:
        return None
    return "packed" if packed >= to_ship else "partially_packed"
