"""Role × endpoint × whose customer for the customers-after-the-sale API:
webshops reach only customers shared with their channel (another's answers
exactly like a customer that does not exist), never the back-office
figures; accountants read but do not create coupons or work tasks."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from o2c.services.crm import associations
from tests.conftest import Client, customer, order, product

ROLES = ("webshop", "other_webshop", "clerk", "accountant", "admin")


@pytest.fixture
def world(admin: Client, engine: Engine) -> dict[str, Any]:
    mine = customer(admin, "C-MINE", channels=["shop-a"])
    theirs = customer(admin, "C-THEIRS", channels=["shop-b"])
    product(admin, "CUP", "5.00", stock=50)
    product(admin, "SAUCER", "5.00", stock=50)
    for code in ("C-MINE", "C-THEIRS", "C-MINE"):
        assert order(admin, code, [("CUP", 1), ("SAUCER", 1)]).status_code == 201
    admin.ok("post", "/api/v1/coupons", {"code": "MINE10", "percent_off": "10", "customer_id": mine["id"]}, status=201)
    associations.recompute_now(engine)
    return {"mine": mine["id"], "theirs": theirs["id"]}


@pytest.fixture
def callers(app: Any, keys: dict[str, str]) -> dict[str, Client]:
    return {"webshop": Client(app.test_client(), keys["webshop"]),
            "other_webshop": Client(app.test_client(), keys["webshop_b"]),
            "clerk": Client(app.test_client(), keys["clerk"]),
            "accountant": Client(app.test_client(), keys["accountant"]),
            "admin": Client(app.test_client(), keys["admin"])}


# (what, method, path with {mine}, body): expected status per role for the webshop's own customer.
MATRIX = [
    ("coupon of the customer", "get", "/api/v1/coupons/MINE10", None,
     {"webshop": 200, "other_webshop": 404, "clerk": 200, "accountant": 200, "admin": 200}),
    ("create coupon", "post", "/api/v1/coupons", {"percent_off": "5"},
     {"webshop": 403, "other_webshop": 403, "clerk": 201, "accountant": 403, "admin": 201}),
    ("customer recommendations", "get", "/api/v1/customers/{mine}/recommendations", None,
     {"webshop": 200, "other_webshop": 404, "clerk": 200, "accountant": 200, "admin": 200}),
    ("product recommendations", "get", "/api/v1/products/CUP/recommendations", None,
     {"webshop": 200, "other_webshop": 200, "clerk": 200, "accountant": 200, "admin": 200}),
    ("recompute", "post", "/api/v1/recommendations/recompute", None,
     {"webshop": 403, "other_webshop": 403, "clerk": 202, "accountant": 403, "admin": 202}),
    ("insights", "get", "/api/v1/customers/{mine}/insights", None,
     {"webshop": 403, "other_webshop": 403, "clerk": 200, "accountant": 200, "admin": 200}),
    ("kpis", "get", "/api/v1/reports/kpis", None,
     {"webshop": 403, "other_webshop": 403, "clerk": 200, "accountant": 200, "admin": 200}),
    ("kpi documents", "get", "/api/v1/reports/kpis/dso", None,
     {"webshop": 403, "other_webshop": 403, "clerk": 200, "accountant": 200, "admin": 200}),
    ("kpi export", "get", "/api/v1/reports/kpis/dso/export", None,
     {"webshop": 403, "other_webshop": 403, "clerk": 200, "accountant": 200, "admin": 200}),
    ("winback list", "get", "/api/v1/customers/winback", None,
     {"webshop": 403, "other_webshop": 403, "clerk": 200, "accountant": 200, "admin": 200}),
    ("winback send", "post", "/api/v1/customers/{mine}/winback", {},
     {"webshop": 403, "other_webshop": 403, "clerk": 201, "accountant": 403, "admin": 201}),
    ("feedback", "get", "/api/v1/feedback", None,
     {"webshop": 403, "other_webshop": 403, "clerk": 200, "accountant": 200, "admin": 200}),
    ("tasks", "get", "/api/v1/tasks", None,
     {"webshop": 403, "other_webshop": 403, "clerk": 200, "accountant": 200, "admin": 200}),
    ("task update", "patch", "/api/v1/tasks/999999", {"status": "done"},
     {"webshop": 403, "other_webshop": 403, "clerk": 404, "accountant": 403, "admin": 404}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("what", "method", "path", "body", "expected"), MATRIX, ids=[m[0] for m in MATRIX])
def test_matrix(world: dict[str, Any], callers: dict[str, Client], role: str, what: str, method: str, path: str,
                body: Any, expected: dict[str, int]) -> None:
    api = callers[role]
    url = path.format(mine=world["mine"])
    r = api.get(url) if method == "get" else getattr(api, method)(url, body)
    assert r.status_code == expected[role], (role, what, r.status_code, r.get_data(as_text=True)[:300])


def test_another_channels_customer_reads_like_a_missing_one(world: dict[str, Any], callers: dict[str, Client]) -> None:
    shop = callers["webshop"]
    theirs = shop.get(f"/api/v1/customers/{world['theirs']}/recommendations")
    missing = shop.get("/api/v1/customers/99999999/recommendations")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.get_json()["error"]["message"].replace(str(world["theirs"]), "N") == \
        missing.get_json()["error"]["message"].replace("99999999", "N")
    # A coupon bound to another channel's customer cannot be used by this webshop either.
    r = shop.post("/api/v1/orders", {"customer": {"id": world["mine"]}, "currency": "EUR", "coupon": "NOPE",
                                     "lines": [{"sku": "CUP", "quantity": 1}]})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "coupon_unavailable"
