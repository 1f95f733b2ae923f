"""The schema comes only from migrations: after ``upgrade head`` the database
matches the models exactly, and the newest revision downgrades cleanly."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from o2c.db.migrate import at_head, upgrade
from o2c.db.models import Base

EVENTS_OUT = {"webhooks", "webhook_deliveries", "webhook_attempts", "jobs"}


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    assert at_head(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        assert compare_metadata(ctx, Base.metadata) == []


def test_the_events_out_revision_downgrades_and_upgrades_again(engine: Engine) -> None:
    from alembic import command
    from o2c.db.migrate import alembic_config

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert not EVENTS_OUT & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert EVENTS_OUT <= set(inspect(engine).get_table_names())
