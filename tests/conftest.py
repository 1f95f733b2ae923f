"""Fixtures: a migrated database per test (SQLite by default; PostgreSQL when
O2C_TEST_DATABASE_URL points at one), an app, and API clients per role."""
from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from o2c import create_app
from o2c.config import Config
from o2c.db.engine import make_engine
from o2c.db.migrate import upgrade
from o2c.db.models import Base
from o2c.services.platform import apikeys
from o2c.services.platform.uow import unit_of_work

PG_URL = os.environ.get("O2C_TEST_DATABASE_URL", "")
#: Rows the migrations seed (chart of accounts, company, chain head, …), taken
#: right after migrating and put back after each PostgreSQL test's truncation.
SEEDED: dict[str, list[dict[str, Any]]] = {}


def pytest_report_header(config: Any) -> str:
    return f"o2c database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (file per test)'}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many e-invoices the official EN 16931 rules checked in this run."""
    from tests.documents.official import summary
    line = summary()
    if line:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite: migrate once, copy the file per test. PostgreSQL: migrate once."""
    if PG_URL:
        engine = make_engine(PG_URL)
        upgrade(engine)
        _truncate_pg(engine, restore=False)  # a database left over from an earlier run
        upgrade(engine)
        with engine.connect() as c:
            for t in Base.metadata.sorted_tables:
                rows = [dict(r) for r in c.execute(t.select()).mappings()]
                if rows:
                    SEEDED[t.name] = rows
        engine.dispose()
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return str(path)


def _truncate_pg(engine: Engine, restore: bool = True) -> None:
    """Empty every table, then put the seeded rows back (or drop the schema's
    contents entirely when ``restore`` is false, so migrations seed it again)."""
    tables = [t.name for t in Base.metadata.sorted_tables]
    with engine.begin() as c:
        if not restore:
            c.execute(text("DROP TABLE IF EXISTS " + ", ".join([*tables, "alembic_version"]) + " CASCADE"))
            return
        c.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        for t in Base.metadata.sorted_tables:
            if t.name in SEEDED:
                c.execute(t.insert(), SEEDED[t.name])
                if "id" in t.c and t.c.id.primary_key:
                    # Seeded rows carry their ids: new rows number on after them.
                    c.execute(text(f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "
                                   f"(SELECT max(id) FROM {t.name}))"))


@pytest.fixture
def db_url(_template: str, tmp_path: Path) -> str:
    if PG_URL:
        engine = make_engine(PG_URL)
        _truncate_pg(engine)
        engine.dispose()
        return PG_URL
    target = tmp_path / "o2c.sqlite3"
    shutil.copy(_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> Iterator[None]:
    """Per-process caches (chart of accounts, company settings) must not
    carry one test's database into the next."""
    from o2c.services.billing import invoicing
    from o2c.services.platform import uow
    uow.forget_chart()
    invoicing.forget_settings()
    yield


@pytest.fixture
def app(db_url: str) -> Iterator[Any]:
    # Rate limits off (tests/api/test_rate_limits.py switches them on).
    application = create_app(Config(DATABASE_URL=db_url, ENV="testing", RATELIMIT_ENABLED=False))
    application.config["TESTING"] = True
    yield application
    application.extensions["o2c.engine"].dispose()


@pytest.fixture
def engine(app: Any) -> Engine:
    return app.extensions["o2c.engine"]


class Client:
    """A JSON API client holding one API key."""

    def __init__(self, flask_client: Any, key: str):
        self.c = flask_client
        self.key = key

    def _h(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **(headers or {})}

    def get(self, path: str, **kw: Any) -> Any:
        return self.c.get(path, headers=self._h(kw.pop("headers", None)), **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.c.post(path, json=json, headers=self._h(kw.pop("headers", None)), **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.c.patch(path, json=json, headers=self._h(kw.pop("headers", None)), **kw)

    def ok(self, method: str, path: str, json: Any = None, status: int | None = None, **kw: Any) -> Any:
        """Call and insist on success; return the JSON body."""
        r = getattr(self, method)(path, json=json, **kw) if method != "get" else self.get(path, **kw)
        expected = status or (201 if method == "post" and r.status_code == 201 else 200)
        assert r.status_code == expected, (r.status_code, r.get_json())
        return r.get_json()


def make_key(engine: Engine, name: str, role: str) -> str:
    with unit_of_work(engine, "test") as tx:
        return apikeys.create_api_key(tx, name, role)[1]


@pytest.fixture
def keys(engine: Engine) -> dict[str, str]:
    return {role: make_key(engine, name, role) for name, role in [
        ("shop-a", "webshop"), ("clerk", "clerk"), ("accountant", "accountant"), ("admin", "admin"),
    ]} | {"webshop_b": make_key(engine, "shop-b", "webshop")}


@pytest.fixture
def admin(app: Any, keys: dict[str, str]) -> Client:
    return Client(app.test_client(), keys["admin"])


@pytest.fixture
def shop(app: Any, keys: dict[str, str]) -> Client:
    return Client(app.test_client(), keys["webshop"])


@pytest.fixture
def shop_b(app: Any, keys: dict[str, str]) -> Client:
    return Client(app.test_client(), keys["webshop_b"])


@pytest.fixture
def clerk(app: Any, keys: dict[str, str]) -> Client:
    return Client(app.test_client(), keys["clerk"])


@pytest.fixture
def accountant(app: Any, keys: dict[str, str]) -> Client:
    return Client(app.test_client(), keys["accountant"])


# -- builders ------------------------------------------------------------------

ADDRESS = {"name": "Giulia Rossi", "line1": "Via Dante 5", "city": "Milano", "postal_code": "20121", "country": "IT"}


def customer(api: Client, code: str = "C-ROSSI", **over: Any) -> dict[str, Any]:
    body = {"code": code, "name": "Rossi Arredamenti", "email": "ordini@rossi.example", "country": "IT",
            "language": "it", "payment_terms_days": 30, "billing_address": ADDRESS, **over}
    return api.ok("post", "/api/v1/customers", body, status=201)


def product(api: Client, sku: str, price: str, vat: str = "0.22", stock: int = 0, cost: str = "1.00") -> dict[str, Any]:
    p = api.ok("post", "/api/v1/products", {"sku": sku, "name": sku.title(), "unit_price": price, "vat_rate": vat},
               status=201)
    if stock:
        api.ok("post", "/api/v1/stock/receipts", {"sku": sku, "quantity": stock, "unit_cost": cost}, status=201)
    return p


def order(api: Client, customer_code: str, lines: list[tuple[str, int]], confirm: bool = True,
          headers: dict[str, str] | None = None, **over: Any) -> Any:
    body = {"customer": {"code": customer_code}, "currency": "EUR",
            "lines": [{"sku": s, "quantity": q} for s, q in lines], "confirm": confirm, **over}
    return api.post("/api/v1/orders", body, headers=headers)


def D(x: str) -> Decimal:
    return Decimal(x)


def reconciliation_ok(api: Client, as_of: dt.date | None = None) -> dict[str, Any]:
    rep = api.ok("get", "/api/v1/reconciliation" + ("" if as_of is None else f"?as_of={as_of.isoformat()}"))
    bad = [c for c in rep["checks"] if c["difference"] not in ("0", "0.00")]
    assert rep["ok"] and not bad, bad
    return rep
