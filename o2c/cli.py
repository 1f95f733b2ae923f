"""The ``o2c`` command line."""
from __future__ import annotations

import os
import sys

import click

from o2c.config import Config


def _engine():  # type: ignore[no-untyped-def]
    from o2c.db.engine import make_engine
    cfg = Config()
    return make_engine(cfg.DATABASE_URL, cfg.SQLITE_BUSY_TIMEOUT_MS)


@click.group()
def main() -> None:
    """o2c: order-to-cash. The database is $O2C_DATABASE_URL (default: instance/o2c.sqlite3)."""


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema."""
    from o2c.db.migrate import upgrade
    engine = _engine()
    upgrade(engine, revision)
    click.echo(f"database at {revision}: {engine.url.render_as_string(hide_password=True)}")


@main.command("create-api-key")
@click.option("--name", required=True, help="The key's name; a webshop key's name is its channel.")
@click.option("--role", required=True, type=click.Choice(["webshop", "clerk", "accountant", "admin"]))
def create_api_key(name: str, role: str) -> None:
    """Create an API key and print it (once: only its hash is stored)."""
    from o2c.domain.errors import DomainError
    from o2c.services import apikeys
    from o2c.services.uow import unit_of_work
    try:
        with unit_of_work(_engine(), "cli") as tx:
            _, key = apikeys.create_api_key(tx, name, role)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(key)


@main.command("create-user")
@click.option("--username", required=True, help="The name the user signs in with.")
@click.option("--role", required=True, type=click.Choice(["clerk", "accountant", "admin"]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for when not given (better: it stays out of the shell history).")
def create_user(username: str, role: str, password: str) -> None:
    """Create a back-office user who signs in to the web forms."""
    from o2c.domain.errors import DomainError
    from o2c.services import users
    from o2c.services.uow import unit_of_work
    engine = _engine()
    try:
        with unit_of_work(engine, "cli") as tx:
            users.create_user(tx, username, password, role)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        engine.dispose()
    click.echo(f"user {username!r} created with role {role}")


@main.command("set-password")
@click.option("--username", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def set_password(username: str, password: str) -> None:
    """Set a user's password (ends the user's sessions and lifts a lockout)."""
    from o2c.domain.errors import DomainError
    from o2c.services import users
    from o2c.services.uow import unit_of_work
    engine = _engine()
    try:
        with unit_of_work(engine, "cli") as tx:
            users.set_password(tx, username, password)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        engine.dispose()
    click.echo(f"password of {username!r} changed")


@main.command()
@click.option("--orders", default=24, show_default=True, help="How many demo orders.")
def demo(orders: int) -> None:
    """Load a small realistic data set (after `db upgrade`); prints demo API keys."""
    from o2c.demo import load_demo
    from o2c.db.migrate import upgrade
    engine = _engine()
    upgrade(engine)
    keys = load_demo(engine, orders)
    for name, key in keys.items():
        click.echo(f"{name:12} {key}")
    from o2c.demo import DEMO_PASSWORD, DEMO_USERS, ensure_demo_users
    ensure_demo_users(engine)
    click.echo("web sign-in (/login): " + ", ".join(name for name, _ in DEMO_USERS)
               + f" with password {DEMO_PASSWORD!r}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=os.cpu_count() or 2, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=int,
              help="Threads per worker (gthread); helps when the database is remote.")
@click.option("--access-log/--no-access-log", default=True, show_default=True)
def serve(host: str, port: int, workers: int, threads: int, access_log: bool) -> None:
    """Serve the web app and API with gunicorn."""
    args = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
            "--threads", str(threads), "--backlog", "2048", "o2c.wsgi:app"]
    if access_log:
        args[-1:-1] = ["--access-logfile", "-"]
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()
