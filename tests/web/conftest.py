"""The back office through Flask's test client: signed-in users per role,
CSRF tokens taken from the pages as a browser would, and data set up
through the services."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from o2c.domain.access import SYSTEM
from o2c.services.customers import records
from o2c.services.fulfilment import shipping, stock
from o2c.services.platform import users
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import catalog, orders

PASSWORD = "correct horse battery"
ADDRESS = {"name": "Rossi Arredamenti", "line1": "Via Dante 5", "city": "Milano", "postal_code": "20121",
           "country": "IT"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


class Web:
    """A browser-like client: signs in, keeps the session, sends the CSRF token."""

    def __init__(self, flask_client: Any):
        self.c = flask_client
        self.csrf = ""

    def login(self, username: str, password: str = PASSWORD) -> Any:
        page = self.c.get("/login")
        token = _CSRF.search(page.text).group(1)
        r = self.c.post("/login", data={"csrf_token": token, "username": username, "password": password})
        if r.status_code == 303:
            self.csrf = _CSRF.search(self.c.get("/").text).group(1)
        return r

    def get(self, path: str, **kw: Any) -> Any:
        return self.c.get(path, **kw)

    def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True, **kw: Any) -> Any:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        return self.c.post(path, data=body, **kw)

    def form_token(self, path: str) -> str:
        """The form token a page hands out (as a browser would send it back)."""
        return _FORM_TOKEN.search(self.get(path).text).group(1)


def make_user(engine: Engine, username: str, role: str, password: str = PASSWORD) -> None:
    with unit_of_work(engine, "test") as tx:
        users.create_user(tx, username, password, role)


@pytest.fixture
def people(engine: Engine) -> dict[str, str]:
    for name, role in (("clerk", "clerk"), ("accountant", "accountant"), ("admin", "admin")):
        make_user(engine, name, role)
    return {"clerk": "clerk", "accountant": "accountant", "admin": "admin"}


def _signed_in(app: Any, people: dict[str, str], who: str) -> Web:
    w = Web(app.test_client())
    assert w.login(who).status_code == 303
    return w


@pytest.fixture
def clerk_web(app: Any, people: dict[str, str]) -> Web:
    return _signed_in(app, people, "clerk")


@pytest.fixture
def accountant_web(app: Any, people: dict[str, str]) -> Web:
    return _signed_in(app, people, "accountant")


@pytest.fixture
def admin_web(app: Any, people: dict[str, str]) -> Web:
    return _signed_in(app, people, "admin")


# -- data through the services --------------------------------------------------------

def add_customer(engine: Engine, code: str = "C-ROSSI", **over: Any) -> dict[str, Any]:
    data = {"code": code, "name": "Rossi Arredamenti", "email": "ordini@rossi.example", "country": "IT",
            "language": "it", "payment_terms_days": 30, "credit_limit": None, **over}
    data.setdefault("billing_address", {**ADDRESS, "name": data["name"]})
    with unit_of_work(engine, "test") as tx:
        return records.create_customer(tx, data)


def add_product(engine: Engine, sku: str, price: str, vat: str = "0.22", on_hand: int = 0,
                cost: str = "1.00") -> None:
    with unit_of_work(engine, "test") as tx:
        catalog.create_product(tx, {"sku": sku, "name": sku.replace("-", " ").title(), "unit_price": Decimal(price),
                                    "vat_rate": Decimal(vat), "unit": "pcs", "active": True})
        if on_hand:
            stock.receive(tx, sku, on_hand, Decimal(cost))


def add_order(engine: Engine, code: str, lines: list[tuple[str, int]], confirm: bool = True) -> dict[str, Any]:
    with unit_of_work(engine, "test") as tx:
        return orders.create_order(tx, SYSTEM, {
            "customer": {"code": code}, "currency": "EUR", "confirm": confirm,
            "lines": [{"sku": s, "quantity": q} for s, q in lines]})


def pack_and_ship(engine: Engine, order_id: int, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    with unit_of_work(engine, "test") as tx:
        sh = shipping.pack(tx, order_id, SYSTEM, lines)
    with unit_of_work(engine, "test") as tx:
        return shipping.ship(tx, sh["id"], SYSTEM, "BRT", "BRT0001")


@pytest.fixture
def shop(engine: Engine) -> dict[str, Any]:
    """A customer and two products in stock (a clock and a lamp)."""
    c = add_customer(engine)
    add_product(engine, "RETRO-CLOCK", "40.00", on_hand=10, cost="15.00")
    add_product(engine, "DESK-LAMP", "25.00", vat="0.10", on_hand=5, cost="9.00")
    return {"customer": c}


def flashes(html: str) -> str:
    """The text of the flash messages and problem boxes on a page."""
    found = re.findall(r'class="(?:flash [^"]*|problem)"[^>]*>(.*?)</div>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", f) for f in found)
