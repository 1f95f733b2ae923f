"""The ``o2c`` command line."""
from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

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


@main.group()
def invoices() -> None:
    """Invoice documents."""


@invoices.command("render")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First issue date (YYYY-MM-DD).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last issue date, included.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="A folder, or a file whose name ends in .zip.")
@click.option("-j", "--jobs", default=os.cpu_count() or 1, show_default=True, type=click.IntRange(min=1),
              help="Worker processes rendering at once.")
@click.option("--fresh", is_flag=True,
              help="Render every invoice again from the books; the stored documents stay as they are.")
def render_invoices(start: dt.datetime, end: dt.datetime, output: Path, jobs: int, fresh: bool) -> None:
    """Export the PDFs of the invoices issued in a period, one file per invoice
    (INV-2026-000045.pdf). Without --fresh these are the stored documents,
    rendered and stored first where they never were."""
    from o2c.services.document_batch import export_invoices
    if end < start:
        raise click.BadParameter("--to is before --from.", param_hint="--to")
    began = time.perf_counter()
    names = export_invoices(Config().DATABASE_URL, start.date(), end.date(), output, jobs=jobs, fresh=fresh)
    secs = time.perf_counter() - began
    click.echo(f"{len(names)} invoice{'s' if len(names) != 1 else ''} written to {output} in {secs:.1f} s")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=os.cpu_count() or 2, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=int,
              help="Threads per worker (gthread); helps when the database is remote.")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="gunicorn's own access log; o2c already logs one JSON line per request.")
def serve(host: str, port: int, workers: int, threads: int, access_log: bool) -> None:
    """Serve the web app and API with gunicorn."""
    args = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
            "--threads", str(threads), "--backlog", "2048", "o2c.wsgi:app"]
    if access_log:
        args[-1:-1] = ["--access-logfile", "-"]
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()
