"""The key business rules of EN 16931, checked on an e-invoice in either of
its syntaxes: the Cross-Industry-Invoice a Factur-X PDF embeds, and UBL 2.1
(``Invoice`` or ``CreditNote``).

The official rules ship as Schematron compiled to XSLT 2, which lxml (an
XSLT 1 processor) cannot run, so the XSD alone would let a document through
whose totals do not add up. Here each syntax is read into the business terms
of the semantic model (BT-1 the number, BT-106 the sum of line nets, BG-23 the
VAT breakdown, ...) and the rules are checked once on those, as the CEN
validation artefacts state them:

- sums are rounded to cents (``round(x * 100) div 100``) before comparing;
- BR-S-09 / BR-Z-09: the artefacts accept a category's VAT amount within one
  currency unit of ``round(basis × rate)``; a credit note that takes what is
  left of an invoice's VAT (2.20 + 2.20 + 2.19 for three lines of 2.1978)
  is valid EN 16931;
- BR-S-08 / BR-Z-08 compare exactly (as the CII artefact and the standard's
  text do; the UBL artefact allows one unit), and, as the text says "for each
  different value of VAT category rate", every rate a line uses must have its
  breakdown and every breakdown must have its lines.

``violations(xml)`` names every broken rule; ``assert_en16931(xml)`` fails a
test with them.
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

#: BR-CO-09: the prefixes a VAT identifier may have (ISO 3166-1 alpha-2, EL for
#: Greece, XI for Northern Ireland, 1A for Kosovo), as both artefacts list them.
VAT_PREFIXES = frozenset("""
1A AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW
BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH EL ER ES ET FI
FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO
IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG
MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK
PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR ST SV SX SY SZ TC TD
TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XI YE YT ZA ZM ZW
""".split())


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


# -- the rules ----------------------------------------------------------------------------

Rule = Callable[[Invoice], Iterable[str]]
RULES: dict[str, Rule] = {}


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    def register(check: Rule) -> Rule:
        RULES[rule_id] = check
        return check
    return register


def _blank(value: str | None) -> bool:
    return value is None or not " ".join(value.split())


def _cents(value: Decimal) -> Decimal:
    return round_money(value)


def _sum(values: Iterable[Decimal | None]) -> Decimal:
    return sum((v for v in values if v is not None), ZERO)


def _presence(rule_id: str, what: str, get: Callable[[Invoice], str | None]) -> None:
    @rule(rule_id)
    def check(inv: Invoice) -> Iterable[str]:
        if _blank(get(inv)):
            yield f"{what} is missing"


_presence("BR-01", "the specification identifier (BT-24)", lambda i: i.specification)
_presence("BR-02", "the invoice number (BT-1)", lambda i: i.number)
_presence("BR-03", "the issue date (BT-2)", lambda i: i.issue_date)
_presence("BR-04", "the invoice type code (BT-3)", lambda i: i.type_code)
_presence("BR-05", "the invoice currency code (BT-5)", lambda i: i.currency)
_presence("BR-06", "the seller name (BT-27)", lambda i: i.seller.name)
_presence("BR-07", "the buyer name (BT-44)", lambda i: i.buyer.name)
_presence("BR-09", "the seller's country code (BT-40)", lambda i: i.seller.country)
_presence("BR-11", "the buyer's country code (BT-55)", lambda i: i.buyer.country)


@rule("BR-08")
def _seller_address(inv: Invoice) -> Iterable[str]:
    if not inv.seller.has_address:
        yield "the seller postal address (BG-5) is missing"


@rule("BR-10")
def _buyer_address(inv: Invoice) -> Iterable[str]:
    if not inv.buyer.has_address:
        yield "the buyer postal address (BG-8) is missing"


@rule("BR-12")
def _line_total_present(inv: Invoice) -> Iterable[str]:
    if inv.line_total is None:
        yield "the sum of invoice line net amounts (BT-106) is missing"


@rule("BR-13")
def _basis_present(inv: Invoice) -> Iterable[str]:
    if inv.tax_basis is None:
        yield "the invoice total without VAT (BT-109) is missing"


@rule("BR-14")
def _grand_present(inv: Invoice) -> Iterable[str]:
    if inv.grand_total is None:
        yield "the invoice total with VAT (BT-112) is missing"


@rule("BR-15")
def _due_present(inv: Invoice) -> Iterable[str]:
    if inv.due is None:
        yield "the amount due for payment (BT-115) is missing"


@rule("BR-16")
def _has_lines(inv: Invoice) -> Iterable[str]:
    if not inv.lines:
        yield "the invoice has no line (BG-25)"


@rule("BR-24")
def _line_nets(inv: Invoice) -> Iterable[str]:
    for line in inv.lines:
        if line.net is None:
            yield f"line {line.id} has no net amount (BT-131)"


@rule("BR-25")
def _line_names(inv: Invoice) -> Iterable[str]:
    for line in inv.lines:
        if _blank(line.name):
            yield f"line {line.id} has no item name (BT-153)"


@rule("BR-CO-04")
def _line_categories(inv: Invoice) -> Iterable[str]:
    for line in inv.lines:
        if _blank(line.category):
            yield f"line {line.id} has no VAT category code (BT-151)"


@rule("BR-CO-09")
def _vat_prefixes(inv: Invoice) -> Iterable[str]:
    for who, party in (("seller", inv.seller), ("buyer", inv.buyer)):
        for vat_id in party.vat_ids:
            if vat_id[:2] not in VAT_PREFIXES:
                yield f"the {who} VAT identifier {vat_id!r} does not start with a country code"


@rule("BR-CO-10")
def _sum_of_lines(inv: Invoice) -> Iterable[str]:
    if inv.line_total is None:
        return
    lines = _cents(_sum(l.net for l in inv.lines))
    if inv.line_total != lines:
        yield f"the sum of line net amounts (BT-106) is {inv.line_total}, the lines add up to {lines}"


@rule("BR-CO-13")
def _tax_basis(inv: Invoice) -> Iterable[str]:
    if inv.tax_basis is None or inv.line_total is None:
        return
    want = _cents(inv.line_total - (inv.allowance_total or ZERO) + (inv.charge_total or ZERO))
    if inv.tax_basis != want:
        yield (f"the total without VAT (BT-109) is {inv.tax_basis}, lines − allowances + charges "
               f"(BT-106 − BT-107 + BT-108) is {want}")


def _vat_in_currency(inv: Invoice) -> list[Decimal | None]:
    return [amount for amount, currency in inv.vat_totals if currency == inv.currency]


@rule("BR-CO-14")
def _vat_total(inv: Invoice) -> Iterable[str]:
    totals = _vat_in_currency(inv)
    if not inv.breakdown or len(totals) != 1 or totals[0] is None:
        return
    want = _cents(_sum(v.tax for v in inv.breakdown))
    if totals[0] != want:
        yield f"the VAT total (BT-110) is {totals[0]}, the VAT breakdown adds up to {want} (Σ BT-117)"


@rule("BR-CO-15")
def _grand_total(inv: Invoice) -> Iterable[str]:
    totals = _vat_in_currency(inv)
    if len(totals) != 1:
        yield f"there are {len(totals)} VAT totals (BT-110) in the invoice currency {inv.currency}, not one"
        return
    if inv.grand_total is None or inv.tax_basis is None or totals[0] is None:
        return
    want = _cents(inv.tax_basis + totals[0])
    if inv.grand_total != want:
        yield f"the total with VAT (BT-112) is {inv.grand_total}, BT-109 + BT-110 is {want}"


@rule("BR-CO-16")
def _amount_due(inv: Invoice) -> Iterable[str]:
    if inv.due is None or inv.grand_total is None:
        return
    want = _cents(inv.grand_total - (inv.prepaid or ZERO) + (inv.rounding or ZERO))
    if inv.due != want:
        yield f"the amount due (BT-115) is {inv.due}, BT-112 − BT-113 + BT-114 is {want}"


@rule("BR-CO-18")
def _has_breakdown(inv: Invoice) -> Iterable[str]:
    if not inv.breakdown:
        yield "the invoice has no VAT breakdown (BG-23)"


def _breakdown_term(rule_id: str, term: str, get: Callable[[VatBreakdown], Any]) -> None:
    @rule(rule_id)
    def check(inv: Invoice) -> Iterable[str]:
        for i, v in enumerate(inv.breakdown, start=1):
            if get(v) is None and not (rule_id == "BR-48" and v.category == "O"):
                yield f"VAT breakdown {i} has no {term}"


_breakdown_term("BR-45", "taxable amount (BT-116)", lambda v: v.basis)
_breakdown_term("BR-46", "VAT amount (BT-117)", lambda v: v.tax)
_breakdown_term("BR-47", "VAT category code (BT-118)", lambda v: v.category)
_breakdown_term("BR-48", "VAT rate (BT-119)", lambda v: v.rate)


@rule("BR-55")
def _preceding_invoice(inv: Invoice) -> Iterable[str]:
    for ref in inv.preceding_invoices:
        if _blank(ref):
            yield "a preceding invoice reference (BG-3) has no invoice number (BT-25)"


def _seller_vat_rule(category: str) -> Rule:
    def check(inv: Invoice) -> Iterable[str]:
        used = any(l.category == category for l in inv.lines) or \
            any(a.category == category for a in inv.allowances_charges)
        has_id = inv.seller.vat_ids or (inv.syntax == "CII" and inv.seller.tax_registrations)
        if used and not has_id:
            yield f"category {category} is used but the seller has no VAT identifier (BT-31)"
    return check


RULES["BR-S-02"] = _seller_vat_rule("S")
RULES["BR-Z-02"] = _seller_vat_rule("Z")


def _taxable_by_rate(inv: Invoice, category: str) -> dict[Decimal, Decimal]:
    out: dict[Decimal, Decimal] = {}
    for l in inv.lines:
        if l.category == category and l.rate is not None:
            out[l.rate] = out.get(l.rate, ZERO) + (l.net or ZERO)
    for a in inv.allowances_charges:
        if a.category == category and a.rate is not None:
            out[a.rate] = out.get(a.rate, ZERO) + ((a.amount or ZERO) if a.charge else -(a.amount or ZERO))
    return out


def _basis_rule(category: str) -> Rule:
    def check(inv: Invoice) -> Iterable[str]:
        taxable = _taxable_by_rate(inv, category)
        entries: dict[Decimal | None, list[VatBreakdown]] = {}
        for v in inv.breakdown:
            if v.category == category:
                entries.setdefault(v.rate, []).append(v)
        for rate in sorted(set(taxable) | {r for r in entries if r is not None}):
            found = entries.get(rate, [])
            if len(found) != 1:
                yield f"category {category} at {rate:%}: {len(found)} VAT breakdowns, not one"
                continue
            want = _cents(taxable.get(rate, ZERO))
            if rate not in taxable:
                yield f"category {category} at {rate:%} has a VAT breakdown but no line"
            elif found[0].basis != want:
                yield (f"category {category} at {rate:%}: the taxable amount (BT-116) is {found[0].basis}, "
                       f"its lines, allowances and charges add up to {want}")
    return check


RULES["BR-S-08"] = _basis_rule("S")
RULES["BR-Z-08"] = _basis_rule("Z")


@rule("BR-S-09")
def _standard_rated_tax(inv: Invoice) -> Iterable[str]:
    for v in inv.breakdown:
        if v.category != "S" or None in (v.basis, v.tax, v.rate):
            continue
        want = _cents(abs(v.basis) * v.rate)  # type: ignore[arg-type, operator]
        if not abs(v.tax) - 1 < want < abs(v.tax) + 1:  # type: ignore[arg-type]
            yield (f"category S at {v.rate:%}: the VAT (BT-117) is {v.tax}, "
                   f"{v.basis} × {v.rate:%} is {want} (they must be less than one unit apart)")


@rule("BR-Z-09")
def _zero_rated_tax(inv: Invoice) -> Iterable[str]:
    for v in inv.breakdown:
        if v.category == "Z" and v.tax != 0:
            yield f"category Z: the VAT (BT-117) is {v.tax}, not 0"


def violations(xml: bytes) -> list[Violation]:
    """Every broken rule of ``xml`` (CII or UBL), in rule order."""
    inv = read(xml)
    return [Violation(rule_id, message) for rule_id, check in RULES.items() for message in check(inv)]


def broken_rules(xml: bytes) -> set[str]:
    return {v.rule for v in violations(xml)}


def assert_en16931(xml: bytes) -> None:
    """Fail with every broken rule named, or pass."""
    found = violations(xml)
    assert not found, "EN 16931 rules broken:\n" + "\n".join(f"  [{v.rule}] {v.message}" for v in found)
