"""Races with exactly one possible winner, from many threads at once (each
its own API client and connection): the last units of a SKU, one bank line,
one parcel, one order confirmed and cancelled together. Whatever the
interleaving, one request wins, every other gets a clean 409 with the
contract's code (never a 500, a deadlock or a lost update), and the books
reconcile. On PostgreSQL these are real row-lock races (run the suite with
O2C_TEST_DATABASE_URL); on SQLite the writers queue for the write lock."""
from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.conftest import customer, order, product, reconciliation_ok
from tests.services.test_races import Answer, balances, clients, race, ship_one, stock_of

N = 16


def test_sixteen_orders_race_for_the_last_three_units_and_one_gets_them(app, admin, keys):  # type: ignore[no-untyped-def]
    product(admin, "LAST-LAMP", "30.00", stock=3, cost="10.00")
    ids = []
    for i in range(N):
        customer(admin, f"C-LAST-{i}")
        ids.append(order(admin, f"C-LAST-{i}", [("LAST-LAMP", 3)], confirm=False).get_json()["id"])

    racers = clients(app, keys["clerk"], N)
    answers = race(N, lambda i: Answer(racers[i].post(f"/api/v1/orders/{ids[i]}/confirm")))

    assert Counter(a.status for a in answers) == {200: 1, 409: N - 1}, answers
    assert {a.code for a in answers if a.status == 409} == {"out_of_stock"}
    for a in answers:
        if a.status == 409:
            assert a.body["error"]["details"]["lines"] == [{"sku": "LAST-LAMP", "requested": 3, "available": 0}]
    winner = next(i for i, a in enumerate(answers) if a.status == 200)
    lamp = stock_of(admin, "LAST-LAMP")
    assert (lamp["on_hand"], lamp["reserved"], lamp["available"]) == (3, 3, 0)
    statuses = [admin.ok("get", f"/api/v1/orders/{oid}")["status"] for oid in ids]
    assert statuses == ["confirmed" if i == winner else "draft" for i in range(N)]
    reconciliation_ok(admin)


def test_sixteen_new_orders_with_confirm_race_for_the_last_unit(app, admin, keys):  # type: ignore[no-untyped-def]
    """Created and confirmed in one request, from one webshop: one order is
    confirmed; the others are refused whole (no draft left behind)."""
    product(admin, "LAST-CLOCK", "49.90", stock=1, cost="20.00")
    customer(admin, "C-SHOP", channels=["shop-a"])
    racers = clients(app, keys["webshop"], N)
    answers = race(N, lambda i: Answer(racers[i].post("/api/v1/orders", {
        "customer": {"code": "C-SHOP"}, "currency": "EUR", "external_ref": f"WEB-{i}", "confirm": True,
        "lines": [{"sku": "LAST-CLOCK", "quantity": 1}]})))
    assert Counter(a.status for a in answers) == {201: 1, 409: N - 1}, answers
    assert {a.code for a in answers if a.status == 409} == {"out_of_stock"}
    listed = admin.ok("get", "/api/v1/orders?limit=100")["items"]
    assert [o["status"] for o in listed] == ["confirmed"]
    clock = stock_of(admin, "LAST-CLOCK")
    assert (clock["reserved"], clock["available"]) == (1, 0)
    reconciliation_ok(admin)


def test_one_bank_line_recorded_by_sixteen_clerks_is_booked_once(app, admin, keys):  # type: ignore[no-untyped-def]
    c = customer(admin, "C-ROSSI")
    product(admin, "RETRO-CLOCK", "49.90", stock=3, cost="20.00")
    inv = ship_one(admin, order(admin, "C-ROSSI", [("RETRO-CLOCK", 1)]).get_json()["id"])
    invoice = admin.ok("get", f"/api/v1/invoices/{inv['invoice_id']}")
    racers = clients(app, keys["accountant"], N)
    answers = race(N, lambda i: Answer(racers[i].post("/api/v1/payments", {
        "customer_id": c["id"], "amount": "60.88", "currency": "EUR", "received_on": invoice["issue_date"],
        "method": "bank_transfer", "reference": "SEPA-2026-0001",
        "allocations": [{"invoice_id": invoice["id"], "amount": "60.88"}]})))
    assert Counter(a.status for a in answers) == {201: 1, 409: N - 1}, answers
    assert {a.code for a in answers if a.status == 409} == {"conflict"}
    invoice = admin.ok("get", f"/api/v1/invoices/{invoice['id']}")
    assert (invoice["status"], invoice["amount_paid"], invoice["balance_due"]) == ("paid", "60.88", "0.00")
    bal = balances(admin)
    assert (bal["1000"], bal["1100"], bal["2300"]) == ("60.88", "0.00", "0.00")  # in the bank once
    reconciliation_ok(admin)


def test_one_parcel_shipped_by_sixteen_clerks_moves_stock_once(app, admin, keys):  # type: ignore[no-untyped-def]
    customer(admin, "C-ROSSI")
    product(admin, "RETRO-CLOCK", "49.90", stock=5, cost="20.00")
    o = order(admin, "C-ROSSI", [("RETRO-CLOCK", 3)]).get_json()
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)

    racers = clients(app, keys["clerk"], N)
    answers = race(N, lambda i: Answer(racers[i].post(
        f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": f"BRT-{i}"})))
    assert Counter(a.status for a in answers) == {200: 1, 409: N - 1}, answers
    assert all(a.code == "invalid_transition" and a.body["error"]["details"] == {"status": "shipped",
                                                                                 "action": "ship"}
               for a in answers if a.status == 409)
    won = next(a for a in answers if a.status == 200).body
    clock = stock_of(admin, "RETRO-CLOCK")
    assert (clock["on_hand"], clock["reserved"]) == (2, 0)
    o = admin.ok("get", f"/api/v1/orders/{o['id']}")
    assert o["invoice_ids"] == [won["invoice_id"]] and o["lines"][0]["shipped_quantity"] == 3
    assert admin.ok("get", "/api/v1/invoices")["items"][0]["id"] == won["invoice_id"]
    assert len(admin.ok("get", "/api/v1/invoices")["items"]) == 1
    assert balances(admin)["5000"] == "60.00"  # cost of goods sold once
    reconciliation_ok(admin)


def test_eight_confirms_and_eight_cancels_of_one_order(app, admin, keys):  # type: ignore[no-untyped-def]
    """One cancel wins (a cancel is allowed from draft and from confirmed), at
    most one confirm wins (only before the cancel), every other request is a
    clean 409 invalid_transition, and the order ends cancelled holding no
    stock. A few rounds, so both orders of events are seen."""
    product(admin, "RETRO-CLOCK", "49.90", stock=50, cost="20.00")
    customer(admin, "C-ROSSI")
    seen = Counter()
    for round_ in range(4):
        o = order(admin, "C-ROSSI", [("RETRO-CLOCK", 2)], confirm=False).get_json()
        racers = clients(app, keys["clerk"], N)
        verbs = ["confirm" if i % 2 == 0 else "cancel" for i in range(N)]
        answers = race(N, lambda i: Answer(racers[i].post(f"/api/v1/orders/{o['id']}/{verbs[i]}")))
        by_verb = {v: Counter(a.status for a, w in zip(answers, verbs) if w == v) for v in ("confirm", "cancel")}
        assert by_verb["cancel"] == {200: 1, 409: N // 2 - 1}, answers
        assert by_verb["confirm"][200] <= 1 and by_verb["confirm"][200] + by_verb["confirm"][409] == N // 2
        assert {a.code for a in answers if a.status == 409} == {"invalid_transition"}
        assert all(a.status in (200, 409) for a in answers), answers
        seen["confirm first" if by_verb["confirm"][200] else "cancel first"] += 1
        final = admin.ok("get", f"/api/v1/orders/{o['id']}")
        assert final["status"] == "cancelled" and final["lines"][0]["reserved_quantity"] == 0
        assert (stock_of(admin, "RETRO-CLOCK")["reserved"], round_) == (0, round_)
    assert sum(seen.values()) == 4
    reconciliation_ok(admin)


def test_sixteen_cancels_of_one_confirmed_order_release_its_stock_once(app, admin, keys):  # type: ignore[no-untyped-def]
    product(admin, "RETRO-CLOCK", "49.90", stock=4, cost="20.00")
    customer(admin, "C-ROSSI")
    o = order(admin, "C-ROSSI", [("RETRO-CLOCK", 4)]).get_json()
    assert stock_of(admin, "RETRO-CLOCK")["reserved"] == 4
    racers = clients(app, keys["clerk"], N)
    answers = race(N, lambda i: Answer(racers[i].post(f"/api/v1/orders/{o['id']}/cancel")))
    assert Counter(a.status for a in answers) == {200: 1, 409: N - 1}, answers
    assert {a.code for a in answers if a.status == 409} == {"invalid_transition"}
    clock = stock_of(admin, "RETRO-CLOCK")
    assert (clock["on_hand"], clock["reserved"], clock["available"]) == (4, 0, 4)
    reconciliation_ok(admin)
