"""Books → Accounts keeps the chart's rules as the API does: codes of 3 to 10
digits, roles only on accounts of their type, no type change once an
account has postings — each refusal next to the field it is about."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from o2c.db import models as m
from tests.web.conftest import Web, add_order, pack_and_ship

ACCOUNTS = m.Account.__table__


def account(engine: Engine, code: str) -> Any:
    with engine.connect() as c:
        return c.execute(select(ACCOUNTS.c.type, ACCOUNTS.c.role).where(ACCOUNTS.c.code == code)).first()


def add(web: Web, token: str, **fields: str) -> Any:
    return web.post("/books/accounts", {"form_token": token, "name": "x", "type": "revenue", "role": "", **fields})


def edit(web: Web, code: str, token: str, **fields: str) -> Any:
    return web.post(f"/books/accounts/{code}/edit", {"form_token": token, "name": "x", **fields})


def test_the_code_must_be_three_to_ten_digits(admin_web: Web, engine: Engine) -> None:
    for n, code in enumerate(["40A0", "12", "12345678901", "4010.1", "٤٠١٠"]):
        r = add(admin_web, f"code-{n}", code=code)
        assert r.status_code == 422 and 'id="f-code-error"' in r.text and "3 to 10 digits" in r.text, code
        assert account(engine, code) is None
    assert add(admin_web, "code-ok", code="4010").status_code == 303 and account(engine, "4010") is not None
    page = admin_web.get("/books/accounts").text
    assert "A code is 3 to 10 digits" in page and 'inputmode="numeric"' in page


def test_a_role_goes_only_to_an_account_of_its_type(admin_web: Web, engine: Engine) -> None:
    page = admin_web.get("/books/accounts").text
    assert "inventory (asset, now 1200)" in page and "revenue (revenue, now 4000)" in page
    r = add(admin_web, "role-1", code="4100", type="revenue", role="inventory")
    assert r.status_code == 422 and 'id="f-role-error"' in r.text
    assert "The inventory role needs an asset account, not a revenue one." in r.text
    assert account(engine, "4100") is None and account(engine, "1200").role == "inventory"
    assert add(admin_web, "role-2", code="4100", type="revenue").status_code == 303
    r = edit(admin_web, "4100", "role-3", type="revenue", role="inventory")
    assert r.status_code == 422 and 'id="f-role-error"' in r.text
    assert tuple(account(engine, "4100")) == ("revenue", None)
    # The account serving a role cannot be turned into a type the role refuses.
    r = edit(admin_web, "1200", "role-4", type="revenue", role="inventory")
    assert r.status_code == 422 and 'id="f-type-error"' in r.text and "needs an asset account" in r.text
    assert tuple(account(engine, "1200")) == ("asset", "inventory")
    r = edit(admin_web, "2200", "role-5", type="asset")
    assert r.status_code == 422 and 'id="f-type-error"' in r.text and "needs a liability account" in r.text
    assert account(engine, "2200").type == "liability"


def test_an_account_with_postings_keeps_its_type(admin_web: Web, engine: Engine, shop: dict[str, Any]) -> None:
    sold = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1)])
    pack_and_ship(engine, sold["id"])
    r = edit(admin_web, "2200", "post-1", type="asset")
    assert r.status_code == 422 and 'id="f-type-error"' in r.text and "its type cannot change" in r.text
    assert account(engine, "2200").type == "liability"
    assert 'value="x"' in r.text  # the form comes back as it was sent
    assert edit(admin_web, "2200", "post-2", type="liability").status_code == 303  # the name alone changes
