"""Races of the after-sales events, threads released together (see
test_races.py): goods receipts filling backorders while other orders are
confirmed short of the same SKU, and a payment reversed while its credit is
being applied. On PostgreSQL these are real row-lock races: orders are locked
before stock rows and payments, always in id order, so none may end in a
deadlock (a 500) or leave stock available while a backorder waits."""
from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import Client, customer, order, product, reconciliation_ok
from tests.services.test_races import Answer, clients, race, stock_of

N = 8


def test_receipts_and_backordered_confirmations_race_without_losing_a_unit(app: Any, admin: Client,
                                                                           keys: dict[str, str]) -> None:
    customer(admin, "C-ROSSI")
    product(admin, "LAMP-01", "40.00", "0.22")  # nothing in stock
    drafts = []
    for _ in range(N // 2):
        r = order(admin, "C-ROSSI", [("LAMP-01", 3)], confirm=False, allow_backorder=True)
        assert r.status_code == 201, r.get_json()
        drafts.append(r.get_json()["id"])
    apis = clients(app, keys["admin"], N)

    def go(i: int) -> Answer:
        if i % 2:
            return Answer(apis[i].post(f"/api/v1/orders/{drafts[i // 2]}/confirm"))
        return Answer(apis[i].post("/api/v1/stock/receipts", {"sku": "LAMP-01", "quantity": 2, "unit_cost": "15.00"}))

    answers = race(N, go)
    assert all(a.status in (200, 201) for a in answers), answers

    # 12 ordered, 8 received: 8 reserved, 4 waiting, none of the 8 left available.
    s = stock_of(admin, "LAMP-01")
    assert (s["on_hand"], s["reserved"], s["available"]) == (8, 8, 0)
    lines = [admin.ok("get", f"/api/v1/orders/{oid}")["lines"][0] for oid in drafts]
    assert sum(l["reserved_quantity"] for l in lines) == 8
    assert sum(l["backordered_quantity"] for l in lines) == 4
    assert all(l["reserved_quantity"] + l["backordered_quantity"] == 3 for l in lines)
    waiting = admin.ok("get", "/api/v1/backorders?sku=LAMP-01")["items"]
    assert sum(i["waiting"] for i in waiting) == 4
    reconciliation_ok(admin)


def test_a_payment_reversed_while_its_credit_is_applied_is_undone_exactly_once(
    app: Any, admin: Client, keys: dict[str, str],
) -> None:
    c = customer(admin, "C-ROSSI")
    product(admin, "MUG-01", "10.00", "0.10", stock=10, cost="4.00")
    o = order(admin, "C-ROSSI", [("MUG-01", 5)]).get_json()  # 55.00
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    invoice_id = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship",
                          {"carrier": "BRT", "tracking_number": "T1"})["invoice_id"]
    p = admin.ok("post", "/api/v1/payments", {
        "customer_id": c["id"], "amount": "30.00", "currency": "EUR", "received_on": dt.date.today().isoformat(),
        "reference": "BANK-1", "allocations": [{"invoice_id": invoice_id, "amount": "20.00"}]}, status=201)
    apis = clients(app, keys["admin"], N)

    def go(i: int) -> Answer:
        if i % 2:
            return Answer(apis[i].post(f"/api/v1/payments/{p['id']}/reverse", {"reason": f"recalled {i}"}))
        return Answer(apis[i].post(f"/api/v1/customers/{c['id']}/credit/apply",
                                   {"invoice_id": invoice_id, "amount": "1.00"}))

    answers = race(N, go)
    assert all(a.status < 500 for a in answers), answers
    reversals = [a for i, a in enumerate(answers) if i % 2]
    assert sorted(a.status for a in reversals) == [200, 409, 409, 409], reversals
    assert {a.code for a in reversals if a.status == 409} == {"invalid_transition"}
    applications = [a for i, a in enumerate(answers) if not i % 2]
    assert all(a.status == 200 or a.code == "conflict" for a in applications), applications

    # Whatever ran before the reversal was undone by it; nothing ran after it.
    inv = admin.ok("get", f"/api/v1/invoices/{invoice_id}")
    assert (inv["amount_paid"], inv["status"]) == ("0.00", "open")
    pay = admin.ok("get", f"/api/v1/payments/{p['id']}")
    assert (pay["status"], pay["allocations"], pay["unapplied"]) == ("reversed", [], "0.00")
    assert admin.ok("get", f"/api/v1/customers/{c['id']}/credit")["credit"] == "0.00"
    reconciliation_ok(admin)
