"""Quotations in the customer's currency: priced as orders are (the price
list's price, else the EUR price at the day's rate), accepted into an order
in the same currency at the quoted prices, invoiced at the invoice day's
rate; the pipeline values every offer in EUR at the rate it was priced at."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import text as text_sql

from o2c.config import Config
from o2c.services.platform import outbox
from tests.conftest import Client, customer, product, reconciliation_ok
from tests.quotes.helpers import count
from tests.web.conftest import Web, clerk_web, people  # noqa: F401  (fixtures)
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


def pdf_words(data: bytes) -> str:
    """The PDF's text, its white space (the locale's no-break spaces too) as single spaces."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True,  # noqa: S603,S607
                         check=True).stdout.decode()
    return " ".join(out.split())


def test_the_proposal_and_its_mail_state_zloty_in_polish(
    admin: Client, clerk: Client, engine: Engine, day: Any, tmp_path: Path,
) -> None:
    day(D0)
    zloty_shop(admin)
    product(admin, "DESK", "250.00", "0.22", stock=5, cost="100.00")
    customer(admin, "C-KRAKOW", name="Zegary Kraków sp. z o.o.", currency="PLN", language="pl")
    q = clerk.ok("post", "/api/v1/quotes", wawa_quote(customer={"code": "C-KRAKOW"}), status=201)
    assert (q["currency"], q["total"]) == ("PLN", "1791.85")
    sent = clerk.ok("post", f"/api/v1/quotes/{q['id']}/send")
    text = pdf_words(clerk.get(f"/api/v1/quotes/{q['id']}/pdf").data)
    # Babel's Polish: a no-break space between thousands, a decimal comma, “zł”.
    assert "1 068,75" in text and "399,98" in text and "Kwoty w PLN" in text
    assert "1 791,85 zł" in text and "323,12 zł" in text and "€" not in text

    with engine.connect() as c:
        mid = c.execute(text_sql("SELECT id FROM messages WHERE kind = 'quotation'")).scalar_one()
    assert outbox.deliver(engine, Config(DATABASE_URL="", MAIL_URL="", OUTBOX_DIR=str(tmp_path)), mid) is None
    [path] = tmp_path.glob("*.eml")
    body = email.message_from_bytes(path.read_bytes(), policy=email.policy.default).get_body(("plain",))
    plain = " ".join(body.get_content().split())
    assert f"{q['number']} na kwotę 1 791,85 zł" in plain and sent["acceptance_url"] in plain


def test_the_back_office_form_and_page_in_the_quotations_currency(
    admin: Client, clerk: Client, clerk_web: Web, day: Any,  # noqa: F811
) -> None:
    day(D0)
    zloty_shop(admin)
    product(admin, "DESK", "250.00", "0.22", stock=5, cost="100.00")
    customer(admin, "C-ROSSI")
    form = {"customer.code": "C-ROSSI", "currency": "pln", "valid_until": VALID,
            "lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "2", "lines.1.sku": "DESK", "lines.1.quantity": "1"}
    r = clerk_web.post("/quotes/new", {**form, "form_token": clerk_web.form_token("/quotes/new")})
    assert r.status_code == 303, r.text
    q = clerk.ok("get", "/api/v1/quotes")["items"][0]
    assert (q["currency"], q["total"], q["functional_total"]) == ("PLN", "1791.85", "419.15")
    page = clerk_web.get(f"/quotes/{q['id']}").text
    assert "priced at 4.2750 PLN per 1 EUR: 419.15 EUR in the pipeline" in page
    assert "1,068.75 PLN" in page and "1,791.85 PLN" in page
    # Back to euro before it is sent: the prices shown in złoty are dropped, the lines priced in EUR.
    edit = f"/quotes/{q['id']}/edit"
    shown = clerk_web.get(edit).text
    assert 'name="currency"' in shown and 'value="PLN"' in shown
    r = clerk_web.post(edit, {**form, "currency": "EUR", "lines.0.unit_price": "199.99",
                              "lines.1.unit_price": "1068.75", "form_token": clerk_web.form_token(edit)})
    assert r.status_code == 303, r.text
    q = clerk.ok("get", f"/api/v1/quotes/{q['id']}")
    assert (q["currency"], q["total"]) == ("EUR", "419.68")
    r = clerk_web.post(edit, {**form, "currency": "XYZ", "form_token": clerk_web.form_token(edit)})
    assert r.status_code == 422 and "is not an ISO 4217 currency code" in r.text
    assert "Values in EUR" in clerk_web.get("/quotes/pipeline").text
