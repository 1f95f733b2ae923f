"""Who may do what: API keys, roles, and one webshop never seeing another's orders."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import ADDRESS, Client, customer, make_key, order, product

BOOKS = ("customers", "products", "orders", "shipments", "invoices", "payments", "stock_movements",
         "journal_entries", "periods", "events", "audit_log", "returns", "credit_notes", "refunds")


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in BOOKS}


def assert_error(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.mimetype == "application/json"
    err = r.get_json()["error"]
    assert err["code"] == code and err["message"], err
    assert set(err) == {"code", "message", "details"}


# -- authentication --------------------------------------------------------------------

ROUTES = [
    ("get", "/api/v1/orders"),
    ("post", "/api/v1/orders"),
    ("get", "/api/v1/orders/1"),
    ("get", "/api/v1/products"),
    ("get", "/api/v1/customers"),
    ("post", "/api/v1/payments"),
    ("get", "/api/v1/ledger/trial-balance"),
    ("get", "/api/v1/reconciliation"),
    ("get", "/api/v1/company"),
    ("patch", "/api/v1/company"),
    ("get", "/api/v1/tax/rates"),
    ("post", "/api/v1/tax/rates"),
    ("post", "/api/v1/tax/preview"),
    ("get", "/api/v1/no-such-route"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("authorization", [
    pytest.param(None, id="no-header"),
    pytest.param("", id="empty-header"),
    pytest.param("Bearer", id="bearer-without-key"),
    pytest.param("Bearer ", id="bearer-blank"),
    pytest.param("Bearer o2c_deadbeef_not-a-real-key", id="unknown-key"),
    pytest.param("Basic c2hvcDpzZWNyZXQ=", id="basic-auth"),
])
def test_without_a_valid_key_the_api_answers_401(
    app: Any, keys: dict[str, str], engine: Engine, method: str, path: str, authorization: str | None,
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    before = counts(engine)
    r = getattr(app.test_client(), method)(path, headers=headers, json={} if method in ("post", "patch") else None)
    assert_error(r, 401, "unauthorized")
    assert counts(engine) == before


def test_a_real_key_under_another_scheme_is_not_accepted(app: Any, keys: dict[str, str]) -> None:
    r = app.test_client().get("/api/v1/orders", headers={"Authorization": f"Token {keys['admin']}"})
    assert_error(r, 401, "unauthorized")


def test_a_key_with_a_character_changed_is_refused(app: Any, keys: dict[str, str]) -> None:
    key = keys["admin"]
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    r = app.test_client().get("/api/v1/orders", headers={"Authorization": f"Bearer {forged}"})
    assert_error(r, 401, "unauthorized")
    r = app.test_client().get("/api/v1/orders", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200


def test_the_scheme_is_case_insensitive(app: Any, keys: dict[str, str]) -> None:
    r = app.test_client().get("/api/v1/orders", headers={"Authorization": f"bearer {keys['admin']}"})
    assert r.status_code == 200, r.get_json()


@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/docs", "/healthz"])
def test_the_documentation_and_health_check_need_no_key(app: Any, path: str) -> None:
    assert app.test_client().get(path).status_code == 200


def test_api_keys_are_stored_only_as_hashes(engine: Engine, keys: dict[str, str]) -> None:
    with engine.connect() as c:
        rows = [r._asdict() for r in c.execute(text("SELECT * FROM api_keys"))]
    assert len(rows) == len(keys)
    for key in keys.values():
        secret = key.split("_", 2)[2]  # o2c_<prefix>_<secret>
        assert len(secret) >= 40
        for row in rows:
            for column, value in row.items():
                assert value is None or (key not in str(value) and secret not in str(value)), (column, value)


# -- roles -----------------------------------------------------------------------------

@pytest.fixture
def world(admin: Client, shop: Client) -> dict[str, Any]:
    """Shop A's confirmed order of 5 mugs: 2 shipped and invoiced, 1 packed, 2 still open;
    a second confirmed order to cancel; a payment."""
    c = customer(admin, "C-ROSSI", channels=["shop-a"])
    product(admin, "MUG-01", "8.50", "0.10", stock=20, cost="3.00")
    r = order(shop, "C-ROSSI", [("MUG-01", 5)], external_ref="A-1")
    assert r.status_code == 201, r.get_json()
    o = r.get_json()
    sh1 = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "MUG-01", "quantity": 2}]},
                   status=201)
    sh1 = admin.ok("post", f"/api/v1/shipments/{sh1['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    sh2 = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "MUG-01", "quantity": 1}]},
                   status=201)
    o2 = order(shop, "C-ROSSI", [("MUG-01", 1)], external_ref="A-2").get_json()
    pay = admin.ok("post", "/api/v1/payments", {
        "customer_id": c["id"], "amount": "25.00", "currency": "EUR", "received_on": dt.date.today().isoformat(),
        "reference": "BANK-0"}, status=201)
    # One mug came back broken: written off, credited, its money kept as credit.
    rma = admin.ok("post", f"/api/v1/orders/{o['id']}/returns",
                   {"lines": [{"sku": "MUG-01", "quantity": 1}], "restock": False, "refund": "credit"}, status=201)
    refund = admin.ok("post", "/api/v1/refunds", {"customer_id": c["id"], "amount": "1.00"}, status=201)
    return {"customer": c, "order": o, "order2": o2, "shipped": sh1, "packed": sh2, "invoice_id": sh1["invoice_id"],
            "payment": pay, "return": rma, "credit_note": rma["credit_note_ids"][0], "refund": refund}


def _payment(w: dict[str, Any]) -> dict[str, Any]:
    return {"customer_id": w["customer"]["id"], "amount": "1.00", "currency": "EUR",
            "received_on": dt.date.today().isoformat(), "reference": "BANK-NEW"}


# (method, path, body) with {placeholders} filled from the world
ACTIONS: dict[str, tuple[str, str, Any]] = {
    "create order": ("post", "/api/v1/orders",
                     lambda w: {"customer": {"code": "C-ROSSI"}, "lines": [{"sku": "MUG-01", "quantity": 1}]}),
    "list orders": ("get", "/api/v1/orders", None),
    "read order": ("get", "/api/v1/orders/{order}", None),
    "cancel order": ("post", "/api/v1/orders/{order2}/cancel", None),
    "confirm order": ("post", "/api/v1/orders/{order2}/confirm", None),
    "read shipment": ("get", "/api/v1/shipments/{shipped}", None),
    "list invoices": ("get", "/api/v1/invoices", None),
    "read invoice": ("get", "/api/v1/invoices/{invoice_id}", None),
    "list products": ("get", "/api/v1/products", None),
    "read product": ("get", "/api/v1/products/MUG-01", None),
    "list stock": ("get", "/api/v1/stock", None),
    "read stock": ("get", "/api/v1/stock/MUG-01", None),
    "pack": ("post", "/api/v1/orders/{order}/shipments", lambda w: {"lines": [{"sku": "MUG-01", "quantity": 1}]}),
    "ship": ("post", "/api/v1/shipments/{packed}/ship", lambda w: {"carrier": "BRT", "tracking_number": "T2"}),
    "unpack": ("post", "/api/v1/shipments/{packed}/cancel", None),
    "invoice order": ("post", "/api/v1/orders/{order}/invoices", None),
    "list customers": ("get", "/api/v1/customers", None),
    "read customer": ("get", "/api/v1/customers/{customer}", None),
    "create customer": ("post", "/api/v1/customers",
                        lambda w: {"code": "C-NEW", "name": "Nuovo", "country": "IT", "billing_address": ADDRESS}),
    "update customer": ("patch", "/api/v1/customers/{customer}", lambda w: {"payment_terms_days": 60}),
    "create product": ("post", "/api/v1/products",
                       lambda w: {"sku": "LAMP-01", "name": "Lamp", "unit_price": "30.00", "vat_rate": "0.22"}),
    "update product": ("patch", "/api/v1/products/MUG-01", lambda w: {"unit_price": "9.00"}),
    "receive stock": ("post", "/api/v1/stock/receipts", lambda w: {"sku": "MUG-01", "quantity": 5, "unit_cost": "3.00"}),
    "record payment": ("post", "/api/v1/payments", _payment),
    "read payment": ("get", "/api/v1/payments/{payment}", None),
    "ledger entries": ("get", "/api/v1/ledger/entries", None),
    "trial balance": ("get", "/api/v1/ledger/trial-balance", None),
    "reconciliation": ("get", "/api/v1/reconciliation", None),
    "vat report": ("get", "/api/v1/reports/vat?from=2026-01-01&to=2026-12-31", None),
    "ec sales list": ("get", "/api/v1/reports/ec-sales-list?period=2026-03", None),
    "oss return": ("get", "/api/v1/reports/oss?quarter=2026-Q1&format=csv", None),
    "close period": ("post", "/api/v1/ledger/periods/2020-01/close", None),
    "cancel order lines": ("post", "/api/v1/orders/{order}/cancel",
                           lambda w: {"lines": [{"sku": "MUG-01", "quantity": 1}]}),
    "list backorders": ("get", "/api/v1/backorders", None),
    "reverse payment": ("post", "/api/v1/payments/{payment}/reverse", lambda w: {"reason": "returned"}),
    "read customer credit": ("get", "/api/v1/customers/{customer}/credit", None),
    "apply credit": ("post", "/api/v1/customers/{customer}/credit/apply",
                     lambda w: {"invoice_id": w["invoice_id"], "amount": "1.00"}),
    "release credit": ("post", "/api/v1/customers/{customer}/credit/release",
                       lambda w: {"invoice_id": w["invoice_id"], "amount": "1.00"}),
    "reallocate credit": ("post", "/api/v1/customers/{customer}/credit/reallocate",
                          lambda w: {"from_invoice_id": w["invoice_id"], "to_invoice_id": 999999, "amount": "1.00"}),
    "return goods": ("post", "/api/v1/orders/{order}/returns",
                     lambda w: {"lines": [{"sku": "MUG-01", "quantity": 1}], "restock": True, "refund": "bank"}),
    "list returns": ("get", "/api/v1/returns", None),
    "read return": ("get", "/api/v1/returns/{return}", None),
    "list credit notes": ("get", "/api/v1/credit-notes", None),
    "read credit note": ("get", "/api/v1/credit-notes/{credit_note}", None),
    "credit note pdf": ("get", "/api/v1/credit-notes/{credit_note}/pdf", None),
    "credit note ubl": ("get", "/api/v1/credit-notes/{credit_note}/ubl", None),
    "refund credit": ("post", "/api/v1/refunds", lambda w: {"customer_id": w["customer"]["id"], "amount": "1.00"}),
    "read refund": ("get", "/api/v1/refunds/{refund}", None),
    "apply credit to invoice": ("post", "/api/v1/invoices/{invoice_id}/apply-credit", lambda w: {}),
    "list messages": ("get", "/api/v1/messages", None),
    "send invoice": ("post", "/api/v1/invoices/{invoice_id}/send", None),
    "send credit note": ("post", "/api/v1/credit-notes/{credit_note}/send", None),
    "send statement": ("post", "/api/v1/customers/{customer}/statement/send", None),
}
#: The customers' e-mail: clerks, accountants and administrators; webshops never.
MESSAGES = {"list messages", "send invoice", "send credit note", "send statement"}
QUEUED = {"send invoice", "send credit note", "send statement"}  # answer 202: queued, not yet sent
AFTER_SALES_READS = {"list returns", "read return", "list credit notes", "read credit note", "credit note pdf",
                     "credit note ubl"}

ALLOWED = {"get": 200, "post": 201, "patch": 200}
TRANSITIONS = {"cancel order", "ship", "unpack", "close period", "cancel order lines", "reverse payment",
               "release credit", "apply credit to invoice"}  # answer 200, not 201
# allowed, but 409 in this world (already confirmed / invoiced; no credit left to apply; the payment's
# credit was refunded, so it cannot be reversed before the refund is)
NOT_APPLICABLE = {"confirm order", "invoice order", "apply credit", "apply credit to invoice", "reverse payment"}
NOT_FOUND_HERE = {"reallocate credit"}  # allowed, but the world has one invoice: the other is not found

MAY: dict[str, set[str]] = {
    "webshop": {"create order", "list orders", "read order", "cancel order", "confirm order", "read shipment",
                "list invoices", "read invoice", "list products", "read product", "list stock", "read stock",
                "cancel order lines", "list backorders", *AFTER_SALES_READS},
    "clerk": {"create order", "list orders", "read order", "cancel order", "confirm order", "read shipment",
              "list invoices", "read invoice", "list products", "read product", "list stock", "read stock",
              "pack", "ship", "unpack", "invoice order", "list customers", "read customer", "create customer",
              "update customer", "create product", "update product", "receive stock", "record payment",
              "read payment", "cancel order lines", "list backorders", "reverse payment", "read customer credit",
              "apply credit", "release credit", "reallocate credit", "return goods", *AFTER_SALES_READS,
              "refund credit", "read refund", "apply credit to invoice", *MESSAGES},
    "accountant": {"list orders", "read order", "read shipment", "list invoices", "read invoice", "list products",
                   "read product", "list stock", "read stock", "list customers", "read customer",
                   "record payment", "read payment", "ledger entries", "trial balance", "reconciliation",
                   "vat report", "ec sales list", "oss return", "close period", "list backorders", "reverse payment", "read customer credit", "apply credit",
                   "release credit", "reallocate credit", *AFTER_SALES_READS, "refund credit", "read refund",
                   "apply credit to invoice", *MESSAGES},
    "admin": set(ACTIONS),
}

# What the brief of each role spells out, checked against the table above so the
# table cannot drift from it.
MUST_NOT = {
    "webshop": {"pack", "ship", "list customers", "ledger entries", "trial balance", "reconciliation",
                "vat report", "ec sales list", "oss return", "record payment", "read payment", "create product", "receive stock", "close period",
                "reverse payment", "read customer credit", "apply credit", "release credit", "reallocate credit",
                "return goods", "refund credit", "read refund", "apply credit to invoice", *MESSAGES},
    "accountant": {"pack", "ship", "create product", "update product", "receive stock", "create order",
                   "cancel order", "create customer", "cancel order lines", "return goods"},
    "clerk": {"ledger entries", "trial balance", "reconciliation", "close period", "vat report", "ec sales list",
              "oss return"},
}


def test_the_permission_table_matches_the_roles_brief() -> None:
    for role, forbidden in MUST_NOT.items():
        assert not forbidden & MAY[role], (role, forbidden & MAY[role])


def _expected(role: str, action: str) -> int:
    if action not in MAY[role]:
        return 403
    if action in NOT_APPLICABLE:
        return 409
    if action in NOT_FOUND_HERE:
        return 404
    method = ACTIONS[action][0]
    if action in QUEUED:
        return 202
    return 200 if action in TRANSITIONS else ALLOWED[method]


CASES = [pytest.param(role, action, _expected(role, action), id=f"{role}-{action.replace(' ', '-')}")
         for role in ("webshop", "clerk", "accountant", "admin") for action in ACTIONS]


@pytest.mark.parametrize(("role", "action", "status"), CASES)
def test_each_role_may_do_only_its_part(
    app: Any, keys: dict[str, str], world: dict[str, Any], engine: Engine, role: str, action: str, status: int,
) -> None:
    method, path, body = ACTIONS[action]
    ids = {k: (v["id"] if isinstance(v, dict) else v) for k, v in world.items()}
    api = Client(app.test_client(), keys[role])
    before = counts(engine)

    r = getattr(api, method)(path.format(**ids), json=body(world) if body else None) if method != "get" \
        else api.get(path.format(**ids))

    if status == 403:
        assert_error(r, 403, "forbidden")
        assert counts(engine) == before, "a forbidden request changed the books"
    else:
        assert r.status_code == status, (r.status_code, r.get_json())


# The routes the role table above does not exercise, with the permission each
# requires (their behaviour is tested with their features); with ACTIONS this
# classifies every route of the API.
ROUTE_PERMISSIONS: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/company"): "company:read",
    ("PATCH", "/api/v1/company"): "company:admin",
    ("GET", "/api/v1/tax/rates"): "catalog:read",
    ("POST", "/api/v1/tax/rates"): "company:admin",
    ("POST", "/api/v1/tax/preview"): "tax:preview",
    ("GET", "/api/v1/customers/<id>/statement"): "ledger:read",
    ("GET", "/api/v1/customers/<id>/statement/pdf"): "ledger:read",
    ("GET", "/api/v1/dunning/letters"): "ledger:read",
    ("GET", "/api/v1/dunning/letters/<id>"): "ledger:read",
    ("GET", "/api/v1/dunning/letters/<id>/pdf"): "ledger:read",
    ("POST", "/api/v1/dunning/runs"): "dunning:write",
    ("GET", "/api/v1/events"): "events:read",
    ("GET", "/api/v1/events/<id>"): "events:read",
    ("GET", "/api/v1/invoices/<id>/pdf"): "invoices:read",
    ("GET", "/api/v1/invoices/<id>/ubl"): "invoices:read",
    ("GET", "/api/v1/ledger/accounts"): "ledger:read",
    ("POST", "/api/v1/ledger/accounts"): "ledger:admin",
    ("PATCH", "/api/v1/ledger/accounts/<id>"): "ledger:admin",
    ("GET", "/api/v1/ledger/accounts/<id>/ledger"): "ledger:read",
    ("GET", "/api/v1/ledger/export"): "ledger:read",
    ("GET", "/api/v1/ledger/periods"): "ledger:read",
    ("POST", "/api/v1/ledger/periods/<id>/reopen"): "ledger:admin",
    ("POST", "/api/v1/ledger/seal"): "ledger:write",
    ("GET", "/api/v1/ledger/trial-balance/export"): "ledger:read",
    ("GET", "/api/v1/ledger/verify"): "ledger:read",
    ("GET", "/api/v1/receivables/aging"): "ledger:read",
    ("GET", "/api/v1/reports/vat"): "ledger:read",
    ("GET", "/api/v1/reports/ec-sales-list"): "ledger:read",
    ("GET", "/api/v1/reports/oss"): "ledger:read",
    ("POST", "/api/v1/webhooks"): "webhooks:write",
    ("GET", "/api/v1/webhooks"): "webhooks:read",
    ("GET", "/api/v1/webhooks/<id>"): "webhooks:read",
    ("PATCH", "/api/v1/webhooks/<id>"): "webhooks:write",
    ("DELETE", "/api/v1/webhooks/<id>"): "webhooks:write",
    ("GET", "/api/v1/webhooks/<id>/deliveries"): "webhooks:read",
    ("GET", "/api/v1/webhooks/<id>/deliveries/<id>"): "webhooks:read",
    ("POST", "/api/v1/webhooks/<id>/deliveries/<id>/redeliver"): "webhooks:write",
    ("POST", "/api/v1/webhooks/<id>/redeliver-failed"): "webhooks:write",
    ("POST", "/api/v1/webhooks/<id>/rotate-secret"): "webhooks:write",
    ("GET", "/api/v1/messages/<id>"): "messages:read",
    ("POST", "/api/v1/messages/<id>/resend"): "messages:write",
    ("GET", "/api/v1/api-keys"): "apikeys:admin",
    ("POST", "/api/v1/api-keys"): "apikeys:admin",
    ("GET", "/api/v1/api-keys/<id>"): "apikeys:admin",
    ("POST", "/api/v1/api-keys/<id>/revoke"): "apikeys:admin",
    ("POST", "/api/v1/api-keys/<id>/rotate"): "apikeys:admin",
    # currencies, rates and price lists (tests/api/test_fx.py tests each role on them)
    ("GET", "/api/v1/currencies"): "catalog:read",
    ("POST", "/api/v1/currencies"): "fx:admin",
    ("GET", "/api/v1/fx/rates"): "fx:read",
    ("POST", "/api/v1/fx/rates"): "fx:admin",
    ("GET", "/api/v1/fx/prices"): "fx:read",
    ("POST", "/api/v1/fx/prices"): "fx:admin",
    ("GET", "/api/v1/fx/prices/<id>"): "fx:read",
    # revaluation (tests/scenarios/test_fx_revaluation.py goes through every role)
    ("POST", "/api/v1/fx/revaluation"): "ledger:write",
    ("GET", "/api/v1/fx/revaluations"): "ledger:read",
    ("GET", "/api/v1/fx/revaluations/<id>"): "ledger:read",
    # bank statements (tests/api/test_bank_statements.py goes through every role)
    ("GET", "/api/v1/bank/accounts"): "bank:read",
    ("POST", "/api/v1/bank/accounts"): "ledger:write",
    ("PATCH", "/api/v1/bank/accounts/<id>"): "ledger:write",
    ("POST", "/api/v1/bank/statements"): "bank:write",
    ("GET", "/api/v1/bank/statements"): "bank:read",
    ("GET", "/api/v1/bank/statements/<id>"): "bank:read",
    ("GET", "/api/v1/bank/lines"): "bank:read",
    # cash application (tests/api/test_bank_matching.py goes through every role)
    ("POST", "/api/v1/bank/lines/<id>/match"): "bank:write",
    ("POST", "/api/v1/bank/lines/<id>/book"): "bank:write",
    ("POST", "/api/v1/bank/lines/<id>/ignore"): "bank:write",
    ("POST", "/api/v1/bank/apply"): "bank:write",
    ("GET", "/api/v1/bank/rules"): "ledger:admin",
    ("PATCH", "/api/v1/bank/rules/<id>"): "ledger:admin",
    # customers after the sale (tests/crm/test_access_matrix.py: role × whose customer)
    ("POST", "/api/v1/coupons"): "coupons:write",
    ("GET", "/api/v1/coupons/<id>"): "coupons:read",
    ("GET", "/api/v1/products/<id>/recommendations"): "catalog:read",
    ("GET", "/api/v1/customers/<id>/recommendations"): "catalog:read",
    ("POST", "/api/v1/recommendations/recompute"): "catalog:write",
    ("GET", "/api/v1/customers/<id>/insights"): "insights:read",
    ("GET", "/api/v1/reports/kpis"): "kpis:read",
    ("GET", "/api/v1/reports/kpis/<id>"): "kpis:read",
    ("GET", "/api/v1/reports/kpis/<id>/export"): "kpis:read",
    ("GET", "/api/v1/customers/winback"): "customers:read",
    ("POST", "/api/v1/customers/<id>/winback"): "coupons:write",
    ("GET", "/api/v1/feedback"): "customers:read",
    ("GET", "/api/v1/tasks"): "customers:read",
    ("PATCH", "/api/v1/tasks/<id>"): "tasks:write",
    # quotations: role × endpoint × whose data in tests/quotes/test_quote_access.py
    ("POST", "/api/v1/quotes"): "quotes:write",
    ("GET", "/api/v1/quotes"): "quotes:read",
    ("GET", "/api/v1/quotes/<id>"): "quotes:read",
    ("PATCH", "/api/v1/quotes/<id>"): "quotes:write",
    ("GET", "/api/v1/quotes/<id>/revisions/<id>"): "quotes:read",
    ("POST", "/api/v1/quotes/<id>/send"): "quotes:write",
    ("POST", "/api/v1/quotes/<id>/accept"): "quotes:write",
    ("POST", "/api/v1/quotes/<id>/decline"): "quotes:write",
    ("POST", "/api/v1/quotes/<id>/cancel"): "quotes:write",
    ("GET", "/api/v1/quotes/<id>/pdf"): "quotes:read",
    ("GET", "/api/v1/reports/pipeline"): "quotes:report",
}


def _api_routes(app: Any) -> set[tuple[str, str]]:
    import re
    return {(method, re.sub(r"<[^>]+>", "<id>", rule.rule))
            for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_api_route_is_classified(app: Any) -> None:
    """A new route must be given a row: in ACTIONS (exercised per role) or in ROUTE_PERMISSIONS."""
    import re
    in_actions = {(m.upper(), re.sub(r"\{\w+\}", "<id>", p).replace("/2020-01/", "/<id>/")
                   .replace("/MUG-01", "/<id>")) for m, p, _ in ACTIONS.values()}
    routes = _api_routes(app)
    unclassified = routes - in_actions - set(ROUTE_PERMISSIONS)
    assert not unclassified, sorted(unclassified)
    assert not set(ROUTE_PERMISSIONS) & in_actions
    assert set(ROUTE_PERMISSIONS) <= routes, sorted(set(ROUTE_PERMISSIONS) - routes)


@pytest.mark.parametrize("role", ["webshop", "clerk", "accountant"])
def test_roles_without_a_routes_permission_are_refused_it(
    app: Any, keys: dict[str, str], engine: Engine, role: str,
) -> None:
    from o2c.domain.access import PERMISSIONS
    api = Client(app.test_client(), keys[role])
    before = counts(engine)
    refused = 0
    for (method, rule), permission in sorted(ROUTE_PERMISSIONS.items()):
        if permission in PERMISSIONS[role]:
            continue
        path = rule.replace("/periods/<id>/", "/periods/2020-01/").replace("<id>", "1")
        if method == "DELETE":
            r = api.c.delete(path, headers={"Authorization": f"Bearer {api.key}"})
        else:
            r = getattr(api, method.lower())(path, **({"json": {}} if method in ("POST", "PATCH") else {}))
        assert_error(r, 403, "forbidden")
        refused += 1
    assert refused > 0
    assert counts(engine) == before


def test_a_forbidden_shipment_stays_packed_and_stock_stays_put(
    shop: Client, accountant: Client, admin: Client, world: dict[str, Any],
) -> None:
    for api in (shop, accountant):
        r = api.post(f"/api/v1/shipments/{world['packed']['id']}/ship", {"carrier": "BRT", "tracking_number": "T9"})
        assert_error(r, 403, "forbidden")
    assert admin.ok("get", f"/api/v1/shipments/{world['packed']['id']}")["status"] == "packed"
    assert admin.ok("get", "/api/v1/stock/MUG-01")["on_hand"] == 18


def test_a_forbidden_request_is_refused_before_its_body_is_read(shop: Client, world: dict[str, Any]) -> None:
    """A webshop learns nothing about the payments API by sending it garbage."""
    assert_error(shop.post("/api/v1/payments", {"amount": 1.5}), 403, "forbidden")


# -- channels ----------------------------------------------------------------------------

@pytest.fixture
def two_shops(admin: Client, shop: Client, shop_b: Client) -> dict[str, Any]:
    customer(admin, "C-ROSSI", channels=["shop-a", "shop-b"])  # a customer of both shops
    product(admin, "MUG-01", "8.50", "0.10", stock=20, cost="3.00")
    out: dict[str, Any] = {}
    for name, api in (("a", shop), ("b", shop_b)):
        r = order(api, "C-ROSSI", [("MUG-01", 2)], external_ref="REF-1")  # the same ref in two channels is fine
        assert r.status_code == 201, r.get_json()
        o = r.get_json()
        sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
        sh = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": name})
        out[name] = {"order": o["id"], "shipment": sh["id"], "invoice": sh["invoice_id"]}
    back = order(admin, "C-ROSSI", [("MUG-01", 1)]).get_json()  # entered by the back office (the admin key)
    out["back office"] = {"order": back["id"]}
    return out


@pytest.mark.parametrize(("viewer", "owner"), [("a", "b"), ("b", "a")])
@pytest.mark.parametrize("path", ["/api/v1/orders/{order}", "/api/v1/shipments/{shipment}",
                                  "/api/v1/invoices/{invoice}"])
def test_a_webshop_never_sees_another_webshops_documents(
    shop: Client, shop_b: Client, two_shops: dict[str, Any], viewer: str, owner: str, path: str,
) -> None:
    api = {"a": shop, "b": shop_b}[viewer]
    assert_error(api.get(path.format(**two_shops[owner])), 404, "not_found")
    assert api.get(path.format(**two_shops[viewer])).status_code == 200


@pytest.mark.parametrize("viewer", ["a", "b"])
def test_a_webshop_lists_only_its_own_orders_and_invoices(
    shop: Client, shop_b: Client, two_shops: dict[str, Any], viewer: str,
) -> None:
    api = {"a": shop, "b": shop_b}[viewer]
    mine = two_shops[viewer]
    orders = api.ok("get", "/api/v1/orders")["items"]
    assert [o["id"] for o in orders] == [mine["order"]]
    assert {o["channel"] for o in orders} == {f"shop-{viewer}"}
    assert [o["id"] for o in api.ok("get", "/api/v1/orders?external_ref=REF-1")["items"]] == [mine["order"]]
    assert [i["id"] for i in api.ok("get", "/api/v1/invoices")["items"]] == [mine["invoice"]]


@pytest.mark.parametrize("action", ["cancel", "confirm"])
def test_a_webshop_cannot_act_on_another_webshops_order(
    admin: Client, shop_b: Client, two_shops: dict[str, Any], engine: Engine, action: str,
) -> None:
    before = counts(engine)
    assert_error(shop_b.post(f"/api/v1/orders/{two_shops['a']['order']}/{action}"), 404, "not_found")
    assert counts(engine) == before
    assert admin.ok("get", f"/api/v1/orders/{two_shops['a']['order']}")["status"] == "confirmed"


def test_a_webshop_does_not_see_back_office_orders(shop: Client, two_shops: dict[str, Any]) -> None:
    back_office_order = two_shops["back office"]["order"]
    assert_error(shop.get(f"/api/v1/orders/{back_office_order}"), 404, "not_found")
    assert_error(shop.post(f"/api/v1/orders/{back_office_order}/cancel"), 404, "not_found")


@pytest.mark.parametrize("role", ["clerk", "accountant", "admin"])
def test_the_back_office_sees_every_channel(
    app: Any, keys: dict[str, str], two_shops: dict[str, Any], role: str,
) -> None:
    api = Client(app.test_client(), keys[role])
    channels = {o["channel"] for o in api.ok("get", "/api/v1/orders")["items"]}
    assert channels == {"shop-a", "shop-b", "admin"}  # an API key's orders are in its own channel
    for shop_docs in (two_shops["a"], two_shops["b"]):
        assert api.get(f"/api/v1/orders/{shop_docs['order']}").status_code == 200
        assert api.get(f"/api/v1/shipments/{shop_docs['shipment']}").status_code == 200
        assert api.get(f"/api/v1/invoices/{shop_docs['invoice']}").status_code == 200


def test_a_new_webshop_key_starts_with_an_empty_channel(app: Any, engine: Engine, two_shops: dict[str, Any]) -> None:
    api = Client(app.test_client(), make_key(engine, "shop-c", "webshop"))
    assert api.ok("get", "/api/v1/orders") == {"items": [], "next_cursor": None, "has_more": False}
    assert api.ok("get", "/api/v1/invoices") == {"items": [], "next_cursor": None, "has_more": False}
