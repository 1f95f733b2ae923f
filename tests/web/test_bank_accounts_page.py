"""Bank accounts in the back office: accountants add one (a złoty account on
a GL account of its own), rename it or move it; a bad IBAN or a GL account
that cannot hold it is shown beside its field and nothing is written; clerks
read the list without the forms."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from o2c.db import models as m
from tests.web.conftest import Web

PLN_IBAN = "PL61 1090 1014 0000 0712 1981 2874"


def accounts(engine: Engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as c:
        t = m.BankAccount.__table__
        return [tuple(r) for r in c.execute(select(t.c.iban, t.c.name, t.c.currency, t.c.gl_account).order_by(t.c.id))]


def add(web: Web, **fields: str) -> Any:
    return web.post("/bank/accounts", {"iban": PLN_IBAN, "name": "PKO złoty", "currency": "PLN", "gl_account": "1010",
                                       "form_token": web.form_token("/bank/accounts"), **fields})


def test_an_accountant_adds_a_zloty_account_and_renames_it(admin: Any, accountant_web: Web, engine: Engine) -> None:
    admin.ok("post", "/api/v1/currencies", {"code": "PLN", "enabled": True})
    admin.ok("post", "/api/v1/ledger/accounts", {"code": "1010", "name": "Bank PLN", "type": "asset"}, status=201)
    before = accounts(engine)  # the company's own account, on 1000
    page = accountant_web.get("/bank/accounts")
    assert page.status_code == 200 and before[0][0] in page.text
    assert '<option value="PLN">PLN — Polish Zloty</option>' in page.text
    r = add(accountant_web)
    assert r.status_code == 303
    listed = accountant_web.get(r.headers["Location"]).text
    assert "Bank account PL61109010140000071219812874 added: PLN, booked on GL 1010." in listed
    assert accounts(engine) == [*before, ("PL61109010140000071219812874", "PKO złoty", "PLN", "1010")]
    acct_id = admin.ok("get", "/api/v1/bank/accounts")["items"][-1]["id"]
    r = accountant_web.post(f"/bank/accounts/{acct_id}", {"name": "PKO BP (złoty)", "gl_account": "1010",
                                                          "form_token": accountant_web.form_token("/bank/accounts")})
    assert r.status_code == 303
    assert accounts(engine)[-1][1] == "PKO BP (złoty)"
    assert "Bank account PL61109010140000071219812874 saved: PKO BP (złoty), GL 1010." in \
        accountant_web.get("/bank/accounts").text


def test_bad_input_is_shown_beside_its_field_and_nothing_is_written(
        admin: Any, accountant_web: Web, engine: Engine) -> None:
    admin.ok("post", "/api/v1/currencies", {"code": "PLN", "enabled": True})
    before = accounts(engine)
    r = add(accountant_web, iban="PL00 1234")
    assert r.status_code == 422 and "Not a valid IBAN." in r.text and 'aria-invalid="true"' in r.text
    r = add(accountant_web, gl_account="1000")  # złoty on the bank role's account, which takes every currency
    assert r.status_code == 422 and "Needs an asset account without a role for PLN." in r.text
    r = add(accountant_web, currency="USD")  # not enabled
    assert r.status_code == 422
    r = add(accountant_web, currency="EUR", gl_account="")  # EUR on 1000 by default: the company's account has it
    assert r.status_code == 422 and "Already used." in r.text
    assert accounts(engine) == before
    acct_id = admin.ok("get", "/api/v1/bank/accounts")["items"][0]["id"]
    r = accountant_web.post(f"/bank/accounts/{acct_id}", {"name": "Main", "gl_account": "9999",
                                                          "form_token": accountant_web.form_token("/bank/accounts")})
    assert r.status_code == 422 and "Unknown account." in r.text and "<details open>" in r.text
    assert accounts(engine) == before


def test_clerks_read_the_accounts_without_the_forms(admin: Any, clerk_web: Web, engine: Engine) -> None:
    (iban, *_), = accounts(engine)
    page = clerk_web.get("/bank/accounts").text
    assert iban in page and "Add a bank account" not in page and "<summary>Edit" not in page
    with engine.connect() as c:
        before = c.execute(select(func.count()).select_from(m.BankAccount.__table__)).scalar_one()
    r = clerk_web.post("/bank/accounts", {"iban": "DE89370400440532013000", "currency": "EUR",
                                          "form_token": "none"})
    assert r.status_code == 403
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(m.BankAccount.__table__)).scalar_one() == before
