"""Documents render from whatever an address row holds."""
from __future__ import annotations

from sqlalchemy import text

from tests.conftest import customer, order, product


def test_an_invoice_renders_for_an_address_stored_without_its_optional_line(admin, engine):  # type: ignore[no-untyped-def]
    c = customer(admin, "C-NOLINE2")
    product(admin, "NOLINE-1", "10.00", stock=5, cost="4.00")
    o = order(admin, "C-NOLINE2", [("NOLINE-1", 1)]).get_json()
    with engine.begin() as conn:  # as a row written before line2 was always present
        conn.execute(text("UPDATE customers SET billing_address = :a WHERE id = :id"),
                     {"a": '{"name": "N", "line1": "Via Po 1", "city": "Torino", "postal_code": "10100", "country": "IT"}',
                      "id": c["id"]})
        conn.execute(text("UPDATE orders SET shipping_address = :a WHERE id = :id"),
                     {"a": '{"name": "N", "line1": "Via Po 1", "city": "Torino", "postal_code": "10100", "country": "IT"}',
                      "id": o["id"]})
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    sh = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    r = admin.get(f"/api/v1/invoices/{sh['invoice_id']}/pdf")
    assert r.status_code == 200 and r.data[:5] == b"%PDF-"
