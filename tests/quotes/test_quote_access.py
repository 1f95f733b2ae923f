"""Who may do what with quotations: role × endpoint × whose data. Clerks and
administrators do everything; a webshop quotes only for the customers shared
with its channel and sees only its own quotations (another's are not found);
accountants read and report; the pipeline is for the back office."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.api.test_access import assert_error
from tests.conftest import Client, customer
from tests.quotes.helpers import count, quote_body, shelf


@pytest.fixture
def world(admin: Client, shop: Client, clerk: Client) -> dict[str, Any]:
    shelf(admin)  # C-ROSSI is shared with shop-a
    customer(admin, "C-OTHER")  # shared with nobody
    return {"shop_quote": shop.ok("post", "/api/v1/quotes", quote_body(), status=201),
            "clerk_quote": clerk.ok("post", "/api/v1/quotes", quote_body(), status=201)}


WRITES = [
    ("patch", "", {"note": "x"}),
    ("post", "/send", None),
    ("post", "/accept", {"accepted_by": "X"}),
    ("post", "/decline", {"reason": "price"}),
    ("post", "/cancel", None),
]
READS = ["", "/revisions/1", "/pdf"]


def test_a_webshop_quotes_only_for_its_customers(shop: Client, shop_b: Client, world: dict[str, Any],
                                                 engine: Engine) -> None:
    before = count(engine, "quotes")
    for api in (shop_b,):  # C-ROSSI is not shop-b's
        assert_error(api.post("/api/v1/quotes", quote_body()), 422, "validation_error")
    assert_error(shop.post("/api/v1/quotes", quote_body(customer={"code": "C-OTHER"})), 422, "validation_error")
    assert count(engine, "quotes") == before


def test_the_accountant_reads_and_may_not_write(accountant: Client, world: dict[str, Any], engine: Engine) -> None:
    qid = world["clerk_quote"]["id"]
    for suffix in READS:
        assert accountant.get(f"/api/v1/quotes/{qid}{suffix}").status_code == 200
    assert accountant.ok("get", "/api/v1/quotes")["items"]
    assert_error(accountant.post("/api/v1/quotes", quote_body()), 403, "forbidden")
    for method, suffix, body in WRITES:
        assert_error(getattr(accountant, method)(f"/api/v1/quotes/{qid}{suffix}", body), 403, "forbidden")
    assert accountant.get("/api/v1/reports/pipeline").status_code == 200
    assert count(engine, "quote_revisions") == 2


def test_a_webshop_sees_and_changes_only_its_own_quotations(shop: Client, shop_b: Client, world: dict[str, Any],
                                                            engine: Engine) -> None:
    mine, theirs = world["shop_quote"]["id"], world["clerk_quote"]["id"]
    assert [q["id"] for q in shop.ok("get", "/api/v1/quotes")["items"]] == [mine]
    assert shop_b.ok("get", "/api/v1/quotes")["items"] == []
    for suffix in READS:
        assert shop.get(f"/api/v1/quotes/{mine}{suffix}").status_code == 200
        assert_error(shop.get(f"/api/v1/quotes/{theirs}{suffix}"), 404, "not_found")
        assert_error(shop_b.get(f"/api/v1/quotes/{mine}{suffix}"), 404, "not_found")
    for method, suffix, body in WRITES:
        assert_error(getattr(shop_b, method)(f"/api/v1/quotes/{mine}{suffix}", body), 404, "not_found")
        assert_error(getattr(shop, method)(f"/api/v1/quotes/{theirs}{suffix}", body), 404, "not_found")
    assert_error(shop.get("/api/v1/reports/pipeline"), 403, "forbidden")
    assert count(engine, "orders") == 0 and count(engine, "quotes", "status = 'draft'") == 2
    # Its own: the whole cycle.
    shop.ok("post", f"/api/v1/quotes/{mine}/send")
    accepted = shop.ok("post", f"/api/v1/quotes/{mine}/accept", {"accepted_by": "Shop buyer"})
    assert accepted["status"] == "accepted" and accepted["order_id"]


@pytest.mark.parametrize("role", ["clerk", "admin"])
def test_clerks_and_administrators_do_everything(role: str, request: pytest.FixtureRequest,
                                                 world: dict[str, Any]) -> None:
    api: Client = request.getfixturevalue(role)
    qid = world["shop_quote"]["id"]
    for suffix in READS:
        assert api.get(f"/api/v1/quotes/{qid}{suffix}").status_code == 200
    api.ok("patch", f"/api/v1/quotes/{qid}", {"note": "Prices firm until the date above."})
    api.ok("post", f"/api/v1/quotes/{qid}/send")
    assert api.ok("post", f"/api/v1/quotes/{qid}/decline", {"reason": "price"})["status"] == "declined"
    other = world["clerk_quote"]["id"]
    assert api.ok("post", f"/api/v1/quotes/{other}/cancel")["status"] == "cancelled"
    report = api.ok("get", "/api/v1/reports/pipeline")
    assert report["count"] == 2 and {r["status"]: r["count"] for r in report["by_status"]}["declined"] == 1
