"""Currencies, exchange rates and price lists over the API (API.md, Currencies)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from o2c.db import models as m
from o2c.services.books import fx
from o2c.services.platform.uow import unit_of_work
from tests.conftest import Client, product

RATES = "/api/v1/fx/rates"


def rate_count(engine: Engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(m.FxRate.__table__)).scalar_one()


def enable(admin: Client, *codes: str) -> None:
    for code in codes:
        admin.ok("post", "/api/v1/currencies", {"code": code, "enabled": True})


def fields_of(r: Any) -> dict[str, Any]:
    assert r.status_code == 422, (r.status_code, r.get_json())
    body = r.get_json()["error"]
    assert body["code"] == "validation_error"
    return body["details"]["fields"]


# -- currencies -----------------------------------------------------------------------

def test_every_iso_currency_is_listed_with_its_minor_units_and_only_eur_is_enabled(admin: Client) -> None:
    body = admin.ok("get", "/api/v1/currencies")
    by_code = {c["code"]: c for c in body["items"]}
    assert len(by_code) > 150 and body["has_more"] is False
    assert by_code["EUR"] == {"code": "EUR", "name": "Euro", "minor_units": 2, "enabled": True,
                              "rate_source": "functional", "functional": True}
    assert by_code["JPY"]["minor_units"] == 0 and by_code["KWD"]["minor_units"] == 3
    assert by_code["PLN"]["rate_source"] == "ecb" and by_code["RUB"]["rate_source"] == "manual"
    enabled = admin.ok("get", "/api/v1/currencies?enabled=true")["items"]
    assert [c["code"] for c in enabled] == ["EUR"]


def test_an_administrator_enables_and_disables_a_currency(admin: Client) -> None:
    pln = admin.ok("post", "/api/v1/currencies", {"code": "PLN", "enabled": True})
    assert pln["enabled"] is True and pln["name"] == "Polish Zloty"
    codes = [c["code"] for c in admin.ok("get", "/api/v1/currencies?enabled=true")["items"]]
    assert codes == ["EUR", "PLN"]
    assert admin.ok("post", "/api/v1/currencies", {"code": "PLN", "enabled": False})["enabled"] is False


def test_the_functional_currency_stays_enabled(admin: Client) -> None:
    r = admin.post("/api/v1/currencies", {"code": "EUR", "enabled": False})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("code", ["KWD", "BHD", "TND"])
def test_a_currency_with_three_decimals_cannot_be_enabled(admin: Client, code: str) -> None:
    why = fields_of(admin.post("/api/v1/currencies", {"code": code, "enabled": True}))["code"][0]
    assert why == (f"{code} has 3 decimals in its minor unit; documents keep their amounts in hundredths, "
                   "so only currencies of at most 2 decimals can be enabled.")
    listed = admin.ok("get", "/api/v1/currencies?enabled=true")["items"]
    assert [c["code"] for c in listed] == ["EUR"]
    assert admin.ok("post", "/api/v1/currencies", {"code": code, "enabled": False})["enabled"] is False


@pytest.mark.parametrize("code", ["XYZ", "pln", "PL", "EURO", ""])
def test_an_unknown_currency_is_a_422_on_code(admin: Client, code: str) -> None:
    assert "code" in fields_of(admin.post("/api/v1/currencies", {"code": code, "enabled": True}))


def test_currencies_page_with_a_cursor(admin: Client) -> None:
    first = admin.ok("get", "/api/v1/currencies?limit=100")
    assert first["has_more"] is True
    second = admin.ok("get", f"/api/v1/currencies?limit=100&cursor={first['next_cursor']}")
    codes = [c["code"] for c in first["items"] + second["items"]]
    assert codes == sorted(set(codes)) and second["has_more"] is False


# -- rates ----------------------------------------------------------------------------

def test_recording_and_listing_rates(admin: Client, accountant: Client) -> None:
    enable(admin, "PLN", "USD")
    r = admin.ok("post", RATES, {"currency": "PLN", "date": "2026-12-04", "rate": "4.2750", "source": "ecb"},
                 status=201)
    assert r["rate"] == "4.2750" and r["source"] == "ecb" and r["used"] is False
    admin.ok("post", RATES, {"currency": "PLN", "date": "2026-12-03", "rate": "4.2811"}, status=201)
    admin.ok("post", RATES, {"currency": "USD", "date": "2026-12-04", "rate": "1.1654"}, status=201)
    listed = accountant.ok("get", f"{RATES}?currency=PLN")["items"]
    assert [(x["date"], x["rate"], x["source"]) for x in listed] == [
        ("2026-12-04", "4.2750", "ecb"), ("2026-12-03", "4.2811", "manual")]
    one_day = accountant.ok("get", f"{RATES}?from=2026-12-04&to=2026-12-04")["items"]
    assert [(x["currency"], x["rate"]) for x in one_day] == [("PLN", "4.2750"), ("USD", "1.1654")]
    page1 = accountant.ok("get", f"{RATES}?limit=2")
    page2 = accountant.ok("get", f"{RATES}?limit=2&cursor={page1['next_cursor']}")
    assert [x["currency"] + x["date"] for x in page1["items"] + page2["items"]] == [
        "PLN2026-12-04", "USD2026-12-04", "PLN2026-12-03"]
    assert page2["has_more"] is False


def test_the_same_rate_again_changes_nothing_and_another_replaces_it(admin: Client, engine: Engine) -> None:
    enable(admin, "PLN")
    body = {"currency": "PLN", "date": "2026-12-04", "rate": "4.2750"}
    first = admin.ok("post", RATES, body, status=201)
    again = admin.ok("post", RATES, {**body, "rate": "4.27500"}, status=201)
    assert again["id"] == first["id"] and again["updated_at"] == first["updated_at"]
    changed = admin.ok("post", RATES, {**body, "rate": "4.2760"}, status=201)
    assert changed["id"] == first["id"] and changed["rate"] == "4.2760"
    assert rate_count(engine) == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"currency": "PLN", "rate": "0"}, "rate"),
    ({"currency": "PLN", "rate": "0.0000"}, "rate"),
    ({"currency": "PLN", "rate": "-4.27"}, "rate"),
    ({"currency": "PLN", "rate": "4.27501234567"}, "rate"),
    ({"currency": "PLN", "rate": 4.275}, "rate"),
    ({"currency": "PLN", "rate": "abc"}, "rate"),
    ({"currency": "USD", "rate": "1.1654"}, "currency"),  # not enabled
    ({"currency": "XYZ", "rate": "1.1"}, "currency"),  # not a currency
    ({"currency": "EUR", "rate": "1"}, "currency"),  # its rate is 1 by definition
    ({"currency": "PLN", "rate": "4.27", "date": "2026-02-30"}, "date"),
])
def test_bad_rates_are_422_on_their_field_and_write_nothing(
        admin: Client, engine: Engine, body: dict[str, Any], field: str) -> None:
    enable(admin, "PLN")
    r = admin.post(RATES, {"date": "2026-12-04", **body})
    assert field in fields_of(r)
    assert rate_count(engine) == 0


def test_a_used_rate_of_a_closed_period_cannot_change(admin: Client, engine: Engine) -> None:
    enable(admin, "PLN")
    admin.ok("post", RATES, {"currency": "PLN", "date": "2026-01-30", "rate": "4.2150"}, status=201)
    admin.ok("post", RATES, {"currency": "PLN", "date": "2026-01-29", "rate": "4.2200"}, status=201)
    with unit_of_work(engine, "test") as tx:
        used = fx.rate_on(tx, "PLN", dt.date(2026, 1, 30), use=True)
    assert used.rate == Decimal("4.2150")
    with engine.begin() as c:
        c.execute(insert(m.Period.__table__), {"period": "2026-01", "closed_at": dt.datetime.now(dt.timezone.utc),
                                                "closed_by": "test"})
    r = admin.post(RATES, {"currency": "PLN", "date": "2026-01-30", "rate": "4.3000"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "period_closed"
    assert r.get_json()["error"]["details"] == {"period": "2026-01", "currency": "PLN", "date": "2026-01-30"}
    # the same rate again is no change; an unused rate of the closed month may still be corrected
    admin.ok("post", RATES, {"currency": "PLN", "date": "2026-01-30", "rate": "4.2150"}, status=201)
    assert admin.ok("post", RATES, {"currency": "PLN", "date": "2026-01-29", "rate": "4.2210"},
                    status=201)["rate"] == "4.2210"
    listed = {x["date"]: x for x in admin.ok("get", f"{RATES}?currency=PLN")["items"]}
    assert listed["2026-01-30"]["rate"] == "4.2150" and listed["2026-01-30"]["used"] is True


# -- the rate of a day ---------------------------------------------------------------------

def test_rate_on_takes_the_day_or_the_latest_earlier_day_within_the_allowed_days(
        admin: Client, engine: Engine) -> None:
    enable(admin, "PLN")
    admin.ok("post", RATES, {"currency": "PLN", "date": "2026-12-04", "rate": "4.2750", "source": "ecb"},
             status=201)
    with unit_of_work(engine, "test", readonly=True) as tx:
        friday = fx.rate_on(tx, "PLN", dt.date(2026, 12, 4))
        sunday = fx.rate_on(tx, "PLN", dt.date(2026, 12, 6))
        eur = fx.rate_on(tx, "EUR", dt.date(2026, 12, 6))
        with pytest.raises(fx.RateMissing) as exc:
            fx.rate_on(tx, "PLN", dt.date(2026, 12, 9))
        with pytest.raises(fx.RateMissing):
            fx.rate_on(tx, "PLN", dt.date(2026, 12, 6), fallback_days=1)
        with pytest.raises(fx.RateMissing) as before:
            fx.rate_on(tx, "PLN", dt.date(2026, 12, 3))
    assert (friday.rate, friday.fallback) == (Decimal("4.2750"), False)
    assert (sunday.rate, sunday.date, sunday.source, sunday.fallback) == (
        Decimal("4.2750"), dt.date(2026, 12, 4), "ecb", True)
    assert eur.rate == 1
    assert exc.value.details == {"currency": "PLN", "date": "2026-12-09", "fallback_days": 4,
                                 "latest": {"date": "2026-12-04", "rate": "4.2750000000"}}
    assert before.value.details["latest"] is None


# -- price lists ----------------------------------------------------------------------------

def test_a_price_is_the_fixed_price_or_the_eur_price_at_the_days_rate(admin: Client, clerk: Client) -> None:
    enable(admin, "PLN", "JPY")
    product(admin, "RETRO-CLOCK", "19.90")
    admin.ok("post", RATES, {"currency": "PLN", "date": "2026-12-04", "rate": "4.2750"}, status=201)
    admin.ok("post", RATES, {"currency": "JPY", "date": "2026-12-04", "rate": "163.45"}, status=201)

    converted = clerk.ok("get", "/api/v1/fx/prices/RETRO-CLOCK?currency=PLN&on=2026-12-06")
    assert converted["unit_price"] == "85.07" and converted["basis"] == "converted"  # 19.90 × 4.2750 = 85.0725
    assert converted["rate"] == {"currency": "PLN", "rate": "4.2750", "date": "2026-12-04", "source": "manual",
                                 "requested_date": "2026-12-06", "fallback": True}
    yen = clerk.ok("get", "/api/v1/fx/prices/RETRO-CLOCK?currency=JPY&on=2026-12-04")
    assert yen["unit_price"] == "3253" and yen["minor_units"] == 0  # 3252.655 → 3253

    fixed = admin.ok("post", "/api/v1/fx/prices", {"sku": "RETRO-CLOCK", "currency": "PLN", "unit_price": "84.9"},
                     status=201)
    assert fixed["unit_price"] == "84.90"
    quoted = clerk.ok("get", "/api/v1/fx/prices/RETRO-CLOCK?currency=PLN&on=2026-12-06")
    assert (quoted["unit_price"], quoted["basis"], quoted["rate"]) == ("84.90", "price_list", None)
    admin.ok("post", "/api/v1/fx/prices", {"sku": "RETRO-CLOCK", "currency": "PLN", "unit_price": "89.00"},
             status=201)
    assert [(p["sku"], p["currency"], p["unit_price"]) for p in clerk.ok("get", "/api/v1/fx/prices")["items"]] == [
        ("RETRO-CLOCK", "PLN", "89.00")]
    eur = clerk.ok("get", "/api/v1/fx/prices/RETRO-CLOCK?currency=EUR")
    assert (eur["unit_price"], eur["basis"]) == ("19.90", "product")


def test_no_rate_for_the_day_is_a_409_rate_missing(admin: Client) -> None:
    enable(admin, "USD")
    product(admin, "RETRO-CLOCK", "19.90")
    r = admin.get("/api/v1/fx/prices/RETRO-CLOCK?currency=USD&on=2026-12-06")
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "rate_missing" and err["details"]["currency"] == "USD" and err["details"]["latest"] is None


@pytest.mark.parametrize(("body", "field"), [
    ({"currency": "JPY", "unit_price": "100.5"}, "unit_price"),
    ({"currency": "PLN", "unit_price": "10.001"}, "unit_price"),
    ({"currency": "PLN", "unit_price": "0"}, "unit_price"),
    ({"currency": "USD", "unit_price": "10.00"}, "currency"),
    ({"currency": "EUR", "unit_price": "10.00"}, "currency"),
])
def test_bad_prices_are_422_on_their_field(admin: Client, body: dict[str, Any], field: str) -> None:
    enable(admin, "PLN", "JPY")
    product(admin, "RETRO-CLOCK", "19.90")
    assert field in fields_of(admin.post("/api/v1/fx/prices", {"sku": "RETRO-CLOCK", **body}))


def test_a_price_for_an_unknown_product_is_404(admin: Client) -> None:
    enable(admin, "PLN")
    r = admin.post("/api/v1/fx/prices", {"sku": "NOPE", "currency": "PLN", "unit_price": "1.00"})
    assert r.status_code == 404


# -- who may do what ------------------------------------------------------------------------

ENDPOINTS = {
    "list_currencies": ("get", "/api/v1/currencies", None),
    "set_currency": ("post", "/api/v1/currencies", {"code": "PLN", "enabled": True}),
    "record_rate": ("post", RATES, {"currency": "PLN", "date": "2026-12-04", "rate": "4.2750"}),
    "list_rates": ("get", RATES, None),
    "set_price": ("post", "/api/v1/fx/prices", {"sku": "RETRO-CLOCK", "currency": "PLN", "unit_price": "84.90"}),
    "list_prices": ("get", "/api/v1/fx/prices", None),
    "price_for": ("get", "/api/v1/fx/prices/RETRO-CLOCK?currency=EUR", None),
}
# Administrators write; accountants and clerks read; webshops read the currencies only.
ALLOWED = {
    "admin": set(ENDPOINTS),
    "accountant": {"list_currencies", "list_rates", "list_prices", "price_for"},
    "clerk": {"list_currencies", "list_rates", "list_prices", "price_for"},
    "webshop": {"list_currencies"},
}


@pytest.mark.parametrize("role", sorted(ALLOWED))
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_permissions(app: Any, keys: dict[str, str], admin: Client, engine: Engine, role: str, endpoint: str) -> None:
    product(admin, "RETRO-CLOCK", "19.90")
    if endpoint in ("record_rate", "set_price"):
        enable(admin, "PLN")
    method, path, body = ENDPOINTS[endpoint]
    caller = Client(app.test_client(), keys[role])
    before = rate_count(engine)
    r = caller.get(path) if method == "get" else caller.post(path, body)
    if endpoint in ALLOWED[role]:
        assert r.status_code in (200, 201), (r.status_code, r.get_json())
    else:
        assert r.status_code == 403, (r.status_code, r.get_json())
        assert r.get_json()["error"]["code"] == "forbidden"
        assert rate_count(engine) == before
