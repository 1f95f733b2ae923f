"""Real concurrency: threads released together by a barrier, each with its own
API client (its own connection), racing for the last units, one invoice's
balance, the invoice number series, one shipment, one order, one customer's
credit limit.

What must hold whatever the interleaving: nothing oversold, nothing paid
twice, no invoice number skipped or repeated, stock moved once, the credit
limit respected, no request lost to a database deadlock (a 500), and the
books reconcile. On SQLite writers queue for the one write lock; on
PostgreSQL these are real row-lock races."""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import Client, customer, order, product, reconciliation_ok

N = 8


class Answer:
    """What one racer got back: status and JSON body, read inside its thread."""

    def __init__(self, response: Any):
        self.status = response.status_code
        self.body = response.get_json()

    @property
    def code(self) -> str | None:
        return (self.body or {}).get("error", {}).get("code")

    def __repr__(self) -> str:
        return f"<{self.status} {self.body}>"


def race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(0) … fn(n-1)`` in ``n`` threads released at the same moment."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), name=f"racer-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a racer hung (deadlock?)"
    assert not errors, errors
    return results


def clients(app: Any, key: str, n: int) -> list[Client]:
    return [Client(app.test_client(), key) for _ in range(n)]


def stock_of(api: Client, sku: str) -> dict[str, Any]:
    return api.ok("get", f"/api/v1/stock/{sku}")


def balances(api: Client) -> dict[str, str]:
    return {a["code"]: a["balance"] for a in api.ok("get", "/api/v1/ledger/trial-balance")["accounts"]}


def ship_one(api: Client, order_id: int, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    sh = api.ok("post", f"/api/v1/orders/{order_id}/shipments", {"lines": lines} if lines else {}, status=201)
    return api.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": f"T{sh['id']}"})


# -- the last units of one SKU ----------------------------------------------------

def test_eight_confirmations_race_for_the_last_five_retro_clocks(app, admin, keys):  # type: ignore[no-untyped-def]
    product(admin, "RETRO-CLOCK", "49.90", stock=5, cost="20.00")
    product(admin, "GIFT-WRAP", "1.50", "0.22", stock=100, cost="0.30")
    wants = [1, 2, 1, 2, 1, 2, 1, 2]  # 12 clocks wanted, 5 on the shelf
    ids = []
    for i, q in enumerate(wants):
        # One customer each, so the confirmations meet only at the stock row.
        customer(admin, f"C-CLOCK-{i}")
        r = order(admin, f"C-CLOCK-{i}", [("GIFT-WRAP", 1), ("RETRO-CLOCK", q)], confirm=False)
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])

    racers = clients(app, keys["clerk"], N)
    answers = race(N, lambda i: Answer(racers[i].post(f"/api/v1/orders/{ids[i]}/confirm")))

    won = [i for i, a in enumerate(answers) if a.status == 200]
    lost = [i for i, a in enumerate(answers) if a.status != 200]
    assert all(answers[i].status == 409 and answers[i].code == "out_of_stock" for i in lost), answers
    assert won, answers
    clocks_sold = sum(wants[i] for i in won)
    assert clocks_sold <= 5
    # Every loser was refused because what was left could not cover it.
    assert all(wants[i] > 5 - clocks_sold for i in lost), (wants, won)
    for i in lost:
        line = answers[i].body["error"]["details"]["lines"]
        assert line[0]["sku"] == "RETRO-CLOCK" and line[0]["requested"] == wants[i]

    clock = stock_of(admin, "RETRO-CLOCK")
    assert (clock["on_hand"], clock["reserved"]) == (5, clocks_sold)
    # All or nothing: a refused order reserved no gift wrap either.
    assert stock_of(admin, "GIFT-WRAP")["reserved"] == len(won)
    for i, oid in enumerate(ids):
        o = admin.ok("get", f"/api/v1/orders/{oid}")
        assert o["status"] == ("confirmed" if i in won else "draft")
        assert [l["reserved_quantity"] for l in o["lines"]] == ([1, wants[i]] if i in won else [0, 0])
    reconciliation_ok(admin)


# -- one invoice, many payments -----------------------------------------------------

@pytest.fixture
def one_open_invoice(admin):  # type: ignore[no-untyped-def]
    """C-ROSSI owes 60.88 on one invoice (a 49.90 clock at 22 %)."""
    customer(admin, "C-ROSSI")
    product(admin, "RETRO-CLOCK", "49.90", stock=3, cost="20.00")
    o = order(admin, "C-ROSSI", [("RETRO-CLOCK", 1)]).get_json()
    sh = ship_one(admin, o["id"])
    inv = admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")
    assert (inv["total"], inv["balance_due"]) == ("60.88", "60.88")
    return inv


def test_payments_racing_to_settle_one_invoice_explicitly_apply_once(app, admin, keys, one_open_invoice):  # type: ignore[no-untyped-def]
    inv = one_open_invoice
    racers = clients(app, keys["accountant"], N)

    def pay(i: int) -> Answer:
        return Answer(racers[i].post("/api/v1/payments", {
            "customer_id": inv["customer_id"], "amount": "60.88", "currency": "EUR",
            "received_on": inv["issue_date"], "method": "bank_transfer", "reference": f"BANK-RACE-{i}",
            "allocations": [{"invoice_id": inv["id"], "amount": "60.88"}]}))

    answers = race(N, pay)
    assert Counter(a.status for a in answers) == {201: 1, 409: N - 1}, answers
    assert {a.code for a in answers if a.status == 409} == {"conflict"}
    loser = next(a for a in answers if a.status == 409)
    assert loser.body["error"]["details"]["allocations"][0]["balance_due"] == "0.00"
    winner = next(a for a in answers if a.status == 201).body
    assert winner["allocations"] == [{"invoice_id": inv["id"], "amount": "60.88"}] and winner["unapplied"] == "0.00"

    inv = admin.ok("get", f"/api/v1/invoices/{inv['id']}")
    assert (inv["status"], inv["amount_paid"], inv["balance_due"]) == ("paid", "60.88", "0.00")
    bal = balances(admin)
    # One bank line booked, not eight: the refused payments left nothing behind.
    assert (bal["1000"], bal["1100"], bal["2300"]) == ("60.88", "0.00", "0.00")
    o = admin.ok("get", f"/api/v1/orders/{inv['order_id']}")
    assert (o["amount_paid"], o["payment_status"]) == ("60.88", "paid")
    reconciliation_ok(admin)


def test_payments_racing_without_allocations_pay_once_and_the_rest_is_credit(app, admin, keys, one_open_invoice):  # type: ignore[no-untyped-def]
    inv = one_open_invoice
    racers = clients(app, keys["accountant"], N)

    def pay(i: int) -> Answer:
        return Answer(racers[i].post("/api/v1/payments", {
            "customer_id": inv["customer_id"], "amount": "60.88", "currency": "EUR",
            "received_on": inv["issue_date"], "method": "bank_transfer", "reference": f"BANK-AUTO-{i}"}))

    answers = race(N, pay)
    assert all(a.status == 201 for a in answers), answers
    applied = [a.body for a in answers if a.body["allocations"]]
    credit = [a.body for a in answers if not a.body["allocations"]]
    assert len(applied) == 1, answers
    assert applied[0]["allocations"] == [{"invoice_id": inv["id"], "amount": "60.88"}]
    assert applied[0]["unapplied"] == "0.00"
    assert [p["unapplied"] for p in credit] == ["60.88"] * (N - 1)

    inv = admin.ok("get", f"/api/v1/invoices/{inv['id']}")
    assert (inv["status"], inv["amount_paid"]) == ("paid", "60.88")
    bal = balances(admin)
    assert bal["1000"] == str(Decimal("60.88") * N)  # 487.04 in the bank
    assert bal["1100"] == "0.00"
    assert bal["2300"] == str(-Decimal("60.88") * (N - 1))  # -426.16 owed back as credit
    reconciliation_ok(admin)


# -- the invoice number series ----------------------------------------------------------

def test_concurrent_shipments_take_invoice_numbers_one_to_n_without_gaps(app, admin, keys):  # type: ignore[no-untyped-def]
    ids = []
    for i in range(N):
        # Different customers and SKUs: the shipments meet only at the number series.
        customer(admin, f"C-LAMP-{i}")
        product(admin, f"DESK-LAMP-{i}", "24.99", "0.22", stock=2, cost="9.00")
        o = order(admin, f"C-LAMP-{i}", [(f"DESK-LAMP-{i}", 2)]).get_json()
        ids.append(admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)["id"])

    racers = clients(app, keys["clerk"], N)
    answers = race(N, lambda i: Answer(racers[i].post(
        f"/api/v1/shipments/{ids[i]}/ship", {"carrier": "GLS", "tracking_number": f"GLS-{i}"})))
    assert all(a.status == 200 for a in answers), answers

    invoices = [admin.ok("get", f"/api/v1/invoices/{a.body['invoice_id']}") for a in answers]
    year = invoices[0]["issue_date"][:4]
    assert sorted(i["number"] for i in invoices) == [f"INV-{year}-{n:06d}" for n in range(1, N + 1)]
    assert all(i["total"] == "60.98" for i in invoices)  # 2 × 24.99 = 49.98 + 11.00 VAT
    for i, a in enumerate(answers):
        assert invoices[i]["shipment_id"] == ids[i]
    # The next number after the race is N + 1.
    customer(admin, "C-LATE")
    product(admin, "LATE-LAMP", "24.99", stock=1)
    late = ship_one(admin, order(admin, "C-LATE", [("LATE-LAMP", 1)]).get_json()["id"])
    assert admin.ok("get", f"/api/v1/invoices/{late['invoice_id']}")["number"] == f"INV-{year}-{N + 1:06d}"
    reconciliation_ok(admin)


# -- one shipment, two shippers ------------------------------------------------------------

def test_two_clerks_ship_the_same_parcel_and_stock_moves_once(app, admin, keys):  # type: ignore[no-untyped-def]
    customer(admin, "C-ROSSI")
    product(admin, "RETRO-CLOCK", "49.90", stock=5, cost="20.00")
    o = order(admin, "C-ROSSI", [("RETRO-CLOCK", 3)]).get_json()
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)

    racers = clients(app, keys["clerk"], 2)
    answers = race(2, lambda i: Answer(racers[i].post(
        f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": f"BRT-{i}"})))
    assert sorted(a.status for a in answers) == [200, 409], answers
    won = next(a for a in answers if a.status == 200).body
    lost = next(a for a in answers if a.status == 409)
    assert lost.code == "invalid_transition"
    assert lost.body["error"]["details"] == {"status": "shipped", "action": "ship"}

    shipment = admin.ok("get", f"/api/v1/shipments/{sh['id']}")
    assert shipment["status"] == "shipped" and shipment["tracking_number"] == won["tracking_number"]
    clock = stock_of(admin, "RETRO-CLOCK")
    assert (clock["on_hand"], clock["reserved"]) == (2, 0)
    o = admin.ok("get", f"/api/v1/orders/{o['id']}")
    assert o["lines"][0]["shipped_quantity"] == 3 and o["invoice_ids"] == [won["invoice_id"]]
    bal = balances(admin)
    assert bal["5000"] == "60.00"  # 3 × 20.00, once
    assert bal["1100"] == "182.63"  # 149.70 + 32.93, one invoice
    reconciliation_ok(admin)


# -- confirm and cancel at once ---------------------------------------------------------------

def test_confirm_and_cancel_of_one_order_serialise_cleanly(app, admin, keys):  # type: ignore[no-untyped-def]
    """Whichever comes first, the result is one of the two serial histories:
    cancel first → the confirmation is refused (409 invalid_transition);
    confirm first → the cancel is allowed from confirmed and releases the
    reservation. Never a cancelled order still holding stock, never a
    confirmed order without it. Run a few rounds to see both orders."""
    product(admin, "RETRO-CLOCK", "49.90", stock=50, cost="20.00")
    customer(admin, "C-ROSSI")
    outcomes = Counter()
    for round_ in range(6):
        o = order(admin, "C-ROSSI", [("RETRO-CLOCK", 2)], confirm=False).get_json()
        racers = clients(app, keys["clerk"], 2)
        verbs = ["confirm", "cancel"]
        confirm, cancel = race(2, lambda i: Answer(racers[i].post(f"/api/v1/orders/{o['id']}/{verbs[i]}")))
        assert cancel.status == 200, cancel
        if confirm.status == 200:
            # Confirmed first: the reply shows it confirmed, then the cancel released it.
            assert confirm.body["status"] == "confirmed"
            assert confirm.body["lines"][0]["reserved_quantity"] == 2
            outcomes["confirm first"] += 1
        else:
            assert (confirm.status, confirm.code) == (409, "invalid_transition"), confirm
            assert confirm.body["error"]["details"] == {"status": "cancelled", "action": "confirm"}
            outcomes["cancel first"] += 1
        assert cancel.body["status"] == "cancelled"
        assert cancel.body["lines"][0]["reserved_quantity"] == 0
        final = admin.ok("get", f"/api/v1/orders/{o['id']}")
        assert final["status"] == "cancelled" and final["lines"][0]["reserved_quantity"] == 0
        clock = stock_of(admin, "RETRO-CLOCK")
        assert (clock["on_hand"], clock["reserved"]) == (50, 0), (round_, outcomes)
    assert sum(outcomes.values()) == 6
    reconciliation_ok(admin)


def test_confirm_racing_cancel_of_a_confirmed_order_never_double_releases(app, admin, keys):  # type: ignore[no-untyped-def]
    """A confirmed order is cancelled twice at once while another order for the
    same SKU confirms: the reservation is released once, not twice."""
    product(admin, "RETRO-CLOCK", "49.90", stock=4, cost="20.00")
    customer(admin, "C-ROSSI")
    customer(admin, "C-BIANCHI")
    first = order(admin, "C-ROSSI", [("RETRO-CLOCK", 3)]).get_json()
    second = order(admin, "C-BIANCHI", [("RETRO-CLOCK", 4)], confirm=False).get_json()
    assert stock_of(admin, "RETRO-CLOCK")["reserved"] == 3

    racers = clients(app, keys["clerk"], 3)
    paths = [f"/api/v1/orders/{first['id']}/cancel", f"/api/v1/orders/{first['id']}/cancel",
             f"/api/v1/orders/{second['id']}/confirm"]
    a, b, c = race(3, lambda i: Answer(racers[i].post(paths[i])))
    assert sorted([a.status, b.status]) == [200, 409], (a, b)
    assert {a.code, b.code} == {None, "invalid_transition"}
    clock = stock_of(admin, "RETRO-CLOCK")
    if c.status == 200:
        # The second order got all four once the first let go of its three.
        assert (clock["on_hand"], clock["reserved"]) == (4, 4)
    else:
        assert (c.status, c.code) == (409, "out_of_stock"), c
        assert (clock["on_hand"], clock["reserved"]) == (4, 0)
    reconciliation_ok(admin)


# -- one customer, one credit limit ------------------------------------------------------------

def test_credit_limit_admits_the_orders_that_fit(admin):  # type: ignore[no-untyped-def]
    """The sequential baseline for the race below: a 200.00 limit holds three
    60.88 orders (182.64) and refuses the fourth (243.52)."""
    customer(admin, "C-BIANCHI", credit_limit="200.00")
    product(admin, "RETRO-CLOCK", "49.90", stock=10, cost="20.00")
    ids = [order(admin, "C-BIANCHI", [("RETRO-CLOCK", 1)], confirm=False).get_json()["id"] for _ in range(4)]
    answers = [admin.post(f"/api/v1/orders/{i}/confirm") for i in ids]
    assert [r.status_code for r in answers] == [200, 200, 200, 409], [r.get_json() for r in answers]
    err = answers[3].get_json()["error"]
    assert err["code"] == "credit_limit_exceeded"
    assert err["details"] == {"credit_limit": "200.00", "exposure": "182.64", "order_total": "60.88"}


def test_credit_limit_counts_an_order_created_and_confirmed_in_one_step_once(admin):  # type: ignore[no-untyped-def]
    """The same with ``"confirm": true``: the order being confirmed is the
    amount added to the exposure, not also part of it."""
    customer(admin, "C-BIANCHI", credit_limit="200.00")
    product(admin, "RETRO-CLOCK", "49.90", stock=10, cost="20.00")
    answers = [order(admin, "C-BIANCHI", [("RETRO-CLOCK", 1)]) for _ in range(4)]
    assert [r.status_code for r in answers] == [201, 201, 201, 409], [r.get_json() for r in answers]
    err = answers[3].get_json()["error"]
    assert err["code"] == "credit_limit_exceeded"
    assert err["details"] == {"credit_limit": "200.00", "exposure": "182.64", "order_total": "60.88"}
    assert len(admin.ok("get", "/api/v1/orders")["items"]) == 3


def test_confirmations_racing_against_one_credit_limit_fill_it_exactly(app, admin, keys):  # type: ignore[no-untyped-def]
    customer(admin, "C-BIANCHI", credit_limit="200.00")
    product(admin, "RETRO-CLOCK", "49.90", stock=20, cost="20.00")
    ids = [order(admin, "C-BIANCHI", [("RETRO-CLOCK", 1)], confirm=False).get_json()["id"] for _ in range(N)]
    racers = clients(app, keys["clerk"], N)
    answers = race(N, lambda i: Answer(racers[i].post(f"/api/v1/orders/{ids[i]}/confirm")))
    # 3 × 60.88 = 182.64 fits under 200.00; a fourth would not.
    assert Counter((a.status, a.code) for a in answers) == {(200, None): 3, (409, "credit_limit_exceeded"): N - 3}, answers
    assert stock_of(admin, "RETRO-CLOCK")["reserved"] == 3
    reconciliation_ok(admin)


def test_webshop_orders_from_one_customer_with_a_credit_limit_confirm_concurrently(app, admin, keys):  # type: ignore[no-untyped-def]
    """Eight create-and-confirm requests for the same (guest) customer at once,
    well within stock and credit: every one must be accepted. Nothing about
    them conflicts, so a 500 (a database deadlock) is a bug."""
    customer(admin, "C-GUEST", credit_limit="1000000.00", channels=["shop-a"])
    product(admin, "RETRO-CLOCK", "49.90", stock=50, cost="20.00")
    racers = clients(app, keys["webshop"], N)
    answers = race(N, lambda i: Answer(order(racers[i], "C-GUEST", [("RETRO-CLOCK", 1)], external_ref=f"web-{i}")))
    assert [a.status for a in answers] == [201] * N, answers
    assert stock_of(admin, "RETRO-CLOCK")["reserved"] == N
    reconciliation_ok(admin)


def test_shipping_for_a_customer_while_confirming_its_next_order_does_not_deadlock(app, engine, admin, keys):  # type: ignore[no-untyped-def]
    """Rossi (with a credit limit) has one order packed and a second one being
    confirmed while the first ships. The two transactions are steered into the
    interleaving that matters: the shipment holds the stock row when the
    confirmation takes its credit check lock on the customer, then each goes on
    to the other's row. Both must succeed."""
    from sqlalchemy import event

    customer(admin, "C-ROSSI", credit_limit="1000000.00")
    product(admin, "RETRO-CLOCK", "49.90", stock=10, cost="20.00")
    first = order(admin, "C-ROSSI", [("RETRO-CLOCK", 2)]).get_json()
    sh = admin.ok("post", f"/api/v1/orders/{first['id']}/shipments", {}, status=201)
    second = order(admin, "C-ROSSI", [("RETRO-CLOCK", 3)], confirm=False).get_json()

    stock_locked, customer_checked = threading.Event(), threading.Event()
    reached: list[str] = []

    def steer(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        me = threading.current_thread().name
        sql = statement.lstrip().upper()
        if me == "shipper" and sql.startswith("INSERT INTO INVOICES ") and "shipper" not in reached:
            reached.append("shipper")  # stock rows locked and moved; now the invoice for Rossi
            stock_locked.set()
            customer_checked.wait(timeout=1.5)
        elif me == "confirmer" and sql.startswith("UPDATE STOCK ") and "confirmer" not in reached:
            reached.append("confirmer")  # credit checked; now the reservation
            customer_checked.set()
            stock_locked.wait(timeout=1.5)

    results: dict[str, Answer] = {}
    errors: list[BaseException] = []
    shipper, confirmer = clients(app, keys["clerk"], 2)

    def run(name: str, call: Callable[[], Any]) -> None:
        try:
            results[name] = Answer(call())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [
        threading.Thread(name="shipper", target=run, args=("shipper", lambda: shipper.post(
            f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "BRT-1"}))),
        threading.Thread(name="confirmer", target=run, args=("confirmer", lambda: confirmer.post(
            f"/api/v1/orders/{second['id']}/confirm"))),
    ]
    event.listen(engine, "before_cursor_execute", steer)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        event.remove(engine, "before_cursor_execute", steer)
    assert not errors and not any(t.is_alive() for t in threads), errors
    assert sorted(reached) == ["confirmer", "shipper"], reached
    assert results["shipper"].status == 200, results
    assert results["confirmer"].status == 200, results
    clock = stock_of(admin, "RETRO-CLOCK")
    assert (clock["on_hand"], clock["reserved"]) == (8, 3)
    reconciliation_ok(admin)


# -- credit notes: their own gapless series ------------------------------------------------

def test_concurrent_returns_take_credit_note_numbers_one_to_n_without_gaps(app, admin, keys):  # type: ignore[no-untyped-def]
    orders_ = []
    for i in range(N):
        # Different customers and SKUs: the returns meet only at the credit note series.
        customer(admin, f"C-VASE-{i}")
        product(admin, f"VASE-{i}", "19.90", "0.22", stock=3, cost="7.00")
        o = order(admin, f"C-VASE-{i}", [(f"VASE-{i}", 3)]).get_json()
        ship_one(admin, o["id"])
        orders_.append(o["id"])

    racers = clients(app, keys["clerk"], N)
    answers = race(N, lambda i: Answer(racers[i].post(
        f"/api/v1/orders/{orders_[i]}/returns", {"lines": [{"sku": f"VASE-{i}", "quantity": 2}], "refund": "credit"})))
    assert all(a.status == 201 for a in answers), answers

    notes = [admin.ok("get", f"/api/v1/credit-notes/{a.body['credit_note_ids'][0]}") for a in answers]
    year = notes[0]["issue_date"][:4]
    assert sorted(n["number"] for n in notes) == [f"CN-{year}-{k:06d}" for k in range(1, N + 1)]
    assert all(n["total"] == "48.56" for n in notes)  # 2 × 19.90 = 39.80 + 8.76 VAT
    # The invoice series is untouched by credit notes, and the next credit note is N + 1.
    late = admin.ok("post", f"/api/v1/orders/{orders_[0]}/returns", {"lines": [{"sku": "VASE-0", "quantity": 1}]},
                    status=201)
    assert admin.ok("get", f"/api/v1/credit-notes/{late['credit_note_ids'][0]}")["number"] == f"CN-{year}-{N + 1:06d}"
    rep = reconciliation_ok(admin)
    assert {c["name"] for c in rep["checks"]} >= {f"numbering_INV_{year}", f"numbering_CN_{year}"}
