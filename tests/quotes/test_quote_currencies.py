"""Quotations in the customer's currency: priced as orders are (the price
list's price, else the EUR price at the day's rate), accepted into an order
in the same currency at the quoted prices, invoiced at the invoice day's
rate; the pipeline values every offer in EUR at the rate it was priced at."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from tests.conftest import Client, customer, product, reconciliation_ok
from tests.quotes.helpers import count
from tests.scenarios.test_foreign_currency import D0, D1, day, ship_all, zloty_shop  # noqa: F401

VALID = (D0 + dt.timedelta(days=20)).isoformat()


def wawa_quote(**over: Any) -> dict[str, Any]:
    return {"customer": {"code": "C-WAWA"}, "valid_until": VALID,
            "lines": [{"sku": "RETRO-CLOCK", "quantity": 2}, {"sku": "DESK", "quantity": 1}], **over}


def pipeline_values(api: Client) -> dict[str, str]:
    rep = api.ok("get", "/api/v1/reports/pipeline")
    return {s["status"]: s["value"] for s in rep["by_status"] if s["count"]} | {"open": rep["open_value"]}


def test_a_zloty_quotation_becomes_a_zloty_order_and_invoice_at_the_quoted_prices(
    admin: Client, clerk: Client, day: Any,
) -> None:
    day(D0)
    zloty_shop(admin)
    product(admin, "DESK", "250.00", "0.22", stock=5, cost="100.00")
    customer(admin, "C-ROSSI")

    q = clerk.ok("post", "/api/v1/quotes", wawa_quote(), status=201)
    # The customer's currency; the clock's price list price 199.99, the desk
    # 250.00 EUR × 4.2750 = 1068.75 PLN.
    assert q["currency"] == "PLN"
    assert [(l["sku"], l["unit_price"], l["net"]) for l in q["lines"]] == [
        ("RETRO-CLOCK", "199.99", "399.98"), ("DESK", "1068.75", "1068.75")]
    # 1468.73 at 22 % = 323.1206 → 323.12; at 4.2750 the total is 1791.85 / 4.2750 = 419.1462 → 419.15 EUR
    assert (q["net_total"], q["vat_total"], q["total"]) == ("1468.73", "323.12", "1791.85")
    assert (q["exchange_rate"], q["functional_currency"], q["functional_total"]) == ("4.2750", "EUR", "419.15")
    eur = clerk.ok("post", "/api/v1/quotes", {"customer": {"code": "C-ROSSI"}, "valid_until": VALID,
                                              "lines": [{"sku": "DESK", "quantity": 2}]}, status=201)
    assert (eur["currency"], eur["total"], eur["exchange_rate"], eur["functional_total"]) == (
        "EUR", "610.00", "1.0000", "610.00")
    # Not 1791.85 + 610.00: each offer in EUR at its rate.
    assert pipeline_values(admin) == {"draft": "1029.15", "open": "1029.15"}

    clerk.ok("post", f"/api/v1/quotes/{q['id']}/send")
    # The next day the złoty stands at 4.3010 (the desk would be 1075.25 PLN
    # now); the order keeps the quoted prices.
    day(D1)
    acc = clerk.ok("post", f"/api/v1/quotes/{q['id']}/accept", {"accepted_by": "Jan Kowalski"})
    o = clerk.ok("get", f"/api/v1/orders/{acc['order_id']}")
    assert (o["currency"], o["status"]) == ("PLN", "confirmed")
    assert [(l["sku"], l["unit_price"], l["net"]) for l in o["lines"]] == [
        ("RETRO-CLOCK", "199.99", "399.98"), ("DESK", "1068.75", "1068.75")]
    assert (o["net_total"], o["vat_total"], o["total"]) == ("1468.73", "323.12", "1791.85")
    assert pipeline_values(admin) == {"draft": "610.00", "accepted": "419.15", "open": "610.00"}

    # Invoiced on D1: the invoice freezes 4.3010. 1468.73 / 4.3010 = 341.4857 → 341.49;
    # 323.12 / 4.3010 = 75.1267 → 75.13.
    inv = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, o['id'])['invoice_id']}")
    assert (inv["currency"], inv["exchange_rate"], inv["total"]) == ("PLN", "4.3010", "1791.85")
    assert (inv["functional_net_total"], inv["functional_vat_total"], inv["functional_total"]) == (
        "341.49", "75.13", "416.62")
    reconciliation_ok(admin)


def test_a_draft_may_change_its_currency_a_sent_quotation_keeps_it(admin: Client, clerk: Client, day: Any) -> None:
    day(D0)
    zloty_shop(admin)
    product(admin, "DESK", "250.00", "0.22", stock=5, cost="100.00")
    q = clerk.ok("post", "/api/v1/quotes", wawa_quote(currency="EUR"), status=201)
    assert (q["currency"], q["total"], q["functional_total"]) == ("EUR", "419.68", "419.68")  # 344.00 + 75.68
    # Before it is sent: the kept lines are priced afresh in the new currency.
    q = clerk.ok("patch", f"/api/v1/quotes/{q['id']}", {"currency": "PLN"})
    assert (q["currency"], q["revision"], q["total"], q["exchange_rate"]) == ("PLN", 1, "1791.85", "4.2750")
    # A price sent with the lines is the clerk's, in the quotation's currency.
    q = clerk.ok("patch", f"/api/v1/quotes/{q['id']}", {"lines": [{"sku": "DESK", "quantity": 1,
                                                                   "unit_price": "1000.00"}]})
    assert (q["currency"], q["net_total"], q["total"]) == ("PLN", "1000.00", "1220.00")
    clerk.ok("post", f"/api/v1/quotes/{q['id']}/send")
    r = clerk.patch(f"/api/v1/quotes/{q['id']}", {"currency": "EUR"})
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["details"]["fields"]["currency"] == [
        f"Quotation {q['number']} was sent in PLN: its revisions keep that currency. Cancel it and quote again "
        "in EUR."]
    r2 = clerk.ok("patch", f"/api/v1/quotes/{q['id']}", {"currency": "PLN", "payment_terms_days": 14})
    assert (r2["revision"], r2["currency"], r2["total"]) == (2, "PLN", "1220.00")
    assert clerk.ok("get", f"/api/v1/quotes/{q['id']}/revisions/1")["currency"] == "PLN"


def test_unknown_disabled_and_rateless_currencies_write_no_quotation(
    admin: Client, clerk: Client, engine: Engine, day: Any,
) -> None:
    day(D0)
    zloty_shop(admin)
    for code in ("XYZ", "USD"):
        r = clerk.post("/api/v1/quotes", wawa_quote(currency=code, lines=[{"sku": "RETRO-CLOCK", "quantity": 1}]))
        assert r.status_code == 422 and "currency" in r.get_json()["error"]["details"]["fields"], r.get_json()
    admin.ok("post", "/api/v1/currencies", {"code": "USD", "enabled": True})
    r = clerk.post("/api/v1/quotes", wawa_quote(currency="USD", lines=[{"sku": "RETRO-CLOCK", "quantity": 1}]))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "rate_missing"
    # A price list price needs no rate, but the pipeline does: still 409.
    admin.ok("post", "/api/v1/fx/prices", {"sku": "RETRO-CLOCK", "currency": "USD", "unit_price": "55.00"},
             status=201)
    r = clerk.post("/api/v1/quotes", wawa_quote(currency="USD", lines=[{"sku": "RETRO-CLOCK", "quantity": 1}]))
    assert r.status_code == 409 and r.get_json()["error"]["details"]["currency"] == "USD"
    q = clerk.ok("post", "/api/v1/quotes", wawa_quote(lines=[{"sku": "RETRO-CLOCK", "quantity": 1}]), status=201)
    r = clerk.patch(f"/api/v1/quotes/{q['id']}", {"currency": "USD"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "rate_missing"
    assert clerk.ok("get", f"/api/v1/quotes/{q['id']}")["currency"] == "PLN"
    assert count(engine, "quotes") == 1 and count(engine, "quote_revisions") == 1
    assert count(engine, "audit_log", "action = 'quote.created'") == 1
