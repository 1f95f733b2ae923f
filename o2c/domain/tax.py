"""The tax treatment of a sale: pure rules, no I/O.

Who buys (the customer's type, billing country and VAT id) and where the
goods go (the shipping address's country) decide the treatment; each line's
tax class then gives its VAT category (UNCL 5305) and rate:

============================  ==================  ======================  ==============  =================
conditions                    treatment           category, rate          reason code     posting roles
============================  ==================  ======================  ==============  =================
ships in the company's        ``domestic``        S at the product's      —, —, or        revenue,
country                                           rate; Z 0 % (zero);     VATEX-EU-132    vat_payable
                                                  E 0 % (exempt)
ships to another member       ``intra_eu_b2b``    K 0 %                   VATEX-EU-IC     revenue_intra_eu
state, business buyer with                                                                (no VAT)
a VAT id (and a seller VAT id)
ships to another member       ``eu_distance_sale``  S at the destination  —, Z, E as      revenue,
state, consumer (or business                      country's rate for the  above           vat_oss_<CC>
without VAT id), company OSS                      class
registered or over threshold
the same below the threshold  ``domestic``        as domestic             as domestic     revenue, vat_payable
ships out of the EU           ``export``          G 0 %                   VATEX-EU-G      revenue_export
every line exempt (domestic   ``exempt``          E 0 %                   VATEX-EU-132    revenue, vat_payable
or distance sale)
============================  ==================  ======================  ==============  =================
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from o2c.domain.money import ZERO, round_money
from o2c.domain.vat_rates import EU_MEMBER_STATES

TREATMENTS = ("domestic", "intra_eu_b2b", "eu_distance_sale", "export", "exempt")
TAX_CLASSES = ("standard", "reduced", "super_reduced", "zero", "exempt")
CATEGORIES = ("S", "Z", "E", "K", "G", "AE", "O")
CUSTOMER_TYPES = ("business", "consumer")
EU = frozenset(EU_MEMBER_STATES)

#: Category → (VATEX exemption reason code, reason text of the code list).
EXEMPTIONS: dict[str, tuple[str, str]] = {
    "K": ("VATEX-EU-IC", "Intra-Community supply"),
    "G": ("VATEX-EU-G", "Export outside the EU"),
    "E": ("VATEX-EU-132", "Exempt based on article 132 of Council Directive 2006/112/EC"),
}

#: The VAT id prefix of a country where it is not the ISO code.
VAT_PREFIX = {"GR": "EL"}


def vat_prefix(country: str) -> str:
    return VAT_PREFIX.get(country, country)


@dataclass(frozen=True)
class Seller:
    country: str
    vat_id: str
    oss_registered: bool = False
    distance_sales_threshold: Decimal = Decimal("10000.00")


@dataclass(frozen=True)
class Buyer:
    customer_type: str
    country: str  # billing country: who buys
    vat_id: str = ""
    vat_id_check_status: str = "unchecked"


@dataclass(frozen=True)
class DistanceSales:
    """EU distance sales (net, all member states) so far: the previous
    calendar year and this one before the order."""
    previous_year: Decimal = ZERO
    this_year: Decimal = ZERO


@dataclass(frozen=True)
class Decision:
    treatment: str
    tax_country: str
    buyer_vat_id: str
    notes: tuple[str, ...] = field(default=())


def needs_distance_sales(seller: Seller, buyer: Buyer, ship_to: str) -> bool:
    """Whether deciding needs the distance sales so far (a query): only a
    consumer-rule sale into another member state by a seller not in the OSS."""
    return (not seller.oss_registered and ship_to in EU and ship_to != seller.country
            and seller.country in EU and not _reverse_charged(seller, buyer))


def _reverse_charged(seller: Seller, buyer: Buyer) -> bool:
    return (buyer.customer_type == "business" and bool(buyer.vat_id.strip()) and bool(seller.vat_id.strip())
            and buyer.vat_id_check_status != "invalid")


def decide(seller: Seller, buyer: Buyer, ship_to: str | None, order_net: Decimal = ZERO,
           distance_sales: DistanceSales | None = None) -> Decision:
    """The treatment of a sale (before looking at its lines' tax classes)."""
    dest = (ship_to or buyer.country or seller.country).upper()
    home = seller.country
    vat_id = buyer.vat_id.strip()
    notes: list[str] = []
    if dest == home:
        return Decision("domestic", home, vat_id)
    if dest not in EU:
        return Decision("export", home, vat_id, ("The goods leave the EU: export, VAT-free.",))
    if _reverse_charged(seller, buyer):
        return Decision("intra_eu_b2b", dest, vat_id,
                        ("Intra-EU supply to a business with a VAT id: the buyer accounts for the VAT.",))
    if buyer.customer_type == "business":
        if not vat_id:
            notes.append("A business in another member state without a VAT id is taxed as a consumer.")
        elif buyer.vat_id_check_status == "invalid":
            notes.append("The buyer's VAT id was found invalid: the sale is taxed as one to a consumer.")
        else:
            notes.append("The company has no VAT id of its own: the sale is taxed as one to a consumer.")
    if seller.oss_registered:
        notes.append(f"Distance sale: VAT of {dest} (the company is registered for the One-Stop Shop).")
        return Decision("eu_distance_sale", dest, vat_id, tuple(notes))
    sales = distance_sales or DistanceSales()
    limit = seller.distance_sales_threshold
    if sales.previous_year > limit or sales.this_year + order_net > limit:
        notes.append(f"Distance sale: VAT of {dest} (EU distance sales are over the threshold of {limit}).")
        return Decision("eu_distance_sale", dest, vat_id, tuple(notes))
    notes.append(f"Distance sale under the EU threshold of {limit}: domestic VAT.")
    return Decision("domestic", home, vat_id, tuple(notes))


class LineTax(NamedTuple):
    category: str
    rate: Decimal


def line_tax(treatment: str, tax_class: str, domestic_rate: Decimal,
             destination_rates: Mapping[str, Decimal] | None = None) -> LineTax:
    """A line's category and rate under ``treatment`` (``domestic_rate`` is the
    product's; ``destination_rates`` the destination country's, per class)."""
    if treatment == "intra_eu_b2b":
        return LineTax("K", Decimal(0))
    if treatment == "export":
        return LineTax("G", Decimal(0))
    if tax_class == "exempt" or treatment == "exempt":
        return LineTax("E", Decimal(0))
    if tax_class == "zero":
        return LineTax("Z", Decimal(0))
    if treatment == "eu_distance_sale":
        rate = (destination_rates or {})[tax_class]
    else:
        rate = domestic_rate
    return LineTax("S", rate) if rate > 0 else LineTax("Z", Decimal(0))


def settle(decision: Decision, classes: Iterable[str]) -> Decision:
    """The order's treatment once its lines are known: a domestic sale or
    distance sale of nothing but exempt goods is ``exempt``."""
    cls = list(classes)
    if cls and all(c == "exempt" for c in cls) and decision.treatment in ("domestic", "eu_distance_sale"):
        return Decision("exempt", decision.tax_country, decision.buyer_vat_id, decision.notes)
    return decision


class VatRow(NamedTuple):
    category: str
    rate: Decimal
    net: Decimal
    vat: Decimal
    exemption_reason_code: str | None
    exemption_reason: str | None


def vat_rows(lines: Iterable[tuple[Decimal, str, Decimal]], places: int = 2) -> tuple[VatRow, ...]:
    """The VAT breakdown per category and rate from ``(net, category, rate)``:
    VAT once per row on the sum of its nets (EN 16931 BR-CO-17). For the same
    lines, the totals equal ``money.document_totals`` by rate: every category
    but S is at 0 %."""
    nets: dict[tuple[str, Decimal], Decimal] = defaultdict(lambda: ZERO)
    for net, category, rate in lines:
        nets[(category, rate)] += net
    rows = []
    for (category, rate), net in sorted(nets.items(), key=lambda kv: (CATEGORIES.index(kv[0][0]), kv[0][1])):
        code, reason = EXEMPTIONS.get(category, (None, None))
        rows.append(VatRow(category, rate, net, round_money(net * rate, places), code, reason))
    return tuple(rows)


class Roles(NamedTuple):
    revenue: str
    vat: str


def posting_roles(treatment: str, tax_country: str) -> Roles:
    """Where a document's net and VAT go: intra-EU and export sales on their own
    revenue accounts, OSS VAT on the payable of the member state."""
    if treatment == "intra_eu_b2b":
        return Roles("revenue_intra_eu", "vat_payable")
    if treatment == "export":
        return Roles("revenue_export", "vat_payable")
    if treatment == "eu_distance_sale":
        return Roles("revenue", f"vat_oss_{tax_country}")
    return Roles("revenue", "vat_payable")


# -- countries and VAT ids -------------------------------------------------------------------------

def vat_id_error(vat_id: str, country: str) -> str | None:
    """Why ``vat_id`` is no valid VAT id of a customer in ``country`` (format
    and check digits, python-stdnum), or ``None``. Ids of customers outside
    the EU are not checked (they are not EU VAT ids)."""
    from stdnum.eu import vat as eu_vat

    raw = vat_id.strip()
    if not raw or country not in EU:
        return None
    compact = eu_vat.compact(raw if raw[:2].isalpha() else vat_prefix(country) + raw)
    if compact[:2] != vat_prefix(country):
        return f"A VAT id of {country} starts with “{vat_prefix(country)}”."
    if not eu_vat.is_valid(compact):
        return f"“{raw}” is not a valid VAT id of {country} (format or check digits)."
    return None


def _countries() -> frozenset[str]:
    from babel import Locale

    # CLDR territories with a two-letter code, less its groupings and placeholders.
    return frozenset(k for k in Locale("en").territories
                     if len(k) == 2 and k.isalpha() and k not in ("EU", "EZ", "UN", "QO", "ZZ"))


COUNTRIES = _countries()


def country_error(country: str) -> str | None:
    """Why ``country`` is no ISO 3166 alpha-2 country code, or ``None``."""
    if country in COUNTRIES:
        return None
    return f"Unknown country “{country}”: an ISO 3166 code of two capital letters, e.g. IT."
