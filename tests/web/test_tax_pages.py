"""The tax in the back office: customer type and VAT id on the customer form,
tax class on the product form, the company settings page for administrators,
and the treatment on order, invoice and credit note pages."""
from __future__ import annotations

from sqlalchemy import Engine

from o2c.services.platform import company
from o2c.services.platform.uow import unit_of_work
from tests.web.conftest import Web, add_customer, add_order, add_product, pack_and_ship

DE = {"name": "Lindner", "line1": "Kastanienallee 12", "city": "Berlin", "postal_code": "10435", "country": "DE"}


def test_the_customer_form_takes_type_and_vat_id_and_refuses_a_wrong_one(clerk_web: Web) -> None:
    body = {"code": "C-DE", "name": "Kaffeehaus Lindner GmbH", "country": "DE", "language": "en",
            "customer_type": "business", "tax_id": "DE287451935", "payment_terms_days": "30", "currency": "EUR",
            **{f"billing_address.{k}": v for k, v in DE.items()}}
    r = clerk_web.post("/customers/new", {**body, "form_token": "tax-1"})
    assert r.status_code == 422 and "not a valid VAT id of DE" in r.get_data(as_text=True)
    r = clerk_web.post("/customers/new", {**body, "tax_id": "DE287451934", "form_token": "tax-2"})
    assert r.status_code == 303
    page = clerk_web.get(r.headers["Location"]).get_data(as_text=True)
    assert "DE287451934" in page and "business" in page and "VIES: unchecked" in page


def test_the_product_form_takes_a_tax_class(clerk_web: Web, engine: Engine) -> None:
    r = clerk_web.post("/products/new", {"sku": "BOOK", "name": "Book", "unit_price": "20.00", "vat_rate": "4",
                                         "tax_class": "super_reduced", "unit": "pcs", "active": "1",
                                         "form_token": "p-1"})
    assert r.status_code == 303
    page = clerk_web.get("/products/BOOK/edit").get_data(as_text=True)
    assert '<option value="super_reduced" selected>' in page


def test_only_administrators_change_the_company(admin_web: Web, clerk_web: Web, engine: Engine) -> None:
    assert clerk_web.get("/settings/company").status_code == 403
    page = admin_web.get("/settings/company").get_data(as_text=True)
    assert "One-Stop Shop" in page and 'value="IT"' in page
    r = admin_web.post("/settings/company", {"name": "o2c Trading S.r.l.", "address": "Via Roma 1, 20121 Milano, IT",
                                             "country": "IT", "vat_id": "IT09876540015", "iban": "", "bic": "",
                                             "oss_registered": "1", "distance_sales_threshold": "10000.00",
                                             "form_token": "co-1"})
    assert r.status_code == 303
    with unit_of_work(engine, "test", readonly=True) as tx:
        c = company.get_company(tx)
    assert (c["vat_id"], c["oss_registered"]) == ("IT09876540015", True)
    bad = admin_web.post("/settings/company", {"country": "IT", "vat_id": "IT09876540016", "name": "X",
                                               "address": "Y", "distance_sales_threshold": "1.00",
                                               "form_token": "co-2"})
    assert bad.status_code == 422 and "not a valid VAT id" in bad.get_data(as_text=True)


def test_order_invoice_and_credit_note_pages_show_the_treatment(clerk_web: Web, engine: Engine) -> None:
    add_customer(engine, "C-DE", name="Kaffeehaus Lindner GmbH", country="DE", tax_id="DE287451934",
                 billing_address=DE)
    add_product(engine, "CLOCK", "100.00", on_hand=5, cost="40.00")
    o = add_order(engine, "C-DE", [("CLOCK", 1)])
    sh = pack_and_ship(engine, o["id"])
    page = clerk_web.get(f"/orders/{o['id']}").get_data(as_text=True)
    assert "intra-EU B2B · VAT of DE" in page
    page = clerk_web.get(f"/invoices/{sh['invoice_id']}").get_data(as_text=True)
    assert "intra-EU B2B · VAT of DE" in page and "VATEX-EU-IC" in page and "DE287451934" in page
