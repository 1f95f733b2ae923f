"""The ``o2c`` command line."""
from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from o2c.config import Config


def _engine(pool_size: int = 10):  # type: ignore[no-untyped-def]
    from o2c.db.engine import make_engine
    cfg = Config()
    return make_engine(cfg.DATABASE_URL, cfg.SQLITE_BUSY_TIMEOUT_MS, pool_size)


@contextmanager
def _db() -> Iterator[Any]:
    """An engine for one command, disposed (its connections closed) at the end."""
    engine = _engine()
    try:
        yield engine
    finally:
        engine.dispose()


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


def _expiry(value: dt.date | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.combine(value, dt.time(), dt.timezone.utc)


@main.command("create-api-key")
@click.option("--name", required=True, help="The key's name (a rotated key keeps it).")
@click.option("--role", required=True, type=click.Choice(["webshop", "clerk", "accountant", "admin"]))
@click.option("--channel", default=None, help="The channel a webshop key orders for (default: the name); "
                                              "several keys may serve one channel.")
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="YYYY-MM-DD: the key is refused from 00:00 UTC that day (default: never).")
def create_api_key(name: str, role: str, channel: str | None, expires: dt.datetime | None) -> None:
    """Create an API key and print it (once: only its hash is stored)."""
    from o2c.domain.errors import DomainError
    from o2c.services.platform import apikeys
    from o2c.services.platform.uow import unit_of_work
    try:
        with _db() as engine, unit_of_work(engine, "cli") as tx:
            _, key = apikeys.create_api_key(tx, name, role, channel,
                                            expires_at=_expiry(expires.date() if expires else None))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(key)


@main.group("api-keys", invoke_without_command=True)
@click.pass_context
def api_keys(ctx: click.Context) -> None:
    """API keys: list them, revoke one, rotate one (`o2c api-keys` alone lists)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(api_keys_list)


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M") if value else "-"


@api_keys.command("list")
def api_keys_list() -> None:
    """Every key, revoked ones too (times in UTC)."""
    from o2c.domain.access import SYSTEM
    from o2c.services.platform import apikeys
    from o2c.services.platform.uow import unit_of_work
    with _db() as engine, unit_of_work(engine, "cli", readonly=True) as tx:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page, cursor = apikeys.list_api_keys(tx, SYSTEM, cursor, 500)
            items += page
            if cursor is None:
                break
    if not items:
        click.echo("no API keys (create one with `o2c create-api-key`)")
        return
    head = ("id", "name", "channel", "role", "prefix", "status", "created", "last used", "expires", "revoked")
    rows = [(str(k["id"]), k["name"], k["channel"], k["role"], k["prefix"], k["status"], _when(k["created_at"]),
             _when(k["last_used_at"]), _when(k["expires_at"]), _when(k["revoked_at"])) for k in items]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())


@api_keys.command("revoke")
@click.argument("key_id", type=click.IntRange(min=1))
def api_keys_revoke(key_id: int) -> None:
    """Revoke the key KEY_ID (see `list`): refused from now on, in every process."""
    from o2c.domain.access import SYSTEM
    from o2c.domain.errors import DomainError
    from o2c.services.platform import apikeys
    from o2c.services.platform.uow import unit_of_work
    try:
        with _db() as engine, unit_of_work(engine, "cli") as tx:
            k = apikeys.revoke_api_key(tx, SYSTEM, key_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"API key {k['id']} ({k['name']}, channel {k['channel']}, o2c_{k['prefix']}_…) revoked")


@api_keys.command("rotate")
@click.argument("key_id", type=click.IntRange(min=1))
@click.option("--grace-minutes", type=click.IntRange(0, 7 * 24 * 60), default=0, show_default=True,
              help="How long the old key keeps working beside the new one.")
def api_keys_rotate(key_id: int, grace_minutes: int) -> None:
    """Replace the key KEY_ID by a new one (same name, channel and role),
    print the new key once, and revoke the old one (after the grace period)."""
    from o2c.domain.access import SYSTEM
    from o2c.domain.errors import DomainError
    from o2c.services.platform import apikeys
    from o2c.services.platform.uow import unit_of_work
    try:
        with _db() as engine, unit_of_work(engine, "cli") as tx:
            new, key = apikeys.rotate_api_key(tx, SYSTEM, key_id, grace_minutes)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(key)
    when = "now" if grace_minutes == 0 else f"in {grace_minutes} minute{'s' if grace_minutes != 1 else ''}"
    click.echo(f"new API key {new['id']} for {new['name']} (channel {new['channel']}, {new['role']}); "
               f"key {key_id} is revoked {when}", err=True)


@main.command("create-user")
@click.option("--username", required=True, help="The name the user signs in with.")
@click.option("--role", required=True, type=click.Choice(["clerk", "accountant", "admin"]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for when not given (better: it stays out of the shell history).")
def create_user(username: str, role: str, password: str) -> None:
    """Create a back-office user who signs in to the web forms."""
    from o2c.domain.errors import DomainError
    from o2c.services.platform import users
    from o2c.services.platform.uow import unit_of_work
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
    from o2c.services.platform import users
    from o2c.services.platform.uow import unit_of_work
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
    from o2c.db.migrate import upgrade
    from o2c.demo import load_demo
    engine = _engine()
    upgrade(engine)
    keys = load_demo(engine, orders)
    for name, key in keys.items():
        click.echo(f"{name:12} {key}")
    from o2c.demo import DEMO_PASSWORD, DEMO_USERS, ensure_demo_users
    ensure_demo_users(engine)
    click.echo("web sign-in (/login): " + ", ".join(name for name, _ in DEMO_USERS)
               + f" with password {DEMO_PASSWORD!r}")


@main.group("fx")
def fx_group() -> None:
    """Exchange rates: import the ECB's reference rates or a CSV, fetch from a live source."""


def _import_rates(engine: Any, name: str, rows: list[Any], include_disabled: bool, progress: bool) -> None:
    from tqdm import tqdm

    from o2c.domain.errors import DomainError
    from o2c.services.books import fx
    from o2c.services.books.fx_files import duplicates
    from o2c.services.platform.uow import unit_of_work
    clashes = duplicates(rows)
    if clashes:
        raise click.ClickException(f"{name}: two different rates for {', '.join(clashes[:5])}; nothing imported.")
    try:
        with tqdm(total=len(rows), unit=" rates", unit_scale=True, disable=not progress, file=sys.stderr,
                  desc=name) as bar, unit_of_work(engine, "cli") as tx:
            result = fx.import_rates(tx, rows, include_disabled=include_disabled, progress=bar.update)
    except DomainError as exc:
        raise click.ClickException(f"{name}: {exc.message} Nothing imported.") from None
    click.echo(f"{name}: {result.read} rates read; {result.added} added, {result.changed} changed, "
               f"{result.unchanged} unchanged.")
    if result.skipped:
        codes = ", ".join(result.skipped)
        click.echo(f"  left out (currencies not enabled, or not ISO 4217): {codes}")


@fx_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--include-disabled", is_flag=True,
              help="Also keep the rates of ISO 4217 currencies that are not enabled.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def fx_import(files: tuple[str, ...], include_disabled: bool, progress: bool) -> None:
    """Import exchange rates from files: the ECB's reference rates (eurofxref-daily.xml,
    eurofxref-hist.xml, eurofxref-hist.csv) or a CSV with the columns currency,date,rate[,source].

    Each file is imported whole or not at all; importing it again changes nothing."""
    from o2c.services.books.fx_files import BadRateFile, read_file
    with _db() as engine:
        for path in files:
            name = Path(path).name
            try:
                rows = read_file(path)
            except BadRateFile as exc:
                raise click.ClickException(f"{exc} Nothing imported from {name}.") from None
            _import_rates(engine, name, rows, include_disabled, progress)


@fx_group.command("fetch")
@click.option("--progress/--no-progress", default=False, show_default=True)
def fx_fetch(progress: bool) -> None:
    """Fetch today's rates from the configured live source (O2C_FX_PROVIDER_URL, the ECB's daily XML)."""
    from o2c.services.books.fx_files import BadRateFile
    from o2c.services.books.fx_provider import NotConfigured, fetch_rates
    url = Config().FX_PROVIDER_URL
    try:
        rows = fetch_rates(url)
    except (NotConfigured, BadRateFile) as exc:
        raise click.ClickException(str(exc)) from None
    with _db() as engine:
        _import_rates(engine, url, rows, False, progress)


@main.group()
def bank() -> None:
    """Bank statements: import the files the bank sends."""


@bank.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "kind", type=click.Choice(["camt.053", "mt940", "csv"]), default=None,
              help="The files' format; default: recognised from each file's first bytes.")
@click.option("--mapping", default=None, help="CSV: the bank account's column mapping to read with.")
@click.option("--account", default=None, help="CSV: the bank account's IBAN, when several have the mapping.")
def bank_import_files(files: tuple[Path, ...], kind: str | None, mapping: str | None, account: str | None) -> None:
    """Import statement files (CAMT.053, MT940, CSV), each whole or not at all; exits 1 if any was refused."""
    from tqdm import tqdm

    from o2c.domain.errors import DomainError
    from o2c.services.cash import bank_import
    from o2c.services.platform.uow import unit_of_work
    refused = 0
    with _db() as engine:
        for path in tqdm(files, desc="statements", unit="file", disable=len(files) < 2):
            data = path.read_bytes()
            try:
                with unit_of_work(engine, "cli:bank-import") as tx:
                    result = bank_import.import_file(tx, data, kind or bank_import.sniff_format(data), mapping,
                                                     account)
            except DomainError as exc:
                refused += 1
                tqdm.write(f"{path}: refused: {exc.message}", file=sys.stderr)
                continue
            for st in result.statements:
                tqdm.write(f"{path}: {st['statement_ref']} {st['account_iban']} {st['from_date']}..{st['to_date']}"
                           f" {st['line_count']} lines, continuity {st['continuity']}"
                           + ("" if result.created else " (imported before: nothing added)"))
    if refused:
        sys.exit(1)


@main.group()
def ledger() -> None:
    """The general ledger: seal and verify the hash chain, close periods, export."""


@ledger.command("seal")
def ledger_seal() -> None:
    """Seal committed journal entries into the hash chain (safe to run any time, from any host)."""
    from o2c.services.books.chain import seal_journal
    with _db() as engine:
        result = seal_journal(engine)
    click.echo(f"sealed {result.sealed} entries; chain head {result.head.seq} {result.head.hash}")


@ledger.command("verify")
def ledger_verify() -> None:
    """Seal, then recompute the hash chain; exits 1 and names the first broken link if any."""
    from o2c.services.books.chain import seal_journal, verify
    from o2c.services.platform.uow import unit_of_work
    with _db() as engine:
        seal_journal(engine)
        with unit_of_work(engine, "cli", readonly=True) as tx:
            report = verify(tx)
    if report["ok"]:
        click.echo(f"ok: {report['checked']} entries verified; chain head {report['head']['seq']} "
                   f"{report['head']['hash']}")
        return
    broken = report["first_broken"]
    click.echo(f"BROKEN at entry {broken['seq']} ({broken['reason']}): {broken['message']}", err=True)
    sys.exit(1)


def _date(value: str | None) -> "dt.date | None":
    import datetime as dt
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD).") from None


@ledger.command("export")
@click.option("--from", "date_from", help="First date (YYYY-MM-DD); default: the first entry.")
@click.option("--to", "date_to", help="Last date (YYYY-MM-DD); default: the last entry.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "saft"]), default="csv", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The file to write.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def ledger_export(date_from: str | None, date_to: str | None, fmt: str, output: str, progress: bool) -> None:
    """Export the journal lines of a date range (one row per line), streamed."""
    from tqdm import tqdm

    from o2c.services.books import exports
    from o2c.services.books.chain import seal_journal
    start, end = _date(date_from), _date(date_to)
    tmp = output + ".part"
    with _db() as engine:
        seal_journal(engine)
        with engine.connect() as conn:
            total = exports.count_lines(conn, start, end)
        with tqdm(total=total, unit=" lines", unit_scale=True, disable=not progress, file=sys.stderr) as bar, \
                open(tmp, "wb") as f:
            exports.write_journal(engine, fmt, start, end, f, bar.update)
    os.replace(tmp, output)
    click.echo(f"{total} journal lines written to {output}")


@ledger.command("close")
@click.argument("period")
def ledger_close(period: str) -> None:
    """Close a month (YYYY-MM) that has ended."""
    from o2c.domain.errors import DomainError
    from o2c.services.books import ledger as svc
    from o2c.services.books.chain import seal_journal
    from o2c.services.platform.uow import unit_of_work
    try:
        with _db() as engine:
            seal_journal(engine)
            with unit_of_work(engine, "cli") as tx:
                p = svc.close_period(tx, period)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{period} closed; chain anchor {p['chain_seq']} {p['chain_hash']}")


@ledger.command("reopen")
@click.argument("period")
@click.option("--reason", required=True, help="Why; kept in the audit trail.")
def ledger_reopen(period: str, reason: str) -> None:
    """Reopen a closed month (YYYY-MM)."""
    from o2c.domain.errors import DomainError
    from o2c.services.books import ledger as svc
    from o2c.services.platform.uow import unit_of_work
    try:
        with _db() as engine, unit_of_work(engine, "cli") as tx:
            svc.reopen_period(tx, period, reason)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{period} reopened")


@main.group()
def dunning() -> None:
    """Reminders for overdue invoices."""


@dunning.command("run")
@click.option("--as-of", "as_of", help="The date the run is for (YYYY-MM-DD); default today.")
@click.option("--days", help="Days overdue for reminder, second reminder, final notice (default $O2C_DUNNING_DAYS or 1,15,30).")
@click.option("--pdf-dir", type=click.Path(file_okay=False), help="Also write each letter's PDF here.")
def dunning_run(as_of: str | None, days: str | None, pdf_dir: str | None) -> None:
    """Find overdue invoices, record the letters that are due and queue their rendering, emit dunning.notice events."""
    from pathlib import Path

    from o2c.domain.errors import DomainError
    from o2c.services.billing.documents import render_dunning_letter
    from o2c.services.cash import dunning as svc
    from o2c.services.cash.dunning import RENDER_LETTER_JOB
    from o2c.services.platform.uow import unit_of_work
    try:
        thresholds = tuple(int(x) for x in days.split(",")) if days else Config().DUNNING_DAYS
    except ValueError:
        raise click.BadParameter("Use three numbers of days, e.g. 1,15,30.") from None
    with _db() as engine:
        try:
            with unit_of_work(engine, "cli") as tx:
                result = svc.run(tx, _date(as_of) or tx.today, thresholds)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        for letter in result["letters"]:
            click.echo(f"{letter['number']}  {letter['customer_code']:12} {letter['level_name']:16} "
                       f"{len(letter['invoices'])} invoice(s)  {letter['total']}")
            if pdf_dir:
                Path(pdf_dir).mkdir(parents=True, exist_ok=True)
                stored = render_dunning_letter(engine, letter["id"], actor="cli")
                (Path(pdf_dir) / stored.filename).write_bytes(stored.content)
    click.echo(f"{len(result['letters'])} letter(s), {result['notices']} notice(s) as of {result['as_of']}"
               + (f"; the worker renders the letters (job {RENDER_LETTER_JOB})" if result["letters"] and not pdf_dir
                  else ""))


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
    from o2c.services.billing.document_batch import export_invoices
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
@click.option("--graceful-timeout", default=30, show_default=True, type=click.IntRange(1, 3600),
              help="On SIGTERM, seconds in-flight requests have to finish before workers are killed.")
@click.option("--control-socket", default=None, metavar="PATH", type=click.Path(dir_okay=False),
              help="gunicorn's control socket for this instance. Off unless given: gunicorn's default, "
                   "~/.gunicorn/gunicorn.ctl, is shared by every instance of the same user.")
def serve(host: str, port: int, workers: int, threads: int, access_log: bool, graceful_timeout: int,
          control_socket: str | None) -> None:
    """Serve the web app and API with gunicorn. SIGTERM stops taking new
    connections and lets requests in flight finish (up to --graceful-timeout).
    The JSON line per request goes to standard error, or to the file named by
    O2C_REQUEST_LOG.

    The app is built once, before the port is opened, and the workers are
    forked from it ready to answer (gunicorn's --preload): nothing connects
    to a server that cannot serve yet, and a worker that dies is replaced at
    once. Code changes need a restart (not a HUP)."""
    args = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
            "--threads", str(threads), "--backlog", "2048", "--graceful-timeout", str(graceful_timeout),
            *(["--control-socket", control_socket] if control_socket else ["--no-control-socket"]),
            "--config", "python:o2c.serving", "--preload", "o2c.wsgi:app"]
    if access_log:
        args[-1:-1] = ["--access-logfile", "-"]
    os.execv(sys.executable, args)


def _lanes_help() -> str:
    from o2c.services.platform.lanes import DEFAULT_LANES, LANE_OF, OTHER_LANE
    kinds: dict[str, list[str]] = {}
    for kind, lane in LANE_OF.items():
        kinds.setdefault(lane, []).append(kind)
    kinds.setdefault(OTHER_LANE, []).append("any kind not listed")
    return "\n".join(f"  {lane:11} {', '.join(kinds.get(lane, ['(none yet)']))}" for lane in DEFAULT_LANES)


def _default_lanes() -> str:
    from o2c.services.platform.lanes import DEFAULT_LANES
    return ",".join(f"{lane}={n}" for lane, n in DEFAULT_LANES.items())


def _parse_lanes(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dict[str, int] | None:
    if value is None:
        return None
    from o2c.services.platform.lanes import parse_lanes
    try:
        return parse_lanes(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command(help=f"""Run background jobs: webhook deliveries, document renders and whatever else is queued.

Start as many as you like, on as many hosts as you like, against the same
database. SIGTERM or Ctrl-C stops claiming and waits for running jobs.

Every kind of job runs in a lane, and each lane has its own threads, so a
backlog in one lane (PDF renders) never delays another (webhook deliveries).

\b
Lanes and their job kinds:
{_lanes_help()}""")
@click.option("--lanes", "lanes", metavar="LANE=N,…", callback=_parse_lanes, default=None,
              help=f"Threads per lane, over the defaults ({_default_lanes()}); 0 turns a lane off "
                   "in this worker, e.g. --lanes documents=4,deliveries=0 for a worker that only renders.")
@click.option("--concurrency", type=click.IntRange(1, 256), default=None,
              help="The same number of threads for every lane (instead of --lanes).")
@click.option("--poll-interval", default=1.0, show_default=True, type=click.FloatRange(0.01, 60),
              help="Seconds to wait when there is nothing to do.")
@click.option("--once", is_flag=True, help="Exit when nothing is due instead of waiting for more work.")
@click.option("--lease", type=click.FloatRange(1, 3600), default=None,
              help="Seconds a claimed job stays leased without a heartbeat [default: $O2C_JOB_LEASE or 60].")
@click.option("--import", "imports", multiple=True, metavar="MODULE",
              help="Also import MODULE, which registers more job kinds (repeatable).")
@click.option("-v", "--verbose", is_flag=True, help="Log every job.")
def worker(lanes: dict[str, int] | None, concurrency: int | None, poll_interval: float, once: bool,
           lease: float | None, imports: tuple[str, ...], verbose: bool) -> None:
    import logging
    import signal

    from o2c.worker import Worker, load_job_modules

    if lanes is not None and concurrency is not None:
        raise click.UsageError("--lanes and --concurrency exclude each other.")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    load_job_modules(imports)
    cfg = Config()
    from o2c.services.platform.lanes import DEFAULT_LANES
    threads = concurrency * len(DEFAULT_LANES) if concurrency else sum((lanes or DEFAULT_LANES).values())
    engine = _engine(pool_size=threads + 2)
    w = Worker(engine, cfg, lanes=lanes, concurrency=concurrency, poll_interval=poll_interval, lease_s=lease)

    def on_signal(signum: int, _frame: object) -> None:
        if w.stopping.is_set():
            os._exit(128 + signum)  # a second signal: leave now, leases will run out
        click.echo(f"worker {w.name}: stopping after the running jobs (signal again to quit now)", err=True)
        w.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo(f"worker {w.name}: lanes {', '.join(f'{l.name}={l.threads}' for l in w.lanes)}; "
               f"{engine.url.render_as_string(hide_password=True)}", err=True)
    stats = w.run(once=once)
    engine.dispose()
    click.echo(f"worker {w.name}: done {stats.done}, rescheduled {stats.rescheduled}, errors {stats.errors}, "
               f"fanned out {stats.periodic.get('webhooks.dispatch', 0)}", err=True)


@main.group(invoke_without_command=True)
@click.pass_context
def jobs(ctx: click.Context) -> None:
    """Background jobs: what is queued, running and failed."""
    if ctx.invoked_subcommand is None:
        from o2c.services.platform import jobs as queue
        with _engine().execution_options(sqlite_begin="DEFERRED").connect() as conn:
            rows = queue.summary(conn)
        if not rows:
            click.echo("no jobs")
        for r in rows:
            click.echo(f"{r['lane']:11} {r['kind']:28} {r['status']:8} {r['n']:8}  "
                       f"next {r['next']:%Y-%m-%d %H:%M:%S}")


@jobs.command("failed")
@click.option("--limit", default=50, show_default=True)
def jobs_failed(limit: int) -> None:
    """List failed jobs with their last error."""
    from o2c.services.platform import jobs as queue
    with _engine().execution_options(sqlite_begin="DEFERRED").connect() as conn:
        for r in queue.failed(conn, limit):
            error = (r["last_error"] or "").strip().splitlines()
            click.echo(f"{r['id']:>8} {r['kind']:28} attempts {r['attempts']}  {error[-1] if error else ''}")


@jobs.command("retry")
@click.argument("ids", nargs=-1, type=int)
def jobs_retry(ids: tuple[int, ...]) -> None:
    """Queue failed jobs again (all of them, or the IDS given)."""
    from o2c.services.platform import jobs as queue
    with _engine().begin() as conn:
        n = queue.retry_failed(conn, list(ids) or None)
    click.echo(f"{n} job(s) queued again")


if __name__ == "__main__":
    main()
