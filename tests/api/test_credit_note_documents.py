"""A credit note as the customer and the tax office get it: a Factur-X PDF
(type 381) saying which invoice and return it credits, and a UBL 2.1
``CreditNote`` naming the invoice; both valid against the official schemas,
carrying the books' figures and keeping the EN 16931 business rules, and one
webshop never seeing another's."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from facturx import xml_check_xsd
from lxml import etree
from sqlalchemy import Engine, select

from o2c.db import models as m
from o2c.documents.i18n import formats
from tests.conftest import Client, customer, order, product
from tests.docbuild import CII_NS, UBL_NS, cii_figures, embedded_xml, pdf_pages, ubl_figures
from tests.documents.en16931 import assert_en16931, read

D = Decimal
KASHUBIAN = {"name": "Delikatesy Pod Lipami Sp. z o.o.", "country": "PL", "tax_id": "PL6772398046", "language": "pl",
             "billing_address": {"name": "Delikatesy Pod Lipami Sp. z o.o.", "line1": "ul. Floriańska 14",
                                 "city": "Kraków", "postal_code": "31-021", "country": "PL"}}

#: A domestic buyer: Italian VAT at every rate.
ITALIAN = {"name": "Trattoria Da Nino", "country": "IT", "tax_id": "IT01987650320", "language": "it",
           "billing_address": {"name": "Trattoria Da Nino", "line1": "Via dei Mille 9", "city": "Napoli",
                               "postal_code": "80121", "country": "IT"}}


def ship(api: Client, order_id: int) -> dict[str, Any]:
    sh = api.ok("post", f"/api/v1/orders/{order_id}/shipments", {}, status=201)
    sh = api.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "BRT0012345678"})
    return api.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")


def returned(admin: Client, api: Client, lines: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any],
                                                                              dict[str, Any]]:
    """Ship the webshop ``api``'s order of three rates, take ``lines`` back: invoice, return, credit note."""
    customer(admin, "C-LIPY", **KASHUBIAN, channels=["shop-a"])
    product(admin, "GRINDER-HAND", "54.00", "0.22", stock=50, cost="23.75")
    product(admin, "TEA-SENCHA-100", "7.80", "0.10", stock=50, cost="3.20")
    product(admin, "OIL-EVO-750", "12.40", "0.04", stock=50, cost="6.35")
    r = api.post("/api/v1/orders", {
        "customer": {"code": "C-LIPY"}, "currency": "EUR", "external_ref": "PO-77", "confirm": True,
        # Delivered to its buyer's Italian warehouse: a domestic sale at three Italian rates.
        "shipping_address": {"name": "Pod Lipami, magazzino", "line1": "Via Tortona 15", "city": "Milano",
                             "postal_code": "20144", "country": "IT"},
        "lines": [{"sku": "GRINDER-HAND", "quantity": 5}, {"sku": "TEA-SENCHA-100", "quantity": 10, "discount": "0.10"},
                  {"sku": "OIL-EVO-750", "quantity": 3}]})
    assert r.status_code == 201, r.get_json()
    inv = ship(admin, r.get_json()["id"])
    rma = admin.ok("post", f"/api/v1/orders/{inv['order_id']}/returns", {"lines": lines}, status=201)
    return inv, rma, admin.ok("get", f"/api/v1/credit-notes/{rma['credit_note_ids'][0]}")


SOME_OF_EACH = [{"sku": "GRINDER-HAND", "quantity": 2}, {"sku": "TEA-SENCHA-100", "quantity": 3},
                {"sku": "OIL-EVO-750", "quantity": 1}]


def books(engine: Engine, credit_note_id: int) -> dict[str, Any]:
    """The credit note as the database holds it."""
    cn = m.CreditNote
    with engine.connect() as c:
        row = c.execute(select(cn.number, cn.issue_date, cn.net_total, cn.vat_total, cn.total,
                               m.Invoice.number.label("invoice_number"), m.Invoice.issue_date.label("invoice_date"))
                        .join(m.Invoice, m.Invoice.id == cn.invoice_id).where(cn.id == credit_note_id)).one()
        vat = c.execute(select(m.CreditNoteVat.rate, m.CreditNoteVat.net, m.CreditNoteVat.vat)
                        .where(m.CreditNoteVat.credit_note_id == credit_note_id)
                        .order_by(m.CreditNoteVat.rate)).all()
        nets = c.execute(select(m.CreditNoteLine.net).where(m.CreditNoteLine.credit_note_id == credit_note_id)
                         .order_by(m.CreditNoteLine.id)).scalars().all()
    return {**row._asdict(), "by_rate": [tuple(v) for v in vat], "line_nets": nets}


def test_the_credit_note_ubl_is_a_valid_credit_note_naming_the_invoice_with_the_books_figures(
    admin: Client, shop: Client, engine: Engine,
) -> None:
    inv, _, cn = returned(admin, shop, SOME_OF_EACH)
    r = shop.get(f"/api/v1/credit-notes/{cn['id']}/ubl")
    assert r.status_code == 200 and r.mimetype == "application/xml"
    assert r.headers["Content-Disposition"] == f'inline; filename="{cn["number"]}.xml"; filename*=UTF-8\'\'{cn["number"]}.xml'
    assert xml_check_xsd(r.data, flavor="ubl-2.1-creditnote") is True
    root = etree.fromstring(r.data)
    assert etree.QName(root).localname == "CreditNote"
    assert root.findtext("cbc:CreditNoteTypeCode", namespaces=UBL_NS) == "381"
    ref = root.find("cac:BillingReference/cac:InvoiceDocumentReference", UBL_NS)
    want = books(engine, cn["id"])
    assert (ref.findtext("cbc:ID", namespaces=UBL_NS), ref.findtext("cbc:IssueDate", namespaces=UBL_NS)) == (
        inv["number"], inv["issue_date"])
    assert (want["invoice_number"], want["invoice_date"].isoformat()) == (inv["number"], inv["issue_date"])
    got = ubl_figures(r.data)
    assert got["number"] == want["number"] == cn["number"]
    assert (got["lines"], got["net"], got["vat"], got["total"], got["due"]) == (
        want["net_total"], want["net_total"], want["vat_total"], want["total"], want["total"])
    assert got["by_rate"] == want["by_rate"] and len(want["by_rate"]) == 3
    lines = root.findall("cac:CreditNoteLine", UBL_NS)
    assert [D(l.findtext("cbc:LineExtensionAmount", namespaces=UBL_NS)) for l in lines] == want["line_nets"]
    assert [(l.findtext("cac:Item/cac:SellersItemIdentification/cbc:ID", namespaces=UBL_NS),
             l.findtext("cbc:CreditedQuantity", namespaces=UBL_NS)) for l in lines] == [
        ("GRINDER-HAND", "2"), ("TEA-SENCHA-100", "3"), ("OIL-EVO-750", "1")]
    assert_en16931(r.data)
    assert shop.get(f"/api/v1/credit-notes/{cn['id']}/ubl").data == r.data  # the books do not move


def test_the_credit_note_pdf_is_factur_x_of_type_381_naming_the_invoice_with_the_books_figures(
    admin: Client, shop: Client, engine: Engine,
) -> None:
    inv, rma, cn = returned(admin, shop, SOME_OF_EACH)
    pdf = shop.get(f"/api/v1/credit-notes/{cn['id']}/pdf").data
    text = " ".join(" ".join(pdf_pages(pdf)).split())  # the customer's Polish, lines joined
    assert "FAKTURA KORYGUJĄCA" in text and cn["number"] in text
    day = formats("pl").date(dt.date.fromisoformat(inv["issue_date"]))
    assert (f"Korekta dotyczy faktury {inv['number']} z dnia {day}: towar zwrócony w ramach zwrotu "
            f"{rma['number']}") in text
    xml = embedded_xml(pdf)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    root = etree.fromstring(xml)
    ref = root.find(".//ram:ApplicableHeaderTradeSettlement/ram:InvoiceReferencedDocument", CII_NS)
    assert ref.findtext("ram:IssuerAssignedID", namespaces=CII_NS) == inv["number"]
    assert ref.findtext("ram:FormattedIssueDateTime/*", namespaces=CII_NS) == inv["issue_date"].replace("-", "")
    want = books(engine, cn["id"])
    got = cii_figures(xml)
    assert (got["number"], got["type"]) == (want["number"], "381")
    assert (got["lines"], got["net"], got["vat"], got["total"], got["due"]) == (
        want["net_total"], want["net_total"], want["vat_total"], want["total"], want["total"])
    assert got["by_rate"] == want["by_rate"] and got["line_nets"] == want["line_nets"]
    assert_en16931(xml)


def test_another_webshop_cannot_fetch_the_credit_note_documents(admin: Client, shop: Client, shop_b: Client) -> None:
    _, _, cn = returned(admin, shop, [{"sku": "OIL-EVO-750", "quantity": 1}])
    for kind in ("pdf", "ubl"):
        r = shop_b.get(f"/api/v1/credit-notes/{cn['id']}/{kind}")
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found", kind
        assert shop.get(f"/api/v1/credit-notes/{cn['id']}/{kind}").status_code == 200
        missing = admin.get(f"/api/v1/credit-notes/{cn['id'] + 1000}/{kind}")
        assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


# -- the EN 16931 rules on what the books issue ------------------------------------------------

def both_syntaxes(api: Client, kind: str, doc_id: int) -> dict[str, bytes]:
    """The document's CII (out of its Factur-X PDF) and its UBL."""
    path = f"/api/v1/{kind}/{doc_id}"
    pdf, ubl = api.get(f"{path}/pdf"), api.get(f"{path}/ubl")
    assert pdf.status_code == ubl.status_code == 200
    return {"CII": embedded_xml(pdf.data), "UBL": ubl.data}


def test_an_invoice_at_three_rates_and_its_credit_note_keep_the_rules(admin: Client, shop: Client) -> None:
    inv, _, cn = returned(admin, shop, SOME_OF_EACH)
    for kind, doc_id, rates in (("invoices", inv["id"], 3), ("credit-notes", cn["id"], 3)):
        for syntax, xml in both_syntaxes(admin, kind, doc_id).items():
            assert_en16931(xml)
            assert len(read(xml).breakdown) == rates, (kind, syntax)


def test_an_invoice_of_150_lines_keeps_the_rules(admin: Client) -> None:
    customer(admin, "C-BULK", **ITALIAN, channels=["shop-a"])
    rates = ["0.22", "0.10", "0.04", "0.05", "0.08"]
    for i in range(150):
        product(admin, f"SPARE-{i:03d}", f"{1 + i * 0.37:.2f}", rates[i % len(rates)], stock=10, cost="0.50")
    o = order(admin, "C-BULK", [(f"SPARE-{i:03d}", i % 7 + 1) for i in range(150)]).get_json()
    inv = ship(admin, o["id"])
    assert len(inv["lines"]) == 150 and len(inv["vat"]) == 5
    for syntax, xml in both_syntaxes(admin, "invoices", inv["id"]).items():
        assert_en16931(xml)
        assert (len(read(xml).lines), read(xml).grand_total) == (150, D(inv["total"])), syntax


def test_a_credit_note_taking_the_last_cent_of_vat_keeps_the_rules(admin: Client, engine: Engine) -> None:
    """Three lamps of 9.99 at 22 %: the invoice's VAT is 6.59, so its three
    one-lamp credit notes carry 2.20, 2.20 and what is left, 2.19 — a cent
    under 9.99 × 22 % but within what BR-S-09 accepts, and together exactly
    the invoice's VAT."""
    customer(admin, "C-LAMPS", **ITALIAN, channels=["shop-a"])
    product(admin, "LAMP", "9.99", "0.22", stock=3, cost="4.00")
    inv = ship(admin, order(admin, "C-LAMPS", [("LAMP", 3)]).get_json()["id"])
    assert inv["vat_total"] == "6.59"
    vats = []
    for _ in range(3):
        rma = admin.ok("post", f"/api/v1/orders/{inv['order_id']}/returns",
                       {"lines": [{"sku": "LAMP", "quantity": 1}]}, status=201)
        cn_id = rma["credit_note_ids"][0]
        for syntax, xml in both_syntaxes(admin, "credit-notes", cn_id).items():
            assert_en16931(xml)
            [v] = read(xml).breakdown
            assert (v.basis, v.tax) == (D("9.99"), books(engine, cn_id)["vat_total"]), syntax
        vats.append(books(engine, cn_id)["vat_total"])
    assert vats == [D("2.20"), D("2.20"), D("2.19")] and sum(vats) == D(inv["vat_total"])

