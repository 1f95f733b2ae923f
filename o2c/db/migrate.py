"""Running Alembic from code: the schema is created only by migrations."""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Callable[[AlembicConfig, str], None], revision: str) -> None:
    """Run ``step`` in one transaction. On SQLite, a batch migration rebuilds a
    table (copy, drop, rename): with foreign keys enforced, dropping a table
    that rows of another table refer to fails, so enforcement is off while the
    migration runs (SQLite ignores the switch inside a transaction) and every
    reference is checked before the transaction commits."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # outside any transaction
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                step(cfg, revision)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration to {revision} left broken references: {broken[:5]}")
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")


@functools.cache
def head_revisions() -> frozenset[str]:
    """The revisions the migrations in this checkout end at. Reading them
    parses every migration file, so it is done once per process."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def schema_at_head(conn: Connection) -> bool:
    """The database behind ``conn`` is at the latest migration (false when it
    has none yet)."""
    return set(MigrationContext.configure(conn).get_current_heads()) == head_revisions()


def at_head(engine: Engine) -> bool:
    with engine.connect() as conn:
        return schema_at_head(conn)
