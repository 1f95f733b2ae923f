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


def these_first(balances: Iterable[tuple[K, Decimal]], amount: Decimal, first: Iterable[K]) -> list[tuple[K, Decimal]]:
    """Like ``oldest_first``, but the invoices in ``first`` (the one a payment
    was started from, or its order's) take the money before any other; the
    rest follow oldest first."""
    wanted = set(first)
    ordered = list(balances)
    return oldest_first([b for b in ordered if b[0] in wanted] + [b for b in ordered if b[0] not in wanted], amount)
