"""Payments, invoices, customers, products, stock and the accountant's
pages through the back office's forms."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select, update

from o2c.db import models as m
from o2c.domain.access import SYSTEM
from o2c.services.billing import invoicing
from o2c.services.cash import payments
from o2c.services.customers import records
from o2c.services.fulfilment import stock
from o2c.services.platform import clock
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import catalog
from tests.web.conftest import Web, add_customer, add_order, flashes, pack_and_ship


def invoice_of(engine: Engine, lines: list[tuple[str, int]]) -> dict[str, Any]:
    o = add_order(engine, "C-ROSSI", lines)
    sh = pack_and_ship(engine, o["id"])
    with unit_of_work(engine, "test", readonly=True) as tx:
        return invoicing.get_invoice(tx, sh["invoice_id"], SYSTEM)


def balances(engine: Engine) -> list[Decimal]:
    with unit_of_work(engine, "test", readonly=True) as tx:
        items, _ = invoicing.list_invoices(tx, SYSTEM, limit=50)
    return [i["balance_due"] for i in sorted(items, key=lambda i: i["id"])]


# -- payments ------------------------------------------------------------------------

def test_the_payment_form_suggests_the_oldest_invoices_first(engine: Engine, shop: Any, clerk_web: Web) -> None:
    old = invoice_of(engine, [("RETRO-CLOCK", 1)])   # 48.80
    new = invoice_of(engine, [("DESK-LAMP", 2)])     # 55.00
    page = clerk_web.get("/payments/new?customer=C-ROSSI&amount=60.00").text
    assert re.search(r'name="allocations\.0\.amount" value="48\.80"', page)
    assert re.search(r'name="allocations\.1\.amount" value="11\.20"', page)
    assert old["number"] in page and new["number"] in page
    assert page.index(old["number"]) < page.index(new["number"])


def test_recording_a_payment_with_an_edited_allocation_keeps_the_rest_as_credit(
        engine: Engine, shop: Any, clerk_web: Web) -> None:
    invoice_of(engine, [("RETRO-CLOCK", 1)])
    second = invoice_of(engine, [("DESK-LAMP", 2)])
    token = clerk_web.form_token("/payments/new?customer=C-ROSSI")
    body = {"form_token": token, "action": "save", "customer.code": "C-ROSSI", "customer_shown": "C-ROSSI",
            "amount": "100.00", "received_on": clock.now().date().isoformat(), "method": "bank_transfer",
            "reference": "SEPA-ROSSI-1", "allocations.0.invoice_id": "1", "allocations.0.amount": "",
            "allocations.1.invoice_id": str(second["id"]), "allocations.1.amount": "55.00"}
    r = clerk_web.post("/payments/new", body)
    assert r.status_code == 303
    page = clerk_web.get(r.headers["Location"]).text
    assert "recorded; 45.00 kept as customer credit" in flashes(page)
    assert balances(engine) == [Decimal("48.80"), Decimal("0.00")]
    assert clerk_web.post("/payments/new", body).headers["Location"] == r.headers["Location"]  # double submit
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(m.Payment.__table__)).scalar_one() == 1
    shown = clerk_web.get("/payments/new?customer=C-ROSSI").text
    assert "45.00 EUR</strong> of unapplied credit" in shown


def test_payment_refusals_are_explained(engine: Engine, shop: Any, clerk_web: Web) -> None:
    inv = invoice_of(engine, [("RETRO-CLOCK", 1)])
    base = {"action": "save", "customer.code": "C-ROSSI", "customer_shown": "C-ROSSI", "amount": "100.00",
            "received_on": clock.now().date().isoformat(), "method": "bank_transfer", "reference": "SEPA-1",
            "allocations.0.invoice_id": str(inv["id"]), "allocations.0.amount": "60.00"}
    over = clerk_web.post("/payments/new", {**base, "form_token": "pay-token-1"})
    assert over.status_code == 422
    assert f"{inv['number']}: 60.00 requested, balance due 48.80" in flashes(over.text)
    assert 'value="SEPA-1"' in over.text
    bad = clerk_web.post("/payments/new", {**base, "form_token": "pay-token-2", "amount": "abc",
                                           "allocations.0.amount": "-5"})
    assert bad.status_code == 422
    assert "Amount" in flashes(bad.text) or "amount" in flashes(bad.text)
    assert "Must be greater than zero" in bad.text
    ok = clerk_web.post("/payments/new", {**base, "form_token": "pay-token-3", "allocations.0.amount": "48.80"})
    assert ok.status_code == 303
    twice = clerk_web.post("/payments/new", {**base, "form_token": "pay-token-4", "allocations.0.amount": ""})
    assert twice.status_code == 422 and "already recorded as payment PAY-" in flashes(twice.text)
    unknown = clerk_web.post("/payments/new", {**base, "form_token": "pay-token-5", "customer.code": "C-NOBODY"})
    assert unknown.status_code == 422 and "Pick a customer by code." in unknown.text


def test_an_accountant_records_a_payment_too(engine: Engine, shop: Any, accountant_web: Web) -> None:
    inv = invoice_of(engine, [("RETRO-CLOCK", 1)])
    page = accountant_web.get(f"/invoices/{inv['id']}").text
    assert "Record payment" in page
    body = {"form_token": "acc-pay-1", "action": "save", "customer.code": "C-ROSSI", "customer_shown": "C-ROSSI",
            "amount": "48.80", "received_on": clock.now().date().isoformat(), "method": "card",
            "reference": "PSP-1", "allocations.0.invoice_id": str(inv["id"]), "allocations.0.amount": "48.80"}
    assert accountant_web.post("/payments/new", body).status_code == 303
    assert balances(engine) == [Decimal("0.00")]
    html = accountant_web.get(f"/invoices/{inv['id']}").text
    assert "badge-paid" in html and "PSP-1" in html


def test_the_invoices_list_filters_by_status_and_overdue(engine: Engine, shop: Any, clerk_web: Web) -> None:
    a = invoice_of(engine, [("RETRO-CLOCK", 1)])
    b = invoice_of(engine, [("DESK-LAMP", 1)])
    with engine.begin() as c:
        c.execute(update(m.Invoice.__table__).where(m.Invoice.__table__.c.id == a["id"])
                  .values(due_date=clock.now().date().replace(year=2000)))
    overdue = clerk_web.get("/invoices?overdue=1").text
    assert a["number"] in overdue and b["number"] not in overdue and "d overdue" in overdue
    assert b["number"] in clerk_web.get("/invoices?status=open").text
    assert "No invoices match" in clerk_web.get("/invoices?status=paid").text
    assert a["number"] in clerk_web.get(f"/invoices?q={a['number']}").text


def test_the_invoice_page_shows_lines_vat_and_downloads_the_pdf(engine: Engine, shop: Any, clerk_web: Web) -> None:
    inv = invoice_of(engine, [("RETRO-CLOCK", 2), ("DESK-LAMP", 1)])
    html = clerk_web.get(f"/invoices/{inv['id']}").text
    assert "RETRO-CLOCK" in html and "22 %" in html and "10 %" in html and "125.10 EUR" in html
    assert "Download PDF" in html
    r = clerk_web.get(f"/invoices/{inv['id']}/pdf")
    assert r.status_code == 200 and r.data[:5] == b"%PDF-"
    assert f'filename="{inv["number"]}.pdf"' in r.headers["Content-Disposition"]
    assert clerk_web.get("/invoices/999999/pdf").status_code == 404


# -- customers, products, stock --------------------------------------------------------

CUSTOMER = {"code": "C-NEW", "name": "Nuova Drogheria", "email": "info@drogheria.example", "country": "it",
            "language": "it", "payment_terms_days": "45", "credit_limit": "2,500.00", "currency": "EUR",
            "billing_address.line1": "Corso Buenos Aires 10", "billing_address.postal_code": "20124",
            "billing_address.city": "Milano"}


def test_create_and_edit_a_customer(engine: Engine, clerk_web: Web) -> None:
    r = clerk_web.post("/customers/new", {**CUSTOMER, "form_token": "cust-1"})
    assert r.status_code == 303
    cid = int(r.headers["Location"].rsplit("/", 1)[1])
    with unit_of_work(engine, "test", readonly=True) as tx:
        c = records.get_customer(tx, cid)
    assert c["credit_limit"] == Decimal("2500.00") and c["billing_address"]["name"] == "Nuova Drogheria"
    assert c["billing_address"]["country"] == "IT" and c["shipping_address"] is None
    form = clerk_web.get(f"/customers/{cid}/edit").text
    assert 'value="Corso Buenos Aires 10"' in form
    r = clerk_web.post(f"/customers/{cid}/edit", {**CUSTOMER, "form_token": "cust-2", "payment_terms_days": "60",
                                                  "credit_limit": ""})
    assert r.status_code == 303
    with unit_of_work(engine, "test", readonly=True) as tx:
        c = records.get_customer(tx, cid)
    assert c["payment_terms_days"] == 60 and c["credit_limit"] is None
    page = clerk_web.get(f"/customers/{cid}").text
    assert "no credit limit" in page and "New order" in page


def test_customer_errors_are_shown_next_to_the_fields(engine: Engine, clerk_web: Web) -> None:
    r = clerk_web.post("/customers/new", {**CUSTOMER, "form_token": "cust-3", "country": "Italy",
                                          "billing_address.city": "", "credit_limit": "lots"})
    assert r.status_code == 422
    assert "ISO 3166" in r.text.split('id="f-country"')[1].split("</div>")[0]
    assert "Required." in r.text.split('id="f-billing_address-city"')[1].split("</div>")[0]
    assert "not an amount" in r.text.split('id="f-credit_limit"')[1].split("</div>")[0]
    assert 'value="Nuova Drogheria"' in r.text
    add_customer(engine, "C-NEW")
    dup = clerk_web.post("/customers/new", {**CUSTOMER, "form_token": "cust-4"})
    assert dup.status_code == 422 and "already exists" in flashes(dup.text)


def test_create_edit_and_deactivate_a_product(engine: Engine, shop: Any, clerk_web: Web) -> None:
    r = clerk_web.post("/products/new", {"form_token": "prod-1", "sku": "TEAPOT-1L", "name": "Teapot, 1 l",
                                         "unit_price": "32.00", "vat_rate": "22", "unit": "pcs", "active": "1"})
    assert r.status_code == 303
    with unit_of_work(engine, "test", readonly=True) as tx:
        p = catalog.get_product(tx, "TEAPOT-1L")
    assert p["vat_rate"] == Decimal("0.2200") and p["active"]
    assert 'value="22"' in clerk_web.get("/products/TEAPOT-1L/edit").text
    bad = clerk_web.post("/products/TEAPOT-1L/edit", {"form_token": "prod-2", "name": "Teapot", "unit_price": "x",
                                                      "vat_rate": "150", "unit": "pcs", "active": "1"})
    assert bad.status_code == 422 and "A percentage from 0 to below 100" in bad.text
    r = clerk_web.post("/products/TEAPOT-1L/active", {"form_token": "prod-3", "active": "0"})
    assert r.status_code == 303
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert catalog.get_product(tx, "TEAPOT-1L")["active"] is False
    assert "TEAPOT-1L" not in clerk_web.get("/orders/new").text.split('id="product-list"')[1]
    assert "badge-inactive" in clerk_web.get("/products?q=teapot").text
    assert "TEAPOT-1L" not in clerk_web.get("/products?q=teapot&inactive=0").text.split("<tbody>")[-1]


def test_a_goods_receipt_moves_stock_and_shows_in_the_history(engine: Engine, shop: Any, clerk_web: Web) -> None:
    r = clerk_web.post("/stock/receipts/new", {"form_token": "gr-1", "sku": "DESK-LAMP", "quantity": "20",
                                               "unit_cost": "10.50"})
    assert r.status_code == 303 and r.headers["Location"] == "/stock/DESK-LAMP"
    with unit_of_work(engine, "test", readonly=True) as tx:
        s = stock.get_stock(tx, "DESK-LAMP")
    assert (s["on_hand"], s["value"]) == (25, Decimal("255.00"))
    history = clerk_web.get("/stock/DESK-LAMP").text
    rows = re.findall(r'<td class="num (?:pos|neg)">([+-]\d+)</td><td class="num">[^<]*</td><td class="num">(\d+)</td>',
                      history)
    assert rows == [("+20", "25"), ("+5", "5")]  # newest first, with the running on-hand figure
    bad = clerk_web.post("/stock/receipts/new", {"form_token": "gr-2", "sku": "NOPE", "quantity": "0",
                                                 "unit_cost": "1"})
    assert bad.status_code == 422 and "Must be between 1 and 1000000." in bad.text
    unknown = clerk_web.post("/stock/receipts/new", {"form_token": "gr-3", "sku": "NOPE", "quantity": "1",
                                                     "unit_cost": "1"})
    assert unknown.status_code == 422 and "Unknown SKU" in unknown.text
    levels = clerk_web.get("/stock").text
    assert "DESK-LAMP" in levels and "255.00" in levels


def test_an_accountant_cannot_change_master_data(shop: Any, accountant_web: Web) -> None:
    assert accountant_web.post("/customers/new", {**CUSTOMER, "form_token": "acc-c"}).status_code == 403
    assert accountant_web.post("/products/RETRO-CLOCK/active", {"active": "0"}).status_code == 403
    assert accountant_web.post("/stock/receipts/new", {"sku": "RETRO-CLOCK"}).status_code == 403


# -- the accountant's pages ----------------------------------------------------------------

def test_trial_balance_and_journal_show_the_postings(engine: Engine, shop: Any, accountant_web: Web) -> None:
    inv = invoice_of(engine, [("RETRO-CLOCK", 1)])
    tb = accountant_web.get("/books/trial-balance").text
    assert "balanced" in tb and "Accounts receivable" in tb
    journal = accountant_web.get("/books/journal?account=1100").text
    assert inv["number"] in journal and "GR-" not in journal
    everything = accountant_web.get("/books/journal").text
    assert "GR-" in everything and f'href="/invoices/{inv["id"]}"' in everything


def test_the_reconciliation_is_green_when_the_books_agree_and_red_when_not(engine: Engine, shop: Any,
                                                                           accountant_web: Web) -> None:
    invoice_of(engine, [("RETRO-CLOCK", 1)])
    html = accountant_web.get("/books/reconciliation").text
    assert "every difference is zero" in html and "bad-row" not in html
    assert html.count("ok-row") >= 11
    with engine.begin() as c:  # someone edits the stock behind the books' back
        c.execute(update(m.Stock.__table__).values(on_hand=m.Stock.__table__.c.on_hand + 1))
    html = accountant_web.get("/books/reconciliation").text
    assert "differences found" in html
    bad = re.findall(r'<tr class="bad-row">\s*<td class="nowrap">([^<]+)</td>', html)
    assert "stock on hand" in bad
    assert 'href="/stock"' in html


def test_an_accountant_closes_a_period_and_a_clerk_cannot(engine: Engine, shop: Any, clerk_web: Web,
                                                          accountant_web: Web) -> None:
    last_month = clock.now().date().replace(day=1) - dt.timedelta(days=1)  # only a month that has ended closes
    period = last_month.strftime("%Y-%m")
    assert clerk_web.post(f"/books/periods/{period}/close", {"form_token": "clerk-close"}).status_code == 403
    assert clerk_web.get("/books/periods").status_code == 403
    page = accountant_web.get("/books/periods").text
    assert f"Close {period}" in page
    r = accountant_web.post(f"/books/periods/{period}/close", {"form_token": "acc-close"})
    assert r.status_code == 303
    page = accountant_web.get("/books/periods").text
    assert f"Period {period} closed" in flashes(page) and f"Close {period}" not in page
    with engine.connect() as c:
        assert c.execute(select(m.Period.__table__.c.closed_by)).scalar_one() == "user:accountant"
    again = accountant_web.post(f"/books/periods/{period}/close", {"form_token": "acc-close-2"})
    assert "already closed" in flashes(accountant_web.get(again.headers["Location"]).text)
    # a payment dated in the closed month is refused with the reason
    body = {"form_token": "late-pay", "action": "save", "customer.code": "C-ROSSI", "customer_shown": "C-ROSSI",
            "amount": "5.00", "received_on": last_month.isoformat(), "method": "cash", "reference": "CASH-1"}
    r = clerk_web.post("/payments/new", body)
    assert r.status_code == 422 and f"Period {period} is closed" in flashes(r.text)


def test_payments_list_and_page(engine: Engine, shop: Any, clerk_web: Web) -> None:
    inv = invoice_of(engine, [("RETRO-CLOCK", 1)])
    with unit_of_work(engine, "test") as tx:
        p = payments.record_payment(tx, {"customer_id": inv["customer_id"], "amount": Decimal("50.00"),
                                         "currency": "EUR", "received_on": clock.now().date(),
                                         "method": "bank_transfer", "reference": "SEPA-LIST-1"})
    listing = clerk_web.get("/payments?q=SEPA-LIST-1").text
    assert p["number"] in listing and "1.20" in listing
    page = clerk_web.get(f"/payments/{p['id']}").text
    assert inv["number"] in page and "48.80" in page and "1.20 EUR" in page
