"""Cross-border VAT, hand-checked: one order per tax treatment, a partial
shipment, a credit note per treatment, a customer who becomes a business
mid-year, with the exact amount in every account afterwards; the checkout
preview equals the invoice later issued."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from o2c.db import models as m
from tests.conftest import Client, customer, product

D = Decimal
ZERO = D("0.00")
#: The OSS VAT payable of Poland: 2410 + its place among the member states.
OSS_PL = "2431"


def accounts(api: Client) -> dict[str, D]:
    tb = api.ok("get", "/api/v1/ledger/trial-balance")
    assert tb["total_debit"] == tb["total_credit"]
    return {a["code"]: D(a["debit"]) - D(a["credit"]) for a in tb["accounts"] if D(a["debit"]) != D(a["credit"])}


def ship(api: Client, order_id: int, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body = {"lines": lines} if lines else {}
    sh = api.ok("post", f"/api/v1/orders/{order_id}/shipments", body, status=201)
    sh = api.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "DHL", "tracking_number": f"T{sh['id']}"})
    return api.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")


def give_back(api: Client, order_id: int, sku: str, qty: int = 1) -> dict[str, Any]:
    r = api.ok("post", f"/api/v1/orders/{order_id}/returns",
               {"lines": [{"sku": sku, "quantity": qty}], "restock": True, "refund": "credit"}, status=201)
    (cn_id,) = r["credit_note_ids"] if "credit_note_ids" in r else [c["id"] for c in r["credit_notes"]]
    return api.ok("get", f"/api/v1/credit-notes/{cn_id}")


def place(api: Client, code: str, lines: list[tuple[str, int]], **over: Any) -> dict[str, Any]:
    return api.ok("post", "/api/v1/orders", {"customer": {"code": code}, "confirm": True,
                                             "lines": [{"sku": s, "quantity": q} for s, q in lines], **over},
                  status=201)


def vat(doc: dict[str, Any]) -> list[tuple[str, str, str, str, str | None]]:
    return [(v["category"], v["rate"], v["net"], v["vat"], v.get("exemption_reason_code")) for v in doc["vat"]]


def addr(name: str, country: str) -> dict[str, str]:
    return {"name": name, "line1": "Street 1", "city": "City", "postal_code": "00100", "country": country}


@pytest.fixture
def world(admin: Client) -> None:
    product(admin, "CLOCK", "100.00", "0.22", stock=20, cost="40.00")
    admin.ok("post", "/api/v1/products", {"sku": "BOOK", "name": "Book", "unit_price": "20.00", "vat_rate": "0.04",
                                          "tax_class": "super_reduced"}, status=201)
    admin.ok("post", "/api/v1/stock/receipts", {"sku": "BOOK", "quantity": 20, "unit_cost": "8.00"}, status=201)
    admin.ok("post", "/api/v1/products", {"sku": "COURSE", "name": "Course seat", "unit_price": "50.00",
                                          "vat_rate": "0", "tax_class": "exempt"}, status=201)
    admin.ok("post", "/api/v1/stock/receipts", {"sku": "COURSE", "quantity": 20, "unit_cost": "10.00"}, status=201)
    customer(admin, "C-IT", name="Bottega Conti", tax_id="IT02793451200", billing_address=addr("Bottega", "IT"))
    customer(admin, "C-DE", name="Kaffeehaus Lindner GmbH", country="DE", language="en", tax_id="DE287451934",
             billing_address=addr("Lindner", "DE"))
    customer(admin, "C-RU", name="Samovar Trade", country="RU", language="ru", tax_id="7714512839",
             billing_address=addr("Samovar", "RU"))
    customer(admin, "C-PL", name="Katarzyna Nowak", country="PL", language="pl", billing_address=addr("Nowak", "PL"),
             channels=["shop-a"])
    admin.ok("patch", "/api/v1/company", {"oss_registered": True})


def test_one_order_per_treatment_with_a_partial_shipment_and_a_credit_note_each(admin: Client, world: None) -> None:
    dom = place(admin, "C-IT", [("CLOCK", 2), ("BOOK", 1), ("COURSE", 1)])
    intra = place(admin, "C-DE", [("CLOCK", 1)])
    export = place(admin, "C-RU", [("CLOCK", 1), ("BOOK", 1)])
    dist = place(admin, "C-PL", [("CLOCK", 2), ("BOOK", 1)])
    exempt = place(admin, "C-IT", [("COURSE", 2)])
    assert [(o["tax_treatment"], o["tax_country"]) for o in (dom, intra, export, dist, exempt)] == [
        ("domestic", "IT"), ("intra_eu_b2b", "DE"), ("export", "IT"), ("eu_distance_sale", "PL"), ("exempt", "IT")]
    assert [l["vat_category"] for l in dom["lines"]] == ["S", "S", "E"]
    assert [(l["vat_category"], l["vat_rate"]) for l in dist["lines"]] == [("S", "0.23"), ("S", "0.05")]

    inv = ship(admin, dom["id"])
    assert (inv["tax_treatment"], inv["net_total"], inv["vat_total"], inv["total"]) == (
        "domestic", "270.00", "44.80", "314.80")
    assert vat(inv) == [("S", "0.04", "20.00", "0.80", None), ("S", "0.22", "200.00", "44.00", None),
                        ("E", "0.00", "50.00", "0.00", "VATEX-EU-132")]
    inv = ship(admin, intra["id"])
    assert (inv["tax_treatment"], inv["buyer_vat_id"], inv["total"]) == ("intra_eu_b2b", "DE287451934", "100.00")
    assert vat(inv) == [("K", "0.00", "100.00", "0.00", "VATEX-EU-IC")]
    assert inv["vat"][0]["exemption_reason"] == "Intra-Community supply"
    inv = ship(admin, export["id"])
    assert vat(inv) == [("G", "0.00", "120.00", "0.00", "VATEX-EU-G")] and inv["total"] == "120.00"
    # The distance sale ships in two parts: each invoice carries Polish VAT.
    first = ship(admin, dist["id"], [{"sku": "CLOCK", "quantity": 1}])
    assert (first["tax_country"], vat(first)) == ("PL", [("S", "0.23", "100.00", "23.00", None)])
    second = ship(admin, dist["id"])
    assert vat(second) == [("S", "0.05", "20.00", "1.00", None), ("S", "0.23", "100.00", "23.00", None)]
    inv = ship(admin, exempt["id"])
    assert (inv["tax_treatment"], vat(inv)) == ("exempt", [("E", "0.00", "100.00", "0.00", "VATEX-EU-132")])

    books = accounts(admin)
    assert books == {
        "1100": D("901.80"), "1200": D("866.00"), "2100": D("-1160.00"), "2200": D("-44.80"),
        OSS_PL: D("-47.00"), "4000": D("-590.00"), "4060": D("-100.00"), "4070": D("-120.00"),
        "5000": D("294.00")}

    # A credit note per treatment follows its invoice.
    cns = [give_back(admin, dom["id"], "CLOCK"), give_back(admin, intra["id"], "CLOCK"),
           give_back(admin, export["id"], "BOOK"), give_back(admin, dist["id"], "CLOCK"),
           give_back(admin, exempt["id"], "COURSE")]
    assert [(c["tax_treatment"], c["tax_country"]) for c in cns] == [
        ("domestic", "IT"), ("intra_eu_b2b", "DE"), ("export", "IT"), ("eu_distance_sale", "PL"), ("exempt", "IT")]
    assert [vat(c) for c in cns] == [
        [("S", "0.22", "100.00", "22.00", None)], [("K", "0.00", "100.00", "0.00", "VATEX-EU-IC")],
        [("G", "0.00", "20.00", "0.00", "VATEX-EU-G")], [("S", "0.23", "100.00", "23.00", None)],
        [("E", "0.00", "50.00", "0.00", "VATEX-EU-132")]]
    assert accounts(admin) == {
        "1100": D("486.80"), "1200": D("1004.00"), "2100": D("-1160.00"), "2200": D("-22.80"),
        OSS_PL: D("-24.00"), "4000": D("-340.00"), "4070": D("-100.00"), "5000": D("156.00")}
    rec = admin.ok("get", "/api/v1/reconciliation")
    assert rec["ok"], [c for c in rec["checks"] if c["difference"] != "0.00"]


def test_the_oss_and_revenue_roles_are_in_the_chart(admin: Client) -> None:
    chart = {a["role"]: a["code"] for a in admin.ok("get", "/api/v1/ledger/accounts")["items"] if a.get("role")}
    assert chart["vat_oss_PL"] == OSS_PL and chart["vat_oss_AT"] == "2410" and chart["vat_oss_SK"] == "2436"
    assert (chart["revenue_intra_eu"], chart["revenue_export"]) == ("4060", "4070")


def test_a_consumer_who_becomes_a_business_keeps_the_treatment_of_earlier_orders(admin: Client, world: None) -> None:
    before = place(admin, "C-PL", [("CLOCK", 1)])
    c = admin.ok("get", "/api/v1/customers?limit=100")["items"]
    cid = next(x["id"] for x in c if x["code"] == "C-PL")
    admin.ok("patch", f"/api/v1/customers/{cid}", {"customer_type": "business", "tax_id": "PL6772398046"})
    after = place(admin, "C-PL", [("CLOCK", 1)])
    assert (before["tax_treatment"], after["tax_treatment"]) == ("eu_distance_sale", "intra_eu_b2b")
    old_invoice = ship(admin, before["id"])  # shipped after the change: still a distance sale
    new_invoice = ship(admin, after["id"])
    assert (old_invoice["tax_treatment"], old_invoice["buyer_vat_id"], vat(old_invoice)) == (
        "eu_distance_sale", "", [("S", "0.23", "100.00", "23.00", None)])
    assert (new_invoice["buyer_vat_id"], vat(new_invoice)) == (
        "PL6772398046", [("K", "0.00", "100.00", "0.00", "VATEX-EU-IC")])
    books = accounts(admin)
    assert (books[OSS_PL], books["4000"], books["4060"]) == (D("-23.00"), D("-100.00"), D("-100.00"))
    assert admin.ok("get", "/api/v1/reconciliation")["ok"]


def test_below_the_threshold_a_distance_sale_is_domestic_and_above_it_destination(admin: Client, world: None) -> None:
    admin.ok("patch", "/api/v1/company", {"oss_registered": False, "distance_sales_threshold": "150.00"})
    first = place(admin, "C-PL", [("CLOCK", 1)])      # 100 so far: under 150
    second = place(admin, "C-PL", [("CLOCK", 1)])     # 200 > 150: destination VAT from here
    assert (first["tax_treatment"], first["tax_country"], first["vat_total"]) == ("domestic", "IT", "22.00")
    assert (second["tax_treatment"], second["tax_country"], second["vat_total"]) == ("eu_distance_sale", "PL", "23.00")


def test_the_preview_shows_exactly_what_the_invoice_will(shop: Client, admin: Client, world: None) -> None:
    body = {"customer": {"code": "C-PL"}, "lines": [{"sku": "CLOCK", "quantity": 2, "discount": "0.10"},
                                                    {"sku": "BOOK", "quantity": 3}]}
    p = shop.ok("post", "/api/v1/tax/preview", body)
    o = shop.ok("post", "/api/v1/orders", {**body, "confirm": True}, status=201)
    inv = ship(admin, o["id"])
    assert (p["tax_treatment"], p["tax_country"]) == (inv["tax_treatment"], inv["tax_country"]) == (
        "eu_distance_sale", "PL")
    assert p["vat"] == inv["vat"]
    assert (p["net_total"], p["vat_total"], p["total"]) == (inv["net_total"], inv["vat_total"], inv["total"]) == (
        "240.00", "44.40", "284.40")
    assert [(l["sku"], l["net"], l["vat_category"], l["vat_rate"]) for l in p["lines"]] == [
        (l["sku"], l["net"], l["vat_category"], l["vat_rate"]) for l in inv["lines"]]


def test_a_business_abroad_without_vat_id_is_previewed_as_a_consumer_and_told(admin: Client, world: None,
                                                                              engine: Engine) -> None:
    with engine.connect() as c:
        before = c.execute(select(func.count()).select_from(m.Customer.__table__)).scalar_one()
    p = admin.ok("post", "/api/v1/tax/preview", {
        "customer": {"code": "C-NEW-AT", "name": "Wiener Kaffee GmbH", "country": "AT", "customer_type": "business",
                     "billing_address": addr("Wiener Kaffee", "AT")},
        "lines": [{"sku": "CLOCK", "quantity": 1}]})
    assert (p["tax_treatment"], p["tax_country"], p["vat"][0]["rate"]) == ("eu_distance_sale", "AT", "0.20")
    assert any("without a VAT id" in n for n in p["notes"]), p["notes"]
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(m.Customer.__table__)).scalar_one() == before
