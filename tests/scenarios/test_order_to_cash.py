"""One sale told as a story, with exact amounts in every account."""
from __future__ import annotations

from tests.conftest import customer, order, product, reconciliation_ok


def balances(api):  # type: ignore[no-untyped-def]
    tb = api.ok("get", "/api/v1/ledger/trial-balance")
    return {a["code"]: a["balance"] for a in tb["accounts"]}, tb


def test_retro_clock_sale_from_order_to_cash(admin, shop):  # type: ignore[no-untyped-def]
    customer(admin, "C-ROSSI", payment_terms_days=14, channels=["shop-a"])
    product(admin, "RETRO-CLOCK", "49.90", "0.22", stock=10, cost="20.00")
    product(admin, "MUG-01", "8.50", "0.10", stock=5, cost="3.33")

    r = order(shop, "C-ROSSI", [("RETRO-CLOCK", 3), ("MUG-01", 4)], external_ref="shop-a-10042",
              headers={"Idempotency-Key": "k-10042"})
    assert r.status_code == 201, r.get_json()
    o = r.get_json()
    assert o["status"] == "confirmed" and o["channel"] == "shop-a"
    # 3 × 49.90 = 149.70 at 22 % → 32.93; 4 × 8.50 = 34.00 at 10 % → 3.40
    assert (o["net_total"], o["vat_total"], o["total"]) == ("183.70", "36.33", "220.03")
    assert admin.ok("get", "/api/v1/stock/RETRO-CLOCK")["reserved"] == 3

    # Pack and ship part of it: two clocks and all mugs.
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments",
                  {"lines": [{"sku": "RETRO-CLOCK", "quantity": 2}, {"sku": "MUG-01", "quantity": 4}]}, status=201)
    assert sh["status"] == "packed"
    sh = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "BRT123"})
    assert sh["status"] == "shipped" and sh["invoice_id"]
    inv = admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")
    # 2 × 49.90 = 99.80 → VAT 21.96; 34.00 → 3.40
    assert (inv["net_total"], inv["vat_total"], inv["total"]) == ("133.80", "25.36", "159.16")
    assert inv["number"].startswith("INV-") and inv["number"].endswith("-000001")
    o = shop.ok("get", f"/api/v1/orders/{o['id']}")
    assert o["fulfillment_status"] == "partially_shipped"

    bal, tb = balances(admin)
    # Inventory: 10 × 20.00 + 5 × 3.33 = 216.65 received; out 2 × 20.00 + 4 × 3.33 (13.32) = 53.32
    assert bal["1200"] == "163.33"
    assert bal["5000"] == "53.32"
    assert bal["1100"] == "159.16" and bal["4000"] == "-133.80" and bal["2200"] == "-25.36"
    assert tb["total_debit"] == tb["total_credit"]
    reconciliation_ok(admin)

    # The rest ships; then one payment covers both invoices and leaves credit.
    sh2 = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    sh2 = admin.ok("post", f"/api/v1/shipments/{sh2['id']}/ship", {"carrier": "BRT", "tracking_number": "BRT124"})
    inv2 = admin.ok("get", f"/api/v1/invoices/{sh2['invoice_id']}")
    assert inv2["total"] == "60.88"  # 49.90 + 10.98
    pay = admin.ok("post", "/api/v1/payments", {
        "customer_id": o["customer_id"], "amount": "250.00", "currency": "EUR", "received_on": inv2["issue_date"],
        "method": "bank_transfer", "reference": "BANK-0001"}, status=201)
    assert [a["amount"] for a in pay["allocations"]] == ["159.16", "60.88"]
    assert pay["unapplied"] == "29.96"
    o = shop.ok("get", f"/api/v1/orders/{o['id']}")
    assert (o["status"], o["fulfillment_status"], o["payment_status"]) == ("completed", "shipped", "paid")
    assert o["balance_due"] == "0.00"
    bal, _ = balances(admin)
    assert bal["1000"] == "250.00" and bal["1100"] == "0.00" and bal["2300"] == "-29.96"
    reconciliation_ok(admin)
