"""SQLite writers queue on a lock of the operating system, held exactly while
a write transaction is open: taken at BEGIN IMMEDIATE, given back at COMMIT
or ROLLBACK, and never kept by a connection back in the pool. (PostgreSQL
has row locks and needs none of this.)"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from o2c.db.engine import make_engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'q.sqlite3'}", busy_timeout_ms=300)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    engine.dispose()


def held_elsewhere(engine: Engine) -> bool:
    """Whether another open file of this machine holds the writers' lock."""
    fd = os.open(str(engine.url.database) + "-writers", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing the file lets go of a lock taken here
    return False


def test_the_lock_is_held_from_begin_to_commit(sqlite_engine: Engine) -> None:
    assert not held_elsewhere(sqlite_engine)
    with sqlite_engine.begin() as c:
        c.execute(text("INSERT INTO t VALUES (1)"))
        assert held_elsewhere(sqlite_engine)
    assert not held_elsewhere(sqlite_engine)
    with sqlite_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM t")).scalar_one() == 1


def test_readers_do_not_queue(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect().execution_options(sqlite_begin="DEFERRED") as c:
        with c.begin():
            c.execute(text("SELECT count(*) FROM t"))
            assert not held_elsewhere(sqlite_engine)


def test_a_failed_transaction_rolls_back_and_lets_go(sqlite_engine: Engine) -> None:
    with pytest.raises(RuntimeError):
        with sqlite_engine.begin() as c:
            c.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("half-way")
    assert not held_elsewhere(sqlite_engine)
    with sqlite_engine.begin() as c:  # the next writer gets in at once
        assert c.execute(text("SELECT count(*) FROM t")).scalar_one() == 0


def test_a_connection_closed_inside_its_transaction_lets_go(sqlite_engine: Engine) -> None:
    c = sqlite_engine.connect()
    c.begin()
    c.execute(text("INSERT INTO t VALUES (1)"))
    assert held_elsewhere(sqlite_engine)
    c.close()  # back to the pool without commit: rolled back, queue free
    assert not held_elsewhere(sqlite_engine)
    with sqlite_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM t")).scalar_one() == 0


def test_a_thread_waiting_for_itself_fails_like_sqlite_instead_of_hanging(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin():
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            with sqlite_engine.begin():
                pass
        assert time.monotonic() - started < 10
    with sqlite_engine.begin() as c:  # and the queue is whole afterwards
        c.execute(text("INSERT INTO t VALUES (2)"))


CHILD = """
import sys
from sqlalchemy import text
from o2c.db.engine import make_engine
engine = make_engine(sys.argv[1])
with engine.begin() as c:
    seen = c.execute(text("SELECT count(*) FROM t")).scalar_one()
    c.execute(text("INSERT INTO t VALUES (2)"))
print(seen)
"""


def test_another_process_waits_for_the_commit(sqlite_engine: Engine) -> None:
    """A writer in another process queues until this one commits, then sees its row."""
    with sqlite_engine.begin() as c:
        c.execute(text("INSERT INTO t VALUES (1)"))
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(sqlite_engine.url)],
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)  # long enough for the child to start and queue behind this transaction
        assert child.poll() is None
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0 and out.strip() == "1"
    with sqlite_engine.connect() as c:
        assert c.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]
