"""Every kind of document o2c writes, in both syntaxes, passes the official
EN 16931 rules (CEN artefacts 1.3.16, ``tests/documents/official.py``) with
no fatal assertion: invoices and credit notes in the four languages, at every
rate with discounts, of one and of 150 lines, to buyers with and without a
VAT number, with hostile names, under every tax treatment (domestic with zero
rated and exempt lines, intra-EU supply, distance sale at the destination's
rates, export, exempt) — the Cross-Industry-Invoice as the Factur-X
PDF embeds it, and UBL."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from o2c.documents import einvoice
from o2c.documents.pdf import document_pdf
from o2c.domain.fx import functional_figures
from tests.docbuild import buyer, embedded_xml, sample_document, sample_lines
from tests.documents import official
from tests.documents.en16931 import assert_en16931, read

D = Decimal
LANGUAGES = ("en", "it", "pl", "ru")
KINDS = ("invoice", "credit_note")

SCRIPT = '<script>alert("o2c")</script><img src=x onerror=alert(1)>'
SQLISH = "Robert'); DROP TABLE customers;--"
UNICODE = "Zażółć gęślą jaźń Ёлка Straße ‮txet‬ 🚚 & < > \" '"


def mixed_lines() -> list[dict[str, Any]]:
    """22 %, 10 % and 4 % with discounts, and a zero-rated line."""
    gift = {"sku": "GIFT-CARD", "description": "Gift card", "quantity": 2, "unit": "pcs",
            "unit_price": D("25.00"), "discount": D(0), "vat_rate": D(0), "net": D("50.00")}
    return [*sample_lines(7), gift]


def hostile_document(lang: str, kind: str) -> dict[str, Any]:
    b = buyer(lang)
    b.update(name=f"{SQLISH} {SCRIPT}", code=f"C-{SQLISH[:10]}", email="a+b&c@example.com")
    b["address"] = {**b["address"], "name": UNICODE, "line1": f"{SCRIPT} 1", "line2": UNICODE, "city": SQLISH}
    lines = mixed_lines()
    for l in lines:
        l["description"] = f"{SCRIPT} {UNICODE} {l['description']}"
    doc = sample_document(lang, kind=kind, lines=lines, buyer=b, ship_to=b["address"],
                          references={"order": "SO-2026-000123", "customer_reference": f"{SQLISH}&<>",
                                      "shipment": None, "carrier": None, "tracking_number": None})
    return doc


def taxed(lines: list[dict[str, Any]], category: str, rates: dict[Decimal, Decimal] | None = None
          ) -> list[dict[str, Any]]:
    """The lines under one category: the rate each would have (``rates`` maps
    the domestic rate to the destination's), 0 % outside category S."""
    out = []
    for l in lines:
        rate = (rates or {}).get(l["vat_rate"], l["vat_rate"]) if category == "S" else D(0)
        out.append({**l, "vat_category": category if rate or category != "S" else "Z", "vat_rate": rate})
    return out


def consumer(lang: str, country: str, city: str, postal_code: str) -> dict[str, Any]:
    b = buyer(lang)
    b.update(name="Anna Nowak", tax_id=None, code="C-NOWAK")
    b["address"] = {"name": "Anna Nowak", "line1": "ul. Długa 1", "line2": None, "city": city,
                    "postal_code": postal_code, "country": country}
    return b


def with_buyer(lang: str, who: str) -> dict[str, Any]:
    """A buyer of ``who``'s country (en: DE, pl: PL, ru: RU, it: IT) writing in ``lang``."""
    b = buyer(who)
    b["code"] = f"C-{who.upper()}-{lang.upper()}"
    return b


def treatment_document(treatment: str) -> Callable[[str, str], dict[str, Any]]:
    """An invoice or credit note of ``treatment`` in a language, as o2c's
    documents carry it: categories per line, the breakdown per category and
    rate with its exemption reason."""
    def build(lang: str, kind: str) -> dict[str, Any]:
        exempt = {"sku": "COURSE-BARISTA", "description": "Barista training course (exempt education)",
                  "quantity": 1, "unit": "pcs", "unit_price": D("120.00"), "discount": D(0),
                  "vat_rate": D(0), "vat_category": "E", "net": D("120.00")}
        if treatment == "domestic":  # S at three rates, Z, and an exempt line
            lines, b, country = [*taxed(mixed_lines(), "S"), exempt], with_buyer(lang, "it"), "IT"
        elif treatment == "intra_eu_b2b":
            lines, b, country = taxed(mixed_lines(), "K"), with_buyer(lang, "en"), "DE"
        elif treatment == "eu_distance_sale":  # Polish rates: 23 %, 8 %, 5 %
            lines = taxed(mixed_lines(), "S", {D("0.22"): D("0.23"), D("0.10"): D("0.08"), D("0.04"): D("0.05")})
            b, country = consumer(lang, "PL", "Kraków", "31-021"), "PL"
        elif treatment == "export":
            lines, b, country = taxed(mixed_lines(), "G"), with_buyer(lang, "ru"), "IT"
        else:  # exempt: nothing but exempt lines
            lines, b, country = [exempt, {**exempt, "sku": "COURSE-LATTE", "quantity": 3, "net": D("360.00")}], \
                with_buyer(lang, "it"), "IT"
        return sample_document(lang, kind=kind, lines=lines, buyer=b, ship_to=b["address"],
                               tax_treatment=treatment, tax_country=country)
    return build


def zloty_document(lang: str, kind: str) -> dict[str, Any]:
    """A document in PLN at 4.2750 carrying its figures in EUR as o2c stores
    them (``o2c.domain.fx.functional_figures``): the e-invoice states EUR as
    the VAT accounting currency (BT-6) and the VAT total in it (BT-111)."""
    rate = D("4.2750")
    doc = sample_document(lang, kind=kind, lines=mixed_lines(), currency="PLN")
    f = functional_figures([(v["net"], v["vat"]) for v in doc["vat"]], [l["net"] for l in doc["lines"]], rate, "PLN")
    doc["functional"] = {"currency": "EUR", "rate": rate, "net_total": f.net, "vat_total": f.vat, "total": f.total,
                         "vat": [{**v, "net": n, "vat": t} for v, (n, t) in zip(doc["vat"], f.rows)]}
    return doc


def no_vat_number_buyer(lang: str) -> dict[str, Any]:
    b = buyer(lang)
    b.update(tax_id=None)
    return b


#: (name, builder(lang, kind)) — each built in every language and kind.
SHAPES: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "at four rates with discounts": lambda lang, kind: sample_document(lang, kind=kind, lines=mixed_lines()),
    "of one line": lambda lang, kind: sample_document(lang, 1, kind),
    "of 150 lines": lambda lang, kind: sample_document(lang, 150, kind),
    "to a buyer without a tax id": lambda lang, kind: sample_document(lang, 5, kind, buyer=no_vat_number_buyer(lang)),
    "with hostile names": hostile_document,
    "in złoty": zloty_document,
    **{f"{t.replace('_', ' ')}": treatment_document(t)
       for t in ("domestic", "intra_eu_b2b", "eu_distance_sale", "export", "exempt")},
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_document_passes_the_official_rules_in_both_syntaxes(shape: str, lang: str, kind: str) -> None:
    doc = SHAPES[shape](lang, kind)
    for write in (einvoice.cii_xml, einvoice.ubl_xml):
        xml = write(doc)
        assert_en16931(xml)
        inv = read(xml)  # what was validated is the document, not an empty shell
        assert (inv.number, inv.buyer.name, len(inv.lines), len(inv.breakdown)) == (
            doc["number"], doc["buyer"]["name"], len(doc["lines"]), len(doc["vat"]))
        assert inv.grand_total == doc["total"]
        assert sorted((v.category, v.rate) for v in inv.breakdown) == sorted(
            (v.get("category") or "S", v["rate"]) for v in doc["vat"])
        for v in doc["vat"]:  # the exemption reason of K, G and E rows is in the XML
            if v.get("exemption_reason_code"):
                assert v["exemption_reason_code"].encode() in xml, v


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_xml_a_factur_x_pdf_embeds_passes_the_official_rules(lang: str, kind: str) -> None:
    doc = hostile_document(lang, kind) if lang == "ru" else sample_document(lang, kind=kind, lines=mixed_lines())
    xml = embedded_xml(document_pdf(doc))
    assert xml == einvoice.cii_xml(doc)
    assert_en16931(xml)


def test_the_official_rules_are_really_run() -> None:
    """A document the official rules reject is rejected: the check cannot pass
    vacuously (no artefacts found, no rule fired, an empty report)."""
    xml = einvoice.ubl_xml(sample_document("pl", kind="credit_note", lines=mixed_lines()))
    official.assert_valid(xml)
    broken = xml.replace(b"<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
                         b"<cbc:DocumentCurrencyCode>EURO</cbc:DocumentCurrencyCode>")
    assert broken != xml
    assert "BR-CL-04" in official.fatal_rules(broken)  # ISO 4217 code list
    with pytest.raises(AssertionError, match="BR-CL-04"):
        assert_en16931(broken)
    with pytest.raises(ValueError, match="not an EN 16931 e-invoice"):
        official.report(b"<Invoice/>")


CII_REASON = ("//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:ExemptionReason"
              "|//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:ExemptionReasonCode")
UBL_REASON = ("//cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason"
              "|//cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReasonCode")
NS = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
      "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
      "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}


@pytest.mark.parametrize(("what", "shape", "cii", "ubl", "rule"), [
    ("an intra-EU supply without its exemption reason", "intra eu b2b", CII_REASON, UBL_REASON, "BR-IC-10"),
    ("an intra-EU supply without the buyer's VAT id", "intra eu b2b",
     "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration", "//cac:AccountingCustomerParty//cac:PartyTaxScheme",
     "BR-IC-02"),
    ("an intra-EU supply without its delivery date", "intra eu b2b",
     "//ram:ApplicableHeaderTradeDelivery/ram:ActualDeliverySupplyChainEvent", "//cac:Delivery/cbc:ActualDeliveryDate",
     "BR-IC-11"),
    ("an export without its exemption reason", "export", CII_REASON, UBL_REASON, "BR-G-10"),
    ("an exempt sale without its exemption reason", "exempt", CII_REASON, UBL_REASON, "BR-E-10"),
])
def test_a_treatment_missing_what_its_category_needs_fails_the_official_rules(
        what: str, shape: str, cii: str, ubl: str, rule: str) -> None:
    from lxml import etree
    doc = SHAPES[shape]("en", "invoice")
    for write, path in ((einvoice.cii_xml, cii), (einvoice.ubl_xml, ubl)):
        root = etree.fromstring(write(doc))
        found = root.xpath(path, namespaces=NS)
        assert found, path
        for el in found:
            el.getparent().remove(el)
        assert official.fatal_rules(etree.tostring(root)) == {rule}, what


@pytest.mark.parametrize("kind", KINDS)
def test_a_document_in_another_currency_states_its_vat_in_euro_in_both_syntaxes(kind: str) -> None:
    """BT-6 is EUR and BT-111, beside the VAT total in złoty, is the
    functional VAT total the ledger holds; a EUR document carries neither."""
    from lxml import etree
    doc = zloty_document("pl", kind)
    vat_eur = f"{doc['functional']['vat_total']:.2f}"
    assert doc["functional"]["vat_total"] != doc["vat_total"]
    cii = etree.fromstring(einvoice.cii_xml(doc))
    settle = "//ram:ApplicableHeaderTradeSettlement"
    assert cii.xpath(f"{settle}/ram:TaxCurrencyCode/text()", namespaces=NS) == ["EUR"]
    assert [(t.get("currencyID"), t.text) for t in cii.xpath(
        f"{settle}/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TaxTotalAmount", namespaces=NS)] == [
        ("PLN", f"{doc['vat_total']:.2f}"), ("EUR", vat_eur)]
    ubl = etree.fromstring(einvoice.ubl_xml(doc))
    assert ubl.xpath("/*/cbc:TaxCurrencyCode/text()", namespaces=NS) == ["EUR"]
    assert [(t.get("currencyID"), t.text, len(t.getparent()) - 1) for t in ubl.xpath(
        "/*/cac:TaxTotal/cbc:TaxAmount", namespaces=NS)] == [
        ("PLN", f"{doc['vat_total']:.2f}", len(doc["vat"])), ("EUR", vat_eur, 0)]
    euro = sample_document("pl", kind=kind, lines=mixed_lines())
    for write in (einvoice.cii_xml, einvoice.ubl_xml):
        assert official.fatal_rules(write(doc)) == set()
        assert b"TaxCurrencyCode" not in write(euro)
    # Without BT-111 the official rules object (BR-53): what is validated is really there.
    broken = einvoice.ubl_xml(doc).replace(f'<cbc:TaxAmount currencyID="EUR">{vat_eur}</cbc:TaxAmount>'.encode(), b"")
    assert "BR-53" in official.fatal_rules(broken)
