"""The unit of work: one database transaction per business event.

Everything a business event writes — documents, stock movements, the journal
entry, audit rows and events — goes through one ``Tx`` and commits together
when the ``with`` block ends, or not at all. Journal entries, audit rows and
events are buffered and written with one statement per table at the end.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, literal, select, union_all, update
from sqlalchemy.sql.elements import Label

from o2c.db import models as m
from o2c.domain.errors import PeriodClosed
from o2c.domain.events import EVENTS
from o2c.domain.fx import FUNCTIONAL_CURRENCY
from o2c.ledger.accounts import CURRENCY_BANK, Account, chart_from_rows
from o2c.ledger.posting import JournalEntry
from o2c.services.platform import clock

_audit = m.AuditLog.__table__
_events = m.Event.__table__
_entries = m.JournalEntry.__table__
_jlines = m.JournalLine.__table__
_periods = m.Period.__table__
_series = m.NumberSeries.__table__
_accounts = m.Account.__table__

#: How long a process keeps the chart of accounts before reading it again.
CHART_TTL = 30.0
_charts: dict[str, tuple[float, dict[str, Account]]] = {}
_bank_accounts = m.BankAccount.__table__
_same_currency = _bank_accounts.alias("same_currency")
# The roles, and the account of the first bank account held in each foreign currency.
_select_chart = union_all(
    select(_accounts.c.role, _accounts.c.code, _accounts.c.name, _accounts.c.type).where(
        _accounts.c.role.is_not(None)),
    select((literal(CURRENCY_BANK) + _bank_accounts.c.currency).label("role"), _accounts.c.code, _accounts.c.name,
           _accounts.c.type)
    .join(_bank_accounts, _bank_accounts.c.gl_account == _accounts.c.code)
    .where(_bank_accounts.c.currency != FUNCTIONAL_CURRENCY,
           _bank_accounts.c.id == select(func.min(_same_currency.c.id))
           .where(_same_currency.c.currency == _bank_accounts.c.currency).scalar_subquery()))

# Statements are built once: SQLAlchemy memoises a built statement's cache key,
# so executing a prebuilt statement costs a fraction of building one per call.
_insert_entries = insert(_entries).returning(_entries.c.id, sort_by_parameter_order=True)
_insert_jlines = insert(_jlines)
_insert_audit = insert(_audit)
_insert_events = insert(_events)
_period_closed = (
    select(_periods.c.closed_at).where(_periods.c.period == bindparam("period"))
    .scalar_subquery().label("period_closed_at")
)
_select_period_closed = select(_period_closed)
_take_number = (
    update(_series)
    .where(_series.c.series == bindparam("b_series"), _series.c.year == bindparam("b_year"))
    .values(last_value=_series.c.last_value + 1)
    .returning(_series.c.last_value)
)
_IGNORING: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def insert_ignoring_conflicts(conn: Connection, table: Table, returning: tuple[str, ...] = ()) -> Any:
    """A prebuilt ``INSERT … ON CONFLICT DO NOTHING [RETURNING …]`` for the
    connection's dialect: on PostgreSQL it waits for a concurrent insert of the
    same key to commit, then does nothing and returns no row."""
    key = (conn.dialect.name, table.name, returning)
    stmt = _IGNORING.get(key)
    if stmt is None:
        stmt = dialect_insert(conn)(table).on_conflict_do_nothing()
        if returning:
            stmt = stmt.returning(*(table.c[c] for c in returning))
        _IGNORING[key] = stmt
    return stmt


def period_of(date: dt.date) -> str:
    return date.strftime("%Y-%m")


def load_chart(conn: Connection) -> dict[str, Account]:
    """The posting roles and their accounts (the ``accounts`` table), read at
    most every ``CHART_TTL`` seconds per process and database."""
    key = str(conn.engine.url)
    cached = _charts.get(key)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    result = chart_from_rows(conn.execute(_select_chart))
    _charts[key] = (now + CHART_TTL, result)
    return result


def forget_chart() -> None:
    """Read the chart again on next use (after it or a bank account changed in this process)."""
    _charts.clear()


class Tx:
    """What a service needs inside its transaction."""

    def __init__(self, conn: Connection, actor: str, now: dt.datetime):
        self.conn = conn
        self.actor = actor
        self.now = now
        self.today = now.date()
        self._chart: dict[str, Account] | None = None
        self._audit_rows: list[dict[str, Any]] = []
        self._event_rows: list[dict[str, Any]] = []
        self._journal: list[JournalEntry] = []
        self._open_periods: set[str] = set()

    @property
    def chart(self) -> dict[str, Account]:
        """Posting role → account, as configured (o2c.services.books.chart)."""
        if self._chart is None:
            self._chart = load_chart(self.conn)
        return self._chart

    # -- audit trail and events ----------------------------------------------------
    def audit(
        self, action: str, object_type: str, object_id: int,
        before: dict[str, Any] | None, after: dict[str, Any] | None,
    ) -> None:
        self._audit_rows.append({
            "at": self.now, "actor": self.actor, "action": action,
            "object_type": object_type, "object_id": object_id,
            "before": before, "after": after,
        })

    def emit(self, type_: str, channel: str, order_id: int | None, data: dict[str, Any]) -> None:
        if type_ not in EVENTS:  # the registry is the only source of event types
            raise ValueError(f"{type_} is not an event type; add it to o2c.domain.events.EVENTS first")
        self._event_rows.append({
            "type": type_, "channel": channel, "order_id": order_id,
            "data": data, "created_at": self.now,
        })

    # -- periods -----------------------------------------------------------------
    #: Add to a query the service makes anyway (bind ``period``), so the period
    #: check costs no round trip; pass its value to ``note_period``.
    period_closed_column: Label[Any] = _period_closed

    def note_period(self, date: dt.date, closed_at: Any) -> None:
        if closed_at is not None:
            period = period_of(date)
            raise PeriodClosed(
                f"Period {period} is closed; nothing can be posted dated {date.isoformat()}. "
                "Date the document in an open period, or have an administrator reopen the period.",
                {"period": period},
            )
        self._open_periods.add(period_of(date))

    def check_period_open(self, date: dt.date) -> None:
        if period_of(date) not in self._open_periods:
            self.note_period(date, self.conn.execute(_select_period_closed, {"period": period_of(date)}).scalar())

    # -- the journal ---------------------------------------------------------------
    def post(self, entry: JournalEntry | None) -> None:
        """Queue a balanced entry (checked when it was built) for this transaction."""
        if entry is None:
            return
        self.check_period_open(entry.date)
        self._journal.append(entry)

    def flush(self) -> None:
        if self._journal:
            ids = self.conn.execute(
                _insert_entries,
                [{"date": e.date, "period": e.period, "source_type": e.source_type, "source_id": e.source_id,
                  "document": e.document, "customer_id": e.customer_id, "description": e.description,
                  "created_at": self.now} for e in self._journal],
            ).scalars().all()
            self.conn.execute(_insert_jlines, [
                {"entry_id": eid, "account": l.account, "debit": l.debit, "credit": l.credit,
                 "currency": l.currency, "amount": l.debit - l.credit if l.amount is None else l.amount}
                for eid, e in zip(ids, self._journal) for l in e.lines
            ])
            self._journal = []
        if self._audit_rows:
            self.conn.execute(_insert_audit, self._audit_rows)
            self._audit_rows = []
        if self._event_rows:
            self.conn.execute(_insert_events, self._event_rows)
            self._event_rows = []

    # -- gapless numbering -----------------------------------------------------------
    def take_number(self, series: str, year: int) -> int:
        """The next number of a gapless series. The UPDATE locks the counter row
        until this transaction ends, so numbers are consumed only by commits."""
        params = {"b_series": series, "b_year": year}
        value = self.conn.execute(_take_number, params).scalar()
        if value is None:  # the first number of a series and year
            self.conn.execute(insert_ignoring_conflicts(self.conn, _series),
                              {"series": series, "year": year, "last_value": 0})
            value = self.conn.execute(_take_number, params).scalar_one()
        return int(value)


def dialect_insert(conn: Connection) -> Any:
    """``insert`` with ``on_conflict_do_nothing`` for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert
    return sqlite_insert


@contextmanager
def unit_of_work(engine: Engine, actor: str, *, readonly: bool = False) -> Iterator[Tx]:
    """Open a transaction; commit when the block ends, roll back on any error."""
    with engine.connect() as conn:
        if readonly:
            conn = conn.execution_options(sqlite_begin="DEFERRED")
        with conn.begin():
            tx = Tx(conn, actor, clock.now())
            yield tx
            tx.flush()
