"""Bad requests get the right 4xx in the contract's error shape, and nothing
is written: no order, customer, payment, stock movement or journal entry."""
from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import ADDRESS, Client, customer, order, product

BOOKS = (
    "customers", "products", "orders", "order_lines", "shipments", "invoices", "payments",
    "payment_allocations", "stock_movements", "journal_entries", "journal_lines", "events", "audit_log",
)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in BOOKS}


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:500])
    assert r.mimetype == "application/json", r.mimetype
    body = r.get_json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], dict)
    return err


def assert_invalid_field(r: Any, field: str) -> dict[str, Any]:
    err = assert_error(r, 422, "validation_error")
    assert field in err["details"].get("fields", {}), err
    return err


@pytest.fixture
def shelf(admin: Client) -> dict[str, Any]:
    """A customer and two products in stock."""
    c = customer(admin, "C-ROSSI", channels=["shop-a"])
    product(admin, "MUG-01", "8.50", "0.10", stock=10, cost="3.00")
    product(admin, "TEE-M", "19.90", "0.22", stock=5, cost="7.00")
    return {"customer": c}


def confirmed_order(api: Client, lines: list[tuple[str, int]], **over: Any) -> dict[str, Any]:
    r = order(api, "C-ROSSI", lines, **over)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def shipped(admin: Client, order_id: int, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    sh = admin.ok("post", f"/api/v1/orders/{order_id}/shipments", {"lines": lines} if lines else {}, status=201)
    return admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})


# -- orders: the request body --------------------------------------------------------

ORDER = {"customer": {"code": "C-ROSSI"}, "currency": "EUR", "lines": [{"sku": "MUG-01", "quantity": 2}],
         "confirm": True}


def without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda b: b.pop(key)


def setting(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda b: b.__setitem__(key, value)


def line(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda b: b["lines"][0].__setitem__(key, value)


def line_without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda b: b["lines"][0].pop(key)


BAD_ORDERS = [
    # missing fields
    pytest.param(without("customer"), "customer", id="no-customer"),
    pytest.param(without("lines"), "lines", id="no-lines"),
    pytest.param(setting("lines", []), "lines", id="empty-lines"),
    pytest.param(line_without("sku"), "lines", id="line-without-sku"),
    pytest.param(line_without("quantity"), "lines", id="line-without-quantity"),
    # quantities
    pytest.param(line("quantity", 0), "lines", id="quantity-zero"),
    pytest.param(line("quantity", -3), "lines", id="quantity-negative"),
    pytest.param(line("quantity", 1.5), "lines", id="quantity-fraction"),
    pytest.param(line("quantity", 2.5), "lines", id="quantity-float"),
    pytest.param(line("quantity", "2"), "lines", id="quantity-string"),
    pytest.param(line("quantity", True), "lines", id="quantity-boolean"),
    pytest.param(line("quantity", None), "lines", id="quantity-null"),
    pytest.param(line("quantity", 10**12), "lines", id="quantity-huge"),
    pytest.param(line("quantity", 2**64), "lines", id="quantity-beyond-64-bits"),
    # amounts are strings with at most two decimals
    pytest.param(line("unit_price", 8.5), "lines", id="price-json-float"),
    pytest.param(line("unit_price", "8.505"), "lines", id="price-three-decimals"),
    pytest.param(line("unit_price", "-1.00"), "lines", id="price-negative"),
    pytest.param(line("unit_price", "NaN"), "lines", id="price-nan"),
    pytest.param(line("unit_price", "sNaN"), "lines", id="price-signalling-nan"),
    pytest.param(line("unit_price", "Infinity"), "lines", id="price-infinity"),
    pytest.param(line("unit_price", "1e400"), "lines", id="price-1e400"),
    pytest.param(line("unit_price", "1000000000000.00"), "lines", id="price-huge"),
    pytest.param(line("unit_price", "12,30"), "lines", id="price-comma"),
    pytest.param(line("unit_price", True), "lines", id="price-boolean"),
    pytest.param(line("discount", "1.5"), "lines", id="discount-over-100-percent"),
    pytest.param(line("discount", 0.1), "lines", id="discount-json-float"),
    # unknown things
    pytest.param(line("sku", "NO-SUCH-SKU"), "lines", id="unknown-sku"),
    pytest.param(setting("customer", {"code": "C-NOBODY"}), "customer", id="unknown-customer"),
    pytest.param(setting("customer", {"id": 999999}), "customer", id="unknown-customer-id"),
    pytest.param(setting("customer", {"id": 2**70}), "customer", id="customer-id-beyond-64-bits"),
    pytest.param(setting("customer", {"id": 3_000_000_000}), "customer", id="customer-id-beyond-32-bits"),
    # wrong types
    pytest.param(setting("lines", "MUG-01 x 2"), "lines", id="lines-as-string"),
    pytest.param(setting("lines", [["MUG-01", 2]]), "lines", id="line-as-list"),
    pytest.param(setting("customer", 42), "customer", id="customer-as-number"),
    pytest.param(setting("customer", "C-ROSSI"), "customer", id="customer-as-string"),
    pytest.param(setting("confirm", "maybe"), "confirm", id="confirm-not-boolean"),
    pytest.param(setting("currency", "eur"), "currency", id="currency-lowercase"),
    pytest.param(setting("currency", "USD"), "currency", id="currency-not-functional"),
    pytest.param(setting("external_ref", ""), "external_ref", id="external-ref-empty"),
    pytest.param(setting("external_ref", "x" * 129), "external_ref", id="external-ref-too-long"),
    # text that no database can store faithfully (PostgreSQL refuses NUL in text)
    pytest.param(setting("external_ref", "shop-a-\x00"), "external_ref", id="external-ref-with-nul"),
    pytest.param(line("sku", "MUG-\x00"), "lines", id="sku-with-nul"),
    # unknown fields
    pytest.param(setting("colour", "red"), "colour", id="unknown-field"),
    pytest.param(line("colour", "red"), "lines", id="unknown-line-field"),
    # a customer given two ways
    pytest.param(setting("customer", {"id": 1, "code": "C-ROSSI"}), "customer", id="customer-id-and-code"),
    pytest.param(setting("customer", {}), "customer", id="customer-empty"),
    pytest.param(setting("customer", {"name": "New Co", "country": "IT"}), "customer",
                 id="new-customer-without-address"),
]


@pytest.mark.parametrize(("mutate", "field"), BAD_ORDERS)
def test_a_bad_order_is_refused_and_nothing_is_created(
    shop: Client, shelf: dict[str, Any], engine: Engine, mutate: Callable[[dict[str, Any]], None], field: str,
) -> None:
    body = copy.deepcopy(ORDER)
    mutate(body)
    before = counts(engine)

    r = shop.post("/api/v1/orders", body)

    assert_invalid_field(r, field)
    assert counts(engine) == before
    assert shop.ok("get", "/api/v1/stock/MUG-01")["reserved"] == 0


def test_the_good_order_of_the_matrix_is_accepted(shop: Client, shelf: dict[str, Any]) -> None:
    """The matrix above changes one thing each: the unchanged body is fine."""
    r = shop.post("/api/v1/orders", ORDER)
    assert r.status_code == 201, r.get_json()


def test_an_unknown_sku_is_named_with_its_line(shop: Client, shelf: dict[str, Any]) -> None:
    body = {**ORDER, "lines": [{"sku": "MUG-01", "quantity": 1}, {"sku": "GHOST", "quantity": 1}]}
    err = assert_invalid_field(shop.post("/api/v1/orders", body), "lines")
    assert "1" in err["details"]["fields"]["lines"]
    assert "0" not in err["details"]["fields"]["lines"]


@pytest.mark.parametrize("body", [[ORDER], "an order", None, 42], ids=["a-list", "a-string", "null", "a-number"])
def test_a_body_that_is_not_an_object_is_refused(shop: Client, shelf: dict[str, Any], engine: Engine, body: Any) -> None:
    before = counts(engine)
    r = shop.post("/api/v1/orders", data=json.dumps(body), content_type="application/json")
    err = assert_error(r, 422, "validation_error")
    assert err["details"]["fields"]
    assert counts(engine) == before


@pytest.mark.parametrize("raw", ['{"customer": {"code": "C-ROSSI"}, "lines": [', "not json at all", "{'a': 1}"])
def test_a_body_that_is_not_json_is_a_bad_request(shop: Client, shelf: dict[str, Any], engine: Engine, raw: str) -> None:
    before = counts(engine)
    r = shop.post("/api/v1/orders", data=raw, content_type="application/json")
    assert_error(r, 400, "bad_request")
    assert counts(engine) == before


def test_a_body_over_one_mebibyte_is_refused(shop: Client, shelf: dict[str, Any], engine: Engine) -> None:
    body = {**ORDER, "external_ref": "big", "notes": "x" * (1024 * 1024 + 1)}
    before = counts(engine)
    r = shop.post("/api/v1/orders", body)
    assert_error(r, 413, "payload_too_large")
    assert counts(engine) == before


# -- other resources: the request body ------------------------------------------------------

def payment(customer_id: int, **over: Any) -> dict[str, Any]:
    return {"customer_id": customer_id, "amount": "10.00", "currency": "EUR",
            "received_on": dt.date.today().isoformat(), "method": "bank_transfer", "reference": "BANK-1"} | over


BAD_PAYMENTS = [
    pytest.param({"amount": 10.5}, "amount", id="amount-json-float"),
    pytest.param({"amount": "10.001"}, "amount", id="amount-three-decimals"),
    pytest.param({"amount": "-10.00"}, "amount", id="amount-negative"),
    pytest.param({"amount": "0"}, "amount", id="amount-zero"),
    pytest.param({"amount": "0.00"}, "amount", id="amount-zero-cents"),
    pytest.param({"amount": "NaN"}, "amount", id="amount-nan"),
    pytest.param({"amount": "-Infinity"}, "amount", id="amount-minus-infinity"),
    pytest.param({"amount": "1e400"}, "amount", id="amount-1e400"),
    pytest.param({"amount": "9" * 40}, "amount", id="amount-huge"),
    pytest.param({"amount": True}, "amount", id="amount-boolean"),
    pytest.param({"amount": None}, "amount", id="amount-null"),
    pytest.param({"amount": ""}, "amount", id="amount-empty"),
    pytest.param({"customer_id": "1"}, "customer_id", id="customer-id-string"),
    pytest.param({"customer_id": 999999}, "customer_id", id="customer-unknown"),
    pytest.param({"customer_id": 2**70}, "customer_id", id="customer-id-beyond-64-bits"),
    pytest.param({"customer_id": 3_000_000_000}, "customer_id", id="customer-id-beyond-32-bits"),
    pytest.param({"reference": "BANK-\x00"}, "reference", id="reference-with-nul"),
    pytest.param({"currency": "USD"}, "currency", id="currency-not-functional"),
    pytest.param({"received_on": "14/03/2026"}, "received_on", id="date-not-iso"),
    pytest.param({"received_on": "2026-02-30"}, "received_on", id="date-impossible"),
    pytest.param({"reference": ""}, "reference", id="reference-empty"),
    pytest.param({"allocations": "all"}, "allocations", id="allocations-as-string"),
    pytest.param({"allocations": []}, "allocations", id="allocations-empty"),
    pytest.param({"allocations": [{"invoice_id": 1, "amount": 5.5}]}, "allocations", id="allocation-float"),
    pytest.param({"allocations": [{"invoice_id": 1, "amount": "6.00"}, {"invoice_id": 2, "amount": "6.00"}]},
                 "allocations", id="allocations-over-the-amount"),
    pytest.param({"allocations": [{"invoice_id": 1, "amount": "1.00"}, {"invoice_id": 1, "amount": "1.00"}]},
                 "allocations", id="allocations-same-invoice-twice"),
    pytest.param({"allocations": [{"invoice_id": 2**70, "amount": "1.00"}]}, "allocations",
                 id="allocation-invoice-id-beyond-64-bits"),
    pytest.param({"bank": "UniCredit"}, "bank", id="unknown-field"),
]


@pytest.mark.parametrize(("over", "field"), BAD_PAYMENTS)
def test_a_bad_payment_is_refused_and_nothing_is_booked(
    accountant: Client, shelf: dict[str, Any], engine: Engine, over: dict[str, Any], field: str,
) -> None:
    before = counts(engine)
    r = accountant.post("/api/v1/payments", payment(shelf["customer"]["id"]) | over)
    assert_invalid_field(r, field)
    assert counts(engine) == before


@pytest.mark.parametrize("missing", ["customer_id", "amount", "currency", "received_on", "reference"])
def test_a_payment_without_a_required_field_is_refused(
    accountant: Client, shelf: dict[str, Any], engine: Engine, missing: str,
) -> None:
    body = payment(shelf["customer"]["id"])
    del body[missing]
    before = counts(engine)
    assert_invalid_field(accountant.post("/api/v1/payments", body), missing)
    assert counts(engine) == before


def test_the_good_payment_of_the_matrix_is_accepted(accountant: Client, shelf: dict[str, Any]) -> None:
    r = accountant.post("/api/v1/payments", payment(shelf["customer"]["id"]))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["unapplied"] == "10.00"


CUSTOMER = {"code": "C-NEW", "name": "Nuovo Srl", "country": "IT", "billing_address": ADDRESS}

BAD_CUSTOMERS = [
    pytest.param({"code": None}, "code", id="code-null"),
    pytest.param({"name": ""}, "name", id="name-empty"),
    pytest.param({"name": " \t\n"}, "name", id="name-blank"),  # its e-invoices would name no buyer (BR-07)
    pytest.param({"billing_address": {**ADDRESS, "line1": "   "}}, "billing_address", id="address-line-blank"),
    pytest.param({"name": "Rossi\x00"}, "name", id="name-with-nul"),
    pytest.param({"country": "Italy"}, "country", id="country-not-iso"),
    pytest.param({"language": "xx"}, "language", id="language-unknown"),
    pytest.param({"payment_terms_days": "30"}, "payment_terms_days", id="terms-as-string"),
    pytest.param({"payment_terms_days": -1}, "payment_terms_days", id="terms-negative"),
    pytest.param({"credit_limit": 1000.5}, "credit_limit", id="credit-limit-float"),
    pytest.param({"credit_limit": "-1.00"}, "credit_limit", id="credit-limit-negative"),
    pytest.param({"billing_address": "Via Dante 5"}, "billing_address", id="address-as-string"),
    pytest.param({"billing_address": {**ADDRESS, "country": "it"}}, "billing_address", id="address-country"),
    pytest.param({"billing_address": {k: v for k, v in ADDRESS.items() if k != "city"}}, "billing_address",
                 id="address-without-city"),
    pytest.param({"vip": True}, "vip", id="unknown-field"),
]


@pytest.mark.parametrize(("over", "field"), BAD_CUSTOMERS)
def test_a_bad_customer_is_refused(
    admin: Client, engine: Engine, over: dict[str, Any], field: str,
) -> None:
    before = counts(engine)
    assert_invalid_field(admin.post("/api/v1/customers", {**CUSTOMER, **over}), field)
    assert counts(engine) == before


@pytest.mark.parametrize("missing", ["code", "name", "country", "billing_address"])
def test_a_customer_without_a_required_field_is_refused(admin: Client, engine: Engine, missing: str) -> None:
    before = counts(engine)
    body = {k: v for k, v in CUSTOMER.items() if k != missing}
    assert_invalid_field(admin.post("/api/v1/customers", body), missing)
    assert counts(engine) == before


def test_patching_an_unknown_customer_is_not_found(admin: Client, engine: Engine) -> None:
    before = counts(engine)
    assert_error(admin.patch("/api/v1/customers/999999", {"name": "Nobody"}), 404, "not_found")
    assert counts(engine) == before


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({"country": "Italy"}, "country", id="country-not-iso"),
    pytest.param({"payment_terms_days": 1000}, "payment_terms_days", id="terms-over-a-year"),
    pytest.param({"colour": "red"}, "colour", id="unknown-field"),
])
def test_a_bad_customer_patch_changes_nothing(
    admin: Client, shelf: dict[str, Any], engine: Engine, body: dict[str, Any], field: str,
) -> None:
    cid = shelf["customer"]["id"]
    before = counts(engine)
    assert_invalid_field(admin.patch(f"/api/v1/customers/{cid}", body), field)
    assert counts(engine) == before
    assert admin.ok("get", f"/api/v1/customers/{cid}") == shelf["customer"]


BAD_PRODUCTS = [
    pytest.param({"unit_price": 8.5}, "unit_price", id="price-float"),
    pytest.param({"unit_price": "8.505"}, "unit_price", id="price-three-decimals"),
    pytest.param({"vat_rate": 0.22}, "vat_rate", id="rate-float"),
    pytest.param({"vat_rate": "22"}, "vat_rate", id="rate-as-percent"),
    pytest.param({"vat_rate": "-0.01"}, "vat_rate", id="rate-negative"),
    pytest.param({"vat_rate": "0.22222"}, "vat_rate", id="rate-five-decimals"),
    pytest.param({"sku": "has space"}, "sku", id="sku-with-space"),
    pytest.param({"sku": ""}, "sku", id="sku-empty"),
]


@pytest.mark.parametrize(("over", "field"), BAD_PRODUCTS)
def test_a_bad_product_is_refused(admin: Client, engine: Engine, over: dict[str, Any], field: str) -> None:
    before = counts(engine)
    body = {"sku": "LAMP-01", "name": "Lamp", "unit_price": "30.00", "vat_rate": "0.22", **over}
    assert_invalid_field(admin.post("/api/v1/products", body), field)
    assert counts(engine) == before


@pytest.mark.parametrize(("over", "field"), [
    pytest.param({"quantity": 0}, "quantity", id="quantity-zero"),
    pytest.param({"quantity": -5}, "quantity", id="quantity-negative"),
    pytest.param({"quantity": 2.5}, "quantity", id="quantity-fraction"),
    pytest.param({"quantity": 10**12}, "quantity", id="quantity-huge"),
    pytest.param({"unit_cost": 3.5}, "unit_cost", id="cost-float"),
    pytest.param({"unit_cost": "3.001"}, "unit_cost", id="cost-three-decimals"),
    pytest.param({"unit_cost": "-3.00"}, "unit_cost", id="cost-negative"),
    pytest.param({"sku": "GHOST"}, "sku", id="unknown-sku"),
])
def test_a_bad_goods_receipt_moves_no_stock(
    admin: Client, shelf: dict[str, Any], engine: Engine, over: dict[str, Any], field: str,
) -> None:
    before = counts(engine)
    body = {"sku": "MUG-01", "quantity": 5, "unit_cost": "3.00", **over}
    assert_invalid_field(admin.post("/api/v1/stock/receipts", body), field)
    assert counts(engine) == before
    assert admin.ok("get", "/api/v1/stock/MUG-01")["on_hand"] == 10


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({"carrier": "BRT"}, "tracking_number", id="no-tracking-number"),
    pytest.param({"tracking_number": "T1"}, "carrier", id="no-carrier"),
    pytest.param({"carrier": "", "tracking_number": "T1"}, "carrier", id="empty-carrier"),
    pytest.param({"carrier": "BRT", "tracking_number": 123}, "tracking_number", id="tracking-number-as-number"),
])
def test_shipping_without_carrier_details_is_refused(
    admin: Client, shop: Client, shelf: dict[str, Any], engine: Engine, body: dict[str, Any], field: str,
) -> None:
    o = confirmed_order(shop, [("MUG-01", 2)])
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    before = counts(engine)
    assert_invalid_field(admin.post(f"/api/v1/shipments/{sh['id']}/ship", body), field)
    assert counts(engine) == before
    assert admin.ok("get", f"/api/v1/shipments/{sh['id']}")["status"] == "packed"


# -- headers ------------------------------------------------------------------------------

def test_an_idempotency_key_over_255_characters_is_refused(shop: Client, shelf: dict[str, Any], engine: Engine) -> None:
    before = counts(engine)
    r = shop.post("/api/v1/orders", ORDER, headers={"Idempotency-Key": "k" * 256})
    assert_invalid_field(r, "Idempotency-Key")
    assert counts(engine) == before


def test_an_idempotency_key_of_255_characters_is_fine(shop: Client, shelf: dict[str, Any]) -> None:
    r = shop.post("/api/v1/orders", ORDER, headers={"Idempotency-Key": "k" * 255})
    assert r.status_code == 201, r.get_json()


# -- what is not there --------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/orders/999999"),
    ("post", "/api/v1/orders/999999/confirm"),
    ("post", "/api/v1/orders/999999/cancel"),
    ("post", "/api/v1/orders/999999/shipments"),
    ("post", "/api/v1/orders/999999/invoices"),
    ("get", "/api/v1/shipments/999999"),
    ("post", "/api/v1/shipments/999999/ship"),
    ("post", "/api/v1/shipments/999999/cancel"),
    ("get", "/api/v1/invoices/999999"),
    ("get", "/api/v1/payments/999999"),
    ("get", "/api/v1/customers/999999"),
    ("get", "/api/v1/products/GHOST"),
    ("get", "/api/v1/stock/GHOST"),
    ("get", "/api/v1/products/GH%00ST"),
    ("get", f"/api/v1/orders/{2**64}"),
    ("get", f"/api/v1/customers/{2**64}"),
    ("get", "/api/v1/customers/3000000000"),
    ("get", f"/api/v1/shipments/{2**64}"),
    ("get", f"/api/v1/invoices/{2**64}"),
    ("get", f"/api/v1/payments/{2**63}"),
    ("post", f"/api/v1/orders/{2**64}/cancel"),
])
def test_an_unknown_id_is_not_found(admin: Client, shelf: dict[str, Any], engine: Engine, method: str, path: str) -> None:
    bodies = {"/ship": {"carrier": "BRT", "tracking_number": "T1"}}
    body = next((b for suffix, b in bodies.items() if path.endswith(suffix)), {})
    before = counts(engine)
    r = admin.get(path) if method == "get" else admin.post(path, body)
    assert_error(r, 404, "not_found")
    assert counts(engine) == before


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v1/orders/abc", "/api/v1/", "/api/nothing"])
def test_an_unknown_route_is_a_json_404(admin: Client, path: str) -> None:
    assert_error(admin.get(path), 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [
    ("delete", "/api/v1/orders"),
    ("put", "/api/v1/orders/1"),
    ("delete", "/api/v1/customers/1"),
    ("get", "/api/v1/orders/1/confirm"),
    ("post", "/api/v1/ledger/trial-balance"),
])
def test_a_wrong_method_is_a_json_405(admin: Client, method: str, path: str) -> None:
    r = getattr(admin.c, method)(path, headers={"Authorization": f"Bearer {admin.key}"})
    assert_error(r, 405, "method_not_allowed")


# -- invalid transitions and conflicts ---------------------------------------------------------

def test_confirming_a_confirmed_order_is_an_invalid_transition(
    shop: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = confirmed_order(shop, [("MUG-01", 2)])
    before = counts(engine)
    err = assert_error(shop.post(f"/api/v1/orders/{o['id']}/confirm"), 409, "invalid_transition")
    assert o["number"] in err["message"]
    assert counts(engine) == before
    assert shop.ok("get", "/api/v1/stock/MUG-01")["reserved"] == 2  # not reserved twice


def test_cancelling_a_cancelled_order_is_an_invalid_transition(
    shop: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = confirmed_order(shop, [("MUG-01", 2)])
    shop.ok("post", f"/api/v1/orders/{o['id']}/cancel")
    before = counts(engine)
    assert_error(shop.post(f"/api/v1/orders/{o['id']}/cancel"), 409, "invalid_transition")
    assert counts(engine) == before
    assert shop.ok("get", "/api/v1/stock/MUG-01")["reserved"] == 0  # not released twice


def test_confirming_a_cancelled_order_is_an_invalid_transition(
    shop: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = confirmed_order(shop, [("MUG-01", 2)], confirm=False)
    shop.ok("post", f"/api/v1/orders/{o['id']}/cancel")
    before = counts(engine)
    assert_error(shop.post(f"/api/v1/orders/{o['id']}/confirm"), 409, "invalid_transition")
    assert counts(engine) == before


@pytest.mark.parametrize("how", ["all-shipped", "part-shipped"])
def test_cancelling_an_order_with_goods_on_the_way_is_an_invalid_transition(
    admin: Client, shop: Client, shelf: dict[str, Any], engine: Engine, how: str,
) -> None:
    o = confirmed_order(shop, [("MUG-01", 3)])
    # (A packed, unshipped shipment no longer stands in the way: it is
    # cancelled with the order, tests/api/test_cancellations.py.)
    if how == "all-shipped":
        shipped(admin, o["id"])
    else:
        shipped(admin, o["id"], [{"sku": "MUG-01", "quantity": 1}])
    before = counts(engine)
    err = assert_error(shop.post(f"/api/v1/orders/{o['id']}/cancel"), 409, "invalid_transition")
    assert o["number"] in err["message"]
    assert counts(engine) == before
    assert shop.ok("get", f"/api/v1/orders/{o['id']}")["status"] == "confirmed"


def test_shipping_the_shipment_of_a_cancelled_order_is_an_invalid_transition(
    admin: Client, shop: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = confirmed_order(shop, [("MUG-01", 2)])
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    admin.ok("post", f"/api/v1/shipments/{sh['id']}/cancel")
    shop.ok("post", f"/api/v1/orders/{o['id']}/cancel")
    before = counts(engine)

    r = admin.post(f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})

    err = assert_error(r, 409, "invalid_transition")
    assert sh["number"] in err["message"]
    assert counts(engine) == before
    stock = admin.ok("get", "/api/v1/stock/MUG-01")
    assert (stock["on_hand"], stock["reserved"]) == (10, 0)


def test_shipping_a_shipment_twice_is_an_invalid_transition(
    admin: Client, shop: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = confirmed_order(shop, [("MUG-01", 2)])
    sh = shipped(admin, o["id"])
    before = counts(engine)
    r = admin.post(f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T2"})
    assert_error(r, 409, "invalid_transition")
    assert counts(engine) == before
    assert admin.ok("get", "/api/v1/stock/MUG-01")["on_hand"] == 8


@pytest.mark.parametrize("state", ["draft", "cancelled"])
def test_packing_an_order_that_is_not_confirmed_is_an_invalid_transition(
    admin: Client, shop: Client, shelf: dict[str, Any], engine: Engine, state: str,
) -> None:
    o = confirmed_order(shop, [("MUG-01", 2)], confirm=False)
    if state == "cancelled":
        shop.ok("post", f"/api/v1/orders/{o['id']}/cancel")
    before = counts(engine)
    assert_error(admin.post(f"/api/v1/orders/{o['id']}/shipments", {}), 409, "invalid_transition")
    assert counts(engine) == before


@pytest.mark.parametrize("lines", [
    pytest.param([{"sku": "MUG-01", "quantity": 3}], id="more-than-ordered"),
    pytest.param([{"sku": "MUG-01", "quantity": 2}, {"sku": "MUG-01", "quantity": 1}], id="split-over-two-lines"),
    pytest.param([{"sku": "MUG-01", "quantity": 1}, {"sku": "TEE-M", "quantity": 2}], id="one-line-of-two-too-many"),
])
def test_packing_more_than_ordered_is_a_conflict(
    admin: Client, shop: Client, shelf: dict[str, Any], engine: Engine, lines: list[dict[str, Any]],
) -> None:
    o = confirmed_order(shop, [("MUG-01", 2), ("TEE-M", 1)])
    before = counts(engine)
    err = assert_error(admin.post(f"/api/v1/orders/{o['id']}/shipments", {"lines": lines}), 409, "conflict")
    assert err["details"]["lines"]
    assert counts(engine) == before


def test_packing_more_than_is_left_after_shipping_is_a_conflict(
    admin: Client, shop: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = confirmed_order(shop, [("MUG-01", 3)])
    shipped(admin, o["id"], [{"sku": "MUG-01", "quantity": 2}])
    before = counts(engine)
    r = admin.post(f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "MUG-01", "quantity": 2}]})
    err = assert_error(r, 409, "conflict")
    assert err["details"]["lines"] == [{"sku": "MUG-01", "requested": 2, "open": 1}]
    assert counts(engine) == before


def test_packing_a_fully_shipped_order_again_is_a_conflict(
    admin: Client, shop: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = confirmed_order(shop, [("MUG-01", 2)])
    shipped(admin, o["id"])
    before = counts(engine)
    assert_error(admin.post(f"/api/v1/orders/{o['id']}/shipments", {}), 409, "conflict")
    assert counts(engine) == before


def test_packing_a_sku_that_is_not_on_the_order_is_a_validation_error(
    admin: Client, shop: Client, shelf: dict[str, Any], engine: Engine,
) -> None:
    o = confirmed_order(shop, [("MUG-01", 2)])
    before = counts(engine)
    r = admin.post(f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "TEE-M", "quantity": 1}]})
    assert_invalid_field(r, "lines")
    assert counts(engine) == before


@pytest.fixture
def invoice(admin: Client, shop: Client, shelf: dict[str, Any]) -> dict[str, Any]:
    """An open invoice of 2 × 8.50 + 10 % = 18.70."""
    o = confirmed_order(shop, [("MUG-01", 2)])
    inv = admin.ok("get", f"/api/v1/invoices/{shipped(admin, o['id'])['invoice_id']}")
    assert inv["total"] == "18.70"
    return inv


def test_allocations_over_the_payment_amount_are_a_validation_error(
    accountant: Client, invoice: dict[str, Any], engine: Engine,
) -> None:
    before = counts(engine)
    r = accountant.post("/api/v1/payments", payment(
        invoice["customer_id"], amount="10.00", allocations=[{"invoice_id": invoice["id"], "amount": "10.01"}]))
    assert_invalid_field(r, "allocations")
    assert counts(engine) == before


def test_allocations_over_an_invoice_balance_are_a_conflict(
    accountant: Client, invoice: dict[str, Any], engine: Engine,
) -> None:
    before = counts(engine)
    r = accountant.post("/api/v1/payments", payment(
        invoice["customer_id"], amount="50.00", allocations=[{"invoice_id": invoice["id"], "amount": "18.71"}]))
    err = assert_error(r, 409, "conflict")
    assert err["details"]["allocations"][0]["invoice_id"] == invoice["id"]
    assert counts(engine) == before
    assert accountant.ok("get", f"/api/v1/invoices/{invoice['id']}")["balance_due"] == "18.70"


def test_allocations_over_a_part_paid_invoice_balance_are_a_conflict(
    accountant: Client, invoice: dict[str, Any], engine: Engine,
) -> None:
    accountant.ok("post", "/api/v1/payments", payment(invoice["customer_id"], amount="10.00", reference="BANK-A"),
                  status=201)
    before = counts(engine)
    r = accountant.post("/api/v1/payments", payment(
        invoice["customer_id"], amount="10.00", reference="BANK-B",
        allocations=[{"invoice_id": invoice["id"], "amount": "8.71"}]))
    assert_error(r, 409, "conflict")
    assert counts(engine) == before


def test_the_same_bank_line_twice_is_a_conflict(accountant: Client, invoice: dict[str, Any], engine: Engine) -> None:
    first = accountant.ok("post", "/api/v1/payments", payment(invoice["customer_id"]), status=201)
    before = counts(engine)
    err = assert_error(accountant.post("/api/v1/payments", payment(invoice["customer_id"])), 409, "conflict")
    assert err["details"]["payment_id"] == first["id"]
    assert counts(engine) == before


def test_paying_zero_is_a_validation_error(accountant: Client, invoice: dict[str, Any], engine: Engine) -> None:
    before = counts(engine)
    assert_invalid_field(accountant.post("/api/v1/payments", payment(invoice["customer_id"], amount="0.00")), "amount")
    assert counts(engine) == before
    assert accountant.ok("get", f"/api/v1/invoices/{invoice['id']}")["status"] == "open"


# -- query strings ---------------------------------------------------------------------

@pytest.mark.parametrize(("path", "field"), [
    ("/api/v1/orders?limit=0", "limit"),
    ("/api/v1/orders?limit=101", "limit"),
    ("/api/v1/orders?limit=ten", "limit"),
    ("/api/v1/orders?status=shipped", "status"),
    ("/api/v1/orders?customer_id=abc", "customer_id"),
    (f"/api/v1/orders?customer_id={2**64}", "customer_id"),
    (f"/api/v1/invoices?customer_id={2**64}", "customer_id"),
    ("/api/v1/orders?cursor=" + "9" * 40, "cursor"),
    ("/api/v1/products?cursor=%00", "cursor"),
    ("/api/v1/orders?cursor=abc", "cursor"),
    ("/api/v1/orders?cursor=3000000000", "cursor"),  # a bare id is not a cursor
    ("/api/v1/invoices?overdue=perhaps", "overdue"),
    ("/api/v1/ledger/entries?from=yesterday", "from"),
    ("/api/v1/ledger/entries?source_id=3", "source_type"),
    ("/api/v1/ledger/entries?source_type=invoice&source_id=x", "source_id"),
    ("/api/v1/ledger/trial-balance?as_of=2026-13-01", "as_of"),
])
def test_a_bad_query_string_is_a_validation_error(admin: Client, path: str, field: str) -> None:
    assert_invalid_field(admin.get(path), field)


@pytest.mark.parametrize("path", [
    "/api/v1/orders?customer_id=3000000000",
    "/api/v1/invoices?customer_id=3000000000",
    "/api/v1/orders?external_ref=nothing-like-it",
])
def test_a_filter_that_matches_nothing_is_an_empty_page(admin: Client, shelf: dict[str, Any], path: str) -> None:
    assert admin.ok("get", path) == {"items": [], "next_cursor": None, "has_more": False}


@pytest.mark.parametrize("when", ["0001-01-01", "9999-12-31", "2099-01-01"])
def test_a_payment_dated_absurdly_is_refused(admin, when):  # type: ignore[no-untyped-def]
    c = customer(admin, "C-DATES")
    r = admin.post("/api/v1/payments", {"customer_id": c["id"], "amount": "10.00", "currency": "EUR",
                                        "received_on": when, "reference": f"BANK-{when}"})
    assert r.status_code == 422, r.get_json()
    assert "received_on" in r.get_json()["error"]["details"]["fields"]
    assert admin.get("/api/v1/ledger/trial-balance").get_json()["total_debit"] == "0.00"


@pytest.mark.parametrize("cursor", ["%C2%B2", "%D9%A3", "%EF%BC%91"])  # '²', Arabic-Indic 3, fullwidth 1
def test_a_cursor_of_non_ascii_digits_is_a_validation_error(admin, cursor):  # type: ignore[no-untyped-def]
    for path in ("/api/v1/orders", "/api/v1/invoices", "/api/v1/customers"):
        r = admin.get(f"{path}?cursor={cursor}")
        assert r.status_code == 422, (path, r.status_code, r.get_data(as_text=True)[:200])
        assert r.get_json()["error"]["code"] == "validation_error"
