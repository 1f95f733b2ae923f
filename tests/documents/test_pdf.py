"""PDFs rendered from hand-built documents, read back as a customer's PDF
reader would: text per page, fonts, the embedded Factur-X XML."""
from __future__ import annotations

import re
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from facturx import xml_check_xsd
from pypdf import PdfReader

from o2c.documents.i18n import formats
from o2c.documents.pdf import document_pdf
from o2c.domain.money import line_net
from tests.docbuild import NBSP, cii_figures, embedded_xml, pdf_pages, sample_document
from tests.documents.en16931 import assert_en16931

D = Decimal


def big_order_lines() -> list[dict[str, Any]]:
    """Three rates, a discount and amounts over a thousand (so grouping shows)."""
    rows = [("GRINDER-HAND", "Manual burr coffee grinder", 25, "54.00", "0", "0.22"),
            ("TEA-SENCHA-100", "Sencha green tea, 100 g", 10, "7.80", "0.10", "0.10"),
            ("OIL-EVO-750", "Extra virgin olive oil, 750 ml", 3, "12.40", "0", "0.04")]
    return [{"sku": s, "description": d, "quantity": q, "unit": "pcs", "unit_price": D(p), "discount": D(disc),
             "vat_rate": D(v), "net": line_net(q, D(p), D(disc))} for s, d, q, p, disc, v in rows]


# Net 1350.00 + 70.20 + 37.20 = 1457.40; VAT 297.00 + 7.02 + 1.49 = 305.51; total 1762.91.
EXPECTED = {
    "it": {"title": "FATTURA", "total": f"1.762,91{NBSP}€", "net": f"1.457,40{NBSP}€", "line": "1.350,00",
           "vat22": "297,00", "due": "Totale da pagare", "date": "15 marzo 2026", "terms": "Pagamento a 30 giorni"},
    "pl": {"title": "FAKTURA", "total": f"1{NBSP}762,91{NBSP}€", "net": f"1{NBSP}457,40{NBSP}€",
           "line": f"1{NBSP}350,00", "vat22": "297,00", "due": "Do zapłaty", "date": "15 marca 2026",
           "terms": "Płatność w ciągu 30 dni"},
    "ru": {"title": "СЧЁТ", "total": f"1{NBSP}762,91{NBSP}€", "net": f"1{NBSP}457,40{NBSP}€",
           "line": f"1{NBSP}350,00", "vat22": "297,00", "due": "Итого к оплате", "date": "15 марта 2026",
           "terms": "Оплата в течение 30 дней"},
    "en": {"title": "INVOICE", "total": "€1,762.91", "net": "€1,457.40", "line": "1,350.00", "vat22": "297.00",
           "due": "Total due", "date": "15 March 2026", "terms": "Payment within 30 days"},
}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def rendered(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], bytes]:
    lang = request.param
    doc = sample_document(lang, lines=big_order_lines())
    return lang, doc, document_pdf(doc)


def test_the_invoice_reads_in_the_customers_language_with_locale_formatting(rendered: Any) -> None:
    lang, doc, pdf = rendered
    pages = pdf_pages(pdf)
    assert len(pages) == 1
    text = pages[0]
    want = EXPECTED[lang]
    assert (doc["net_total"], doc["vat_total"], doc["total"]) == (D("1457.40"), D("305.51"), D("1762.91"))
    assert doc["number"] in text and doc["buyer"]["name"] in text
    assert want["title"] in text and want["due"] in text and want["date"] in text and want["terms"] in text
    assert f"{want['due']} {want['total']}" in text
    assert want["net"] in text and want["line"] in text
    f = formats(lang)
    for line in doc["lines"]:
        assert re.search(rf"{line['no']} {re.escape(line['sku'])} {re.escape(line['description'])} "
                         rf"{line['quantity']} ", text), line
        assert f.amount(line["net"]) in text and f.amount(line["unit_price"]) in text
    for v in doc["vat"]:  # the VAT summary: rate, taxable amount, VAT
        assert f"{f.percent(v['rate'])} {f.amount(v['net'])} {f.amount(v['vat'])}" in text, v
    assert f"{f.percent(D('0.22'))} {want['line']} {want['vat22']}" in text
    assert "1 / 1" in text


def test_the_fonts_are_embedded_subsets_with_every_glyph_the_text_needs(rendered: Any) -> None:
    lang, doc, pdf = rendered
    fonts = set()
    for page in PdfReader(BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            assert "/FontFile2" in descriptor  # embedded, not left to the reader's machine
            fonts.add(str(font["/BaseFont"]).split("+", 1)[-1])
    assert fonts <= {"DejaVu-Sans", "DejaVu-Sans-Bold"}, fonts  # two faces: two fonts to subset
    if lang == "ru":  # Cyrillic copies back out as Cyrillic: the glyphs and their Unicode map are there
        text = pdf_pages(pdf)[0]
        assert "ООО «Самовар Трейд»" in text and "ул. Мясницкая, д. 24/7, стр. 1" in text and "Москва" in text


def test_the_pdf_is_factur_x_with_valid_en16931_xml_of_the_same_figures(rendered: Any) -> None:
    _, doc, pdf = rendered
    reader = PdfReader(BytesIO(pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfaid:part(>|=\")3", xmp) and "EN 16931" in xmp and "factur-x.xml" in xmp
    images = [x.get_object() for x in reader.pages[0]["/Resources"]["/XObject"].values()]
    assert [(i["/Subtype"], i["/Width"] == i["/Height"], i["/Interpolate"]) for i in images] == [
        ("/Image", True, False)]  # the EPC QR code, square and drawn with sharp modules
    intent = reader.trailer["/Root"]["/OutputIntents"][0].get_object()
    assert intent["/S"] == "/GTS_PDFA1" and "/DestOutputProfile" in intent  # sRGB, as PDF/A requires
    xml = embedded_xml(pdf)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert_en16931(xml)
    got = cii_figures(xml)
    assert (got["number"], got["net"], got["vat"], got["total"]) == (
        doc["number"], D("1457.40"), D("305.51"), D("1762.91"))
    assert got["by_rate"] == [(D("0.04"), D("37.20"), D("1.49")), (D("0.1"), D("70.20"), D("7.02")),
                              (D("0.22"), D("1350.00"), D("297.00"))]


def test_a_150_line_invoice_spans_pages_with_the_header_row_and_page_numbers_on_each() -> None:
    doc = sample_document("en", 150)
    pages = pdf_pages(document_pdf(doc))
    n = len(pages)
    row = re.compile(r"^(\d+) [A-Z][A-Z0-9-]+ ", re.M)
    with_lines = [i for i, text in enumerate(pages, start=1) if row.search(text)]
    assert len(with_lines) >= 3 and with_lines == list(range(1, len(with_lines) + 1))
    for i, text in enumerate(pages, start=1):
        if i in with_lines:  # the table's header row starts every page the table is on
            assert "No. Item Description Qty Unit Unit price Disc. VAT Net amount" in text, i
        assert text.rstrip().endswith(f"{i} / {n}"), (i, text[-80:])
        assert "o2c Trading S.r.l." in text
        if i > 1:  # the running header names the document on every following page
            assert "Invoice INV-2026-000045" in text
    everything = "\n".join(pages)
    numbered = [int(m) for m in row.findall(everything)]
    assert numbered == list(range(1, 151))
    totals_on = [i for i, text in enumerate(pages, start=1) if "Total due" in text]
    assert totals_on == [with_lines[-1]] or totals_on == [with_lines[-1] + 1]  # once, after the last line
    assert "Payment within 30 days" in pages[-1]


def test_a_credit_note_uses_the_same_template_and_says_what_it_credits() -> None:
    doc = sample_document("it", 3, "credit_note")
    pdf = document_pdf(doc)
    text = pdf_pages(pdf)[0]
    assert "NOTA DI CREDITO" in text and "CN-2026-000007" in text
    assert "La presente nota di credito storna la fattura INV-2026-000045 del 15 marzo 2026" in text
    assert "Motivo: Goods returned: 2 moka pots damaged in transit" in text
    assert f"Totale accreditato {formats('it').money(doc['total'], 'EUR')}" in text
    assert "IBAN" not in text and "Totale da pagare" not in text  # nothing to pay on a credit note
    assert not PdfReader(BytesIO(pdf)).pages[0]["/Resources"]["/XObject"]  # and no QR code to pay with
    xml = embedded_xml(pdf)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert_en16931(xml)
    got = cii_figures(xml)
    assert (got["type"], got["number"], got["total"]) == ("381", "CN-2026-000007", doc["total"])
    assert b"<ram:IssuerAssignedID>INV-2026-000045</ram:IssuerAssignedID>" in xml
