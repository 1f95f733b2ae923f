"""The tax treatment table (o2c.domain.tax), case by case."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from o2c.domain.tax import (
    Buyer,
    DistanceSales,
    Seller,
    decide,
    line_tax,
    needs_distance_sales,
    posting_roles,
    settle,
    vat_id_error,
    vat_rows,
)
from o2c.domain.vat_rates import EU_MEMBER_STATES, seed_rows

IT = Seller("IT", "IT04829610965")
IT_OSS = Seller("IT", "IT04829610965", oss_registered=True)
IT_LOW = Seller("IT", "IT04829610965", distance_sales_threshold=D("100.00"))
DE_BIZ = Buyer("business", "DE", "DE287451934")
DE_BIZ_NO_ID = Buyer("business", "DE", "")
DE_BIZ_INVALID = Buyer("business", "DE", "DE287451934", "invalid")
PL_CONSUMER = Buyer("consumer", "PL")
IT_BIZ = Buyer("business", "IT", "IT02793451200")
RU_BIZ = Buyer("business", "RU", "7714512839")
DE_RATES = {"standard": D("0.19"), "reduced": D("0.07"), "super_reduced": D("0.07"), "zero": D(0)}


@pytest.mark.parametrize(("seller", "buyer", "ship_to", "net", "sales", "treatment", "country", "noted"), [
    (IT, IT_BIZ, None, D(100), None, "domestic", "IT", False),
    (IT, PL_CONSUMER, "IT", D(100), None, "domestic", "IT", False),           # goods stay in Italy
    (IT, DE_BIZ, None, D(100), None, "intra_eu_b2b", "DE", True),
    (IT, DE_BIZ, "IT", D(100), None, "domestic", "IT", False),                # a German buyer, delivered in Italy
    (IT, DE_BIZ_NO_ID, None, D(100), None, "domestic", "IT", True),          # consumer rule, under threshold
    (IT_OSS, DE_BIZ_NO_ID, None, D(100), None, "eu_distance_sale", "DE", True),
    (IT, DE_BIZ_INVALID, None, D(100), None, "domestic", "IT", True),
    (Seller("IT", ""), DE_BIZ, None, D(100), None, "domestic", "IT", True),  # no seller VAT id: no reverse charge
    (IT, RU_BIZ, None, D(100), None, "export", "IT", True),
    (IT, IT_BIZ, "CH", D(100), None, "export", "IT", True),                   # ship-to decides where goods go
    (IT, PL_CONSUMER, None, D(100), None, "domestic", "IT", True),           # under the threshold
    (IT, PL_CONSUMER, None, D(100), DistanceSales(D(0), D("9900.00")), "domestic", "IT", True),  # exactly 10 000
    (IT, PL_CONSUMER, None, D("100.01"), DistanceSales(D(0), D("9900.00")), "eu_distance_sale", "PL", True),
    (IT, PL_CONSUMER, None, D(1), DistanceSales(D("10000.01"), D(0)), "eu_distance_sale", "PL", True),
    (IT_LOW, PL_CONSUMER, None, D("100.01"), None, "eu_distance_sale", "PL", True),
    (IT_OSS, PL_CONSUMER, None, D(1), None, "eu_distance_sale", "PL", True),
    (IT_OSS, PL_CONSUMER, "US", D(1), None, "export", "IT", True),
])
def test_the_treatment_table(seller: Seller, buyer: Buyer, ship_to: str | None, net: D, sales: DistanceSales | None,
                             treatment: str, country: str, noted: bool) -> None:
    d = decide(seller, buyer, ship_to, net, sales)
    assert (d.treatment, d.tax_country) == (treatment, country)
    assert bool(d.notes) is noted


def test_a_business_without_vat_id_abroad_is_told_it_is_taxed_as_a_consumer() -> None:
    d = decide(IT_OSS, DE_BIZ_NO_ID, None)
    assert any("without a VAT id" in n and "consumer" in n for n in d.notes)


@pytest.mark.parametrize(("treatment", "tax_class", "expected"), [
    ("domestic", "standard", ("S", D("0.22"))),
    ("domestic", "reduced", ("S", D("0.22"))),      # domestic: the product's own rate
    ("domestic", "zero", ("Z", D(0))),
    ("domestic", "exempt", ("E", D(0))),
    ("eu_distance_sale", "standard", ("S", D("0.19"))),
    ("eu_distance_sale", "reduced", ("S", D("0.07"))),
    ("eu_distance_sale", "zero", ("Z", D(0))),
    ("eu_distance_sale", "exempt", ("E", D(0))),
    ("intra_eu_b2b", "standard", ("K", D(0))),
    ("intra_eu_b2b", "exempt", ("K", D(0))),
    ("export", "reduced", ("G", D(0))),
    ("exempt", "standard", ("E", D(0))),
])
def test_line_categories_and_rates(treatment: str, tax_class: str, expected: tuple[str, D]) -> None:
    assert tuple(line_tax(treatment, tax_class, D("0.22"), DE_RATES)) == expected


def test_a_standard_product_at_zero_percent_is_zero_rated_not_standard() -> None:
    assert tuple(line_tax("domestic", "standard", D(0))) == ("Z", D(0))


def test_an_order_of_only_exempt_goods_is_exempt() -> None:
    d = decide(IT, IT_BIZ, None)
    assert settle(d, ["exempt", "exempt"]).treatment == "exempt"
    assert settle(d, ["exempt", "standard"]).treatment == "domestic"
    assert settle(decide(IT, DE_BIZ, None), ["exempt"]).treatment == "intra_eu_b2b"


def test_vat_rows_per_category_and_rate_with_reasons() -> None:
    rows = vat_rows([(D("10.00"), "S", D("0.22")), (D("5.00"), "E", D(0)), (D("2.00"), "Z", D(0)),
                     (D("3.35"), "S", D("0.22")), (D("1.00"), "S", D("0.10"))])
    assert [(r.category, r.rate, r.net, r.vat, r.exemption_reason_code) for r in rows] == [
        ("S", D("0.10"), D("1.00"), D("0.10"), None),
        ("S", D("0.22"), D("13.35"), D("2.94"), None),
        ("Z", D(0), D("2.00"), D("0.00"), None),
        ("E", D(0), D("5.00"), D("0.00"), "VATEX-EU-132"),
    ]
    (k,) = vat_rows([(D("50.00"), "K", D(0))])
    assert (k.exemption_reason_code, k.vat) == ("VATEX-EU-IC", D("0.00"))
    (g,) = vat_rows([(D("50.00"), "G", D(0))])
    assert g.exemption_reason_code == "VATEX-EU-G"


def test_posting_roles_per_treatment() -> None:
    assert posting_roles("domestic", "IT") == ("revenue", "vat_payable")
    assert posting_roles("intra_eu_b2b", "DE") == ("revenue_intra_eu", "vat_payable")
    assert posting_roles("export", "IT") == ("revenue_export", "vat_payable")
    assert posting_roles("eu_distance_sale", "PL") == ("revenue", "vat_oss_PL")


def test_only_consumer_sales_into_another_member_state_need_the_distance_sales_so_far() -> None:
    assert needs_distance_sales(IT, PL_CONSUMER, "PL")
    assert not needs_distance_sales(IT_OSS, PL_CONSUMER, "PL")
    assert not needs_distance_sales(IT, PL_CONSUMER, "IT")
    assert not needs_distance_sales(IT, DE_BIZ, "DE")
    assert not needs_distance_sales(IT, RU_BIZ, "RU")


@pytest.mark.parametrize(("vat_id", "country", "ok"), [
    ("DE287451934", "DE", True),
    ("DE 287 451 934", "DE", True),
    ("287451934", "DE", True),           # the prefix follows from the country
    ("DE287451935", "DE", False),        # wrong check digit
    ("DE28745193", "DE", False),         # malformed
    ("PL6772398046", "PL", True),
    ("PL6772398047", "PL", False),
    ("IT02793451200", "IT", True),
    ("IT01234567890", "IT", False),      # no such office code
    ("DE287451934", "PL", False),        # another country's id
    ("EL094259216", "GR", True),
    ("7714512839", "RU", True),          # not an EU VAT id: not checked
    ("", "DE", True),
])
def test_vat_ids_are_checked_for_format_and_check_digits(vat_id: str, country: str, ok: bool) -> None:
    assert (vat_id_error(vat_id, country) is None) is ok


def test_the_seeded_rates_cover_every_member_state_and_class() -> None:
    rows = seed_rows()
    assert len(EU_MEMBER_STATES) == 27
    assert {(r["country"], r["tax_class"]) for r in rows} == {
        (c, k) for c in EU_MEMBER_STATES for k in ("standard", "reduced", "super_reduced", "zero")}
    by = {(r["country"], r["tax_class"]): r["rate"] for r in rows}
    assert by[("IT", "standard")] == D("0.22") and by[("DE", "standard")] == D("0.19")
    assert by[("PL", "standard")] == D("0.23") and by[("FI", "standard")] == D("0.255")
    assert all(r["rate"] < 1 for r in rows)
