"""The EN 16931 business rules on hand-built documents, in both syntaxes:
what o2c writes keeps them, and the checker (``tests/documents/en16931.py``)
names each rule a tampered document breaks — so a passing check means
something."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from o2c.documents import einvoice
from tests.docbuild import buyer, sample_document, sample_lines
from tests.documents.en16931 import CII, RULES, UBL, assert_en16931, broken_rules, read

D = Decimal
NS = {**CII, **UBL}
WRITERS = {"CII": einvoice.cii_xml, "UBL": einvoice.ubl_xml}

GIFT_CARD = {"sku": "GIFT-CARD", "description": "Gift card", "quantity": 2, "unit": "pcs",
             "unit_price": D("25.00"), "discount": D(0), "vat_rate": D(0), "net": D("50.00")}


def mixed_lines() -> list[dict[str, Any]]:
    """22 %, 10 % and 4 % with discounts, and a zero-rated line."""
    return [*sample_lines(6), GIFT_CARD]


def australian_buyer() -> dict[str, Any]:
    """A customer whose tax id is no VAT number though it starts with two capitals."""
    b = buyer("en")
    b.update(name="Flat White Roasters Pty Ltd", tax_id="ABN 51 824 753 556")
    b["address"] = {**b["address"], "line1": "12 Smith St", "city": "Fitzroy", "postal_code": "3065",
                    "country": "AU"}
    return b


DOCUMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "invoice at four rates": lambda: sample_document("it", lines=mixed_lines()),
    "invoice of 150 lines": lambda: sample_document("en", 150),
    "credit note at four rates": lambda: sample_document("pl", kind="credit_note", lines=mixed_lines()),
    "credit note of one line": lambda: sample_document("ru", 1, "credit_note"),
    "invoice to a buyer without a VAT number": lambda: sample_document("ru", 9),
    "invoice to an Australian buyer": lambda: sample_document("en", 4, buyer=australian_buyer()),
}


@pytest.mark.parametrize("syntax", sorted(WRITERS))
@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_what_o2c_writes_keeps_the_business_rules(name: str, syntax: str) -> None:
    doc = DOCUMENTS[name]()
    xml = WRITERS[syntax](doc)
    assert_en16931(xml)
    inv = read(xml)  # and the checker read what was written, not an empty shell
    assert (inv.number, inv.line_total, inv.grand_total) == (doc["number"], sum(l["net"] for l in doc["lines"]),
                                                             doc["total"])
    assert len(inv.lines) == len(doc["lines"]) and len(inv.breakdown) == len(doc["vat"])


def test_a_tax_id_that_is_no_vat_number_is_the_buyers_legal_id_not_its_vat_id() -> None:
    doc = DOCUMENTS["invoice to an Australian buyer"]()
    assert read(einvoice.cii_xml(doc)).buyer.vat_ids == [] and read(einvoice.ubl_xml(doc)).buyer.vat_ids == []
    assert b"<ram:ID>ABN 51 824 753 556</ram:ID>" in einvoice.cii_xml(doc)
    assert b"<cbc:CompanyID>ABN 51 824 753 556</cbc:CompanyID>" in einvoice.ubl_xml(doc)


# -- tampered documents ---------------------------------------------------------------------

def blank(el: Any) -> None:
    el.text = " "


def remove(el: Any) -> None:
    el.getparent().remove(el)


def plus_one(el: Any) -> None:
    el.text = f"{D(el.text) + 1:.2f}"


def plus_cent(el: Any) -> None:
    el.text = f"{D(el.text) + D('0.01'):.2f}"


def set_to(value: str) -> Callable[[Any], None]:
    def edit(el: Any) -> None:
        el.text = value
    return edit


def duplicate(el: Any) -> None:
    el.addnext(etree.fromstring(etree.tostring(el)))


CII_SELLER = "//ram:SellerTradeParty"
CII_BUYER = "//ram:BuyerTradeParty"
CII_LINE = "(//ram:IncludedSupplyChainTradeLineItem)[1]"
CII_SUMS = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation"
CII_VAT = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
UBL_SELLER = "/*/cac:AccountingSupplierParty/cac:Party"
UBL_BUYER = "/*/cac:AccountingCustomerParty/cac:Party"
UBL_LINE = "(/*/cac:InvoiceLine | /*/cac:CreditNoteLine)[1]"
UBL_SUMS = "/*/cac:LegalMonetaryTotal"
UBL_VAT = "/*/cac:TaxTotal/cac:TaxSubtotal"

# (what is done, the document kind, the edit, where in CII, where in UBL, every rule that breaks)
TAMPERED: list[tuple[str, str, Callable[[Any], None], str, str, set[str]]] = [
    ("no specification identifier", "invoice", blank,
     "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", "/*/cbc:CustomizationID", {"BR-01"}),
    ("no number", "invoice", blank, "/*/rsm:ExchangedDocument/ram:ID", "/*/cbc:ID", {"BR-02"}),
    ("no issue date", "invoice", blank, "//ram:IssueDateTime/udt:DateTimeString", "/*/cbc:IssueDate", {"BR-03"}),
    ("no type code", "invoice", blank, "/*/rsm:ExchangedDocument/ram:TypeCode", "/*/cbc:InvoiceTypeCode",
     {"BR-04"}),
    ("no currency: the VAT total is then in none", "invoice", blank, "//ram:InvoiceCurrencyCode",
     "/*/cbc:DocumentCurrencyCode", {"BR-05", "BR-CO-15"}),
    ("no seller name", "invoice", blank, f"{CII_SELLER}/ram:Name",
     f"{UBL_SELLER}/cac:PartyLegalEntity/cbc:RegistrationName", {"BR-06"}),
    ("no buyer name", "credit_note", blank, f"{CII_BUYER}/ram:Name",
     f"{UBL_BUYER}/cac:PartyLegalEntity/cbc:RegistrationName", {"BR-07"}),
    ("no seller address", "invoice", remove, f"{CII_SELLER}/ram:PostalTradeAddress",
     f"{UBL_SELLER}/cac:PostalAddress", {"BR-08", "BR-09"}),
    ("no seller country", "invoice", blank, f"{CII_SELLER}/ram:PostalTradeAddress/ram:CountryID",
     f"{UBL_SELLER}/cac:PostalAddress/cac:Country/cbc:IdentificationCode", {"BR-09"}),
    ("no buyer address", "invoice", remove, f"{CII_BUYER}/ram:PostalTradeAddress",
     f"{UBL_BUYER}/cac:PostalAddress", {"BR-10", "BR-11"}),
    ("no buyer country", "credit_note", blank, f"{CII_BUYER}/ram:PostalTradeAddress/ram:CountryID",
     f"{UBL_BUYER}/cac:PostalAddress/cac:Country/cbc:IdentificationCode", {"BR-11"}),
    ("no sum of lines", "invoice", remove, f"{CII_SUMS}/ram:LineTotalAmount", f"{UBL_SUMS}/cbc:LineExtensionAmount",
     {"BR-12"}),
    ("no total without VAT", "invoice", remove, f"{CII_SUMS}/ram:TaxBasisTotalAmount",
     f"{UBL_SUMS}/cbc:TaxExclusiveAmount", {"BR-13"}),
    ("no total with VAT", "invoice", remove, f"{CII_SUMS}/ram:GrandTotalAmount", f"{UBL_SUMS}/cbc:TaxInclusiveAmount",
     {"BR-14"}),
    ("no amount due", "invoice", remove, f"{CII_SUMS}/ram:DuePayableAmount", f"{UBL_SUMS}/cbc:PayableAmount",
     {"BR-15"}),
    ("no lines", "invoice", remove, "//ram:IncludedSupplyChainTradeLineItem", "/*/cac:InvoiceLine",
     {"BR-16", "BR-CO-10", "BR-S-08", "BR-Z-08"}),
    ("a line without its net amount", "invoice", remove,
     f"{CII_LINE}//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
     f"{UBL_LINE}/cbc:LineExtensionAmount", {"BR-24", "BR-CO-10", "BR-S-08"}),
    ("a line without its item name", "credit_note", blank, f"{CII_LINE}/ram:SpecifiedTradeProduct/ram:Name",
     f"{UBL_LINE}/cac:Item/cbc:Name", {"BR-25"}),
    ("a line without its VAT category", "invoice", remove, f"{CII_LINE}//ram:ApplicableTradeTax/ram:CategoryCode",
     f"{UBL_LINE}/cac:Item/cac:ClassifiedTaxCategory/cbc:ID", {"BR-CO-04", "BR-S-08"}),
    ("a seller VAT id of no country", "invoice", set_to("ZZ01234567890"),
     f"{CII_SELLER}/ram:SpecifiedTaxRegistration/ram:ID", f"{UBL_SELLER}/cac:PartyTaxScheme/cbc:CompanyID",
     {"BR-CO-09"}),
    ("a changed line amount", "invoice", plus_one,
     f"{CII_LINE}//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
     f"{UBL_LINE}/cbc:LineExtensionAmount", {"BR-CO-10", "BR-S-08"}),
    ("a changed line amount on a credit note", "credit_note", plus_cent,
     f"{CII_LINE}//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
     f"{UBL_LINE}/cbc:LineExtensionAmount", {"BR-CO-10", "BR-S-08"}),
    ("a changed total without VAT", "invoice", plus_cent, f"{CII_SUMS}/ram:TaxBasisTotalAmount",
     f"{UBL_SUMS}/cbc:TaxExclusiveAmount", {"BR-CO-13", "BR-CO-15"}),
    ("a changed VAT total", "credit_note", plus_cent, f"{CII_SUMS}/ram:TaxTotalAmount", "/*/cac:TaxTotal/cbc:TaxAmount",
     {"BR-CO-14", "BR-CO-15"}),
    ("two VAT totals in the invoice currency", "invoice", duplicate, f"{CII_SUMS}/ram:TaxTotalAmount",
     "/*/cac:TaxTotal/cbc:TaxAmount", {"BR-CO-15"}),
    ("a changed total with VAT", "invoice", plus_cent, f"{CII_SUMS}/ram:GrandTotalAmount",
     f"{UBL_SUMS}/cbc:TaxInclusiveAmount", {"BR-CO-15", "BR-CO-16"}),
    ("a changed amount due", "invoice", plus_cent, f"{CII_SUMS}/ram:DuePayableAmount", f"{UBL_SUMS}/cbc:PayableAmount",
     {"BR-CO-16"}),
    ("no VAT breakdown", "invoice", remove, CII_VAT, UBL_VAT, {"BR-CO-18", "BR-S-08", "BR-Z-08"}),
    ("no seller VAT id", "invoice", remove, f"{CII_SELLER}/ram:SpecifiedTaxRegistration",
     f"{UBL_SELLER}/cac:PartyTaxScheme", {"BR-S-02", "BR-Z-02"}),
    ("a changed taxable amount at 22 %", "invoice", plus_cent,
     f"{CII_VAT}[ram:RateApplicablePercent='22']/ram:BasisAmount",
     f"{UBL_VAT}[cac:TaxCategory/cbc:Percent='22']/cbc:TaxableAmount", {"BR-S-08"}),
    ("VAT at 22 % one euro off", "invoice", plus_one,
     f"{CII_VAT}[ram:RateApplicablePercent='22']/ram:CalculatedAmount",
     f"{UBL_VAT}[cac:TaxCategory/cbc:Percent='22']/cbc:TaxAmount", {"BR-S-09", "BR-CO-14"}),
    ("a changed zero-rated taxable amount", "credit_note", plus_cent,
     f"{CII_VAT}[ram:CategoryCode='Z']/ram:BasisAmount",
     f"{UBL_VAT}[cac:TaxCategory/cbc:ID='Z']/cbc:TaxableAmount", {"BR-Z-08"}),
    ("VAT on zero-rated goods", "invoice", set_to("0.01"),
     f"{CII_VAT}[ram:CategoryCode='Z']/ram:CalculatedAmount",
     f"{UBL_VAT}[cac:TaxCategory/cbc:ID='Z']/cbc:TaxAmount", {"BR-Z-09", "BR-CO-14"}),
    ("a VAT breakdown without its taxable amount", "invoice", remove,
     f"{CII_VAT}[ram:RateApplicablePercent='10']/ram:BasisAmount",
     f"{UBL_VAT}[cac:TaxCategory/cbc:Percent='10']/cbc:TaxableAmount", {"BR-45", "BR-S-08"}),
    ("a VAT breakdown without its VAT", "invoice", remove,
     f"{CII_VAT}[ram:RateApplicablePercent='10']/ram:CalculatedAmount",
     f"{UBL_VAT}[cac:TaxCategory/cbc:Percent='10']/cbc:TaxAmount", {"BR-46", "BR-CO-14"}),
    ("a VAT breakdown without its category", "invoice", remove,
     f"{CII_VAT}[ram:RateApplicablePercent='10']/ram:CategoryCode",
     f"{UBL_VAT}[cac:TaxCategory/cbc:Percent='10']/cac:TaxCategory/cbc:ID", {"BR-47", "BR-S-08"}),
    ("a VAT breakdown without its rate", "invoice", remove,
     f"{CII_VAT}[ram:RateApplicablePercent='10']/ram:RateApplicablePercent",
     f"{UBL_VAT}[cac:TaxCategory/cbc:Percent='10']/cac:TaxCategory/cbc:Percent", {"BR-48", "BR-S-08"}),
    ("a credited invoice without its number", "credit_note", blank,
     "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID",
     "/*/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", {"BR-55"}),
]


def tampered(xml: bytes, path: str, edit: Callable[[Any], None]) -> bytes:
    root = etree.fromstring(xml)
    found = root.xpath(path, namespaces=NS)
    assert found, f"nothing at {path}: the case does not tamper with anything"
    for el in found if edit is remove else found[:1]:
        edit(el)
    return etree.tostring(root)


@pytest.fixture(scope="module")
def originals() -> dict[tuple[str, str], bytes]:
    docs = {"invoice": sample_document("it", lines=mixed_lines()),
            "credit_note": sample_document("it", kind="credit_note", lines=mixed_lines())}
    return {(kind, syntax): write(doc) for kind, doc in docs.items() for syntax, write in WRITERS.items()}


@pytest.mark.parametrize("syntax", sorted(WRITERS))
@pytest.mark.parametrize(("what", "kind", "edit", "cii", "ubl", "broken"), TAMPERED,
                         ids=[c[0].replace(" ", "-") for c in TAMPERED])
def test_a_tampered_document_is_caught_by_the_rule_it_breaks(
    originals: dict[tuple[str, str], bytes], syntax: str, what: str, kind: str, edit: Callable[[Any], None],
    cii: str, ubl: str, broken: set[str],
) -> None:
    xml = originals[(kind, syntax)]
    assert broken_rules(xml) == set()
    assert broken_rules(tampered(xml, cii if syntax == "CII" else ubl, edit)) == broken


def test_every_rule_the_checker_knows_is_shown_to_fail() -> None:
    shown = set().union(*(c[-1] for c in TAMPERED))
    assert shown == set(RULES), sorted(set(RULES) ^ shown)


def test_vat_within_a_cent_of_the_rate_is_valid_as_the_official_rules_have_it() -> None:
    """BR-S-09 accepts a category's VAT less than one unit from basis × rate:
    the last credit note of an invoice takes what is left of its VAT."""
    lamp = {"sku": "LAMP", "description": "Desk lamp", "quantity": 1, "unit": "pcs", "unit_price": D("9.99"),
            "discount": D(0), "vat_rate": D("0.22"), "net": D("9.99")}
    doc = sample_document("en", kind="credit_note", lines=[lamp])
    assert [(v["rate"], v["net"], v["vat"]) for v in doc["vat"]] == [(D("0.22"), D("9.99"), D("2.20"))]  # 2.1978
    doc.update(vat=[{"rate": D("0.22"), "net": D("9.99"), "vat": D("2.19")}], vat_total=D("2.19"), total=D("12.18"))
    for write in WRITERS.values():
        assert_en16931(write(doc))
    doc.update(vat=[{"rate": D("0.22"), "net": D("9.99"), "vat": D("1.20")}], vat_total=D("1.20"), total=D("11.19"))
    for write in WRITERS.values():
        assert broken_rules(write(doc)) == {"BR-S-09"}
