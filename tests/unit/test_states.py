"""Document states: the transition tables and the statuses derived from facts."""
from __future__ import annotations

from decimal import Decimal

import pytest

from o2c.domain.errors import InvalidTransition
from o2c.domain.states import (
    LineProgress, OrderStatuses, derive_order_statuses, invoice_status, order_transition, shipment_transition,
)

D = Decimal


# -- orders --------------------------------------------------------------------

@pytest.mark.parametrize(("verb", "state", "after"), [
    ("confirm", "draft", "confirmed"),
    ("cancel", "draft", "cancelled"),
    ("cancel", "confirmed", "cancelled"),
    ("complete", "confirmed", "completed"),
    ("pack", "confirmed", "confirmed"),
    ("invoice", "confirmed", "confirmed"),
    ("invoice", "completed", "completed"),
])
def test_allowed_order_moves(verb: str, state: str, after: str) -> None:
    assert order_transition(verb, state, "SO-2026-000001") == after


@pytest.mark.parametrize(("verb", "state"), [
    ("confirm", "confirmed"),
    ("confirm", "cancelled"),
    ("confirm", "completed"),
    ("cancel", "cancelled"),
    ("cancel", "completed"),
    ("complete", "draft"),
    ("complete", "cancelled"),
    ("complete", "completed"),
    ("pack", "draft"),
    ("pack", "cancelled"),
    ("pack", "completed"),
    ("invoice", "draft"),
    ("invoice", "cancelled"),
])
def test_refused_order_moves_name_the_order_and_its_state(verb: str, state: str) -> None:
    with pytest.raises(InvalidTransition) as caught:
        order_transition(verb, state, "SO-2026-000042")
    err = caught.value
    assert err.code == "invalid_transition"
    assert "SO-2026-000042" in err.message and "order" in err.message
    assert f"it is {state}" in err.message
    assert err.details == {"status": state, "action": verb}


def test_a_refused_move_says_where_it_is_allowed_from() -> None:
    with pytest.raises(InvalidTransition, match=r"cancel is allowed from confirmed, draft"):
        order_transition("cancel", "completed", "SO-2026-000007")


def test_an_unknown_verb_is_refused_from_every_state() -> None:
    with pytest.raises(InvalidTransition, match=r"refund is allowed from no state"):
        order_transition("refund", "confirmed", "SO-2026-000007")


# -- shipments -------------------------------------------------------------------

@pytest.mark.parametrize(("verb", "state", "after"), [
    ("ship", "packed", "shipped"),
    ("cancel", "packed", "cancelled"),
])
def test_allowed_shipment_moves(verb: str, state: str, after: str) -> None:
    assert shipment_transition(verb, state, "SH-2026-000001") == after


@pytest.mark.parametrize(("verb", "state"), [
    ("ship", "shipped"),
    ("ship", "cancelled"),
    ("cancel", "shipped"),
    ("cancel", "cancelled"),
])
def test_refused_shipment_moves_name_the_shipment(verb: str, state: str) -> None:
    with pytest.raises(InvalidTransition) as caught:
        shipment_transition(verb, state, "SH-2026-000009")
    assert "shipment SH-2026-000009" in caught.value.message
    assert f"it is {state}" in caught.value.message


# -- derived order statuses ----------------------------------------------------------

def L(quantity: int, shipped: int = 0, invoiced: int = 0, returned: int = 0, cancelled: int = 0) -> LineProgress:
    return LineProgress(quantity, shipped, invoiced, returned, cancelled)


@pytest.mark.parametrize(("lines", "invoiced_total", "paid", "expected"), [
    pytest.param([L(5), L(2)], "0", "0", ("confirmed", "unfulfilled", "unpaid"), id="nothing-happened-yet"),
    pytest.param([L(5, 2, 2), L(2)], "20.00", "0", ("confirmed", "partially_shipped", "unpaid"),
                 id="part-shipped-unpaid"),
    pytest.param([L(5, 2, 2), L(2, 2, 2)], "40.00", "40.00", ("confirmed", "partially_shipped", "partially_paid"),
                 id="what-shipped-is-paid-but-more-to-ship"),
    pytest.param([L(5, 5, 5), L(2, 2, 2)], "70.00", "0", ("confirmed", "shipped", "unpaid"),
                 id="all-shipped-unpaid"),
    pytest.param([L(5, 5, 5), L(2, 2, 2)], "70.00", "69.99", ("confirmed", "shipped", "partially_paid"),
                 id="one-cent-short"),
    pytest.param([L(5, 5, 5), L(2, 2, 2)], "70.00", "70.00", ("completed", "shipped", "paid"),
                 id="shipped-invoiced-paid-completes"),
    pytest.param([L(5, 5, 5)], "70.00", "80.00", ("completed", "shipped", "paid"),
                 id="overpaid-completes"),
    pytest.param([L(5, 5, 0)], "0", "0", ("confirmed", "shipped", "unpaid"),
                 id="shipped-not-invoiced"),
    pytest.param([L(5, 5, 0)], "0", "50.00", ("confirmed", "shipped", "partially_paid"),
                 id="prepaid-not-invoiced-does-not-complete"),
    pytest.param([L(5, 3, 3, cancelled=2)], "30.00", "30.00", ("completed", "shipped", "paid"),
                 id="rest-cancelled-counts-as-done"),
    pytest.param([L(5, 5, 5, returned=2)], "50.00", "0", ("confirmed", "partially_returned", "unpaid"),
                 id="partly-returned"),
    pytest.param([L(5, 5, 5, returned=5)], "50.00", "0", ("confirmed", "returned", "unpaid"),
                 id="all-returned"),
])
def test_statuses_follow_from_quantities_and_money(
    lines: list[LineProgress], invoiced_total: str, paid: str, expected: tuple[str, str, str],
) -> None:
    result = derive_order_statuses("confirmed", lines, D(invoiced_total), D(paid))
    assert result == OrderStatuses(*expected)


@pytest.mark.parametrize("status", ["draft", "cancelled", "completed"])
def test_only_a_confirmed_order_completes_by_itself(status: str) -> None:
    result = derive_order_statuses(status, [L(5, 5, 5)], D("50.00"), D("50.00"))
    assert result.status == status


def test_a_refund_overrides_the_payment_status() -> None:
    result = derive_order_statuses("confirmed", [L(5, 5, 5, returned=5)], D("50.00"), D("50.00"), refunded=True)
    assert result.payment_status == "refunded"
    assert result.status == "confirmed"  # a refunded order is not "paid", so it does not complete


# -- invoices ---------------------------------------------------------------------

@pytest.mark.parametrize(("total", "paid", "credited", "expected"), [
    ("100.00", "0", "0", "open"),
    ("100.00", "0.01", "0", "partially_paid"),
    ("100.00", "99.99", "0", "partially_paid"),
    ("100.00", "100.00", "0", "paid"),
    ("100.00", "60.00", "40.00", "paid"),
    ("100.00", "0", "100.00", "credited"),
    ("100.00", "0", "30.00", "open"),
    ("100.00", "50.00", "30.00", "partially_paid"),
])
def test_invoice_status(total: str, paid: str, credited: str, expected: str) -> None:
    assert invoice_status(D(total), D(paid), D(credited)) == expected
