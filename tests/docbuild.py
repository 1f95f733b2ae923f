"""Helpers for document tests: hand-built documents, and reading PDFs back."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import BytesIO
from typing import Any

from lxml import etree

from o2c.documents.context import build_document, split_address
from o2c.domain.money import line_net

SELLER = {"name": "o2c Trading S.r.l.", "address": split_address("Via Roma 1, 20121 Milano, IT"),
          "tax_id": "IT01234560017", "bank_name": "Banca Esempio", "iban": "IT60X0542811101000000123456",
          "bic": "BEXAITMMXXX"}

BUYERS = {
    "it": ("Caffè Aurora S.r.l.", "IT04829610965", ("Via Paolo Sarpi 22", "Milano", "20154", "IT")),
    "pl": ("Delikatesy Pod Lipami Sp. z o.o.", "PL6772398046", ("ul. Floriańska 14", "Kraków", "31-021", "PL")),
    "ru": ("ООО «Самовар Трейд»", "7714512839", ("ул. Мясницкая, д. 24/7, стр. 1", "Москва", "101000", "RU")),
    "en": ("Kaffeehaus Lindner GmbH", "DE287451934", ("Kastanienallee 12", "Berlin", "10435", "DE")),
}

# (sku, description, unit price, VAT rate, unit)
CATALOGUE = [
    ("MOKA-3", "Moka pot, 3 cups, aluminium", "29.90", "0.22", "pcs"),
    ("GRINDER-HAND", "Manual burr coffee grinder", "54.00", "0.22", "pcs"),
    ("CUP-ESP-6", "Espresso cups with saucers, set of 6", "19.90", "0.22", "set"),
    ("TEA-SENCHA-100", "Sencha green tea, 100 g", "7.80", "0.10", "pcs"),
    ("OIL-EVO-750", "Extra virgin olive oil, 750 ml", "12.40", "0.04", "pcs"),
    ("BOOK-ESPRESSO", "Espresso at Home, hardcover", "32.00", "0.04", "pcs"),
]
NBSP, NNBSP = "\u00a0", "\u202f"


def buyer(lang: str) -> dict[str, Any]:
    name, tax_id, (line1, city, postal_code, country) = BUYERS[lang]
    return {"code": f"C-{lang.upper()}", "name": name, "email": "orders@example.com", "tax_id": tax_id,
            "address": {"name": name, "line1": line1, "line2": None, "city": city, "postal_code": postal_code,
                        "country": country}}


def sample_lines(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        sku, description, price, vat, unit = CATALOGUE[i % len(CATALOGUE)]
        quantity, discount = i % 5 + 1, Decimal("0.10") if i % 4 == 1 else Decimal(0)
        out.append({"sku": sku, "description": description, "quantity": quantity, "unit": unit,
                    "unit_price": Decimal(price), "discount": discount, "vat_rate": Decimal(vat),
                    "net": line_net(quantity, Decimal(price), discount)})
    return out


def sample_document(lang: str = "it", n_lines: int = 6, kind: str = "invoice", **over: Any) -> dict[str, Any]:
    b = buyer(lang)
    credit = kind == "credit_note"
    args: dict[str, Any] = {
        "kind": kind, "number": "CN-2026-000007" if credit else "INV-2026-000045",
        "issue_date": dt.date(2026, 3, 20) if credit else dt.date(2026, 3, 15),
        "due_date": dt.date(2026, 4, 14), "delivery_date": dt.date(2026, 3, 14), "currency": "EUR",
        "language": lang, "seller": SELLER, "buyer": b, "ship_to": b["address"], "lines": sample_lines(n_lines),
        "terms_days": 30,
        "references": {"order": "SO-2026-000123", "customer_reference": "PO-2001", "shipment": "SH-2026-000077",
                       "carrier": "BRT", "tracking_number": "BRT0012345678"},
        "credited_invoice": {"number": "INV-2026-000045", "issue_date": dt.date(2026, 3, 15)} if credit else None,
        "reason": "Goods returned: 2 moka pots damaged in transit" if credit else None,
    }
    args.update(over)
    return build_document(**args)


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of each page, as a reader would copy it."""
    from pypdf import PdfReader
    return [page.extract_text() for page in PdfReader(BytesIO(pdf)).pages]


def embedded_xml(pdf: bytes) -> bytes:
    """The Factur-X XML a PDF carries, read back with the factur-x package."""
    from facturx import get_facturx_xml_from_pdf
    filename, xml = get_facturx_xml_from_pdf(pdf, check_xsd=False)
    assert filename == "factur-x.xml", filename
    return xml


CII_NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
          "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
          "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"}
UBL_NS = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
          "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}


def cii_figures(xml: bytes) -> dict[str, Any]:
    """Totals and VAT breakdown of a Cross-Industry-Invoice, as Decimals."""
    root = etree.fromstring(xml)
    sums = root.find(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation", CII_NS)

    def amount(el: Any, tag: str) -> Decimal:
        return Decimal(el.findtext(f"ram:{tag}", namespaces=CII_NS))

    settle = root.find(".//ram:ApplicableHeaderTradeSettlement", CII_NS)
    return {
        "number": root.findtext("rsm:ExchangedDocument/ram:ID", namespaces=CII_NS),
        "type": root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=CII_NS),
        "lines": amount(sums, "LineTotalAmount"), "net": amount(sums, "TaxBasisTotalAmount"),
        "vat": amount(sums, "TaxTotalAmount"), "total": amount(sums, "GrandTotalAmount"),
        "due": amount(sums, "DuePayableAmount"),
        "by_rate": sorted((Decimal(t.findtext("ram:RateApplicablePercent", namespaces=CII_NS)) / 100,
                           amount(t, "BasisAmount"), amount(t, "CalculatedAmount"))
                          for t in settle.findall("ram:ApplicableTradeTax", CII_NS)),
        "line_nets": [Decimal(x.text) for x in root.iterfind(
            ".//ram:IncludedSupplyChainTradeLineItem//ram:LineTotalAmount", CII_NS)],
    }


def ubl_figures(xml: bytes) -> dict[str, Any]:
    root = etree.fromstring(xml)

    def amount(path: str) -> Decimal:
        return Decimal(root.findtext(path, namespaces=UBL_NS))

    return {
        "number": root.findtext("cbc:ID", namespaces=UBL_NS),
        "lines": amount("cac:LegalMonetaryTotal/cbc:LineExtensionAmount"),
        "net": amount("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount"),
        "vat": amount("cac:TaxTotal/cbc:TaxAmount"),
        "total": amount("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"),
        "due": amount("cac:LegalMonetaryTotal/cbc:PayableAmount"),
        "by_rate": sorted((Decimal(s.findtext("cac:TaxCategory/cbc:Percent", namespaces=UBL_NS)) / 100,
                           Decimal(s.findtext("cbc:TaxableAmount", namespaces=UBL_NS)),
                           Decimal(s.findtext("cbc:TaxAmount", namespaces=UBL_NS)))
                          for s in root.iterfind("cac:TaxTotal/cac:TaxSubtotal", UBL_NS)),
    }
