"""EN 16931 e-invoices in either syntax (the Cross-Industry-Invoice a Factur-X
PDF embeds, and UBL 2.1 ``Invoice`` or ``CreditNote``) read into the business
terms of the semantic model (BT-1 the number, BT-106 the sum of line nets,
BG-23 the VAT breakdown, ...), so tests can assert what a document says.

The business rules themselves are the official CEN artefacts
(``tests/documents/official.py``). Only two checks stay here, where the
artefacts are looser than the standard's text and o2c is not:

- the taxable amount per VAT category and rate *equals* its lines' nets
  (the UBL artefact accepts a unit either way), with one breakdown per
  category and rate the lines use and none without lines;
- a credit note's preceding invoice reference carries a number (the UBL
  artefact lets a blank one through).

``assert_en16931(xml)`` runs both and fails a test with every broken rule.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from lxml import etree

from o2c.domain.money import ZERO, round_money

CII = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
       "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
       "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"}
UBL = {"inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
       "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
       "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
       "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}


class Violation(NamedTuple):
    rule: str
    message: str


# -- the business terms -------------------------------------------------------------------

@dataclass
class Party:
    name: str | None = None                      # BT-27 / BT-44
    has_address: bool = False                    # BG-5 / BG-8
    country: str | None = None                   # BT-40 / BT-55
    vat_ids: list[str] = field(default_factory=list)       # BT-31 / BT-48
    tax_registrations: list[str] = field(default_factory=list)  # BT-32 (CII scheme FC)


@dataclass
class Line:
    id: str | None
    net: Decimal | None                          # BT-131
    category: str | None                         # BT-151
    rate: Decimal | None                         # BT-152
    name: str | None                             # BT-153


@dataclass
class AllowanceCharge:
    charge: bool
    amount: Decimal | None                       # BT-92 / BT-99
    category: str | None                         # BT-95 / BT-102
    rate: Decimal | None                         # BT-96 / BT-103


@dataclass
class VatBreakdown:
    basis: Decimal | None                        # BT-116
    tax: Decimal | None                          # BT-117
    category: str | None                         # BT-118
    rate: Decimal | None                         # BT-119


@dataclass
class Invoice:
    syntax: str
    specification: str | None = None             # BT-24
    number: str | None = None                    # BT-1
    issue_date: str | None = None                # BT-2
    type_code: str | None = None                 # BT-3
    currency: str | None = None                  # BT-5
    seller: Party = field(default_factory=Party)
    buyer: Party = field(default_factory=Party)
    lines: list[Line] = field(default_factory=list)
    allowances_charges: list[AllowanceCharge] = field(default_factory=list)
    line_total: Decimal | None = None            # BT-106
    allowance_total: Decimal | None = None       # BT-107
    charge_total: Decimal | None = None          # BT-108
    tax_basis: Decimal | None = None             # BT-109
    vat_totals: list[tuple[Decimal | None, str | None]] = field(default_factory=list)  # BT-110 with currency
    grand_total: Decimal | None = None           # BT-112
    prepaid: Decimal | None = None               # BT-113
    rounding: Decimal | None = None              # BT-114
    due: Decimal | None = None                   # BT-115
    breakdown: list[VatBreakdown] = field(default_factory=list)
    preceding_invoices: list[str | None] = field(default_factory=list)  # BT-25


def _all(el: Any, path: str, ns: dict[str, str]) -> list[Any]:
    return el.xpath(path, namespaces=ns) if el is not None else []


def _one(el: Any, path: str, ns: dict[str, str]) -> Any:
    found = _all(el, path, ns)
    return found[0] if found else None


def _text(el: Any, path: str, ns: dict[str, str]) -> str | None:
    found = _one(el, path, ns)
    return found.text if found is not None else None


def _amount(el: Any, path: str, ns: dict[str, str]) -> Decimal | None:
    text = _text(el, path, ns)
    try:
        return Decimal(text.strip()) if text is not None else None
    except InvalidOperation:
        return None


def _percent(el: Any, path: str, ns: dict[str, str]) -> Decimal | None:
    p = _amount(el, path, ns)
    return p / 100 if p is not None else None


def read_cii(root: Any) -> Invoice:
    ns = CII
    inv = Invoice("CII")
    inv.specification = _text(root, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", ns)
    head = _one(root, "rsm:ExchangedDocument", ns)
    inv.number = _text(head, "ram:ID", ns)
    inv.issue_date = _text(head, "ram:IssueDateTime/udt:DateTimeString[@format='102']", ns)
    inv.type_code = _text(head, "ram:TypeCode", ns)
    trade = _one(root, "rsm:SupplyChainTradeTransaction", ns)
    agreement = _one(trade, "ram:ApplicableHeaderTradeAgreement", ns)
    settle = _one(trade, "ram:ApplicableHeaderTradeSettlement", ns)
    inv.currency = _text(settle, "ram:InvoiceCurrencyCode", ns)
    for party, tag in ((inv.seller, "ram:SellerTradeParty"), (inv.buyer, "ram:BuyerTradeParty")):
        p = _one(agreement, tag, ns)
        if p is None:
            continue
        party.name = _text(p, "ram:Name", ns)
        address = _one(p, "ram:PostalTradeAddress", ns)
        party.has_address = address is not None
        party.country = _text(address, "ram:CountryID", ns)
        party.vat_ids = [e.text or "" for e in _all(p, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']", ns)]
        party.tax_registrations = [e.text or "" for e in
                                   _all(p, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='FC']", ns)]
    for item in _all(trade, "ram:IncludedSupplyChainTradeLineItem", ns):
        s = _one(item, "ram:SpecifiedLineTradeSettlement", ns)
        inv.lines.append(Line(
            id=_text(item, "ram:AssociatedDocumentLineDocument/ram:LineID", ns),
            net=_amount(s, "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount", ns),
            category=_text(s, "ram:ApplicableTradeTax[ram:TypeCode='VAT']/ram:CategoryCode", ns),
            rate=_percent(s, "ram:ApplicableTradeTax[ram:TypeCode='VAT']/ram:RateApplicablePercent", ns),
            name=_text(item, "ram:SpecifiedTradeProduct/ram:Name", ns)))
    if settle is None:
        return inv
    for ac in _all(settle, "ram:SpecifiedTradeAllowanceCharge", ns):
        inv.allowances_charges.append(AllowanceCharge(
            charge=_text(ac, "ram:ChargeIndicator/udt:Indicator", ns) == "true",
            amount=_amount(ac, "ram:ActualAmount", ns),
            category=_text(ac, "ram:CategoryTradeTax/ram:CategoryCode", ns),
            rate=_percent(ac, "ram:CategoryTradeTax/ram:RateApplicablePercent", ns)))
    for tax in _all(settle, "ram:ApplicableTradeTax", ns):
        inv.breakdown.append(VatBreakdown(
            basis=_amount(tax, "ram:BasisAmount", ns), tax=_amount(tax, "ram:CalculatedAmount", ns),
            category=_text(tax, "ram:CategoryCode", ns), rate=_percent(tax, "ram:RateApplicablePercent", ns)))
    sums = _one(settle, "ram:SpecifiedTradeSettlementHeaderMonetarySummation", ns)
    inv.line_total = _amount(sums, "ram:LineTotalAmount", ns)
    inv.allowance_total = _amount(sums, "ram:AllowanceTotalAmount", ns)
    inv.charge_total = _amount(sums, "ram:ChargeTotalAmount", ns)
    inv.tax_basis = _amount(sums, "ram:TaxBasisTotalAmount", ns)
    inv.vat_totals = [(_amount(e, ".", ns), e.get("currencyID"))
                      for e in _all(sums, "ram:TaxTotalAmount", ns)]
    inv.grand_total = _amount(sums, "ram:GrandTotalAmount", ns)
    inv.prepaid = _amount(sums, "ram:TotalPrepaidAmount", ns)
    inv.rounding = _amount(sums, "ram:RoundingAmount", ns)
    inv.due = _amount(sums, "ram:DuePayableAmount", ns)
    inv.preceding_invoices = [_text(r, "ram:IssuerAssignedID", ns)
                              for r in _all(settle, "ram:InvoiceReferencedDocument", ns)]
    return inv


def read_ubl(root: Any) -> Invoice:
    ns = UBL
    inv = Invoice("UBL")
    inv.specification = _text(root, "cbc:CustomizationID", ns)
    inv.number = _text(root, "cbc:ID", ns)
    inv.issue_date = _text(root, "cbc:IssueDate", ns)
    inv.type_code = _text(root, "cbc:InvoiceTypeCode", ns) or _text(root, "cbc:CreditNoteTypeCode", ns)
    inv.currency = _text(root, "cbc:DocumentCurrencyCode", ns)
    for party, tag in ((inv.seller, "cac:AccountingSupplierParty"), (inv.buyer, "cac:AccountingCustomerParty")):
        p = _one(root, f"{tag}/cac:Party", ns)
        if p is None:
            continue
        party.name = _text(p, "cac:PartyLegalEntity/cbc:RegistrationName", ns)
        address = _one(p, "cac:PostalAddress", ns)
        party.has_address = address is not None
        party.country = _text(address, "cac:Country/cbc:IdentificationCode", ns)
        party.vat_ids = [e.text or "" for e in _all(p, "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID", ns)]
    for line in [*_all(root, "cac:InvoiceLine", ns), *_all(root, "cac:CreditNoteLine", ns)]:
        inv.lines.append(Line(
            id=_text(line, "cbc:ID", ns), net=_amount(line, "cbc:LineExtensionAmount", ns),
            category=_text(line, "cac:Item/cac:ClassifiedTaxCategory[cac:TaxScheme/cbc:ID='VAT']/cbc:ID", ns),
            rate=_percent(line, "cac:Item/cac:ClassifiedTaxCategory[cac:TaxScheme/cbc:ID='VAT']/cbc:Percent", ns),
            name=_text(line, "cac:Item/cbc:Name", ns)))
    for ac in _all(root, "cac:AllowanceCharge", ns):
        inv.allowances_charges.append(AllowanceCharge(
            charge=_text(ac, "cbc:ChargeIndicator", ns) == "true", amount=_amount(ac, "cbc:Amount", ns),
            category=_text(ac, "cac:TaxCategory/cbc:ID", ns), rate=_percent(ac, "cac:TaxCategory/cbc:Percent", ns)))
    for total in _all(root, "cac:TaxTotal", ns):
        inv.vat_totals += [(_amount(a, ".", ns), a.get("currencyID")) for a in _all(total, "cbc:TaxAmount", ns)]
        for sub in _all(total, "cac:TaxSubtotal", ns):
            inv.breakdown.append(VatBreakdown(
                basis=_amount(sub, "cbc:TaxableAmount", ns), tax=_amount(sub, "cbc:TaxAmount", ns),
                category=_text(sub, "cac:TaxCategory[cac:TaxScheme/cbc:ID='VAT']/cbc:ID", ns),
                rate=_percent(sub, "cac:TaxCategory[cac:TaxScheme/cbc:ID='VAT']/cbc:Percent", ns)))
    sums = _one(root, "cac:LegalMonetaryTotal", ns)
    inv.line_total = _amount(sums, "cbc:LineExtensionAmount", ns)
    inv.allowance_total = _amount(sums, "cbc:AllowanceTotalAmount", ns)
    inv.charge_total = _amount(sums, "cbc:ChargeTotalAmount", ns)
    inv.tax_basis = _amount(sums, "cbc:TaxExclusiveAmount", ns)
    inv.grand_total = _amount(sums, "cbc:TaxInclusiveAmount", ns)
    inv.prepaid = _amount(sums, "cbc:PrepaidAmount", ns)
    inv.rounding = _amount(sums, "cbc:PayableRoundingAmount", ns)
    inv.due = _amount(sums, "cbc:PayableAmount", ns)
    inv.preceding_invoices = [_text(r, "cac:InvoiceDocumentReference/cbc:ID", ns)
                              for r in _all(root, "cac:BillingReference", ns)]
    return inv


def read(xml: bytes) -> Invoice:
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    q = etree.QName(root)
    if q.namespace == CII["rsm"] and q.localname == "CrossIndustryInvoice":
        return read_cii(root)
    if (q.namespace, q.localname) in ((UBL["inv"], "Invoice"), (UBL["cn"], "CreditNote")):
        return read_ubl(root)
    raise ValueError(f"not an EN 16931 invoice in a syntax this checker reads: {q}")


# -- what o2c holds itself to beyond the official rules ---------------------------------------

Rule = Callable[[Invoice], Iterable[str]]
#: Checks the official artefacts make more loosely than the standard's text
#: (each shown by a test to catch what the official rules let through).
STRICT: dict[str, Rule] = {}


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    def register(check: Rule) -> Rule:
        STRICT[rule_id] = check
        return check
    return register


def _blank(value: str | None) -> bool:
    return value is None or not " ".join(value.split())


def _taxable(inv: Invoice) -> dict[tuple[str | None, Decimal | None], Decimal]:
    out: dict[tuple[str | None, Decimal | None], Decimal] = {}
    for l in inv.lines:
        key = (l.category, l.rate or ZERO)
        out[key] = out.get(key, ZERO) + (l.net or ZERO)
    for a in inv.allowances_charges:
        key = (a.category, a.rate or ZERO)
        out[key] = out.get(key, ZERO) + ((a.amount or ZERO) if a.charge else -(a.amount or ZERO))
    return out


@rule("BR-x-08 exact")
def _breakdown_exact(inv: Invoice) -> Iterable[str]:
    """BR-S-08, BR-Z-08, BR-E-08, BR-IC-08, BR-G-08, ...: the standard says the
    taxable amount per category and rate *shall equal* its lines' nets; the UBL
    artefact accepts one currency unit either way, the CII artefact does for
    some categories. o2c writes the exact sum, and one breakdown per category
    and rate its lines use, none without lines."""
    taxable = _taxable(inv)
    entries: dict[tuple[str | None, Decimal | None], list[VatBreakdown]] = {}
    for v in inv.breakdown:
        entries.setdefault((v.category, v.rate or ZERO), []).append(v)
    for key in sorted(set(taxable) | set(entries), key=str):
        category, rate = key
        found = entries.get(key, [])
        if len(found) != 1:
            yield f"category {category} at {rate:%}: {len(found)} VAT breakdowns, not one"
        elif key not in taxable:
            yield f"category {category} at {rate:%} has a VAT breakdown but no line"
        elif found[0].basis != round_money(taxable[key]):
            yield (f"category {category} at {rate:%}: the taxable amount (BT-116) is {found[0].basis}, "
                   f"its lines add up to {round_money(taxable[key])}")


@rule("BR-55 blank")
def _preceding_invoice(inv: Invoice) -> Iterable[str]:
    """BR-55: a preceding invoice reference has its number; the UBL artefact
    only asks for the element, a blank one passes it."""
    for ref in inv.preceding_invoices:
        if _blank(ref):
            yield "a preceding invoice reference (BG-3) has no invoice number (BT-25)"


def strict_violations(xml: bytes) -> list[Violation]:
    inv = read(xml)
    return [Violation(rule_id, message) for rule_id, check in STRICT.items() for message in check(inv)]


def violations(xml: bytes) -> list[Violation]:
    """Every fatal assertion of the official EN 16931 rules on ``xml`` (CII or
    UBL), then every stricter check it fails."""
    from tests.documents import official
    return [*(Violation(a.rule, a.text) for a in official.fatal(xml)), *strict_violations(xml)]


def broken_rules(xml: bytes) -> set[str]:
    return {v.rule for v in violations(xml)}


def assert_en16931(xml: bytes) -> None:
    """Fail with every broken rule named, or pass: the official validation
    (counted in the session's tally) and o2c's stricter checks."""
    from tests.documents import official
    official.assert_valid(xml)
    found = strict_violations(xml)
    assert not found, "EN 16931 rules broken:\n" + "\n".join(f"  [{v.rule}] {v.message}" for v in found)
