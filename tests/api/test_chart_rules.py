"""The chart of accounts' guard rails: an account with postings keeps its type
(409), a posting role goes only to an account of the type it needs (422 on
``role`` or ``type``), and a code is 3 to 10 digits (422 on ``code``)."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from o2c.db import models as m
from o2c.ledger.accounts import ACCOUNT_TYPES, DEFAULT_CHART, ROLE_TYPES, ROLES
from tests.api.books_helpers import sell
from tests.conftest import Client, customer, product


def chart(api: Client) -> dict[str, dict[str, Any]]:
    return {a["code"]: a for a in api.ok("get", "/api/v1/ledger/accounts")["items"]}


def refused(r: Any, status: int, code: str, fields: set[str] | None = None) -> dict[str, Any]:
    body = r.get_json()
    assert r.status_code == status, (r.status_code, body)
    assert body["error"]["code"] == code, body
    if fields is not None:
        assert set(body["error"]["details"]["fields"]) == fields, body
    return body["error"]


def audited(engine: Engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(m.AuditLog.__table__)
                         .where(m.AuditLog.__table__.c.object_type == "account")).scalar_one()


@pytest.fixture
def sold(admin: Client) -> dict[str, Any]:
    """One sale: bank untouched, receivables, revenue, VAT, inventory and COGS posted."""
    customer(admin, "C-ROSSI")
    product(admin, "RETRO-CLOCK", "49.90", "0.22", stock=10, cost="20.00")
    return sell(admin, "C-ROSSI", [("RETRO-CLOCK", 1)])


def test_the_role_table_covers_every_role_and_the_default_chart_keeps_it() -> None:
    assert set(ROLE_TYPES) == set(ROLES)
    assert all(set(types) <= set(ACCOUNT_TYPES) for types in ROLE_TYPES.values())
    assert all(acc.type in ROLE_TYPES[role] for role, acc in DEFAULT_CHART.items())


# -- an account with postings keeps its type ----------------------------------------------

def test_the_type_of_an_account_with_postings_cannot_change(
    admin: Client, sold: dict[str, Any], engine: Engine,
) -> None:
    before = audited(engine)
    for code, other in (("2200", "asset"), ("2200", "equity"), ("1100", "expense"),
                        ("4000", "expense"), ("1200", "liability")):
        err = refused(admin.patch(f"/api/v1/ledger/accounts/{code}", {"type": other}), 409, "conflict")
        assert err["details"]["code"] == code and err["details"]["postings"] >= 1, err
        assert "cannot change" in err["message"]
    after = chart(admin)
    assert (after["2200"]["type"], after["1100"]["type"], after["4000"]["type"]) == ("liability", "asset", "revenue")
    assert audited(engine) == before
    # The name still changes; the type given as it is is no change.
    renamed = admin.ok("patch", "/api/v1/ledger/accounts/2200", {"name": "VAT due", "type": "liability"})
    assert (renamed["name"], renamed["type"]) == ("VAT due", "liability")


def test_an_account_that_no_longer_serves_a_role_but_has_postings_keeps_its_type(
    admin: Client, sold: dict[str, Any],
) -> None:
    admin.ok("post", "/api/v1/ledger/accounts", {"code": "4010", "name": "Sales", "type": "revenue",
                                                 "role": "revenue"}, status=201)
    assert chart(admin)["4000"]["role"] is None
    refused(admin.patch("/api/v1/ledger/accounts/4000", {"type": "expense"}), 409, "conflict")


def test_an_account_without_postings_or_role_may_change_type(admin: Client, sold: dict[str, Any]) -> None:
    admin.ok("post", "/api/v1/ledger/accounts", {"code": "4500", "name": "Misc", "type": "revenue"}, status=201)
    assert admin.ok("patch", "/api/v1/ledger/accounts/4500", {"type": "expense"})["normal_balance"] == "debit"


# -- a role only on an account of its type ------------------------------------------------

def test_a_role_goes_only_to_an_account_of_the_type_it_needs(admin: Client, engine: Engine) -> None:
    codes = iter(range(6000, 7000))
    for role in ROLES:
        for type_ in ACCOUNT_TYPES:
            if type_ in ROLE_TYPES[role]:
                continue
            code = str(next(codes))
            body = {"code": code, "name": f"{role} as {type_}", "type": type_, "role": role}
            err = refused(admin.post("/api/v1/ledger/accounts", body), 422, "validation_error", {"role"})
            assert f"needs a{'n' if ROLE_TYPES[role][0][0] in 'aeiou' else ''} {ROLE_TYPES[role][0]}" in err["message"]
            assert code not in chart(admin)  # nothing half-written
            admin.ok("post", "/api/v1/ledger/accounts", {"code": code, "name": "spare", "type": type_}, status=201)
            refused(admin.patch(f"/api/v1/ledger/accounts/{code}", {"role": role}), 422, "validation_error", {"role"})
    # The roles stayed where they were.
    assert {a["role"]: c for c, a in chart(admin).items() if a["role"]} == {
        role: acc.code for role, acc in DEFAULT_CHART.items()}
    # The right type takes the role.
    for n, role in enumerate(ROLES):
        acc = admin.ok("post", "/api/v1/ledger/accounts", {"code": str(7000 + n), "name": role,
                                                            "type": ROLE_TYPES[role][0], "role": role}, status=201)
        assert acc["role"] == role


def test_a_revenue_account_cannot_take_the_inventory_role(admin: Client) -> None:
    """The fuzzer's case."""
    admin.ok("post", "/api/v1/ledger/accounts", {"code": "4100", "name": "Other revenue", "type": "revenue"},
             status=201)
    err = refused(admin.patch("/api/v1/ledger/accounts/4100", {"role": "inventory"}), 422, "validation_error",
                  {"role"})
    assert err["message"] == "The inventory role needs an asset account, not a revenue one."
    assert chart(admin)["1200"]["role"] == "inventory" and chart(admin)["4100"]["role"] is None


def test_the_account_serving_a_role_cannot_change_to_a_type_the_role_refuses(admin: Client) -> None:
    """No postings yet (a fresh chart): the role alone holds the type."""
    for code, type_ in (("2200", "asset"), ("1200", "revenue"), ("4000", "expense"), ("1000", "liability")):
        refused(admin.patch(f"/api/v1/ledger/accounts/{code}", {"type": type_}), 422, "validation_error", {"type"})
    # 6800 Bank charges serves no role: the cash application writes small differences and bank fees off to it
    assert {c: a["type"] for c, a in chart(admin).items()} == {
        **{a.code: a.type for a in DEFAULT_CHART.values()}, "6800": "expense"}


def test_type_and_role_in_one_patch_are_judged_together(admin: Client) -> None:
    admin.ok("post", "/api/v1/ledger/accounts", {"code": "1250", "name": "Stock, second site", "type": "revenue"},
             status=201)
    refused(admin.patch("/api/v1/ledger/accounts/1250", {"type": "expense", "role": "inventory"}), 422,
            "validation_error", {"role"})
    assert chart(admin)["1250"]["type"] == "revenue"  # the type change went back with the refusal
    moved = admin.ok("patch", "/api/v1/ledger/accounts/1250", {"type": "asset", "role": "inventory"})
    assert (moved["type"], moved["role"]) == ("asset", "inventory")


# -- codes --------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["12", "12345678901", "=4020", "40A0", "4010 ", " 4010", "-4010", "4010.1",
                                  "4.010", "", "４０１０", "٤٠١٠", "4010\n", "+4010", "1e3"])
def test_a_code_is_three_to_ten_digits(admin: Client, code: str) -> None:
    r = admin.post("/api/v1/ledger/accounts", {"code": code, "name": "x", "type": "revenue"})
    refused(r, 422, "validation_error", {"code"})
    assert code not in chart(admin)


@pytest.mark.parametrize("code", ["100", "4010", "1234567890"])
def test_codes_of_three_to_ten_digits_are_accepted(admin: Client, code: str) -> None:
    assert admin.ok("post", "/api/v1/ledger/accounts", {"code": code, "name": "x", "type": "revenue"},
                    status=201)["code"] == code


def test_the_code_format_is_in_the_api_document(app: Any) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    assert spec["components"]["schemas"]["AccountIn"]["properties"]["code"]["pattern"] == "^[0-9]{3,10}$"
