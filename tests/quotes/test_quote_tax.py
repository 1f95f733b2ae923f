"""A quotation shows the tax treatment its order and invoice will have: the
same function decides it when the quotation is priced and again when its
order is made at acceptance. One treatment per case, quote = order = invoice;
and what happens when a rate changed between sending and acceptance."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import Client, customer, product, reconciliation_ok
from tests.scenarios.test_tax_treatments import addr, ship, vat


@pytest.fixture
def world(admin: Client) -> None:
    product(admin, "CLOCK", "100.00", "0.22", stock=20, cost="40.00")
    admin.ok("post", "/api/v1/products", {"sku": "BOOK", "name": "Book", "unit_price": "20.00", "vat_rate": "0.04",
                                          "tax_class": "super_reduced"}, status=201)
    admin.ok("post", "/api/v1/stock/receipts", {"sku": "BOOK", "quantity": 20, "unit_cost": "8.00"}, status=201)
    customer(admin, "C-IT", name="Bottega Conti", tax_id="IT02793451200", billing_address=addr("Bottega", "IT"))
    customer(admin, "C-DE", name="Kaffeehaus Lindner GmbH", country="DE", language="en", tax_id="DE287451934",
             billing_address=addr("Lindner", "DE"))
    customer(admin, "C-PL", name="Katarzyna Nowak", country="PL", language="pl", billing_address=addr("Nowak", "PL"))
    admin.ok("patch", "/api/v1/company", {"oss_registered": True})


def quote_and_accept(api: Client, code: str) -> tuple[dict[str, Any], dict[str, Any]]:
    q = api.ok("post", "/api/v1/quotes", {
        "customer": {"code": code}, "payment_terms_days": 30,
        "lines": [{"sku": "CLOCK", "quantity": 2, "discount": "0.10"}, {"sku": "BOOK", "quantity": 3},
                  {"sku": "BOOK", "quantity": 1, "optional": True}]}, status=201)
    api.ok("post", f"/api/v1/quotes/{q['id']}/send")
    acc = api.ok("post", f"/api/v1/quotes/{q['id']}/accept", {"accepted_by": "Buyer"})
    return acc, api.ok("get", f"/api/v1/orders/{acc['order_id']}")


def taxed_lines(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(l["sku"], l["net"], l["vat_category"], l["vat_rate"]) for l in doc["lines"]]


@pytest.mark.parametrize(("code", "treatment", "country", "rows"), [
    ("C-DE", "intra_eu_b2b", "DE", [("K", "0.00", "240.00", "0.00", "VATEX-EU-IC")]),
    ("C-PL", "eu_distance_sale", "PL", [("S", "0.05", "60.00", "3.00", None), ("S", "0.23", "180.00", "41.40", None)]),
    ("C-IT", "domestic", "IT", [("S", "0.04", "60.00", "2.40", None), ("S", "0.22", "180.00", "39.60", None)]),
])
def test_the_quote_its_order_and_its_invoice_have_one_treatment(
        admin: Client, world: None, code: str, treatment: str, country: str, rows: list[Any]) -> None:
    quote, order = quote_and_accept(admin, code)
    inv = ship(admin, order["id"])
    for doc in (quote, order, inv):
        assert (doc["tax_treatment"], doc["tax_country"]) == (treatment, country)
        assert (doc["net_total"], doc["vat_total"], doc["total"]) == (
            quote["net_total"], quote["vat_total"], quote["total"])
        assert taxed_lines(doc) == taxed_lines(quote)
    assert vat(quote) == vat(inv) == rows
    assert quote["vat"] == inv["vat"]
    # The optional line was taxed with the offer, alike.
    book = quote["lines"][1]
    assert [(l["vat_category"], l["vat_rate"]) for l in quote["optional_lines"]] == [
        (book["vat_category"], book["vat_rate"])]
    if code == "C-DE":
        assert inv["buyer_vat_id"] == "DE287451934"
        assert quote["vat"][0]["exemption_reason"] == "Intra-Community supply"
    reconciliation_ok(admin)


def test_a_rate_changed_after_sending_the_order_charges_the_new_one_at_the_quoted_prices(
        admin: Client, world: None, engine: Engine) -> None:
    q = admin.ok("post", "/api/v1/quotes", {"customer": {"code": "C-PL"},
                                            "lines": [{"sku": "CLOCK", "quantity": 1}]}, status=201)
    admin.ok("post", f"/api/v1/quotes/{q['id']}/send")
    assert (q["vat"][0]["rate"], q["total"]) == ("0.23", "123.00")
    admin.ok("post", "/api/v1/tax/rates", {"country": "PL", "tax_class": "standard", "rate": "0.24",
                                           "valid_from": dt.date.today().isoformat()}, status=201)
    acc = admin.ok("post", f"/api/v1/quotes/{q['id']}/accept", {"accepted_by": "Buyer"})
    order = admin.ok("get", f"/api/v1/orders/{acc['order_id']}")
    # The quotation stays as sent; the order has the quoted net and today's VAT.
    assert (acc["vat"][0]["rate"], acc["total"]) == ("0.23", "123.00")
    assert (order["tax_treatment"], order["net_total"], order["vat_total"], order["total"]) == (
        "eu_distance_sale", "100.00", "24.00", "124.00")
    with engine.connect() as c:
        after = c.execute(text("SELECT after FROM audit_log WHERE action = 'quote.accepted'")).scalar_one()
    after = after if isinstance(after, dict) else json.loads(after)
    assert after["tax_changed"] == {"quoted": {"tax_treatment": "eu_distance_sale", "total": "123.00"},
                                    "charged": {"tax_treatment": "eu_distance_sale", "total": "124.00"}}


def proposal_text(api: Client, quote_id: int) -> str:
    import io

    from pypdf import PdfReader
    r = api.get(f"/api/v1/quotes/{quote_id}/pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(r.data)).pages)


def test_the_proposal_states_the_treatment_its_legal_mention_and_the_category_per_vat_row(
        admin: Client, world: None) -> None:
    customer(admin, "C-DE-PL", name="Handel Kowalski sp. z o.o.", country="PL", language="pl",
             tax_id="PL6772398046", billing_address=addr("Kowalski", "PL"))
    de = admin.ok("post", "/api/v1/quotes", {"customer": {"code": "C-DE"},
                                             "lines": [{"sku": "CLOCK", "quantity": 1}]}, status=201)
    text_en = proposal_text(admin, de["id"])
    assert "Intra-Community supply" in text_en
    assert "Reverse charge – Art. 138 Directive 2006/112/EC" in text_en
    assert "VAT category" in text_en and "VATEX-EU-IC" in text_en
    pl = admin.ok("post", "/api/v1/quotes", {"customer": {"code": "C-DE-PL"},
                                             "lines": [{"sku": "CLOCK", "quantity": 1}]}, status=201)
    assert pl["tax_treatment"] == "intra_eu_b2b"
    text_pl = proposal_text(admin, pl["id"])
    assert "Wewnątrzwspólnotowa dostawa towarów" in text_pl
    assert "Odwrotne obciążenie – art. 138 dyrektywy 2006/112/WE" in text_pl
    dist = admin.ok("post", "/api/v1/quotes", {"customer": {"code": "C-PL"},
                                               "lines": [{"sku": "CLOCK", "quantity": 1}]}, status=201)
    assert "Sprzedaż wysyłkowa w UE" in proposal_text(admin, dist["id"])
