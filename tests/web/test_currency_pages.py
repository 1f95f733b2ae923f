"""Currencies and rates in the back office (the Books section): administrators
enable a currency and record rates; accountants read; a bad rate is shown beside
its field and nothing is written."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from o2c.db import models as m
from tests.web.conftest import Web


def rates(engine: Engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(m.FxRate.__table__)).scalar_one()


def enable(web: Web, code: str) -> Any:
    return web.post("/books/currencies/enable", {"code": code, "enabled": "1",
                                                 "form_token": web.form_token("/books/currencies")})


def record(web: Web, **fields: str) -> Any:
    return web.post("/books/currencies/rates", {"currency": "PLN", "date": "2026-12-04", "rate": "4.2750",
                                                "source": "", "form_token": web.form_token("/books/currencies"),
                                                **fields})


def test_an_admin_enables_pln_and_records_a_rate(admin_web: Web, engine: Engine) -> None:
    page = admin_web.get("/books/currencies")
    assert page.status_code == 200 and "Enable a currency" in page.text and "PLN — Polish Zloty (ECB rates)" in page.text
    r = enable(admin_web, "PLN")
    assert r.status_code == 303
    r = record(admin_web)
    assert r.status_code == 303
    page = admin_web.get("/books/currencies")
    assert "PLN 4.2750 per euro on 2026-12-04 recorded." in page.text
    assert '<td class="num">4.2750</td>' in page.text and "ECB reference rates" in page.text
    assert rates(engine) == 1
    r = admin_web.post("/books/currencies/enable", {"code": "PLN", "enabled": "0",
                                                    "form_token": admin_web.form_token("/books/currencies")})
    assert r.status_code == 303
    assert "PLN (Polish Zloty) disabled." in admin_web.get("/books/currencies").text


def test_a_bad_rate_is_shown_beside_its_field(admin_web: Web, engine: Engine) -> None:
    enable(admin_web, "PLN")
    r = record(admin_web, rate="0")
    assert r.status_code == 422
    assert "A rate is above zero and below 100,000,000" in r.text and 'aria-invalid="true"' in r.text
    r = record(admin_web, rate="4.27501234567")
    assert r.status_code == 422 and "at most 10 significant digits" in r.text
    r = record(admin_web, currency="USD")
    assert r.status_code == 422 and "USD is not enabled" in r.text
    assert rates(engine) == 0


def test_accountants_read_but_do_not_write_and_clerks_keep_out_of_the_books(
        admin_web: Web, accountant_web: Web, clerk_web: Web, engine: Engine) -> None:
    enable(admin_web, "PLN")
    record(admin_web)
    page = accountant_web.get("/books/currencies")
    assert page.status_code == 200 and "4.2750" in page.text
    assert "Record a rate" not in page.text and "Disable PLN" not in page.text
    assert clerk_web.get("/books/currencies").status_code == 403
    for web in (accountant_web, clerk_web):
        assert web.post("/books/currencies/rates", {"currency": "PLN", "date": "2026-12-05",
                                                    "rate": "4.28"}).status_code == 403
        assert web.post("/books/currencies/enable", {"code": "USD", "enabled": "1"}).status_code == 403
    assert rates(engine) == 1
    assert 'href="/books/currencies"' in accountant_web.get("/books/periods").text  # in the Books section


def test_a_yen_order_shows_yen_without_decimals_and_the_list_names_its_currency(
        admin: Any, admin_web: Web, monkeypatch: Any) -> None:
    import datetime as dt
    import re

    from o2c.services.platform import clock
    from tests.conftest import customer, product
    from tests.scenarios.test_foreign_currency import D0, enable as enable_api
    monkeypatch.setattr(clock, "now", lambda: dt.datetime.combine(D0, dt.time(10), dt.timezone.utc))
    enable_api(admin, "JPY", {D0: "163.45"})
    customer(admin, "C-TOKYO", currency="JPY")
    product(admin, "MOKA-3", "24.90", "0.22", stock=5, cost="10.00")
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-TOKYO"}, "confirm": True,
                                            "lines": [{"sku": "MOKA-3", "quantity": 3}]}, status=201)
    page = admin_web.get(f"/orders/{o['id']}").text
    nums = re.findall(r'<td class="num">([^<]*)</td>', page[page.index("<h2>Lines</h2>"):page.index("</table>",
                                                                                              page.index("<h2>Lines"))])
    assert "4,070" in nums and "12,210" in nums  # 4070 yen a piece, three of them
    assert "<dd>12,210</dd>" in page and "<dd>2,686</dd>" in page and "14,896 JPY" in page
    assert "4,070.00" not in page and "12,210.00" not in page
    listed = admin_web.get("/orders").text
    assert '<td class="num nowrap">14,896 JPY</td>' in listed
