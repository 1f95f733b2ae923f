"""The tax endpoints: company settings, rates, VIES results on customers; bad
input refused with 422 and ``details.fields``, nothing written; who may do
what (role × whose customer)."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from o2c.db import models as m
from tests.conftest import Client, customer, product

ADDR = {"name": "X", "line1": "Street 1", "city": "City", "postal_code": "10000", "country": "DE"}


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(model.__table__)).scalar_one()


def fields_of(r: Any) -> dict[str, Any]:
    body = r.get_json()
    assert r.status_code == 422, body
    assert body["error"]["code"] == "validation_error"
    return body["error"]["details"]["fields"]


def test_the_company_is_italian_and_administrators_change_it(admin: Client) -> None:
    c = admin.ok("get", "/api/v1/company")
    assert (c["country"], c["oss_registered"], c["distance_sales_threshold"]) == ("IT", False, "10000.00")
    c = admin.ok("patch", "/api/v1/company", {"vat_id": "IT09876540015", "distance_sales_threshold": "5000.00"})
    assert (c["vat_id"], c["distance_sales_threshold"]) == ("IT09876540015", "5000.00")
    assert "vat_id" in fields_of(admin.patch("/api/v1/company", json={"vat_id": "IT09876540016"}))
    assert admin.ok("get", "/api/v1/company")["vat_id"] == "IT09876540015"


@pytest.mark.parametrize(("body", "field"), [
    ({"country": "XX"}, "country"),
    ({"country": "DE", "tax_id": "DE12"}, "tax_id"),                  # malformed
    ({"country": "DE", "tax_id": "DE287451936"}, "tax_id"),           # wrong check digit
    ({"country": "PL", "tax_id": "DE287451934"}, "tax_id"),           # another country's id
    ({"country": "DE", "customer_type": "reseller"}, "customer_type"),
])
def test_bad_customer_tax_data_is_refused_and_nothing_is_written(admin: Client, engine: Engine, body: dict[str, Any],
                                                                  field: str) -> None:
    before = count(engine, m.Customer)
    r = admin.post("/api/v1/customers", json={"code": "C-BAD", "name": "Bad", "billing_address": ADDR, **body})
    assert field in fields_of(r)
    assert count(engine, m.Customer) == before


def test_a_customer_change_to_a_wrong_vat_id_is_refused(admin: Client) -> None:
    c = customer(admin, "C-DE", country="DE", tax_id="DE287451934", billing_address=ADDR)
    assert (c["customer_type"], c["vat_id_check"]["status"]) == ("business", "unchecked")
    assert "tax_id" in fields_of(admin.patch(f"/api/v1/customers/{c['id']}", json={"tax_id": "DE287451935"}))
    assert admin.ok("get", f"/api/v1/customers/{c['id']}")["tax_id"] == "DE287451934"


def test_a_vies_result_is_recorded_on_the_customer(admin: Client) -> None:
    c = customer(admin, "C-DE", country="DE", tax_id="DE287451934", billing_address=ADDR)
    c = admin.ok("patch", f"/api/v1/customers/{c['id']}", {"vat_id_check": {
        "status": "valid", "checked_on": "2026-03-02", "reference": "WAPIAAAAXYZ123"}})
    assert c["vat_id_check"] == {"status": "valid", "checked_on": "2026-03-02", "reference": "WAPIAAAAXYZ123"}
    # A new VAT id is unchecked again.
    c = admin.ok("patch", f"/api/v1/customers/{c['id']}", {"tax_id": "DE 287 451 934 "[:-1].replace(" ", "")})
    assert c["vat_id_check"]["status"] == "valid"  # the same id: the check stands
    assert "status" in fields_of(admin.patch(f"/api/v1/customers/{c['id']}",
                                             json={"vat_id_check": {"status": "maybe"}}))["vat_id_check"]


def test_a_consumer_has_no_vat_id_and_is_a_consumer_by_default(admin: Client) -> None:
    c = customer(admin, "C-CONS", country="DE", billing_address=ADDR)
    assert c["customer_type"] == "consumer"


def test_an_unknown_tax_class_is_refused(admin: Client, engine: Engine) -> None:
    before = count(engine, m.Product)
    r = admin.post("/api/v1/products", json={"sku": "LUX", "name": "Lux", "unit_price": "1.00", "vat_rate": "0.22",
                                            "tax_class": "luxury"})
    assert "tax_class" in fields_of(r)
    assert count(engine, m.Product) == before
    p = product(admin, "STD", "1.00")
    assert p["tax_class"] == "standard"
    assert admin.ok("patch", "/api/v1/products/STD", {"tax_class": "reduced"})["tax_class"] == "reduced"


def test_the_rates_table_with_dated_changes(admin: Client, shop: Client, engine: Engine) -> None:
    de = shop.ok("get", "/api/v1/tax/rates?country=DE&on=2026-06-01")["items"]
    assert {r["tax_class"]: r["rate"] for r in de} == {"standard": "0.19", "reduced": "0.07",
                                                       "super_reduced": "0.07", "zero": "0.00"}
    # A new rate from a date closes the open one the day before.
    admin.ok("post", "/api/v1/tax/rates", {"country": "DE", "tax_class": "standard", "rate": "0.20",
                                           "valid_from": "2027-01-01"}, status=201)
    on = {d: shop.ok("get", f"/api/v1/tax/rates?country=DE&on={d}")["items"] for d in ("2026-12-31", "2027-01-01")}
    assert [r["rate"] for r in on["2026-12-31"] if r["tax_class"] == "standard"] == ["0.19"]
    assert [r["rate"] for r in on["2027-01-01"] if r["tax_class"] == "standard"] == ["0.20"]
    before = count(engine, m.TaxRate)
    r = admin.post("/api/v1/tax/rates", json={"country": "DE", "tax_class": "standard", "rate": "0.21",
                                              "valid_from": "2026-06-01", "valid_to": "2027-03-31"})
    assert "valid_from" in fields_of(r)
    assert "tax_class" in fields_of(admin.post("/api/v1/tax/rates", json={
        "country": "DE", "tax_class": "luxury", "rate": "0.30", "valid_from": "2027-01-01"}))
    assert "rate" in fields_of(admin.post("/api/v1/tax/rates", json={
        "country": "DE", "tax_class": "reduced", "rate": "1.50", "valid_from": "2028-01-01"}))
    assert count(engine, m.TaxRate) == before
    assert "on" in fields_of(shop.get("/api/v1/tax/rates?on=yesterday"))


def test_a_preview_with_bad_input_is_refused(admin: Client) -> None:
    product(admin, "STD", "10.00", stock=5)
    f = fields_of(admin.post("/api/v1/tax/preview", json={
        "customer": {"name": "Anon", "country": "XX", "billing_address": {**ADDR, "country": "DE"}},
        "lines": [{"sku": "STD", "quantity": 1}]}))
    assert "country" in f
    f = fields_of(admin.post("/api/v1/tax/preview", json={
        "customer": {"name": "Anon", "country": "DE", "tax_id": "DE1", "billing_address": ADDR},
        "lines": [{"sku": "STD", "quantity": 1}]}))
    assert "tax_id" in f
    assert "lines" in fields_of(admin.post("/api/v1/tax/preview", json={
        "customer": {"name": "Anon", "country": "DE", "billing_address": ADDR},
        "lines": [{"sku": "NOPE", "quantity": 1}]}))


# -- who may do what ----------------------------------------------------------------

ROLES = ("webshop", "clerk", "accountant", "admin")


def _clients(app: Any, keys: dict[str, str]) -> dict[str, Client]:
    return {r: Client(app.test_client(), keys[r]) for r in ROLES}


@pytest.mark.parametrize("role", ROLES)
def test_company_and_rates_by_role(app: Any, keys: dict[str, str], role: str) -> None:
    api = _clients(app, keys)[role]
    assert api.get("/api/v1/company").status_code == (403 if role == "webshop" else 200)
    assert api.patch("/api/v1/company", json={"oss_registered": True}).status_code == (
        200 if role == "admin" else 403)
    assert api.get("/api/v1/tax/rates?country=IT").status_code == 200
    assert api.post("/api/v1/tax/rates", json={"country": "IT", "tax_class": "reduced", "rate": "0.11",
                                               "valid_from": "2030-01-01"}).status_code == (
        201 if role == "admin" else 403)


WHOSE = ("own", "other", "back_office")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("whose", WHOSE)
def test_a_preview_only_for_customers_the_caller_may_use(app: Any, keys: dict[str, str], admin: Client,
                                                         role: str, whose: str) -> None:
    product(admin, "STD", "10.00", stock=5)
    customer(admin, "C-OWN", channels=["shop-a"])
    customer(admin, "C-OTHER", channels=["shop-b"])
    customer(admin, "C-BO")
    code = {"own": "C-OWN", "other": "C-OTHER", "back_office": "C-BO"}[whose]
    r = _clients(app, keys)[role].post("/api/v1/tax/preview", json={"customer": {"code": code},
                                                                    "lines": [{"sku": "STD", "quantity": 1}]})
    if role == "webshop" and whose != "own":
        expected = 422  # exactly as for a customer that does not exist
    else:
        expected = 200
    assert r.status_code == expected, r.get_json()
    if expected == 422:
        missing = _clients(app, keys)[role].post("/api/v1/tax/preview", json={
            "customer": {"code": "C-NOBODY"}, "lines": [{"sku": "STD", "quantity": 1}]})
        assert r.get_json() == missing.get_json()
    if expected == 200:
        assert r.get_json()["tax_treatment"] == "domestic" and r.get_json()["total"] == "12.20"
