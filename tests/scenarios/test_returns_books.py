"""Returns told as stories, with the exact balance of every account after each step."""
from __future__ import annotations

from typing import Any

from tests.conftest import Client, customer, order, product, reconciliation_ok


def balances(api: Client) -> dict[str, str]:
    tb = api.ok("get", "/api/v1/ledger/trial-balance")
    assert tb["total_debit"] == tb["total_credit"]
    return {a["code"]: a["balance"] for a in tb["accounts"] if a["balance"] not in ("0", "0.00")}


def ship_all(api: Client, order_id: int) -> dict[str, Any]:
    sh = api.ok("post", f"/api/v1/orders/{order_id}/shipments", {}, status=201)
    return api.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": f"T{order_id}"})


def test_widgets_sold_paid_returned_restocked_and_written_off_then_credit_used(admin: Client) -> None:
    c = customer(admin, "C-WIDGET")
    product(admin, "WIDGET", "100.00", "0.22", stock=5, cost="60.00")
    assert balances(admin) == {"1200": "300.00", "2100": "-300.00"}

    o = order(admin, "C-WIDGET", [("WIDGET", 3)]).get_json()
    sh = ship_all(admin, o["id"])
    inv = admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")
    assert (inv["net_total"], inv["vat_total"], inv["total"]) == ("300.00", "66.00", "366.00")
    admin.ok("post", "/api/v1/payments", {
        "customer_id": c["id"], "amount": "366.00", "currency": "EUR", "received_on": inv["issue_date"],
        "method": "bank_transfer", "reference": "BANK-W-1"}, status=201)
    assert balances(admin) == {"1000": "366.00", "1200": "120.00", "2100": "-300.00", "2200": "-66.00",
                               "4000": "-300.00", "5000": "180.00"}

    # One widget back on the shelf, its money back to the bank.
    rma = admin.ok("post", f"/api/v1/orders/{o['id']}/returns",
                   {"lines": [{"sku": "WIDGET", "quantity": 1}], "restock": True, "refund": "bank"}, status=201)
    assert rma["number"].startswith("RMA-") and rma["cost"] == "60.00" and rma["credited_total"] == "122.00"
    cn = admin.ok("get", f"/api/v1/credit-notes/{rma['credit_note_ids'][0]}")
    assert cn["number"].endswith("-000001") and cn["number"].startswith("CN-")
    assert (cn["net_total"], cn["vat_total"], cn["total"]) == ("100.00", "22.00", "122.00")
    assert (cn["invoice_id"], cn["applied"], cn["to_credit"], cn["refunded"]) == (inv["id"], "0.00", "122.00", "122.00")
    assert balances(admin) == {"1000": "244.00", "1200": "180.00", "2100": "-300.00", "2200": "-44.00",
                               "4000": "-200.00", "5000": "120.00"}
    assert admin.ok("get", "/api/v1/stock/WIDGET")["on_hand"] == 3
    inv = admin.ok("get", f"/api/v1/invoices/{inv['id']}")
    assert (inv["status"], inv["amount_paid"], inv["credited_amount"], inv["balance_due"]) == (
        "paid", "244.00", "122.00", "0.00")
    reconciliation_ok(admin)

    # One widget arrives broken: written off, its money kept as customer credit.
    rma2 = admin.ok("post", f"/api/v1/orders/{o['id']}/returns",
                    {"lines": [{"sku": "WIDGET", "quantity": 1}], "restock": False, "refund": "credit"}, status=201)
    cn2 = admin.ok("get", f"/api/v1/credit-notes/{rma2['credit_note_ids'][0]}")
    assert cn2["number"].endswith("-000002") and (cn2["to_credit"], cn2["refunded"]) == ("122.00", "0.00")
    assert balances(admin) == {"1000": "244.00", "1200": "180.00", "2100": "-300.00", "2200": "-22.00",
                               "2300": "-122.00", "4000": "-100.00", "5000": "60.00", "5100": "60.00"}
    assert admin.ok("get", "/api/v1/stock/WIDGET")["on_hand"] == 3
    o = admin.ok("get", f"/api/v1/orders/{o['id']}")
    assert (o["status"], o["fulfillment_status"], o["payment_status"]) == ("completed", "partially_returned", "paid")
    assert [l["returned_quantity"] for l in o["lines"]] == [2]
    reconciliation_ok(admin)

    # The next order is paid from that credit.
    o2 = order(admin, "C-WIDGET", [("WIDGET", 1)]).get_json()
    inv2 = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, o2['id'])['invoice_id']}")
    assert inv2["total"] == "122.00"
    inv2 = admin.ok("post", f"/api/v1/invoices/{inv2['id']}/apply-credit", {})
    assert (inv2["status"], inv2["amount_paid"], inv2["balance_due"]) == ("paid", "122.00", "0.00")
    o2 = admin.ok("get", f"/api/v1/orders/{o2['id']}")
    assert (o2["status"], o2["payment_status"]) == ("completed", "paid")
    assert balances(admin) == {"1000": "244.00", "1200": "120.00", "2100": "-300.00", "2200": "-44.00",
                               "4000": "-200.00", "5000": "120.00", "5100": "60.00"}
    reconciliation_ok(admin)


def test_a_whole_order_returned_and_refunded(admin: Client) -> None:
    c = customer(admin, "C-FULL")
    product(admin, "LAMP", "9.99", "0.22", stock=3, cost="4.00")
    o = order(admin, "C-FULL", [("LAMP", 3)]).get_json()
    inv = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, o['id'])['invoice_id']}")
    # 29.97 at 22 % = 6.5934 → 6.59
    assert (inv["net_total"], inv["vat_total"], inv["total"]) == ("29.97", "6.59", "36.56")
    admin.ok("post", "/api/v1/payments", {
        "customer_id": c["id"], "amount": "36.56", "currency": "EUR", "received_on": inv["issue_date"],
        "method": "bank_transfer", "reference": "BANK-L-1"}, status=201)
    vats = []
    for _ in range(3):  # one lamp at a time: 2.20, 2.20, then exactly what is left, 2.19
        r = admin.ok("post", f"/api/v1/orders/{o['id']}/returns",
                     {"lines": [{"sku": "LAMP", "quantity": 1}], "refund": "bank"}, status=201)
        vats.append(admin.ok("get", f"/api/v1/credit-notes/{r['credit_note_ids'][0]}")["vat_total"])
        reconciliation_ok(admin)
    assert vats == ["2.20", "2.20", "2.19"]
    inv = admin.ok("get", f"/api/v1/invoices/{inv['id']}")
    assert (inv["status"], inv["credited_amount"], inv["amount_paid"]) == ("credited", "36.56", "0.00")
    o = admin.ok("get", f"/api/v1/orders/{o['id']}")
    assert (o["fulfillment_status"], o["payment_status"], o["balance_due"]) == ("returned", "refunded", "0.00")
    assert balances(admin) == {"1200": "12.00", "2100": "-12.00"}
    assert admin.ok("get", "/api/v1/stock/LAMP")["on_hand"] == 3


def test_returning_goods_of_an_unpaid_invoice_reduces_what_is_owed(admin: Client) -> None:
    customer(admin, "C-OPEN")
    product(admin, "CHAIR", "50.00", "0.10", stock=4, cost="20.00")
    o = order(admin, "C-OPEN", [("CHAIR", 4)]).get_json()
    inv = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, o['id'])['invoice_id']}")
    assert inv["total"] == "220.00"
    r = admin.ok("post", f"/api/v1/orders/{o['id']}/returns",
                 {"lines": [{"sku": "CHAIR", "quantity": 1}], "refund": "bank"}, status=201)
    cn = admin.ok("get", f"/api/v1/credit-notes/{r['credit_note_ids'][0]}")
    assert (cn["total"], cn["applied"], cn["to_credit"], cn["refunded"]) == ("55.00", "55.00", "0.00", "0.00")
    inv = admin.ok("get", f"/api/v1/invoices/{inv['id']}")
    assert (inv["status"], inv["balance_due"]) == ("open", "165.00")
    assert balances(admin) == {"1100": "165.00", "1200": "20.00", "2100": "-80.00", "2200": "-15.00",
                               "4000": "-150.00", "5000": "60.00"}
    assert admin.ok("get", f"/api/v1/orders/{o['id']}")["balance_due"] == "165.00"
    reconciliation_ok(admin)


def test_a_paid_order_returned_in_full_for_credit_is_refunded_as_credit(admin: Client) -> None:
    c = customer(admin, "C-CREDIT")
    product(admin, "KETTLE", "40.00", "0.22", stock=2, cost="15.00")
    o = order(admin, "C-CREDIT", [("KETTLE", 2)]).get_json()
    inv = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, o['id'])['invoice_id']}")
    pay = admin.ok("post", "/api/v1/payments", {
        "customer_id": c["id"], "amount": "97.60", "currency": "EUR", "received_on": inv["issue_date"],
        "method": "bank_transfer", "reference": "BANK-K-1"}, status=201)
    admin.ok("post", f"/api/v1/orders/{o['id']}/returns", {"lines": [{"sku": "KETTLE", "quantity": 2}]}, status=201)
    o = admin.ok("get", f"/api/v1/orders/{o['id']}")
    assert (o["fulfillment_status"], o["payment_status"], o["amount_paid"]) == ("returned", "refunded", "0.00")
    pay = admin.ok("get", f"/api/v1/payments/{pay['id']}")
    assert pay["unapplied"] == "97.60"
    # What it paid on the invoice came back (a negative allocation): net, it pays nothing now.
    assert pay["allocations"] == []
    assert balances(admin) == {"1000": "97.60", "1200": "30.00", "2100": "-30.00", "2300": "-97.60"}
    reconciliation_ok(admin)
    # The credit goes back to the bank on request.
    refund = admin.ok("post", "/api/v1/refunds", {"customer_id": c["id"], "amount": "97.60"}, status=201)
    assert refund["sources"] == [{"payment_id": pay["id"], "amount": "97.60"}]
    assert balances(admin) == {"1200": "30.00", "2100": "-30.00"}
    reconciliation_ok(admin)
