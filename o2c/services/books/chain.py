"""Sealing and verifying the journal's hash chain.

Posting never touches the chain: a business event inserts its entries with no
sequence number, so the many transactions that ship and take payments in
parallel never wait on a global chain head. Sealing happens after commit:
``seal_journal`` locks the chain head row (one sealer at a time), takes every
committed entry that has no sequence number yet, in id order, and gives each
the next number and ``hash = SHA-256(previous hash + canonical entry)``
(``o2c.ledger.chain``).

Ids are not commit order. On PostgreSQL a transaction that took id 100 may
commit after the one that took id 101 was sealed. The sealer therefore does
not seal "ids up to N" but "whatever is committed and unsealed when it looks":
the late entry 100 simply gets the next sequence number on the next run. No
entry is ever skipped and nobody waits; the chain's order is the order in
which entries were sealed (the id order within one run), and the sequence
numbers are gapless.

Run it from the CLI (``o2c ledger seal``), from a background worker (call
``seal_journal(engine)`` on a schedule), and it runs by itself before
``verify``, exports and period close. ``verify`` recomputes the chain from the
stored rows and reports the first broken link.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, bindparam, func, select, update

from o2c.db import models as m
from o2c.ledger.chain import GENESIS, ChainEntry, ChainLine, link
from o2c.services.platform.uow import Tx, insert_ignoring_conflicts, unit_of_work

entries = m.JournalEntry.__table__
jlines = m.JournalLine.__table__
head_t = m.JournalChain.__table__
periods = m.Period.__table__

BATCH = 2000
_ENTRY_COLS = [entries.c.id, entries.c.seq, entries.c.hash, entries.c.date, entries.c.period,
               entries.c.source_type, entries.c.source_id, entries.c.document, entries.c.customer_id,
               entries.c.description]
_set_seal = (
    update(entries).where(entries.c.id == bindparam("b_id"))
    .values(seq=bindparam("b_seq"), hash=bindparam("b_hash"))
)


class Head(NamedTuple):
    seq: int
    hash: str


class SealResult(NamedTuple):
    sealed: int
    head: Head


def _lock_head(conn: Connection) -> Head:
    """The chain head, locked until the transaction ends (created if missing)."""
    q = select(head_t.c.last_seq, head_t.c.last_hash).where(head_t.c.id == 1).with_for_update()
    row = conn.execute(q).first()
    if row is None:
        conn.execute(insert_ignoring_conflicts(conn, head_t), {"id": 1, "last_seq": 0, "last_hash": GENESIS})
        row = conn.execute(q).one()
    return Head(int(row.last_seq), row.last_hash)


def read_head(conn: Connection) -> Head:
    row = conn.execute(select(head_t.c.last_seq, head_t.c.last_hash).where(head_t.c.id == 1)).first()
    return Head(0, GENESIS) if row is None else Head(int(row.last_seq), row.last_hash)


def _with_lines(conn: Connection, rows: Sequence[Any]) -> list[tuple[Any, tuple[ChainLine, ...]]]:
    by_entry: dict[int, list[ChainLine]] = defaultdict(list)
    if rows:
        for l in conn.execute(
            select(jlines.c.entry_id, jlines.c.account, jlines.c.debit, jlines.c.credit)
            .where(jlines.c.entry_id.in_([r.id for r in rows])).order_by(jlines.c.id)
        ):
            by_entry[l.entry_id].append(ChainLine(l.account, l.debit, l.credit))
    return [(r, tuple(by_entry[r.id])) for r in rows]


def _chain_entry(row: Any, seq: int, lines: tuple[ChainLine, ...]) -> ChainEntry:
    return ChainEntry(seq, row.id, row.date, row.period, row.source_type, row.source_id, row.document,
                      row.customer_id, row.description, lines)


def seal_pending(tx: Tx, limit: int | None = None) -> SealResult:
    """Seal committed, unsealed entries (at most ``limit``) in this transaction.

    The caller's transaction holds the chain head lock until it ends; take it
    before any lock on the journal tables (the lock order of the ledger)."""
    conn = tx.conn
    head = _lock_head(conn)
    seq, h = head
    done = 0
    while limit is None or done < limit:
        size = BATCH if limit is None else min(BATCH, limit - done)
        rows = conn.execute(
            select(*_ENTRY_COLS).where(entries.c.seq.is_(None)).order_by(entries.c.id).limit(size)
        ).all()
        if not rows:
            break
        updates = []
        for row, lines in _with_lines(conn, rows):
            seq += 1
            h = link(h, _chain_entry(row, seq, lines))
            updates.append({"b_id": row.id, "b_seq": seq, "b_hash": h})
        conn.execute(_set_seal, updates)
        done += len(rows)
    if done:
        conn.execute(update(head_t).where(head_t.c.id == 1).values(last_seq=seq, last_hash=h, sealed_at=tx.now))
    return SealResult(done, Head(seq, h))


def seal_journal(engine: Engine, batch: int = 10_000) -> SealResult:
    """Seal everything committed so far, ``batch`` entries per transaction so
    that no lock is held for long. Safe to run from any number of processes:
    they queue on the chain head. Returns how many entries were sealed and the
    head of the chain."""
    total = 0
    while True:
        with unit_of_work(engine, "system:sealer") as tx:
            result = seal_pending(tx, batch)
        total += result.sealed
        if result.sealed < batch:
            return SealResult(total, result.head)


def verify(tx: Tx, page: int = BATCH) -> dict[str, Any]:
    """Recompute the chain from the stored entries and lines.

    Reports the first broken link: a gap in the sequence numbers (an entry
    removed), an entry whose stored hash does not follow from its content and
    the previous hash (the entry, or one before it, changed), a head that does
    not match the last entry, or a period anchor (the chain position recorded
    when a period closed) that no longer holds."""
    conn = tx.conn
    anchors = {int(r.chain_seq): (r.period, r.chain_hash) for r in conn.execute(
        select(periods.c.period, periods.c.chain_seq, periods.c.chain_hash).where(periods.c.chain_seq.is_not(None)))}
    head = read_head(conn)
    unsealed = conn.execute(select(func.count()).select_from(entries).where(entries.c.seq.is_(None))).scalar_one()
    prev, last, checked = GENESIS, 0, 0

    def result(broken: dict[str, Any] | None) -> dict[str, Any]:
        return {"ok": broken is None, "checked": checked, "unsealed": int(unsealed),
                "head": {"seq": head.seq, "hash": head.hash}, "first_broken": broken,
                "verified_at": tx.now}

    def broken(reason: str, seq: int, row: Any, message: str, **extra: Any) -> dict[str, Any]:
        return result({"reason": reason, "seq": seq, "entry_id": row.id if row is not None else None,
                       "document": row.document if row is not None else None, "message": message, **extra})

    while True:
        rows = conn.execute(
            select(*_ENTRY_COLS).where(entries.c.seq > last).order_by(entries.c.seq).limit(page)).all()
        if not rows:
            break
        for row, lines in _with_lines(conn, rows):
            expected = last + 1
            if row.seq != expected:
                return broken("missing_entry", expected, None,
                              f"Sequence number {expected} is missing: an entry was removed from the journal.")
            h = link(prev, _chain_entry(row, row.seq, lines))
            if h != row.hash:
                return broken("hash_mismatch", row.seq, row,
                              f"Entry {row.seq} ({row.document}) does not match its hash: it, or an entry "
                              "before it, was changed after it was sealed.", expected_hash=h, stored_hash=row.hash)
            if row.seq in anchors and anchors[row.seq][1] != h:
                return broken("anchor_mismatch", row.seq, row,
                              f"The chain no longer passes through the hash recorded when period "
                              f"{anchors[row.seq][0]} closed.", period=anchors[row.seq][0])
            prev, last, checked = h, row.seq, checked + 1
    if (last, prev) != tuple(head):
        return broken("head_mismatch", head.seq, None,
                      f"The chain ends at entry {last} but its head says {head.seq}: entries at the end "
                      "were removed or the head was changed.")
    missing_anchor = [p for s, (p, _) in anchors.items() if s > last]
    if missing_anchor:
        return broken("anchor_mismatch", last + 1, None,
                      f"The chain ends before the position recorded when period {missing_anchor[0]} closed.",
                      period=missing_anchor[0])
    return result(None)
