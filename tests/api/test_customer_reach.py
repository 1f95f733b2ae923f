"""Whose customers a webshop may use (API.md): the matrix of role × endpoint
taking a customer reference × whose customer — one shared with the shop's
channel, another channel's, a back-office customer, and one that does not
exist. A webshop gets for every customer it may not use exactly the answer it
gets for one that does not exist; the back office uses every customer."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.api.test_access import assert_error, counts
from tests.conftest import ADDRESS, Client, customer, order, product

WHOSE = ("own", "other channel", "back office", "nonexistent")
NOBODY_ID = 2_000_000_000
NOBODY_CODE = "C-NOBODY"


@pytest.fixture
def reach(admin: Client, shop: Client, shop_b: Client) -> dict[str, dict[str, Any]]:
    """Three customers, each with shop A's history (an order shipped and
    invoiced, one mug of it returned with a credit note, an order waiting for
    stock). Then the back office stops sharing two of them with shop A: one
    goes to shop B alone, the other back to the back office alone."""
    product(admin, "MUG-01", "8.50", "0.10", stock=50, cost="3.00")
    product(admin, "RARE-01", "30.00", "0.22")  # none in stock: its orders wait
    ids, codes = {}, {}
    for whose, code in (("own", "C-OWN"), ("other channel", "C-OTHER"), ("back office", "C-BACK")):
        ids[whose] = customer(admin, code, channels=["shop-a"])["id"]
        codes[whose] = code
        r = order(shop, code, [("MUG-01", 2)])
        assert r.status_code == 201, r.get_json()
        o = r.get_json()
        sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
        admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": code})
        admin.ok("post", f"/api/v1/orders/{o['id']}/returns",
                 {"lines": [{"sku": "MUG-01", "quantity": 1}], "restock": True, "refund": "credit"}, status=201)
        r = order(shop, code, [("RARE-01", 1)], allow_backorder=True)
        assert r.status_code == 201, r.get_json()
    admin.ok("patch", f"/api/v1/customers/{ids['other channel']}", {"channels": ["shop-b"]})
    admin.ok("patch", f"/api/v1/customers/{ids['back office']}", {"channels": []})
    assert order(shop_b, "C-OTHER", [("MUG-01", 1)]).status_code == 201
    ids["nonexistent"], codes["nonexistent"] = NOBODY_ID, NOBODY_CODE
    return {"id": ids, "code": codes}


def _new_order(ref: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Client, dict[str, Any]], Any]:
    return lambda api, c: api.post("/api/v1/orders", {"customer": ref(c), "lines": [{"sku": "MUG-01", "quantity": 1}]})


def _get(path: str) -> Callable[[Client, dict[str, Any]], Any]:
    return lambda api, c: api.get(path.format(**c))


# endpoint -> (call, kind): "order" creates with a reference in the body, "list"
# filters by customer_id, "customer" is a customer's own resource.
ENDPOINTS: dict[str, tuple[Callable[[Client, dict[str, Any]], Any], str]] = {
    "create order by id": (_new_order(lambda c: {"id": c["id"]}), "order"),
    "create order by code": (_new_order(lambda c: {"code": c["code"]}), "order"),
    "list orders of customer": (_get("/api/v1/orders?customer_id={id}"), "list"),
    "list invoices of customer": (_get("/api/v1/invoices?customer_id={id}"), "list"),
    "list backorders of customer": (_get("/api/v1/backorders?customer_id={id}"), "list"),
    "list returns of customer": (_get("/api/v1/returns?customer_id={id}"), "list"),
    "list credit notes of customer": (_get("/api/v1/credit-notes?customer_id={id}"), "list"),
    "list dunning letters of customer": (_get("/api/v1/dunning/letters?customer_id={id}"), "ledger list"),
    "read customer": (_get("/api/v1/customers/{id}"), "customer"),
    "update customer": (lambda api, c: api.patch(f"/api/v1/customers/{c['id']}", {"email": "new@shop.example"}),
                        "customer"),
    "read customer credit": (_get("/api/v1/customers/{id}/credit"), "customer"),
    "customer statement": (_get("/api/v1/customers/{id}/statement"), "customer"),
    "record payment": (lambda api, c: api.post("/api/v1/payments", {
        "customer_id": c["id"], "amount": "1.00", "currency": "EUR",
        "received_on": dt.date.today().isoformat(), "reference": f"BANK-{c['code']}"}), "payment"),
}

PERMISSION = {
    "create order by id": "orders:write", "create order by code": "orders:write",
    "list orders of customer": "orders:read", "list invoices of customer": "invoices:read",
    "list backorders of customer": "orders:read", "list returns of customer": "orders:read",
    "list credit notes of customer": "invoices:read", "list dunning letters of customer": "ledger:read",
    "read customer": "customers:read", "update customer": "customers:write",
    "read customer credit": "payments:read", "customer statement": "ledger:read",
    "record payment": "payments:write",
}
ROLES = ("webshop", "clerk", "accountant", "admin")


def _expected(role: str, endpoint: str, whose: str) -> int:
    from o2c.domain.access import PERMISSIONS
    if PERMISSION[endpoint] not in PERMISSIONS[role]:
        return 403
    kind = ENDPOINTS[endpoint][1]
    usable = whose == "own" or (role != "webshop" and whose != "nonexistent")
    if kind == "order":
        return 201 if usable else 422
    if kind == "payment":
        return 201 if usable else 422
    if kind == "customer":
        return 200 if usable else 404
    return 200  # lists: an unusable customer's page is empty


def test_the_permissions_used_here_are_those_of_the_routes(app: Any) -> None:
    """The matrix's permission column cannot drift from the views' decorators."""
    from tests.api.test_access import ROUTE_PERMISSIONS
    assert ROUTE_PERMISSIONS[("GET", "/api/v1/customers/<id>/statement")] == PERMISSION["customer statement"]
    assert ROUTE_PERMISSIONS[("GET", "/api/v1/dunning/letters")] == PERMISSION["list dunning letters of customer"]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_uses_the_customers_it_may_and_no_other(
    app: Any, keys: dict[str, str], reach: dict[str, dict[str, Any]], engine: Engine, role: str, endpoint: str,
) -> None:
    api = Client(app.test_client(), keys[role])
    call, kind = ENDPOINTS[endpoint]
    answers = {}
    for whose in WHOSE:
        before = counts(engine)
        r = call(api, {"id": reach["id"][whose], "code": reach["code"][whose]})
        status = _expected(role, endpoint, whose)
        assert r.status_code == status, (whose, r.status_code, r.get_json())
        assert r.mimetype == "application/json"
        body = r.get_json()
        if status >= 400:
            assert counts(engine) == before, f"a refused request for the {whose} customer changed the books"
            assert_error(r, status, {403: "forbidden", 404: "not_found", 422: "validation_error"}[status])
        if status == 200 and "items" in body:
            has_items = bool(body["items"])
            usable = whose == "own" or (role != "webshop" and whose != "nonexistent")
            if kind == "list":  # every existing customer has shop A's documents of each kind
                assert has_items == usable, (whose, body)
            else:
                assert not has_items or whose != "nonexistent"
        answers[whose] = body
    if role == "webshop":
        # Nothing tells a customer out of reach from one that does not exist.
        assert answers["other channel"] == answers["nonexistent"]
        assert answers["back office"] == answers["nonexistent"]


def test_the_matrix_covers_every_role_and_case() -> None:
    statuses = {(r, e, w): _expected(r, e, w) for r in ROLES for e in ENDPOINTS for w in WHOSE}
    webshop_usable = {e for e in ENDPOINTS if statuses[("webshop", e, "own")] in (200, 201)}
    # A webshop orders and filters its lists by its own customers, nothing more.
    assert webshop_usable == {e for e, (_, kind) in ENDPOINTS.items() if kind in ("order", "list")}
    assert {statuses[("clerk", e, "back office")] for e in ("create order by id", "create order by code")} == {201}


# -- what a webshop may learn about its own customer -------------------------------------

def test_a_webshop_order_for_its_own_customer_is_the_customers(shop: Client, admin: Client,
                                                              reach: dict[str, dict[str, Any]]) -> None:
    o = shop.ok("post", "/api/v1/orders", {"customer": {"id": reach["id"]["own"]},
                                           "lines": [{"sku": "MUG-01", "quantity": 1}]}, status=201)
    assert o["customer_id"] == reach["id"]["own"] and o["channel"] == "shop-a"
    assert o["shipping_address"] == admin.ok("get", f"/api/v1/customers/{o['customer_id']}")["billing_address"]


def test_a_webshops_credit_limit_refusal_names_neither_limit_nor_exposure(
    shop: Client, clerk: Client, admin: Client, reach: dict[str, dict[str, Any]],
) -> None:
    cid = reach["id"]["own"]
    admin.ok("patch", f"/api/v1/customers/{cid}", {"credit_limit": "50.00"})
    body = {"customer": {"id": cid}, "lines": [{"sku": "MUG-01", "quantity": 10}], "confirm": True}
    r = shop.post("/api/v1/orders", body)
    assert_error(r, 409, "credit_limit_exceeded")
    err = r.get_json()["error"]
    assert err["details"] == {"order_total": "93.50"}
    assert "50.00" not in err["message"] and "exposure" not in err["message"]
    # The back office is told the figures.
    r = clerk.post("/api/v1/orders", body)
    assert_error(r, 409, "credit_limit_exceeded")
    assert r.get_json()["error"]["details"]["credit_limit"] == "50.00"
    assert set(r.get_json()["error"]["details"]) == {"credit_limit", "exposure", "order_total"}


def test_a_webshops_confirmation_over_the_limit_is_as_discreet(
    shop: Client, admin: Client, reach: dict[str, dict[str, Any]],
) -> None:
    cid = reach["id"]["own"]
    draft = shop.ok("post", "/api/v1/orders", {"customer": {"id": cid}, "lines": [{"sku": "MUG-01", "quantity": 10}]},
                    status=201)
    admin.ok("patch", f"/api/v1/customers/{cid}", {"credit_limit": "50.00"})
    r = shop.post(f"/api/v1/orders/{draft['id']}/confirm")
    assert_error(r, 409, "credit_limit_exceeded")
    assert r.get_json()["error"]["details"] == {"order_total": "93.50"}


# -- a whole new customer in an order ----------------------------------------------------

def _inline(code: str, **over: Any) -> dict[str, Any]:
    return {"code": code, "name": "Anna Bianchi", "email": "anna@mail.example", "country": "IT",
            "billing_address": ADDRESS, **over}


def _order_with(api: Client, new_customer: dict[str, Any]) -> Any:
    return api.post("/api/v1/orders", {"customer": new_customer, "lines": [{"sku": "MUG-01", "quantity": 1}]})


def test_a_webshops_new_customer_is_shared_with_its_channel_only(
    shop: Client, shop_b: Client, admin: Client, reach: dict[str, dict[str, Any]],
) -> None:
    r = _order_with(shop, _inline("DS-0001"))
    assert r.status_code == 201, r.get_json()
    c = admin.ok("get", f"/api/v1/customers/{r.get_json()['customer_id']}")
    assert (c["code"], c["name"], c["channels"]) == ("DS-0001", "Anna Bianchi", ["shop-a"])
    # Shop B cannot use it, and learns nothing more than about a code nobody has.
    refused = _order_with(shop_b, {"code": "DS-0001"})
    nobody = _order_with(shop_b, {"code": NOBODY_CODE})
    assert_error(refused, 422, "validation_error")
    assert refused.get_json() == nobody.get_json()


def test_the_back_office_creates_inline_customers_shared_with_no_channel(
    clerk: Client, admin: Client, reach: dict[str, dict[str, Any]],
) -> None:
    r = _order_with(clerk, _inline("C-WALKIN"))
    assert r.status_code == 201, r.get_json()
    assert admin.ok("get", f"/api/v1/customers/{r.get_json()['customer_id']}")["channels"] == []


@pytest.mark.parametrize("whose", ["other channel", "back office"])
def test_a_new_customer_with_a_code_taken_outside_the_channel_is_a_conflict_that_reveals_nothing(
    shop: Client, admin: Client, engine: Engine, reach: dict[str, dict[str, Any]], whose: str,
) -> None:
    code = reach["code"][whose]
    taken = admin.ok("get", f"/api/v1/customers/{reach['id'][whose]}")
    before = counts(engine)
    # Even the very details on file do not attach the order to that customer.
    sent = {k: taken[k] for k in ("code", "name", "email", "country", "billing_address")}
    r = _order_with(shop, sent)
    assert_error(r, 409, "conflict")
    err = r.get_json()["error"]
    assert err["details"] == {}
    for secret in (str(taken["id"]), taken["name"], taken["email"], "shop-b"):
        assert secret not in err["message"], secret
    assert counts(engine) == before
    # The same answer as for any other taken code out of reach.
    other = "C-BACK" if whose == "other channel" else "C-OTHER"
    r2 = _order_with(shop, {**sent, "code": other})
    assert r2.status_code == 409
    assert r2.get_json()["error"]["message"].replace(other, code) == err["message"]


def test_a_new_customer_with_a_code_of_its_own_channel_attaches_when_the_details_match(
    shop: Client, admin: Client, engine: Engine, reach: dict[str, dict[str, Any]],
) -> None:
    first = _order_with(shop, _inline("DS-0002"))
    assert first.status_code == 201, first.get_json()
    with engine.connect() as c:
        n = c.execute(text("SELECT count(*) FROM customers")).scalar_one()
    # A webshop sends its consumer whole with every order.
    again = _order_with(shop, _inline("DS-0002"))
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["customer_id"] == first.get_json()["customer_id"]
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM customers")).scalar_one() == n


def test_a_new_customer_with_a_code_of_its_own_channel_but_other_details_is_a_conflict_naming_it(
    shop: Client, admin: Client, engine: Engine, reach: dict[str, dict[str, Any]],
) -> None:
    first = _order_with(shop, _inline("DS-0003")).get_json()
    before = counts(engine)
    moved = {**ADDRESS, "line1": "Corso Buenos Aires 1"}
    r = _order_with(shop, _inline("DS-0003", billing_address=moved, email="anna@new.example"))
    assert_error(r, 409, "conflict")
    assert r.get_json()["error"]["details"] == {"customer_id": first["customer_id"],
                                                "fields": ["billing_address", "email"]}
    assert counts(engine) == before
    c = admin.ok("get", f"/api/v1/customers/{first['customer_id']}")
    assert (c["email"], c["billing_address"]["line1"]) == ("anna@mail.example", ADDRESS["line1"])
    # As the message says: refer to it by id and ship where the order goes.
    o = shop.ok("post", "/api/v1/orders", {"customer": {"id": first["customer_id"]}, "shipping_address": moved,
                                           "lines": [{"sku": "MUG-01", "quantity": 1}]}, status=201)
    assert o["shipping_address"]["line1"] == "Corso Buenos Aires 1"


def test_a_webshop_cannot_share_its_new_customer_with_other_channels(shop: Client, engine: Engine,
                                                                    reach: dict[str, dict[str, Any]]) -> None:
    before = counts(engine)
    r = _order_with(shop, _inline("DS-0004", channels=["shop-b"]))
    assert_error(r, 422, "validation_error")
    assert "channels" in r.get_json()["error"]["details"]["fields"]["customer"]
    assert counts(engine) == before


# -- the back office shares customers -----------------------------------------------------

def test_clerks_set_a_customers_channels(clerk: Client, shop: Client, shop_b: Client) -> None:
    product(clerk, "MUG-01", "8.50", "0.10", stock=5, cost="3.00")
    c = customer(clerk, "C-SHARED", channels=["shop-b", "shop-a", "shop-a"])
    assert c["channels"] == ["shop-a", "shop-b"]
    assert clerk.ok("get", f"/api/v1/customers/{c['id']}")["channels"] == ["shop-a", "shop-b"]
    assert order(shop_b, "C-SHARED", [("MUG-01", 1)]).status_code == 201
    assert clerk.ok("patch", f"/api/v1/customers/{c['id']}", {"channels": ["shop-a"]})["channels"] == ["shop-a"]
    assert_error(order(shop_b, "C-SHARED", [("MUG-01", 1)]), 422, "validation_error")
    assert order(shop, "C-SHARED", [("MUG-01", 1)]).status_code == 201
    # A change of something else keeps the channels.
    assert clerk.ok("patch", f"/api/v1/customers/{c['id']}", {"name": "Shared S.p.A."})["channels"] == ["shop-a"]
    listed = clerk.ok("get", "/api/v1/customers")["items"]
    assert [x["channels"] for x in listed if x["id"] == c["id"]] == [["shop-a"]]


@pytest.mark.parametrize("channels", [[""], ["  "], ["x" * 65], "shop-a", [1]])
def test_channels_must_be_channel_names(clerk: Client, engine: Engine, channels: Any) -> None:
    before = counts(engine)
    r = clerk.post("/api/v1/customers", {"code": "C-BAD", "name": "Bad", "country": "IT",
                                         "billing_address": ADDRESS, "channels": channels})
    assert_error(r, 422, "validation_error")
    assert "channels" in r.get_json()["error"]["details"]["fields"]
    assert counts(engine) == before
