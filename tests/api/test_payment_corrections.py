"""Payment corrections: a reversal undoes every application of a payment's
money with a new entry; customer credit is applied, released and moved
between invoices, each a balanced entry of its own."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import Client, D, customer, order, product, reconciliation_ok

TODAY = dt.date.today().isoformat()


def invoiced(admin: Client, shop: Client, qty: int) -> dict[str, Any]:
    """An order of ``qty`` mugs at 10.00 + 10 % VAT, shipped and invoiced: 11.00 a mug."""
    r = order(shop, "C-ROSSI", [("MUG-01", qty)])
    assert r.status_code == 201, r.get_json()
    sh = admin.ok("post", f"/api/v1/orders/{r.get_json()['id']}/shipments", {}, status=201)
    sh = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T"})
    return admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")


@pytest.fixture
def books(admin: Client, shop: Client) -> dict[str, Any]:
    c = customer(admin, "C-ROSSI", channels=["shop-a"])
    product(admin, "MUG-01", "10.00", "0.10", stock=20, cost="4.00")
    a = invoiced(admin, shop, 2)   # 22.00
    b = invoiced(admin, shop, 3)   # 33.00
    return {"customer": c, "a": a, "b": b}


def pay(admin: Client, customer_id: int, amount: str, ref: str, allocations: list[dict[str, Any]] | None = None) -> Any:
    body: dict[str, Any] = {"customer_id": customer_id, "amount": amount, "currency": "EUR", "received_on": TODAY,
                            "reference": ref}
    if allocations is not None:
        body["allocations"] = allocations
    return admin.ok("post", "/api/v1/payments", body, status=201)


def balances(admin: Client) -> dict[str, Decimal]:
    tb = admin.ok("get", "/api/v1/ledger/trial-balance")
    return {a["code"]: D(a["debit"]) - D(a["credit"]) for a in tb["accounts"]}


def inv(admin: Client, invoice: dict[str, Any]) -> dict[str, Any]:
    return admin.ok("get", f"/api/v1/invoices/{invoice['id']}")


def test_reversing_a_payment_reopens_its_invoices_and_removes_its_credit(
    admin: Client, books: dict[str, Any], engine: Engine,
) -> None:
    cid = books["customer"]["id"]
    p = pay(admin, cid, "60.00", "BANK-1")  # 22 + 33 paid, 5.00 credit
    order_id = books["a"]["order_id"]
    assert admin.ok("get", f"/api/v1/orders/{order_id}")["status"] == "completed"
    before = balances(admin)

    out = admin.ok("post", f"/api/v1/payments/{p['id']}/reverse", {"reason": "Direct debit returned R01"})

    assert out["status"] == "reversed" and out["reversal_reason"] == "Direct debit returned R01"
    assert out["allocations"] == [] and out["unapplied"] == "0.00" and out["reversed_at"]
    for key in ("a", "b"):
        i = inv(admin, books[key])
        assert (i["status"], i["amount_paid"], i["balance_due"]) == ("open", "0.00", books[key]["total"])
    o = admin.ok("get", f"/api/v1/orders/{order_id}")
    assert (o["status"], o["payment_status"], o["amount_paid"]) == ("confirmed", "unpaid", "0.00")
    after = balances(admin)
    assert after["1000"] - before["1000"] == D("-60.00")
    assert after["1100"] - before["1100"] == D("55.00")
    assert after["2300"] - before["2300"] == D("5.00")  # the 5.00 credit (a credit balance) is gone
    assert after["2300"] == 0
    entries = admin.ok("get", "/api/v1/ledger/entries?account=1000")["items"]
    assert [e["source_type"] for e in entries][-2:] in (["payment", "payment_reversal"], ["payment_reversal", "payment"])
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM events WHERE type = 'payment.reversed'")).scalar_one() == 2
        assert c.execute(text("SELECT count(*) FROM audit_log WHERE action = 'payment.reversed'")).scalar_one() == 1
        # The original allocations stay; their undoing is dated rows of its own.
        rows = c.execute(text("SELECT count(*), sum(amount) FROM payment_allocations WHERE payment_id = :p"),
                         {"p": p["id"]}).one()
    assert (rows[0], int(rows[1])) == (4, 0)
    reconciliation_ok(admin)


def test_a_reversed_payment_cannot_be_reversed_again(admin: Client, books: dict[str, Any]) -> None:
    p = pay(admin, books["customer"]["id"], "10.00", "BANK-1")
    admin.ok("post", f"/api/v1/payments/{p['id']}/reverse", {"reason": "bounced"})
    r = admin.post(f"/api/v1/payments/{p['id']}/reverse", {"reason": "again"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "invalid_transition"
    assert "already reversed" in r.get_json()["error"]["message"]


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": 5}, {"reason": "x" * 501}])
def test_a_reversal_needs_a_reason(admin: Client, books: dict[str, Any], body: dict[str, Any]) -> None:
    p = pay(admin, books["customer"]["id"], "10.00", "BANK-1")
    r = admin.post(f"/api/v1/payments/{p['id']}/reverse", body)
    assert r.status_code == 422 and "reason" in r.get_json()["error"]["details"]["fields"]
    assert admin.ok("get", f"/api/v1/payments/{p['id']}")["status"] == "received"


def test_reversing_an_unknown_payment_is_not_found(admin: Client, books: dict[str, Any]) -> None:
    r = admin.post("/api/v1/payments/999/reverse", {"reason": "x"})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_credit_is_applied_oldest_payment_first(admin: Client, books: dict[str, Any], engine: Engine) -> None:
    cid = books["customer"]["id"]
    p1 = pay(admin, cid, "4.00", "BANK-1", [{"invoice_id": books["a"]["id"], "amount": "1.00"}])  # 3.00 credit
    p2 = pay(admin, cid, "5.00", "BANK-2", [{"invoice_id": books["a"]["id"], "amount": "1.00"}])  # 4.00 credit
    assert admin.ok("get", f"/api/v1/customers/{cid}/credit")["credit"] == "7.00"

    out = admin.ok("post", f"/api/v1/customers/{cid}/credit/apply", {"invoice_id": books["b"]["id"], "amount": "5.00"})

    assert out["credit"] == "2.00"
    assert [(x["payment_id"], x["unapplied"]) for x in out["payments"]] == [(p2["id"], "2.00")]
    assert out["invoices"] == [{"invoice_id": books["b"]["id"], "number": books["b"]["number"],
                                "order_id": books["b"]["order_id"], "status": "partially_paid", "total": "33.00",
                                "amount_paid": "5.00", "balance_due": "28.00", "change": "5.00"}]
    assert admin.ok("get", f"/api/v1/payments/{p1['id']}")["allocations"] == [
        {"invoice_id": books["a"]["id"], "amount": "1.00"}, {"invoice_id": books["b"]["id"], "amount": "3.00"}]
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM journal_entries WHERE source_type = 'credit_application'")
                         ).scalar_one() == 1
    reconciliation_ok(admin)


def test_credit_is_moved_from_one_invoice_to_another(admin: Client, books: dict[str, Any], engine: Engine) -> None:
    cid = books["customer"]["id"]
    p = pay(admin, cid, "22.00", "BANK-1", [{"invoice_id": books["a"]["id"], "amount": "22.00"}])
    assert inv(admin, books["a"])["status"] == "paid"

    out = admin.ok("post", f"/api/v1/customers/{cid}/credit/reallocate",
                   {"from_invoice_id": books["a"]["id"], "to_invoice_id": books["b"]["id"], "amount": "12.00"})

    assert [(i["number"], i["status"], i["balance_due"], i["change"]) for i in out["invoices"]] == [
        (books["a"]["number"], "partially_paid", "12.00", "-12.00"),
        (books["b"]["number"], "partially_paid", "21.00", "12.00")]
    assert out["credit"] == "0.00"
    assert admin.ok("get", f"/api/v1/payments/{p['id']}")["allocations"] == [
        {"invoice_id": books["a"]["id"], "amount": "10.00"}, {"invoice_id": books["b"]["id"], "amount": "12.00"}]
    order_a = admin.ok("get", f"/api/v1/orders/{books['a']['order_id']}")
    assert (order_a["status"], order_a["payment_status"], order_a["amount_paid"]) == (
        "confirmed", "partially_paid", "10.00")
    with engine.connect() as c:
        kinds = c.execute(text("SELECT source_type FROM journal_entries WHERE source_type LIKE 'credit%' "
                               "ORDER BY id")).scalars().all()
        assert kinds == ["credit_release", "credit_application"]
        assert c.execute(text("SELECT count(*) FROM events WHERE type LIKE 'customer_credit.%'")).scalar_one() == 2
    reconciliation_ok(admin)


def test_released_credit_can_be_applied_later_and_the_reversal_undoes_it_too(
    admin: Client, books: dict[str, Any],
) -> None:
    cid = books["customer"]["id"]
    p = pay(admin, cid, "22.00", "BANK-1", [{"invoice_id": books["a"]["id"], "amount": "22.00"}])
    admin.ok("post", f"/api/v1/customers/{cid}/credit/release", {"invoice_id": books["a"]["id"], "amount": "22.00"})
    assert admin.ok("get", f"/api/v1/payments/{p['id']}")["unapplied"] == "22.00"
    admin.ok("post", f"/api/v1/customers/{cid}/credit/apply", {"invoice_id": books["b"]["id"], "amount": "20.00"})

    out = admin.ok("post", f"/api/v1/payments/{p['id']}/reverse", {"reason": "cheque bounced"})
    assert out["allocations"] == [] and out["unapplied"] == "0.00"
    assert inv(admin, books["b"])["amount_paid"] == "0.00"
    assert admin.ok("get", f"/api/v1/customers/{cid}/credit")["credit"] == "0.00"
    assert balances(admin)["1000"] == 0
    reconciliation_ok(admin)


@pytest.mark.parametrize(("path", "body", "status", "words"), [
    ("apply", {"invoice_id": "b", "amount": "5.01"}, 409, "has 5.00 of credit"),
    ("apply", {"invoice_id": "a", "amount": "18.00"}, 409, "17.00 open"),
    ("release", {"invoice_id": "b", "amount": "0.01"}, 409, "Only 0.00"),
    ("release", {"invoice_id": "a", "amount": "5.01"}, 409, "Only 5.00"),
    ("reallocate", {"from_invoice_id": "a", "to_invoice_id": "a", "amount": "1.00"}, 422, "different"),
    ("reallocate", {"from_invoice_id": "a", "to_invoice_id": "b", "amount": "6.00"}, 409, "Only 5.00"),
    ("apply", {"invoice_id": 999, "amount": "1.00"}, 404, "No invoice"),
    ("apply", {"invoice_id": "a", "amount": "0.00"}, 422, "amount"),
    ("apply", {"invoice_id": "a", "amount": 1.5}, 422, "amount"),
    ("apply", {"invoice_id": "a"}, 422, "amount"),
    ("reallocate", {"from_invoice_id": "a", "amount": "1.00"}, 422, "to_invoice_id"),
])
def test_credit_moves_that_cannot_be_done_are_refused_and_change_nothing(
    admin: Client, books: dict[str, Any], path: str, body: dict[str, Any], status: int, words: str,
) -> None:
    cid = books["customer"]["id"]
    pay(admin, cid, "10.00", "BANK-1", [{"invoice_id": books["a"]["id"], "amount": "5.00"}])  # 5.00 credit
    before = balances(admin)
    body = {k: (books[v]["id"] if v in ("a", "b") else v) for k, v in body.items()}
    r = admin.post(f"/api/v1/customers/{cid}/credit/{path}", body)
    assert r.status_code == status, r.get_json()
    assert words in str(r.get_json()["error"]), r.get_json()
    assert balances(admin) == before


def test_another_customers_invoice_is_not_found(admin: Client, books: dict[str, Any]) -> None:
    other = customer(admin, "C-ALTRO")
    pay(admin, other["id"], "10.00", "BANK-9")
    r = admin.post(f"/api/v1/customers/{other['id']}/credit/apply", {"invoice_id": books["a"]["id"], "amount": "1.00"})
    assert r.status_code == 404
    assert admin.get("/api/v1/customers/999/credit").status_code == 404
