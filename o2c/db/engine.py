"""Engine set-up for both databases.

SQLite runs in WAL mode with a busy timeout, and every write transaction
starts with ``BEGIN IMMEDIATE`` so concurrent writers queue for the lock
instead of failing half-way with "database is locked". Read-only work asks
for ``BEGIN DEFERRED`` through the ``sqlite_begin`` execution option (``NONE``:
no transaction, for a single read statement).

Writers queue in front of ``BEGIN IMMEDIATE`` on a lock of the operating
system (:class:`WriterQueue`): SQLite's own busy handler polls, sleeping
milliseconds at a time, so under contention writers slept while the database
was free; a kernel lock hands over the moment the previous writer commits.
The busy timeout stays as the safety net.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from o2c.domain.text import fold


def make_engine(url: str, busy_timeout_ms: int = 30000, pool_size: int = 10) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=20,
        )
        queue = None
        if parsed.database and parsed.database != ":memory:":
            queue = WriterQueue(parsed.database + "-writers", busy_timeout_ms / 1000)
        _sqlite_setup(engine, busy_timeout_ms, queue)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=False)


class WriterQueue:
    """One writer at a time per SQLite file, across threads and processes.

    A thread lock orders the writers of this process (with the busy timeout,
    so a thread that would wait for itself fails like SQLite would, instead of
    hanging); ``flock`` on a file next to the database orders the processes.
    Both are released right after COMMIT or ROLLBACK, and when a connection
    goes back to the pool still holding them."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def acquire(self) -> None:
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


_HOLDS = "o2c.writer_queue"


def _sqlite_setup(engine: Engine, busy_timeout_ms: int, queue: WriterQueue | None = None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; we emit BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        # Searches compare text folded alike on both sides (o2c.services.sales.lookups).
        dbapi_conn.create_function("o2c_fold", 1, fold, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "NONE":  # one read statement in autocommit mode: no transaction at all
            return
        if queue is None or mode != "IMMEDIATE":
            conn.exec_driver_sql(f"BEGIN {mode}")
            return
        info = conn.connection.info
        if not info.get(_HOLDS):
            queue.acquire()
            info[_HOLDS] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _let_go(info)
            raise

    if queue is None:
        return

    def _let_go(info: dict[str, Any]) -> None:
        if info.pop(_HOLDS, False):
            queue.release()

    # The events come before the driver's commit or rollback: end the
    # transaction here so the next writer is let in only once it is over (the
    # driver's own call then finds no transaction and does nothing).
    @event.listens_for(engine, "commit")
    def _on_commit(conn: Any) -> None:
        info = conn.connection.info
        if info.get(_HOLDS):
            try:
                conn.connection.dbapi_connection.execute("COMMIT")
            finally:
                if not conn.connection.dbapi_connection.in_transaction:
                    _let_go(info)

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn: Any) -> None:
        info = conn.connection.info
        if info.get(_HOLDS):
            dbapi_conn = conn.connection.dbapi_connection
            try:
                if dbapi_conn.in_transaction:
                    dbapi_conn.execute("ROLLBACK")
            finally:
                _let_go(info)

    # A connection back in the pool (or closed) never keeps the queue.
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        _let_go(record.info)

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_conn: Any, record: Any) -> None:
        _let_go(record.info)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_conn: Any, record: Any, _exc: Any) -> None:
        _let_go(record.info)


def is_sqlite(engine_or_conn: Any) -> bool:
    return engine_or_conn.dialect.name == "sqlite"
