"""The schema comes only from Alembic migrations, and they build exactly what
the SQLAlchemy models describe: on a fresh database, upgrade to head and
autogenerate finds nothing left to do."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from o2c.db.engine import make_engine
from o2c.db.migrate import at_head, upgrade
from o2c.db.models import Base

PG_URL = os.environ.get("O2C_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database: a new SQLite file, or a new schema in the PostgreSQL
    test database (first on the search path, so nothing else is visible)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
        yield engine
        engine.dispose()
        return
    schema = f"mig_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_a_fresh_database_starts_empty_and_behind(fresh: Engine) -> None:
    assert inspect(fresh).get_table_names() == []
    assert at_head(fresh) is False


def test_migrations_build_exactly_the_models(fresh: Engine) -> None:
    upgrade(fresh)

    assert at_head(fresh) is True
    with fresh.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_every_model_table_exists_after_upgrade(fresh: Engine) -> None:
    upgrade(fresh)
    tables = set(inspect(fresh).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert tables - set(Base.metadata.tables) == {"alembic_version"}


def test_upgrading_twice_changes_nothing(fresh: Engine) -> None:
    upgrade(fresh)
    with fresh.connect() as conn:
        seeded = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("accounts", "company")}
    upgrade(fresh)
    assert at_head(fresh) is True
    with fresh.connect() as conn:
        again = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("accounts", "company")}
    assert again == seeded
    assert seeded["accounts"] >= 8 and seeded["company"] == 1


def test_every_revision_downgrades_to_nothing_and_upgrades_again(fresh: Engine) -> None:
    from alembic import command

    from o2c.db.migrate import alembic_config
    upgrade(fresh)
    cfg = alembic_config(fresh.url.render_as_string(hide_password=False))
    with fresh.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(fresh).get_table_names()) <= {"alembic_version"}
    upgrade(fresh)
    with fresh.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata) == []


def test_a_database_with_business_in_it_migrates_down_and_up_keeping_it(fresh: Engine) -> None:
    """Upgrading a database in use: batch migrations rebuild tables that other
    tables' rows refer to (orders, order lines, payments) — nothing may be lost
    or left pointing nowhere, on SQLite as on PostgreSQL."""
    from o2c.db.migrate import downgrade
    from o2c.demo import load_demo
    upgrade(fresh)
    # Nine orders: one in each state the schema at 0004 can hold (the demo's
    # tenth state, a refunded return, needs negative allocations from 0007).
    load_demo(fresh, orders=9)
    tables = ("customers", "orders", "order_lines", "shipments", "invoices", "payments", "payment_allocations",
              "journal_entries", "journal_lines", "stock_movements")

    def counts() -> dict[str, int]:
        with fresh.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
    def shipped_costs() -> list[tuple[int, int]]:
        with fresh.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "SELECT id, shipped_cost FROM order_lines WHERE shipped_quantity > 0 ORDER BY id")).all()]
    before, costs = counts(), shipped_costs()
    # (and the four orders of the regular customer who then stopped ordering: the win-back story, the
    # order the demo's accepted quotation became, shipped, this morning's reorders of those due, and
    # the two złoty orders of the Polish café)
    assert before["orders"] >= 9 + 4 + 1 + 2 and before["payment_allocations"] > 0 and any(c for _, c in costs)
    downgrade(fresh, "0004")  # before cancellations, backorders, returns and credit notes
    assert counts() == before
    upgrade(fresh)
    assert at_head(fresh) is True and counts() == before
    assert shipped_costs() == costs  # 0008 fills each line's cost again from the shipment movements
    if fresh.dialect.name == "sqlite":
        with fresh.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1  # enforcement is back on


def test_0010_shares_each_customer_with_the_webshop_channels_that_ordered_for_it(fresh: Engine) -> None:
    """Existing webshop integrations keep working: a customer is shared with
    every webshop channel that has ordered for it, and with nothing else (not
    the back office's ``web`` channel, not a channel another key role ordered in)."""
    from o2c.db.migrate import downgrade
    from o2c.demo import load_demo
    upgrade(fresh)
    load_demo(fresh, orders=12)
    with fresh.begin() as conn:
        # An admin key's orders are in a channel named after it: not a webshop's.
        conn.execute(text("UPDATE orders SET channel = 'demo-admin' WHERE id = "
                          "(SELECT min(id) FROM orders WHERE channel = 'web')"))
        ordered = {tuple(r) for r in conn.execute(text(
            "SELECT DISTINCT customer_id, channel FROM orders WHERE channel NOT IN ('web', 'quote')"))}
    assert {ch for _, ch in ordered} == {"demo-shop", "demo-admin"}
    downgrade(fresh, "0009")
    assert "customer_channels" not in inspect(fresh).get_table_names()
    upgrade(fresh)
    with fresh.connect() as conn:
        shared = {tuple(r) for r in conn.execute(text("SELECT customer_id, channel FROM customer_channels"))}
    assert shared == {(c, ch) for c, ch in ordered if ch == "demo-shop"}
    assert shared  # the demo's webshop has ordered


def test_0011_gives_existing_keys_their_name_as_channel(fresh: Engine) -> None:
    """Keys made before API keys had channels keep ordering for the channel
    they had (their name), and a name may then serve several keys."""
    upgrade(fresh, "0009")
    with fresh.begin() as c:
        c.execute(text("INSERT INTO api_keys (name, role, prefix, key_hash, created_at) VALUES "
                       "('shop-a', 'webshop', 'aaaa0000', 'h1', CURRENT_TIMESTAMP), "
                       "('clerk', 'clerk', 'bbbb0000', 'h2', CURRENT_TIMESTAMP)"))
    upgrade(fresh)
    with fresh.begin() as c:
        rows = c.execute(text("SELECT name, channel, expires_at, last_used_at FROM api_keys ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("shop-a", "shop-a", None, None), ("clerk", "clerk", None, None)]
        c.execute(text("INSERT INTO api_keys (name, channel, role, prefix, key_hash, created_at) VALUES "
                       "('shop-a', 'shop-a', 'webshop', 'cccc0000', 'h3', CURRENT_TIMESTAMP)"))
        assert c.execute(text("SELECT count(*) FROM api_keys WHERE name = 'shop-a'")).scalar_one() == 2
