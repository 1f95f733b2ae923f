"""How a payment (or customer credit) is spread over open invoices when
nobody says otherwise: oldest first, each invoice up to its balance."""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TypeVar

from o2c.domain.money import ZERO

K = TypeVar("K")


def oldest_first(balances: Iterable[tuple[K, Decimal]], amount: Decimal) -> list[tuple[K, Decimal]]:
    """``(invoice, amount applied)`` for the open ``balances``, given oldest
    first, until ``amount`` is used up; what is left over stays unapplied."""
    plan: list[tuple[K, Decimal]] = []
    left = amount
    for key, balance in balances:
        if left <= ZERO:
            break
        take = min(balance, left)
        if take > ZERO:
            plan.append((key, take))
            left -= take
    return plan
