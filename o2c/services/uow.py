"""The unit of work: one database transaction per business event.

Everything a business event writes — documents, stock movements, the journal
entry, audit rows and events — goes through one ``Tx`` and commits together
when the ``with`` block ends, or not at all.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from o2c.db import models as m
from o2c.domain.errors import PeriodClosed
from o2c.ledger.accounts import Account, chart
from o2c.ledger.posting import JournalEntry
from o2c.services import clock

_audit = m.AuditLog.__table__
_events = m.Event.__table__
_entries = m.JournalEntry.__table__
_jlines = m.JournalLine.__table__
_periods = m.Period.__table__
_series = m.NumberSeries.__table__

_CHART = chart()



class Tx:
    """What a service needs inside its transaction."""

    def __init__(self, conn: Connection, actor: str, now: dt.datetime):
        self.conn = conn
        self.actor = actor
        self.now = now
        self.today = now.date()
        self.chart: dict[str, Account] = _CHART
        self._audit_rows: list[dict[str, Any]] = []
        self._event_rows: list[dict[str, Any]] = []
        self._open_periods: set[str] = set()

    # -- audit trail and events: buffered, written in one statement each --------
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
        self._event_rows.append({
            "type": type_, "channel": channel, "order_id": order_id,
            "data": data, "created_at": self.now,
        })

    def flush(self) -> None:
        if self._audit_rows:
            self.conn.execute(insert(_audit), self._audit_rows)
            self._audit_rows = []
        if self._event_rows:
            self.conn.execute(insert(_events), self._event_rows)
            self._event_rows = []

    # -- the journal -----------------------------------------------------------
    def check_period_open(self, date: dt.date) -> None:
        period = date.strftime("%Y-%m")
        if period in self._open_periods:
            return
        closed = self.conn.execute(
            select(_periods.c.closed_at).where(_periods.c.period == period)
        ).scalar()
        if closed is not None:
            raise PeriodClosed(
                f"Period {period} is closed; nothing can be posted dated {date.isoformat()}. "
                "Date the document in an open period, or have an accountant reopen the period.",
                {"period": period},
            )
        self._open_periods.add(period)

    def post(self, entry: JournalEntry | None) -> int | None:
        """Write a balanced entry (already checked when it was built)."""
        if entry is None:
            return None
        self.check_period_open(entry.date)
        entry_id = self.conn.execute(
            insert(_entries).returning(_entries.c.id),
            {
                "date": entry.date, "period": entry.period, "source_type": entry.source_type,
                "source_id": entry.source_id, "document": entry.document,
                "customer_id": entry.customer_id, "description": entry.description,
                "created_at": self.now,
            },
        ).scalar_one()
        self.conn.execute(
            insert(_jlines),
            [{"entry_id": entry_id, "account": l.account, "debit": l.debit, "credit": l.credit}
             for l in entry.lines],
        )
        return entry_id

    # -- gapless numbering -----------------------------------------------------
    def take_number(self, series: str, year: int) -> int:
        """The next number of a gapless series. The UPDATE locks the counter row
        until this transaction ends, so numbers are consumed only by commits."""
        stmt = (
            update(_series)
            .where(_series.c.series == series, _series.c.year == year)
            .values(last_value=_series.c.last_value + 1)
            .returning(_series.c.last_value)
        )
        value = self.conn.execute(stmt).scalar()
        if value is None:
            ins = _dialect_insert(self.conn)(_series).values(series=series, year=year, last_value=0)
            self.conn.execute(ins.on_conflict_do_nothing())
            value = self.conn.execute(stmt).scalar_one()
        return int(value)


def _dialect_insert(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert
    return sqlite_insert


dialect_insert = _dialect_insert


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
