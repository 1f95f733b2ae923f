"""The new-order form finds customers by code, name, e-mail or VAT id
(accents and case aside) with a pick list, and tells what each line comes to
as it is typed — through two small JSON look-ups under the web session, and
without them (no script) when the form is sent."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from o2c.db import models as m
from o2c.domain.money import line_net
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import lookups
from tests.web.conftest import Web, add_customer, flashes

O = m.Order.__table__


@pytest.fixture
def customers(engine: Engine, shop: Any) -> dict[str, Any]:
    return {
        "aurora": add_customer(engine, "C-1001", name="Caffè Aurora S.r.l.", email="ordini@aurora.example",
                               tax_id="IT 01234560017"),
        "aurelia": add_customer(engine, "C-1002", name="Trattoria Aurelia", email="info@aurelia.example"),
        "lodz": add_customer(engine, "C-2001", name="Łódzka Kawiarnia Sp. z o.o.", email="biuro@lodz.example",
                             country="PL", tax_id="PL5260001246"),
    }


def order_form(w: Web, **values: str) -> dict[str, str]:
    return {"form_token": w.form_token("/orders/new"), "lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "2",
            "confirm": "1", **values}


def orders_of(engine: Engine, customer_id: int) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(O).where(O.c.customer_id == customer_id)).scalar_one()


@pytest.mark.parametrize("typed", ["caffe aurora", "CAFFÈ AURORA", "Caffè Aurora", "ordini@aurora",
                                   "IT01234560017", "it 0123456", "c-1001"])
def test_a_customer_is_found_by_code_name_email_or_vat_id_ignoring_accents_and_case(
        engine: Engine, customers: Any, typed: str) -> None:
    with unit_of_work(engine, "test", readonly=True) as tx:
        found, more = lookups.find_customers(tx, typed)
    assert [c["code"] for c in found] == ["C-1001"] and not more


def test_folding_works_on_the_stored_side_too(engine: Engine, customers: Any) -> None:
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert [c["code"] for c in lookups.find_customers(tx, "lodzka")[0]] == ["C-2001"]
        assert [c["code"] for c in lookups.find_customers(tx, "ŁÓDZKA kaw")[0]] == ["C-2001"]
        # The best match first: the exact code, then names starting with the text.
        assert [c["code"] for c in lookups.find_customers(tx, "aur")[0]] == ["C-1001", "C-1002"]
        assert [c["code"] for c in lookups.find_customers(tx, "trattoria")[0]] == ["C-1002"]
        # LIKE's wildcards are text like any other.
        assert lookups.find_customers(tx, "%")[0] == [] and lookups.find_customers(tx, "_")[0] == []
        found, more = lookups.find_customers(tx, "a", limit=2)
        assert len(found) == 2 and more


def test_a_name_typed_without_its_accent_makes_the_order(engine: Engine, customers: Any, clerk_web: Web) -> None:
    r = clerk_web.post("/orders/new", order_form(clerk_web, **{"customer.code": "caffe aurora", "action": "save"}))
    assert r.status_code == 303, flashes(r.text)
    assert orders_of(engine, customers["aurora"]["id"]) == 1


def test_the_totals_name_the_customer_found(engine: Engine, customers: Any, clerk_web: Web) -> None:
    r = clerk_web.post("/orders/new", order_form(clerk_web, **{"customer.code": "Aurora S.r", "action": "preview"}))
    assert r.status_code == 200
    assert 'value="C-1001"' in r.text  # the field now holds the customer's code
    assert "for Caffè Aurora S.r.l." in r.text and 'id="customer-picked"' in r.text


def test_several_matches_come_back_as_a_list_to_pick_from(engine: Engine, customers: Any, clerk_web: Web) -> None:
    r = clerk_web.post("/orders/new", order_form(clerk_web, **{"customer.code": "aur", "action": "save"}))
    assert r.status_code == 422
    picks = re.findall(r'name="customer.pick" value="([^"]+)"', r.text)
    assert picks == ["C-1001", "C-1002"]
    assert "2 customers match “aur”: pick one below." in flashes(r.text)
    assert orders_of(engine, customers["aurelia"]["id"]) == 0
    token = re.search(r'name="form_token" value="([^"]+)"', r.text).group(1)
    r = clerk_web.post("/orders/new", {"form_token": token, "customer.code": "aur", "customer.pick": "C-1002",
                                       "lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "1", "confirm": "1",
                                       "action": "save"})
    assert r.status_code == 303, flashes(r.text)
    assert orders_of(engine, customers["aurelia"]["id"]) == 1


def test_no_match_says_so_in_words(engine: Engine, customers: Any, clerk_web: Web) -> None:
    r = clerk_web.post("/orders/new", order_form(clerk_web, **{"customer.code": "Bar Sport", "action": "save"}))
    assert r.status_code == 422
    said = flashes(r.text)
    assert "No customer’s code, name, e-mail or VAT id contains “Bar Sport”." in said
    assert "{" not in said and "None" not in said


def test_the_customer_lookup_answers_json_to_a_signed_in_clerk(customers: Any, clerk_web: Web, app: Any) -> None:
    r = clerk_web.get("/lookup/customers?q=caffe")
    assert r.status_code == 200 and r.is_json
    assert r.json == {"data": [{"code": "C-1001", "name": "Caffè Aurora S.r.l.", "email": "ordini@aurora.example",
                                "tax_id": "IT 01234560017", "country": "IT"}], "has_more": False}
    assert clerk_web.get("/lookup/customers?q=").json == {"data": [], "has_more": False}
    signed_out = app.test_client().get("/lookup/customers?q=caffe")
    assert signed_out.status_code == 401 and signed_out.json["error"]["code"] == "unauthorized"


def quote(w: Web, lines: list[dict[str, str]], csrf: bool = True) -> Any:
    headers = {"X-CSRFToken": w.csrf} if csrf else {}
    return w.c.post("/lookup/order-lines", json={"lines": lines}, headers=headers)


def test_each_line_is_priced_as_it_is_typed(engine: Engine, shop: Any, clerk_web: Web) -> None:
    r = quote(clerk_web, [{"sku": "RETRO-CLOCK", "quantity": "3", "unit_price": "", "discount": "10"},
                          {"sku": "", "quantity": "", "unit_price": "", "discount": ""},
                          {"sku": "DESK-LAMP", "quantity": "", "unit_price": "", "discount": ""},
                          {"sku": "NO-SUCH", "quantity": "1", "unit_price": "", "discount": ""},
                          {"sku": "DESK-LAMP", "quantity": "9", "unit_price": "20.00", "discount": ""}])
    assert r.status_code == 200, r.text
    clock, empty, lamp, unknown, many = r.json["lines"]
    assert clock["name"] == "Retro Clock" and clock["available"] == 10 and clock["unit_price"] == "40.00"
    assert clock["net"] == str(line_net(3, Decimal("40.00"), Decimal("0.1"))) == "108.00"
    assert empty is None
    assert lamp["name"] == "Desk Lamp" and lamp["available"] == 5 and lamp["net"] is None  # no quantity yet
    assert unknown == {"sku": "NO-SUCH", "known": False, "error": "Unknown SKU “NO-SUCH”."}
    assert many["net"] == "180.00" and many["short"] == 4
    # 108.00 at 22 % and 180.00 at 10 %: VAT 23.76 + 18.00
    assert (r.json["net_total"], r.json["vat_total"], r.json["total"]) == ("288.00", "41.76", "329.76")


def test_a_bad_quantity_is_said_on_its_line(shop: Any, clerk_web: Web) -> None:
    r = quote(clerk_web, [{"sku": "RETRO-CLOCK", "quantity": "two", "unit_price": "", "discount": ""}])
    line = r.json["lines"][0]
    assert line["net"] is None and line["error"] and "{" not in line["error"]


def test_the_line_quote_needs_the_csrf_token_and_the_right_to_enter_orders(
        shop: Any, clerk_web: Web, accountant_web: Web, app: Any) -> None:
    line = [{"sku": "RETRO-CLOCK", "quantity": "1", "unit_price": "", "discount": ""}]
    no_token = quote(clerk_web, line, csrf=False)
    assert no_token.status_code == 400 and no_token.json["error"]["code"] == "csrf_failed"
    accountant = quote(accountant_web, line)
    assert accountant.status_code == 403 and accountant.json["error"]["code"] == "forbidden"
    assert quote(clerk_web, [{"sku": "X"}] * 201).status_code == 422
    assert clerk_web.c.post("/lookup/order-lines", data="nonsense", headers={"X-CSRFToken": clerk_web.csrf,
                                                                             "Content-Type": "application/json"}
                            ).status_code == 422


def test_the_database_folds_text_exactly_as_python_does(engine: Engine) -> None:
    from sqlalchemy import literal

    from o2c.domain.text import FOLD_FROM, FOLD_MULTI, fold
    sample = "Caffè ÅRHUS Straße Łódź Ёлка " + FOLD_FROM + "".join(c for c, _ in FOLD_MULTI) + " ABCxyz-09"
    with unit_of_work(engine, "test", readonly=True) as tx:
        in_sql = tx.conn.execute(select(lookups.folded(tx, literal(sample)))).scalar_one()
    assert in_sql == fold(sample)
    assert fold("Caffè ÅRHUS Straße Łódź Ёлка") == "caffe arhus strasse lodz елка"


def test_refusals_of_the_order_form_read_as_sentences(engine: Engine, customers: Any, clerk_web: Web) -> None:
    r = clerk_web.post("/orders/new", order_form(clerk_web, **{"customer.code": "C-1001", "action": "save",
                                                                "lines.0.sku": "NO-SUCH"}))
    said = flashes(r.text)
    assert r.status_code == 422 and "Unknown SKU “NO-SUCH”." in said
    assert not re.search(r"[{}\[\]]|'NO-SUCH'", said), said
