"""Trattoria Verdi orders five desk lamps when only two are on the shelf.

The story, every figure worked out by hand (lamps at 40.00, 22 % VAT):

1. 2 lamps received at 15.00 (inventory 30.00).
2. SO-1 for 5 lamps, backorders allowed: 2 reserved, 3 backordered;
   244.00 (200.00 + 44.00 VAT). 2 ship: COGS 30.00, INV-1 97.60.
3. 4 lamps received at 18.00 (72.00): the receipt reserves 3 for SO-1.
4. The customer cancels 1 of the 3 still open: SO-1 is now 4 lamps, 195.20.
5. 2 more ship from stock at 18.00: COGS 36.00, INV-2 97.60.
6. A bank transfer of 200.00 pays both invoices and leaves 4.80 credit;
   SO-1 completes.
7. SO-2, 1 lamp: COGS 18.00, INV-3 48.80; the 4.80 credit is applied to it.
8. The transfer is recalled by the bank: reversed. INV-1, INV-2 and INV-3
   are owed in full again (244.00), the credit is gone, SO-1 is open again.
9. A new transfer of 244.00 pays everything.

Trial balance at the end: 1000 Bank 244.00 Dr; 1100 Receivables 0.00;
1200 Inventory 18.00 Dr (one lamp at 18.00); 2100 GR clearing 102.00 Cr;
2200 VAT 44.00 Cr; 2300 Customer credit 0.00; 4000 Revenue 200.00 Cr;
5000 COGS 84.00 Dr (30 + 36 + 18). Balances: debits = credits = 346.00.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from tests.conftest import Client, customer, product, reconciliation_ok

TODAY = dt.date.today().isoformat()


def ship_all(api: Client, order_id: int) -> dict[str, Any]:
    sh = api.ok("post", f"/api/v1/orders/{order_id}/shipments", {}, status=201)
    sh = api.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": f"T{sh['id']}"})
    return api.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")


def accounts(api: Client) -> dict[str, tuple[str, str]]:
    tb = api.ok("get", "/api/v1/ledger/trial-balance")
    assert tb["total_debit"] == tb["total_credit"]
    return {a["code"]: (a["debit"], a["credit"]) for a in tb["accounts"]}


def net(api: Client) -> dict[str, Decimal]:
    return {code: Decimal(d) - Decimal(c) for code, (d, c) in accounts(api).items()}


def test_a_backorder_a_cancellation_and_a_recalled_payment(admin: Client) -> None:
    c = customer(admin, "C-VERDI", name="Trattoria Verdi")
    product(admin, "DESK-LAMP", "40.00", "0.22", stock=2, cost="15.00")

    so1 = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-VERDI"}, "lines": [
        {"sku": "DESK-LAMP", "quantity": 5}], "allow_backorder": True, "confirm": True}, status=201)
    assert (so1["total"], so1["lines"][0]["reserved_quantity"], so1["lines"][0]["backordered_quantity"]) == (
        "244.00", 2, 3)
    inv1 = ship_all(admin, so1["id"])
    assert (inv1["net_total"], inv1["vat_total"], inv1["total"]) == ("80.00", "17.60", "97.60")
    assert net(admin)["5000"] == Decimal("30.00") and net(admin)["1200"] == Decimal("0.00")

    receipt = admin.ok("post", "/api/v1/stock/receipts", {"sku": "DESK-LAMP", "quantity": 4, "unit_cost": "18.00"},
                       status=201)
    assert [(f["order_id"], f["quantity"], f["still_backordered"]) for f in receipt["backorders_filled"]] == [
        (so1["id"], 3, 0)]
    assert (receipt["stock"]["on_hand"], receipt["stock"]["reserved"], receipt["stock"]["available"]) == (4, 3, 1)

    so1 = admin.ok("post", f"/api/v1/orders/{so1['id']}/cancel", {"lines": [{"sku": "DESK-LAMP", "quantity": 1}]})
    assert (so1["net_total"], so1["vat_total"], so1["total"]) == ("160.00", "35.20", "195.20")
    assert admin.ok("get", "/api/v1/stock/DESK-LAMP")["reserved"] == 2

    inv2 = ship_all(admin, so1["id"])
    assert inv2["total"] == "97.60"
    assert net(admin)["5000"] == Decimal("66.00") and net(admin)["1200"] == Decimal("36.00")

    p1 = admin.ok("post", "/api/v1/payments", {"customer_id": c["id"], "amount": "200.00", "currency": "EUR",
                                               "received_on": TODAY, "reference": "SEPA-VERDI-1"}, status=201)
    assert (p1["unapplied"], [a["amount"] for a in p1["allocations"]]) == ("4.80", ["97.60", "97.60"])
    so1 = admin.ok("get", f"/api/v1/orders/{so1['id']}")
    assert (so1["status"], so1["fulfillment_status"], so1["payment_status"]) == ("completed", "shipped", "paid")

    so2 = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-VERDI"}, "lines": [
        {"sku": "DESK-LAMP", "quantity": 1}], "confirm": True}, status=201)
    inv3 = ship_all(admin, so2["id"])
    assert inv3["total"] == "48.80"
    credit = admin.ok("post", f"/api/v1/customers/{c['id']}/credit/apply", {"invoice_id": inv3["id"], "amount": "4.80"})
    assert credit["credit"] == "0.00" and credit["invoices"][0]["balance_due"] == "44.00"
    before_reversal = accounts(admin)
    assert before_reversal["1000"] == ("200.00", "0.00")
    assert before_reversal["1100"] == ("244.00", "200.00")  # 44.00 open on INV-3
    assert before_reversal["2300"] == ("4.80", "4.80")
    reconciliation_ok(admin)

    reversed_ = admin.ok("post", f"/api/v1/payments/{p1['id']}/reverse", {"reason": "Recalled by the bank"})
    assert (reversed_["status"], reversed_["allocations"], reversed_["unapplied"]) == ("reversed", [], "0.00")
    for i in (inv1, inv2, inv3):
        again = admin.ok("get", f"/api/v1/invoices/{i['id']}")
        assert (again["status"], again["balance_due"]) == ("open", i["total"])
    so1 = admin.ok("get", f"/api/v1/orders/{so1['id']}")
    assert (so1["status"], so1["payment_status"], so1["balance_due"]) == ("confirmed", "unpaid", "195.20")
    assert accounts(admin)["1000"] == ("200.00", "200.00")
    assert accounts(admin)["1100"] == ("444.00", "200.00")  # 244.00 owed again
    reconciliation_ok(admin)

    admin.ok("post", "/api/v1/payments", {"customer_id": c["id"], "amount": "244.00", "currency": "EUR",
                                          "received_on": TODAY, "reference": "SEPA-VERDI-2"}, status=201)
    for o in (so1, so2):
        assert admin.ok("get", f"/api/v1/orders/{o['id']}")["status"] == "completed"

    final = net(admin)
    assert {k: final[k] for k in ("1000", "1100", "1200", "2100", "2200", "2300", "4000", "5000")} == {
        "1000": Decimal("244.00"), "1100": Decimal("0.00"), "1200": Decimal("18.00"),
        "2100": Decimal("-102.00"), "2200": Decimal("-44.00"), "2300": Decimal("0.00"),
        "4000": Decimal("-200.00"), "5000": Decimal("84.00"),
    }
    assert all(v == 0 for k, v in final.items() if k not in ("1000", "1200", "2100", "2200", "4000", "5000"))
    # Every debit posted: receipts 30 + 72, COGS 30 + 36 + 18, invoices 97.60 + 97.60 + 48.80,
    # payments 200 + 244, credit applied 4.80, reversal 200 (receivables) = 1078.80.
    tb = admin.ok("get", "/api/v1/ledger/trial-balance")
    assert tb["total_debit"] == tb["total_credit"] == "1078.80"
    stock = admin.ok("get", "/api/v1/stock/DESK-LAMP")
    assert (stock["on_hand"], stock["reserved"], stock["value"]) == (1, 0, "18.00")
    entries = admin.ok("get", "/api/v1/ledger/entries?limit=100")["items"]
    reversal = [e for e in entries if e["source_type"] == "payment_reversal"]
    assert len(reversal) == 1 and sorted((l["account"], l["debit"], l["credit"]) for l in reversal[0]["lines"]) == [
        ("1000", "0.00", "200.00"), ("1100", "200.00", "0.00")]
    reconciliation_ok(admin)
