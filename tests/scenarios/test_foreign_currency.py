"""Selling in the customer's currency, told as stories with the exact amount
in every account: the document in PLN (or JPY), the books in EUR, the
exchange differences where they arise."""
from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from o2c.services.platform import clock
from tests.conftest import Client, customer, product, reconciliation_ok

D0, D1, D2 = dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)


@pytest.fixture
def day(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set the service's day: ``day(D1)``."""
    def set_day(d: dt.date) -> None:
        monkeypatch.setattr(clock, "now", lambda: dt.datetime.combine(d, dt.time(10), dt.timezone.utc))
    yield set_day


def balances(api: Client) -> dict[str, str]:
    tb = api.ok("get", "/api/v1/ledger/trial-balance")
    assert tb["total_debit"] == tb["total_credit"]
    return {a["code"]: a["balance"] for a in tb["accounts"] if a["balance"] not in ("0", "0.00")}


def enable(admin: Client, code: str, rates: dict[dt.date, str]) -> None:
    admin.ok("post", "/api/v1/currencies", {"code": code, "enabled": True})
    for d, rate in rates.items():
        admin.ok("post", "/api/v1/fx/rates", {"currency": code, "date": d.isoformat(), "rate": rate}, status=201)


def ship_all(api: Client, order_id: int) -> dict[str, Any]:
    sh = api.ok("post", f"/api/v1/orders/{order_id}/shipments", {}, status=201)
    return api.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": f"T{order_id}"})


def pay(api: Client, customer_id: int, amount: str, currency: str, on: dt.date, ref: str) -> dict[str, Any]:
    return api.ok("post", "/api/v1/payments", {"customer_id": customer_id, "amount": amount, "currency": currency,
                                               "received_on": on.isoformat(), "method": "bank_transfer",
                                               "reference": ref}, status=201)


def zloty_shop(admin: Client) -> dict[str, Any]:
    """PLN at 4.2750, 4.3010 and 4.2580 on D0, D1, D2; a Warsaw customer in
    PLN; a clock at 47.00 EUR priced 199.99 PLN by the price list."""
    enable(admin, "PLN", {D0: "4.2750", D1: "4.3010", D2: "4.2580"})
    c = customer(admin, "C-WAWA", currency="PLN")
    product(admin, "RETRO-CLOCK", "47.00", "0.22", stock=10, cost="20.00")
    admin.ok("post", "/api/v1/fx/prices", {"sku": "RETRO-CLOCK", "currency": "PLN", "unit_price": "199.99"},
             status=201)
    return c

def test_a_pln_invoice_paid_in_two_parts_at_other_rates_with_a_credit_note_in_between(admin: Client, day: Any) -> None:
    day(D0)
    c = zloty_shop(admin)

    # The customer's currency by default; the price list's price.
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-WAWA"}, "confirm": True,
                                            "lines": [{"sku": "RETRO-CLOCK", "quantity": 4}]}, status=201)
    assert o["currency"] == "PLN" and o["lines"][0]["unit_price"] == "199.99"
    # 4 × 199.99 = 799.96 at 22 % → 175.9912 → 175.99
    assert (o["net_total"], o["vat_total"], o["total"]) == ("799.96", "175.99", "975.95")

    inv = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, o['id'])['invoice_id']}")
    # At 4.2750: 799.96 → 187.1251 → 187.13; 175.99 → 41.1673 → 41.17
    assert (inv["currency"], inv["exchange_rate"], inv["functional_currency"]) == ("PLN", "4.2750", "EUR")
    assert (inv["functional_net_total"], inv["functional_vat_total"], inv["functional_total"]) == (
        "187.13", "41.17", "228.30")
    assert inv["vat"][0]["functional_net"] == "187.13" and inv["vat"][0]["functional_vat"] == "41.17"
    used = {r["date"]: r["used"] for r in admin.ok("get", "/api/v1/fx/rates?currency=PLN")["items"]}
    assert used == {D0.isoformat(): True, D1.isoformat(): False, D2.isoformat(): False}  # frozen by the invoice
    assert balances(admin) == {"1100": "228.30", "1200": "120.00", "2100": "-200.00", "2200": "-41.17",
                               "4000": "-187.13", "5000": "80.00"}
    entry = admin.ok("get", f"/api/v1/ledger/entries?source_type=invoice")["items"][0]
    assert {(l["account"], l["currency"], l["amount"]) for l in entry["lines"]} == {
        ("1100", "PLN", "975.95"), ("4000", "PLN", "-799.96"), ("2200", "PLN", "-175.99")}
    reconciliation_ok(admin)

    # 400.00 PLN at 4.3010 is worth 93.00; it settles 400.00 of 975.95 of a
    # receivable booked at 228.30: 93.57. The zloty fell: 0.57 lost.
    day(D1)
    p1 = pay(admin, c["id"], "400.00", "PLN", D1, "PKO-1")
    assert p1["allocations"] == [{"invoice_id": inv["id"], "amount": "400.00"}]
    assert balances(admin) == {"1000": "93.00", "1100": "134.73", "1200": "120.00", "2100": "-200.00",
                               "2200": "-41.17", "4000": "-187.13", "5000": "80.00", "6900": "0.57"}
    reconciliation_ok(admin)

    # One clock back: 199.99 + 44.00 VAT = 243.99 PLN, at the invoice's rate
    # 46.78 + 10.29 = 57.07; it settles 243.99 more of the invoice, whose
    # settled value goes from 93.57 to 150.65 (57.08): one cent of rounding.
    rma = admin.ok("post", f"/api/v1/orders/{o['id']}/returns",
                   {"lines": [{"sku": "RETRO-CLOCK", "quantity": 1}], "restock": True, "refund": "credit"}, status=201)
    cn = admin.ok("get", f"/api/v1/credit-notes/{rma['credit_note_ids'][0]}")
    assert (cn["currency"], cn["exchange_rate"], cn["total"], cn["applied"]) == ("PLN", "4.2750", "243.99", "243.99")
    assert (cn["functional_net_total"], cn["functional_vat_total"], cn["functional_total"]) == (
        "46.78", "10.29", "57.07")
    assert balances(admin) == {"1000": "93.00", "1100": "77.65", "1200": "140.00", "2100": "-200.00",
                               "2200": "-30.88", "4000": "-140.35", "5000": "60.00", "6900": "0.58"}
    reconciliation_ok(admin)

    # The rest, 331.96 PLN at 4.2580: 77.96 for the 77.65 still booked. 0.31 gained.
    day(D2)
    pay(admin, c["id"], "331.96", "PLN", D2, "PKO-2")
    assert admin.ok("get", f"/api/v1/invoices/{inv['id']}")["status"] == "paid"
    assert balances(admin) == {"1000": "170.96", "1200": "140.00", "2100": "-200.00", "2200": "-30.88",
                               "4000": "-140.35", "4900": "-0.31", "5000": "60.00", "6900": "0.58"}
    rep = reconciliation_ok(admin)
    pln = {ch["name"]: ch for ch in rep["checks"] if ch["details"].get("currency") == "PLN"}
    assert set(pln) == {"receivables_PLN", "customer_credit_PLN"}
    assert pln["receivables_PLN"]["left"] == "0.00" and pln["receivables_PLN"]["details"]["gl_amount"] == "0.00"


def test_yen_have_no_decimals(admin: Client, day: Any) -> None:
    day(D0)
    enable(admin, "JPY", {D0: "163.45"})
    c = customer(admin, "C-TOKYO", currency="JPY")
    product(admin, "MOKA-3", "24.90", "0.22", stock=5, cost="10.00")
    # No price list: 24.90 × 163.45 = 4069.905 → 4070 yen.
    assert admin.ok("get", "/api/v1/fx/prices/MOKA-3?currency=JPY")["unit_price"] in ("4070", "4070.00")
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-TOKYO"}, "confirm": True,
                                            "lines": [{"sku": "MOKA-3", "quantity": 3}]}, status=201)
    # 12210 at 22 % = 2686.2 → 2686 yen, written without decimals
    assert (o["net_total"], o["vat_total"], o["total"]) == ("12210", "2686", "14896")
    assert [(l["unit_price"], l["net"]) for l in o["lines"]] == [("4070", "12210")]
    r = admin.post("/api/v1/orders", {"customer": {"code": "C-TOKYO"},
                                      "lines": [{"sku": "MOKA-3", "quantity": 1, "unit_price": "4070.50"}]})
    assert r.status_code == 422 and "unit_price" in str(r.get_json()["error"]["details"])
    inv = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, o['id'])['invoice_id']}")
    # 12210 / 163.45 = 74.7017 → 74.70; 2686 / 163.45 = 16.4332 → 16.43
    assert (inv["functional_net_total"], inv["functional_vat_total"], inv["functional_total"]) == (
        "74.70", "16.43", "91.13")
    assert (inv["net_total"], inv["vat_total"], inv["total"], inv["balance_due"]) == ("12210", "2686", "14896", "14896")
    assert [(l["unit_price"], l["net"]) for l in inv["lines"]] == [("4070", "12210")]
    assert [(v["net"], v["vat"], v["functional_net"], v["functional_vat"]) for v in inv["vat"]] == [
        ("12210", "2686", "74.70", "16.43")]
    # The PDF in the customer's Italian: yen without decimals (line columns too), euro with cents.
    pdf = admin.get(f"/api/v1/invoices/{inv['id']}/pdf")
    assert pdf.status_code == 200
    words = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf.data, capture_output=True,  # noqa: S603,S607
                           check=True).stdout.decode().split()
    text = " ".join(words)
    assert "3 pz 4.070 22% 12.210 Importi in JPY" in text
    assert "Totale da pagare 14.896 JPY" in text and "Totale 91,13 €" in text
    assert "74,70 € 16,43 €" in text and ",00 JPY" not in text
    r = admin.post("/api/v1/payments", {"customer_id": c["id"], "amount": "100.50", "currency": "JPY",
                                        "received_on": D0.isoformat(), "reference": "JP-0"})
    assert r.status_code == 422
    paid = pay(admin, c["id"], "14896", "JPY", D0, "JP-1")
    assert (paid["amount"], paid["unapplied"], paid["allocations"]) == (
        "14896", "0", [{"invoice_id": inv["id"], "amount": "14896"}])
    assert balances(admin)["1000"] == "91.13" and "1100" not in balances(admin)
    reconciliation_ok(admin)


def test_money_in_one_currency_does_not_pay_an_invoice_in_another(admin: Client, day: Any) -> None:
    day(D0)
    enable(admin, "PLN", {D0: "4.2750"})
    c = customer(admin, "C-WAWA", currency="PLN")
    product(admin, "RETRO-CLOCK", "47.00", "0.22", stock=10, cost="20.00")
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-WAWA"}, "confirm": True,
                                            "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}]}, status=201)
    # No price list: 47.00 × 4.2750 = 200.925 → 200.93 PLN
    assert o["lines"][0]["unit_price"] == "200.93"
    inv = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, o['id'])['invoice_id']}")
    before = balances(admin)
    r = admin.post("/api/v1/payments", {"customer_id": c["id"], "amount": "50.00", "currency": "EUR",
                                        "received_on": D0.isoformat(), "reference": "EUR-1",
                                        "allocations": [{"invoice_id": inv["id"], "amount": "50.00"}]})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "currency_mismatch"
    assert balances(admin) == before
    # Unallocated, a EUR payment leaves the PLN invoice alone: customer credit in EUR.
    p = pay(admin, c["id"], "50.00", "EUR", D0, "EUR-2")
    assert p["allocations"] == [] and p["unapplied"] == "50.00"
    # More PLN than owed: the rest is credit in PLN, at the day's rate.
    pay(admin, c["id"], "300.00", "PLN", D0, "PKO-9")
    rep = reconciliation_ok(admin)
    credit = {ch["name"]: ch for ch in rep["checks"]}["customer_credit_PLN"]
    assert credit["details"]["books_amount"] == "54.87"  # 300.00 − (200.93 + 44.20)


def test_unknown_disabled_and_rateless_currencies_are_refused_and_nothing_is_written(admin: Client) -> None:
    customer(admin, "C-WAWA")
    product(admin, "RETRO-CLOCK", "47.00", "0.22", stock=10, cost="20.00")
    body = {"customer": {"code": "C-WAWA"}, "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}]}
    for code, status in (("XYZ", 422), ("USD", 422)):
        r = admin.post("/api/v1/orders", {**body, "currency": code})
        assert r.status_code == status and "currency" in r.get_json()["error"]["details"]["fields"], r.get_json()
    admin.ok("post", "/api/v1/currencies", {"code": "USD", "enabled": True})
    r = admin.post("/api/v1/orders", {**body, "currency": "USD"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "rate_missing"
    r = admin.post("/api/v1/tax/preview", {**body, "currency": "USD"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "rate_missing"
    assert admin.ok("get", "/api/v1/orders")["items"] == []


def test_the_invoice_of_an_italian_seller_states_its_vat_in_euro_too(admin: Client, engine: Any, day: Any) -> None:
    from o2c.documents.context import credit_note_document, invoice_document
    from o2c.documents.html import document_html
    day(D0)
    enable(admin, "PLN", {D0: "4.2750"})
    customer(admin, "C-WAWA", currency="PLN", language="pl")
    product(admin, "RETRO-CLOCK", "47.00", "0.22", stock=10, cost="20.00")
    admin.ok("post", "/api/v1/fx/prices", {"sku": "RETRO-CLOCK", "currency": "PLN", "unit_price": "199.99"},
             status=201)
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-WAWA"}, "confirm": True,
                                            "lines": [{"sku": "RETRO-CLOCK", "quantity": 4}]}, status=201)
    iid = ship_all(admin, o["id"])["invoice_id"]
    rma = admin.ok("post", f"/api/v1/orders/{o['id']}/returns",
                   {"lines": [{"sku": "RETRO-CLOCK", "quantity": 1}], "refund": "credit"}, status=201)
    with engine.connect() as conn:
        inv, cn = invoice_document(conn, iid), credit_note_document(conn, rma["credit_note_ids"][0])
    html = document_html(inv)
    assert "VAT w EUR po kursie 4,2750 PLN za 1 EUR" in html
    assert "187,13" in html and "41,17" in html and "228,30" in html  # the functional figures, Polish style
    assert (cn["functional"]["net_total"], cn["functional"]["vat_total"]) == (Decimal("46.78"), Decimal("10.29"))
    assert "10,29" in document_html(cn)
    assert admin.get(f"/api/v1/invoices/{iid}/pdf").status_code == 200
    ubl = admin.get(f"/api/v1/invoices/{iid}/ubl").data  # BT-6 and BT-111: the VAT in EUR as booked
    assert b"<cbc:TaxCurrencyCode>EUR</cbc:TaxCurrencyCode>" in ubl
    assert b'<cbc:TaxAmount currencyID="EUR">41.17</cbc:TaxAmount>' in ubl


def test_a_paid_zloty_invoice_credited_and_refunded_at_the_days_rate(admin: Client, day: Any) -> None:
    """A credit note on a paid invoice gives the money back to the payment as
    credit (at the payment's rate), and the refund pays it out at today's."""
    day(D0)
    c = zloty_shop(admin)
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-WAWA"}, "confirm": True,
                                            "lines": [{"sku": "RETRO-CLOCK", "quantity": 2}]}, status=201)
    ship_all(admin, o["id"])  # 399.98 + 88.00 = 487.98 PLN at 4.2750: 93.56 + 20.58 = 114.14
    day(D1)
    pay(admin, c["id"], "487.98", "PLN", D1, "PKO-1")  # 113.46 at 4.3010: 0.68 lost
    assert balances(admin)["6900"] == "0.68"
    day(D2)
    admin.ok("post", f"/api/v1/orders/{o['id']}/returns",
             {"lines": [{"sku": "RETRO-CLOCK", "quantity": 1}], "refund": "bank"}, status=201)
    reconciliation_ok(admin)
    # The note: 243.99 PLN, 46.78 + 10.29 = 57.07 at the invoice's rate; back to
    # the payment as credit worth 243.99 / 487.98 of its 113.46 = 56.73 (0.34
    # gained); paid out at 4.2580: 57.30 (0.57 lost).
    b = balances(admin)
    assert (b["1000"], b["2200"], b["4000"], b["4900"], b["6900"]) == ("56.16", "-10.29", "-46.78", "-0.34", "1.25")
    assert "1100" not in b and "2300" not in b


def test_zloty_credit_released_applied_and_the_payment_reversed_leave_no_exchange_difference(
        admin: Client, day: Any) -> None:
    day(D0)
    enable(admin, "PLN", {D0: "4.2750", D1: "4.3010"})
    c = customer(admin, "C-WAWA", currency="PLN")
    product(admin, "RETRO-CLOCK", "47.00", "0.22", stock=10, cost="20.00")
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-WAWA"}, "confirm": True,
                                            "lines": [{"sku": "RETRO-CLOCK", "quantity": 2}]}, status=201)
    inv = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, o['id'])['invoice_id']}")
    booked = balances(admin)["1100"]
    day(D1)
    p = pay(admin, c["id"], "300.00", "PLN", D1, "PKO-1")
    credit = f"/api/v1/customers/{c['id']}/credit"
    admin.ok("post", credit + "/release", {"invoice_id": inv["id"], "amount": "100.00"})
    reconciliation_ok(admin)
    admin.ok("post", credit + "/apply", {"invoice_id": inv["id"], "amount": "60.00"})
    reconciliation_ok(admin)
    admin.ok("post", f"/api/v1/payments/{p['id']}/reverse", {"reason": "returned by the bank"})
    reconciliation_ok(admin)
    b = balances(admin)
    assert b["1100"] == booked and "1000" not in b and "2300" not in b
    # Every difference realised along the way is taken back with the money.
    assert Decimal(b.get("4900", "0")) + Decimal(b.get("6900", "0")) == 0
    assert admin.ok("get", f"/api/v1/invoices/{inv['id']}")["balance_due"] == inv["total"]
