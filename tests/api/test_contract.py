"""The JSON contract of API.md: the OpenAPI document, list pages, cursor
pagination, and the fields integrators rely on, with amounts as strings."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from tests.conftest import ADDRESS, Client, customer, order, product

AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
RATE = re.compile(r"^0\.\d{2,4}$")

# Every route of API.md's resource table.
API_MD_ROUTES = [
    ("post", "/api/v1/customers"), ("get", "/api/v1/customers"),
    ("get", "/api/v1/customers/{id}"), ("patch", "/api/v1/customers/{id}"),
    ("post", "/api/v1/products"), ("get", "/api/v1/products"),
    ("get", "/api/v1/products/{sku}"), ("patch", "/api/v1/products/{sku}"),
    ("post", "/api/v1/stock/receipts"), ("get", "/api/v1/stock"), ("get", "/api/v1/stock/{sku}"),
    ("post", "/api/v1/orders"), ("get", "/api/v1/orders"), ("get", "/api/v1/orders/{id}"),
    ("post", "/api/v1/orders/{id}/confirm"), ("post", "/api/v1/orders/{id}/cancel"),
    ("post", "/api/v1/orders/{id}/shipments"),
    ("post", "/api/v1/shipments/{id}/ship"), ("post", "/api/v1/shipments/{id}/cancel"),
    ("get", "/api/v1/shipments/{id}"),
    ("post", "/api/v1/orders/{id}/invoices"),
    ("get", "/api/v1/invoices"), ("get", "/api/v1/invoices/{id}"), ("get", "/api/v1/invoices/{id}/pdf"),
    ("post", "/api/v1/payments"), ("get", "/api/v1/payments/{id}"),
    ("post", "/api/v1/orders/{id}/returns"),
    ("get", "/api/v1/credit-notes/{id}"), ("get", "/api/v1/credit-notes/{id}/pdf"),
    ("get", "/api/v1/ledger/entries"), ("get", "/api/v1/ledger/trial-balance"), ("get", "/api/v1/ledger/export"),
    ("post", "/api/v1/ledger/periods/{period}/close"),
    ("get", "/api/v1/reconciliation"), ("get", "/api/v1/receivables/aging"),
    ("get", "/api/v1/events"), ("get", "/api/v1/webhooks"), ("post", "/api/v1/webhooks"),
]

# The routes this service must have today.
REQUIRED = [
    ("post", "/api/v1/customers"), ("get", "/api/v1/customers"), ("get", "/api/v1/customers/{id}"),
    ("post", "/api/v1/products"), ("get", "/api/v1/products"), ("get", "/api/v1/products/{sku}"),
    ("get", "/api/v1/stock"), ("get", "/api/v1/stock/{sku}"), ("post", "/api/v1/stock/receipts"),
    ("post", "/api/v1/orders"), ("get", "/api/v1/orders"), ("get", "/api/v1/orders/{id}"),
    ("post", "/api/v1/orders/{id}/confirm"), ("post", "/api/v1/orders/{id}/cancel"),
    ("post", "/api/v1/orders/{id}/shipments"), ("post", "/api/v1/shipments/{id}/ship"),
    ("get", "/api/v1/shipments/{id}"),
    ("get", "/api/v1/invoices"), ("get", "/api/v1/invoices/{id}"),
    ("post", "/api/v1/payments"), ("get", "/api/v1/payments/{id}"),
    ("get", "/api/v1/ledger/entries"), ("get", "/api/v1/ledger/trial-balance"), ("get", "/api/v1/reconciliation"),
]


def template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def concrete(path: str) -> str:
    return path.replace("{id}", "1").replace("{sku}", "MUG-01").replace("{period}", "2026-01")


def routed(app: Any, method: str, path: str) -> bool:
    try:
        app.url_map.bind("localhost").match(concrete(path), method=method.upper())
    except (NotFound, MethodNotAllowed):
        return False
    return True


@pytest.fixture
def spec(app: Any) -> dict[str, Any]:
    r = app.test_client().get("/api/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert body["openapi"].startswith("3.") and body["info"]["title"]
    return body


def documented(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m, template(p)) for p, ops in spec["paths"].items() for m in ops if m != "parameters"}


# -- the OpenAPI document -------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), REQUIRED, ids=[f"{m} {p}" for m, p in REQUIRED])
def test_the_required_routes_exist_and_are_documented(app: Any, spec: dict[str, Any], method: str, path: str) -> None:
    assert routed(app, method, path), f"{method.upper()} {path} is not served"
    assert (method, template(path)) in documented(spec)


def test_every_route_of_api_md_that_the_app_serves_is_documented(app: Any, spec: dict[str, Any]) -> None:
    served = [(m, p) for m, p in API_MD_ROUTES if routed(app, m, p)]
    assert len(served) >= len(REQUIRED)
    missing = [(m, p) for m, p in served if (m, template(p)) not in documented(spec)]
    assert not missing


def test_every_documented_operation_asks_for_the_bearer_key(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer") and scheme["description"]
    assert spec["security"] == [{"bearer": []}]


def _properties(spec: dict[str, Any], schema: str) -> dict[str, Any]:
    return spec["components"]["schemas"][schema]["properties"]


MONEY_AND_RATES = [
    ("OrderOut", "total"), ("OrderOut", "balance_due"), ("OrderLineOut", "net"), ("OrderLineIn", "unit_price"),
    ("OrderLineIn", "discount"), ("InvoiceOut", "total"), ("VatOut", "vat"), ("PaymentIn", "amount"),
    ("AllocationIn", "amount"), ("PaymentOut", "unapplied"), ("ProductIn", "unit_price"), ("ProductIn", "vat_rate"),
    ("StockReceiptIn", "unit_cost"), ("CustomerIn", "credit_limit"), ("TrialBalanceOut", "total_debit"),
]


def test_the_document_declares_amounts_and_rates_as_strings(spec: dict[str, Any]) -> None:
    """Integrators generate clients from this document: an amount without a
    type becomes "anything", and a float in the wrong hands."""
    def types(prop: dict[str, Any]) -> list[str]:
        kind = prop.get("type")
        return [kind] if isinstance(kind, str) else list(kind or [])

    untyped = [(schema, field, _properties(spec, schema)[field]) for schema, field in MONEY_AND_RATES
               if "string" not in types(_properties(spec, schema)[field])
               or "number" in types(_properties(spec, schema)[field])]
    assert not untyped


def test_the_document_describes_errors_in_the_contracts_shape(spec: dict[str, Any]) -> None:
    """API.md: every error is {"error": {"code", "message", "details"}}; every
    documented error answer must say so too."""
    errors = [r for item in spec["paths"].values() for m, op in item.items() if m != "parameters"
              for status, r in op["responses"].items() if status.startswith("4")]
    assert len(errors) > 300
    for response in errors:
        ref = response["content"]["application/json"]["schema"]["$ref"]
        schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        assert set(schema["properties"]) == {"error"}, (response, schema)
        assert set(schema["properties"]["error"]["required"]) == {"code", "message", "details"}


def test_the_human_docs_are_an_html_page(app: Any) -> None:
    r = app.test_client().get("/api/docs")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert "<html" in page and "/api/openapi.json" in page  # linked for those without JavaScript
    assert 'id="swagger-ui"' in page  # the reference renders there from /api/openapi.json


# -- a small world ---------------------------------------------------------------------

@pytest.fixture
def world(admin: Client, shop: Client) -> dict[str, Any]:
    c = customer(admin, "C-ROSSI", shipping_address={**ADDRESS, "line2": "Scala B"}, credit_limit="5000.00",
                 tax_id="IT01234560017", channels=["shop-a"])
    product(admin, "MUG-01", "8.50", "0.10", stock=10, cost="3.00")
    product(admin, "TEE-M", "19.90", "0.22", stock=5, cost="7.50")
    r = shop.post("/api/v1/orders", {
        "external_ref": "shop-a-1", "customer": {"code": "C-ROSSI"}, "currency": "EUR", "confirm": True,
        "lines": [{"sku": "MUG-01", "quantity": 4}, {"sku": "TEE-M", "quantity": 1, "unit_price": "18.00",
                                                      "discount": "0.10"}]})
    assert r.status_code == 201, r.get_json()
    o = r.get_json()
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "MUG-01", "quantity": 3}]},
                  status=201)
    sh = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "BRT1"})
    inv = admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")
    pay = admin.ok("post", "/api/v1/payments", {
        "customer_id": c["id"], "amount": "30.00", "currency": "EUR", "received_on": inv["issue_date"],
        "method": "bank_transfer", "reference": "BANK-1"}, status=201)
    return {"customer": c, "order": shop.ok("get", f"/api/v1/orders/{o['id']}"), "shipment": sh, "invoice": inv,
            "payment": pay}


def assert_amount(value: Any, where: str) -> None:
    assert isinstance(value, str) and AMOUNT.match(value), (where, value)


def assert_rate(value: Any, where: str) -> None:
    assert isinstance(value, str) and RATE.match(value), (where, value)


def assert_quantity(value: Any, where: str) -> None:
    assert isinstance(value, int) and not isinstance(value, bool), (where, value)


def assert_timestamp(value: Any, where: str) -> None:
    """ISO 8601 with a UTC offset: a naive time means something else in every time zone."""
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None and parsed.utcoffset() is not None, (where, value)


def assert_has(obj: dict[str, Any], fields: str, where: str) -> None:
    missing = set(fields.replace(",", " ").split()) - set(obj)
    assert not missing, (where, missing)


# -- lists and pagination ------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/api/v1/customers", "/api/v1/products", "/api/v1/stock", "/api/v1/orders", "/api/v1/invoices",
    "/api/v1/ledger/entries",
])
def test_a_list_is_items_next_cursor_and_has_more_only(admin: Client, world: dict[str, Any], path: str) -> None:
    page = admin.ok("get", path)
    assert set(page) == {"items", "next_cursor", "has_more"}
    assert page["items"] and page["next_cursor"] is None and page["has_more"] is False


def test_orders_page_newest_first_without_gaps_or_duplicates(shop: Client, admin: Client) -> None:
    customer(admin, "C-ROSSI", channels=["shop-a"])
    product(admin, "MUG-01", "8.50")
    created = []
    for i in range(25):
        r = order(shop, "C-ROSSI", [("MUG-01", 1)], confirm=False, external_ref=f"ref-{i:02d}")
        assert r.status_code == 201, r.get_json()
        created.append(r.get_json()["id"])

    pages, cursor = [], None
    while True:
        page = shop.ok("get", "/api/v1/orders?limit=10" + (f"&cursor={cursor}" if cursor else ""))
        pages.append([o["id"] for o in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
        assert len(pages) < 5, "pagination does not end"

    assert [len(p) for p in pages] == [10, 10, 5]
    seen = [i for p in pages for i in p]
    assert seen == list(reversed(created))  # newest first, each exactly once


def test_a_filtered_list_pages_through_its_own_matches(shop: Client, admin: Client) -> None:
    customer(admin, "C-ROSSI", channels=["shop-a"])
    product(admin, "MUG-01", "8.50", stock=100)
    confirmed = []
    for i in range(7):
        r = order(shop, "C-ROSSI", [("MUG-01", 1)], confirm=i % 2 == 0)
        if i % 2 == 0:
            confirmed.append(r.get_json()["id"])
    first = shop.ok("get", "/api/v1/orders?status=confirmed&limit=3")
    second = shop.ok("get", f"/api/v1/orders?status=confirmed&limit=3&cursor={first['next_cursor']}")
    assert [o["id"] for o in first["items"] + second["items"]] == list(reversed(confirmed))
    assert second["next_cursor"] is None


# -- shapes ---------------------------------------------------------------------------------

def test_order_shape(world: dict[str, Any]) -> None:
    o = world["order"]
    assert_has(o, "id, number, status, fulfillment_status, payment_status, channel, external_ref, customer_id, "
                  "currency, lines, net_total, vat_total, total, amount_paid, balance_due, shipment_ids, "
                  "invoice_ids, created_at", "order")
    assert (o["status"], o["fulfillment_status"], o["payment_status"]) == ("confirmed", "partially_shipped",
                                                                            "partially_paid")
    assert (o["channel"], o["external_ref"], o["currency"]) == ("shop-a", "shop-a-1", "EUR")
    assert o["number"].startswith("SO-")
    assert o["shipment_ids"] == [world["shipment"]["id"]] and o["invoice_ids"] == [world["invoice"]["id"]]
    assert_timestamp(o["created_at"], "order.created_at")
    for f in ("net_total", "vat_total", "total", "amount_paid", "balance_due"):
        assert_amount(o[f], f"order.{f}")
    # 4 × 8.50 = 34.00 at 10 %; 18.00 × 0.9 = 16.20 at 22 %
    assert (o["net_total"], o["vat_total"], o["total"]) == ("50.20", "6.96", "57.16")
    assert o["amount_paid"] == "28.05" and o["balance_due"] == "29.11"
    mug, tee = o["lines"]
    for ln in (mug, tee):
        assert_has(ln, "sku, quantity, unit_price, discount, vat_rate, net, shipped_quantity, invoiced_quantity, "
                       "returned_quantity", "order line")
        assert_amount(ln["unit_price"], "line.unit_price")
        assert_amount(ln["net"], "line.net")
        assert_rate(ln["vat_rate"], "line.vat_rate")
        for q in ("quantity", "shipped_quantity", "invoiced_quantity", "returned_quantity"):
            assert_quantity(ln[q], q)
    assert (mug["sku"], mug["quantity"], mug["shipped_quantity"], mug["invoiced_quantity"]) == ("MUG-01", 4, 3, 3)
    assert (tee["unit_price"], tee["discount"], tee["vat_rate"], tee["net"]) == ("18.00", "0.10", "0.22", "16.20")


def test_shipment_shape(admin: Client, world: dict[str, Any]) -> None:
    sh = admin.ok("get", f"/api/v1/shipments/{world['shipment']['id']}")
    assert_has(sh, "id, number, order_id, status, lines, carrier, tracking_number, shipped_at, invoice_id", "shipment")
    assert (sh["order_id"], sh["status"], sh["carrier"], sh["tracking_number"]) == (
        world["order"]["id"], "shipped", "BRT", "BRT1")
    assert sh["lines"] == [{"sku": "MUG-01", "quantity": 3}]
    assert sh["invoice_id"] == world["invoice"]["id"]
    assert_timestamp(sh["shipped_at"], "shipment.shipped_at")


def test_invoice_shape(world: dict[str, Any]) -> None:
    inv = world["invoice"]
    assert_has(inv, "id, number, order_id, customer_id, status, issue_date, due_date, currency, lines, vat, "
                    "net_total, vat_total, total, amount_paid, balance_due", "invoice")
    assert inv["number"].startswith("INV-")
    assert (inv["order_id"], inv["customer_id"], inv["currency"]) == (
        world["order"]["id"], world["customer"]["id"], "EUR")
    issued = dt.date.fromisoformat(inv["issue_date"])
    assert dt.date.fromisoformat(inv["due_date"]) == issued + dt.timedelta(days=30)
    for f in ("net_total", "vat_total", "total", "amount_paid", "balance_due"):
        assert_amount(inv[f], f"invoice.{f}")
    assert inv["vat"] == [{"category": "S", "rate": "0.10", "net": "25.50", "vat": "2.55"}]
    assert (inv["net_total"], inv["vat_total"], inv["total"]) == ("25.50", "2.55", "28.05")
    assert [(ln["sku"], ln["quantity"], ln["net"]) for ln in inv["lines"]] == [("MUG-01", 3, "25.50")]
    assert inv["status"] == "open"  # as read before the payment


def test_invoice_after_payment(admin: Client, world: dict[str, Any]) -> None:
    inv = admin.ok("get", f"/api/v1/invoices/{world['invoice']['id']}")
    assert (inv["status"], inv["amount_paid"], inv["balance_due"]) == ("paid", "28.05", "0.00")


def test_customer_shape(admin: Client, world: dict[str, Any]) -> None:
    c = admin.ok("get", f"/api/v1/customers/{world['customer']['id']}")
    assert_has(c, "id, code, name, email, country, language, tax_id, payment_terms_days, credit_limit, currency, "
                  "billing_address, shipping_address", "customer")
    assert (c["code"], c["language"], c["tax_id"], c["currency"]) == ("C-ROSSI", "it", "IT01234560017", "EUR")
    assert_amount(c["credit_limit"], "customer.credit_limit")
    assert c["credit_limit"] == "5000.00"
    assert_quantity(c["payment_terms_days"], "payment_terms_days")
    for addr in (c["billing_address"], c["shipping_address"]):
        assert_has(addr, "name, line1, line2, city, postal_code, country", "address")
    assert c["shipping_address"]["line2"] == "Scala B"


def test_patching_a_customer_changes_only_what_is_sent(admin: Client, world: dict[str, Any]) -> None:
    path = f"/api/v1/customers/{world['customer']['id']}"
    before = admin.ok("get", path)
    after = admin.ok("patch", path, {"payment_terms_days": 60})
    assert after == {**before, "payment_terms_days": 60}
    assert admin.ok("get", path) == after


def test_product_and_stock_shapes(admin: Client, shop: Client, world: dict[str, Any]) -> None:
    p = admin.ok("get", "/api/v1/products/TEE-M")
    assert_has(p, "sku, name, unit_price, vat_rate, unit, active, unit_cost", "product")
    assert (p["unit_price"], p["vat_rate"], p["unit"], p["active"]) == ("19.90", "0.22", "pcs", True)
    assert isinstance(p["unit_cost"], str) and p["unit_cost"].startswith("7.50")
    s = admin.ok("get", "/api/v1/stock/MUG-01")
    assert_has(s, "sku, on_hand, reserved, available, unit_cost", "stock")
    assert (s["on_hand"], s["reserved"], s["available"]) == (7, 1, 6)
    for q in ("on_hand", "reserved", "available"):
        assert_quantity(s[q], q)
    assert isinstance(s["unit_cost"], str) and s["unit_cost"].startswith("3.00")
    # A webshop sees the same, but for what the goods cost (tests/api/test_cost_fields.py).
    assert shop.ok("get", "/api/v1/products/TEE-M") == {k: v for k, v in p.items() if k != "unit_cost"}
    assert shop.ok("get", "/api/v1/stock/MUG-01") == {k: v for k, v in s.items() if k not in ("unit_cost", "value")}


def test_payment_shape(admin: Client, world: dict[str, Any]) -> None:
    pay = admin.ok("get", f"/api/v1/payments/{world['payment']['id']}")
    assert pay == world["payment"]
    assert_has(pay, "id, number, customer_id, amount, currency, received_on, method, reference, allocations, "
                    "unapplied", "payment")
    assert pay["number"].startswith("PAY-")
    assert (pay["amount"], pay["unapplied"], pay["reference"]) == ("30.00", "1.95", "BANK-1")
    assert pay["allocations"] == [{"invoice_id": world["invoice"]["id"], "amount": "28.05"}]
    dt.date.fromisoformat(pay["received_on"])


def test_trial_balance_shape(admin: Client, world: dict[str, Any]) -> None:
    tb = admin.ok("get", "/api/v1/ledger/trial-balance")
    assert_has(tb, "accounts, total_debit, total_credit", "trial balance")
    assert_amount(tb["total_debit"], "total_debit")
    assert tb["total_debit"] == tb["total_credit"]
    for a in tb["accounts"]:
        assert_has(a, "code, name, debit, credit, balance", "account")
        for f in ("debit", "credit", "balance"):
            assert_amount(a[f], f"account {a['code']}.{f}")
    balances = {a["code"]: a["balance"] for a in tb["accounts"]}
    assert balances["1000"] == "30.00" and balances["2300"] == "-1.95" and balances["1100"] == "0.00"


def test_reconciliation_shape(admin: Client, world: dict[str, Any]) -> None:
    rep = admin.ok("get", "/api/v1/reconciliation")
    assert_has(rep, "checks, ok", "reconciliation")
    assert rep["ok"] is True
    names = [c["name"] for c in rep["checks"]]
    assert len(names) == len(set(names))
    for c in rep["checks"]:
        assert_has(c, "name, left, right, difference", "check")
        for f in ("left", "right", "difference"):
            assert isinstance(c[f], str), (c["name"], f, c[f])
        assert c["difference"] in ("0", "0.00"), c
    money_checks = [c for c in rep["checks"] if c["name"] in ("revenue", "vat", "receivables", "customer_credit")]
    for c in money_checks:
        for f in ("left", "right", "difference"):
            assert_amount(c[f], f"{c['name']}.{f}")
    # one check per invariant of SPEC.md §5
    for invariant in ("balanced", "stock", "inventory", "revenue", "vat", "receivable", "credit", "fulfil",
                      "numbering"):
        assert any(invariant in n for n in names), (invariant, names)


def test_ledger_entries_are_balanced_and_amounts_are_strings(admin: Client, world: dict[str, Any]) -> None:
    entries = admin.ok("get", "/api/v1/ledger/entries?limit=100")["items"]
    assert {e["source_type"] for e in entries} >= {"stock_receipt", "shipment", "invoice", "payment"}
    for e in entries:
        debit = sum(int(ln["debit"].replace(".", "")) for ln in e["lines"])
        credit = sum(int(ln["credit"].replace(".", "")) for ln in e["lines"])
        assert debit == credit, e
        for ln in e["lines"]:
            assert_amount(ln["debit"], "debit")
            assert_amount(ln["credit"], "credit")


def test_ledger_entries_filter_by_their_source_document(admin: Client, world: dict[str, Any]) -> None:
    inv = world["invoice"]
    entries = admin.ok("get", f"/api/v1/ledger/entries?source_type=invoice&source_id={inv['id']}")["items"]
    assert [(e["source_type"], e["source_id"], e["document"]) for e in entries] == [("invoice", inv["id"], inv["number"])]
    receivable = next(ln for ln in entries[0]["lines"] if ln["account"] == "1100")
    assert receivable["debit"] == inv["total"]
    payments = admin.ok("get", "/api/v1/ledger/entries?source_type=payment")["items"]
    assert [e["source_id"] for e in payments] == [world["payment"]["id"]]
    assert admin.ok("get", "/api/v1/ledger/entries?source_type=invoice&source_id=999999")["items"] == []


def test_an_order_is_served_the_same_on_create_and_on_read(shop: Client, admin: Client) -> None:
    customer(admin, "C-ROSSI", channels=["shop-a"])
    product(admin, "MUG-01", "8.50", stock=3)
    created = order(shop, "C-ROSSI", [("MUG-01", 2)]).get_json()
    assert shop.ok("get", f"/api/v1/orders/{created['id']}") == created
