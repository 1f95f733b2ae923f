"""An invoice as the customer and the tax office get it: the PDF in the
customer's language, stored on first download and the same bytes ever after,
the Factur-X XML inside it and the UBL download carrying the books' figures,
and one webshop never seeing another's."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from decimal import Decimal
from typing import Any

import pytest
from facturx import xml_check_xsd
from sqlalchemy import Engine, func, select

from o2c.db import models as m
from o2c.documents.i18n import formats
from o2c.domain.errors import NotFound
from o2c.services.billing import documents
from o2c.services.platform.uow import unit_of_work
from tests.conftest import Client, customer, product
from tests.docbuild import NBSP, cii_figures, embedded_xml, pdf_pages, ubl_figures

D = Decimal

CUSTOMERS = {
    "it": {"name": "Trattoria Da Nino", "country": "IT", "tax_id": "IT01987650320",
           "billing_address": {"name": "Trattoria Da Nino", "line1": "Via dei Mille 9", "city": "Napoli",
                               "postal_code": "80121", "country": "IT"}},
    "pl": {"name": "Delikatesy Pod Lipami Sp. z o.o.", "country": "PL", "tax_id": "PL6772398046",
           "billing_address": {"name": "Delikatesy Pod Lipami Sp. z o.o.", "line1": "ul. Floriańska 14",
                               "city": "Kraków", "postal_code": "31-021", "country": "PL"}},
    "ru": {"name": "ООО «Самовар Трейд»", "country": "RU", "tax_id": "7714512839",
           "billing_address": {"name": "ООО «Самовар Трейд»", "line1": "ул. Мясницкая, д. 24/7, стр. 1",
                               "city": "Москва", "postal_code": "101000", "country": "RU"}},
    "en": {"name": "Kaffeehaus Lindner GmbH", "country": "DE", "tax_id": "DE287451934",
           "billing_address": {"name": "Kaffeehaus Lindner GmbH", "line1": "Kastanienallee 12", "city": "Berlin",
                               "postal_code": "10435", "country": "DE"}},
}
# Net 1350.00 + 70.20 + 37.20 = 1457.40. The Italian customer pays Italian VAT
# 297.00 + 7.02 + 1.49 = 305.51 (total 1762.91); the Polish and German
# businesses buy VAT-free intra-EU supplies (reverse charged), the Russian
# company an export: total 1457.40.
FIGURES = {"it": ("1457.40", "305.51", "1762.91"), "pl": ("1457.40", "0.00", "1457.40"),
           "ru": ("1457.40", "0.00", "1457.40"), "en": ("1457.40", "0.00", "1457.40")}
TREATMENT = {"it": "domestic", "pl": "intra_eu_b2b", "ru": "export", "en": "intra_eu_b2b"}
TOTAL = {"it": f"1.762,91{NBSP}€", "pl": f"1{NBSP}457,40{NBSP}€", "ru": f"1{NBSP}457,40{NBSP}€", "en": "€1,457.40"}
LEGAL = {"it": None, "pl": "Odwrotne obciążenie – art. 138 dyrektywy 2006/112/WE",
         "ru": "Экспорт без НДС – ст. 146 Директивы 2006/112/ЕС", "en": "Reverse charge – Art. 138 Directive 2006/112/EC"}
TITLE = {"it": "FATTURA", "pl": "FAKTURA", "ru": "СЧЁТ", "en": "INVOICE"}


def catalogue(admin: Client) -> None:
    product(admin, "GRINDER-HAND", "54.00", "0.22", stock=100, cost="23.75")
    product(admin, "TEA-SENCHA-100", "7.80", "0.10", stock=100, cost="3.20")
    product(admin, "OIL-EVO-750", "12.40", "0.04", stock=100, cost="6.35")


def invoiced(admin: Client, api: Client, lang: str, ref: str = "PO-4711") -> dict[str, Any]:
    """Ship one order of the webshop ``api`` for a customer writing in ``lang``; its invoice."""
    code = f"C-{lang.upper()}-{ref}"
    customer(admin, code, language=lang, payment_terms_days=30, **CUSTOMERS[lang], channels=["shop-a"])
    r = api.post("/api/v1/orders", {
        "customer": {"code": code}, "currency": "EUR", "external_ref": ref, "confirm": True,
        "lines": [{"sku": "GRINDER-HAND", "quantity": 25}, {"sku": "TEA-SENCHA-100", "quantity": 10, "discount": "0.10"},
                  {"sku": "OIL-EVO-750", "quantity": 3}]})
    assert r.status_code == 201, r.get_json()
    sh = admin.ok("post", f"/api/v1/orders/{r.get_json()['id']}/shipments", {}, status=201)
    sh = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "BRT0012345678"})
    return admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")


def stored_count(engine: Engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(m.DocumentFile.__table__)).scalar_one()


@pytest.mark.parametrize("lang", sorted(CUSTOMERS))
def test_the_invoice_pdf_is_in_the_customers_language_with_the_books_figures(admin, shop, lang) -> None:  # type: ignore[no-untyped-def]
    catalogue(admin)
    inv = invoiced(admin, shop, lang)
    assert (inv["net_total"], inv["vat_total"], inv["total"]) == FIGURES[lang]
    assert inv["tax_treatment"] == TREATMENT[lang]

    r = shop.get(f"/api/v1/invoices/{inv['id']}/pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == f'inline; filename="{inv["number"]}.pdf"; filename*=UTF-8\'\'{inv["number"]}.pdf'
    text = pdf_pages(r.data)[0]
    f = formats(lang)
    assert TITLE[lang] in text and inv["number"] in text and CUSTOMERS[lang]["name"] in text
    assert TOTAL[lang] in text and f.money(D(inv["total"]), "EUR") == TOTAL[lang]
    assert f.date(dt.date.fromisoformat(inv["due_date"])) in text
    for line in inv["lines"]:
        assert re.search(rf"\d+ {re.escape(line['sku'])} .*? {line['quantity']} ", text), line
        assert f.amount(D(line["net"])) in text
    for v in inv["vat"]:
        assert f"{f.percent(D(v['rate']))} {f.amount(D(v['net']))} {f.amount(D(v['vat']))}" in text, v
    assert "PO-4711" in text and "BRT0012345678" in text
    if LEGAL[lang]:
        assert LEGAL[lang] in " ".join(text.split()), text


def test_the_pdf_is_rendered_on_first_download_and_the_same_bytes_come_back(admin, shop, engine) -> None:  # type: ignore[no-untyped-def]
    catalogue(admin)
    inv = invoiced(admin, shop, "it")
    assert stored_count(engine) == 0  # shipping issued the invoice and rendered nothing
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert documents.invoices_without_file(tx) == [inv["id"]]

    first = shop.get(f"/api/v1/invoices/{inv['id']}/pdf")
    again = admin.get(f"/api/v1/invoices/{inv['id']}/pdf")
    assert first.status_code == again.status_code == 200
    assert again.data == first.data
    sha = hashlib.sha256(first.data).hexdigest()
    assert first.headers["ETag"] == again.headers["ETag"] == f'"{sha}"'
    cached = shop.get(f"/api/v1/invoices/{inv['id']}/pdf", headers={"If-None-Match": f'"{sha}"'})
    assert cached.status_code == 304 and cached.data == b""

    with engine.connect() as c:
        rows = c.execute(select(m.DocumentFile.__table__)).mappings().all()
        audit = c.execute(select(m.AuditLog.__table__).where(m.AuditLog.action == "invoice.file_stored")).mappings().all()
    assert [(r["kind"], r["document_id"], r["number"], r["sha256"], r["media_type"]) for r in rows] == [
        ("invoice", inv["id"], inv["number"], sha, "application/pdf")]
    assert rows[0]["content"] == first.data
    assert len(audit) == 1 and audit[0]["after"]["sha256"] == sha and audit[0]["object_id"] == inv["id"]
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert documents.invoices_without_file(tx) == []


def test_concurrent_first_downloads_store_one_copy_and_all_get_it(app, admin, keys, engine) -> None:  # type: ignore[no-untyped-def]
    catalogue(admin)
    inv = invoiced(admin, admin, "pl")
    n = 4
    racers = [Client(app.test_client(), keys["accountant"]) for _ in range(n)]
    barrier = threading.Barrier(n)
    bodies: list[bytes | None] = [None] * n
    errors: list[BaseException] = []

    def fetch(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            r = racers[i].get(f"/api/v1/invoices/{inv['id']}/pdf")
            assert r.status_code == 200, r.get_data(as_text=True)[:300]
            bodies[i] = r.data
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads), errors
    assert len(set(bodies)) == 1  # every racer got the one stored document
    assert stored_count(engine) == 1
    with engine.connect() as c:
        stored = c.execute(select(m.DocumentFile.content)).scalar_one()
        audits = c.execute(select(func.count()).select_from(m.AuditLog.__table__)
                           .where(m.AuditLog.action == "invoice.file_stored")).scalar_one()
    assert stored == bodies[0] and audits == 1


def test_another_webshop_cannot_fetch_the_invoice_documents(admin, shop, shop_b) -> None:  # type: ignore[no-untyped-def]
    catalogue(admin)
    inv = invoiced(admin, shop, "en")
    for kind in ("pdf", "ubl"):
        r = shop_b.get(f"/api/v1/invoices/{inv['id']}/{kind}")
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found", kind
        assert shop.get(f"/api/v1/invoices/{inv['id']}/{kind}").status_code == 200
        missing = admin.get(f"/api/v1/invoices/{inv['id'] + 1000}/{kind}")
        assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_the_factur_x_xml_validates_and_carries_the_invoices_totals(admin, shop, engine) -> None:  # type: ignore[no-untyped-def]
    catalogue(admin)
    inv = invoiced(admin, shop, "ru")
    xml = embedded_xml(shop.get(f"/api/v1/invoices/{inv['id']}/pdf").data)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    got = cii_figures(xml)
    with engine.connect() as c:
        row = c.execute(select(m.Invoice.number, m.Invoice.net_total, m.Invoice.vat_total, m.Invoice.total)
                        .where(m.Invoice.id == inv["id"])).one()
        vat = c.execute(select(m.InvoiceVat.rate, m.InvoiceVat.net, m.InvoiceVat.vat)
                        .where(m.InvoiceVat.invoice_id == inv["id"]).order_by(m.InvoiceVat.rate)).all()
        nets = c.execute(select(m.InvoiceLine.net).where(m.InvoiceLine.invoice_id == inv["id"])
                         .order_by(m.InvoiceLine.id)).scalars().all()
    assert (got["number"], got["type"]) == (row.number, "380")
    assert (got["lines"], got["net"], got["vat"], got["total"], got["due"]) == (
        row.net_total, row.net_total, row.vat_total, row.total, row.total)
    assert got["by_rate"] == [tuple(v) for v in vat]
    assert got["line_nets"] == nets


def test_the_ubl_download_validates_and_carries_the_invoices_totals(admin, shop) -> None:  # type: ignore[no-untyped-def]
    catalogue(admin)
    inv = invoiced(admin, shop, "it")
    r = shop.get(f"/api/v1/invoices/{inv['id']}/ubl")
    assert r.status_code == 200 and r.mimetype == "application/xml"
    assert r.headers["Content-Disposition"] == f'inline; filename="{inv["number"]}.xml"; filename*=UTF-8\'\'{inv["number"]}.xml'
    assert xml_check_xsd(r.data, flavor="ubl-2.1-invoice") is True
    got = ubl_figures(r.data)
    assert got["number"] == inv["number"]
    assert (got["net"], got["vat"], got["total"], got["due"]) == (
        D(inv["net_total"]), D(inv["vat_total"]), D(inv["total"]), D(inv["total"]))
    assert got["by_rate"] == [(D(v["rate"]), D(v["net"]), D(v["vat"])) for v in inv["vat"]]


def test_render_invoice_document_is_what_a_worker_calls(admin, shop, engine) -> None:  # type: ignore[no-untyped-def]
    catalogue(admin)
    inv = invoiced(admin, shop, "en")
    stored = documents.render_invoice_document(engine, inv["id"])
    assert stored.number == inv["number"] and stored.sha256 == hashlib.sha256(stored.content).hexdigest()
    with unit_of_work(engine, "worker") as tx:  # inside a caller's own transaction
        assert documents.render_invoice_document(tx, inv["id"]) == stored
    assert shop.get(f"/api/v1/invoices/{inv['id']}/pdf").data == stored.content
    with pytest.raises(NotFound):
        documents.render_invoice_document(engine, inv["id"] + 1000)
    assert stored_count(engine) == 1
