"""Idempotency keys (API.md, Idempotency).

The key row is inserted in the same transaction as the business event and
holds the response, so a replay returns exactly the first answer. On
PostgreSQL a concurrent request with the same key blocks on the key's unique
index until the first commits, then finds the stored answer; on SQLite the
write lock orders them the same way.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from o2c.db import models as m
from o2c.domain.errors import DomainError, IdempotencyKeyReused
from o2c.services.uow import Tx, insert_ignoring_conflicts, unit_of_work

keys = m.IdempotencyKey.__table__

Outcome = tuple[int, str]  # (status code, JSON body)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class _Replayed(Exception):
    """The key was stored by an earlier request: roll this one back."""


def _stored(tx: Tx, principal: str, key: str, fingerprint: str) -> Outcome | None:
    row = tx.conn.execute(
        select(keys.c.request_hash, keys.c.status_code, keys.c.response)
        .where(keys.c.principal == principal, keys.c.key == key)
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            f"Idempotency-Key “{key}” was used with a different request; use a new key for a new request.",
            {"idempotency_key": key},
        )
    return row.status_code, row.response


def _store(tx: Tx, principal: str, key: str, fingerprint: str, outcome: Outcome) -> bool:
    """Store the outcome under the key; False if the key is taken already."""
    return tx.conn.execute(insert_ignoring_conflicts(tx.conn, keys, ("key",)), {
        "principal": principal, "key": key, "request_hash": fingerprint, "status_code": outcome[0],
        "response": outcome[1], "created_at": tx.now,
    }).scalar() is not None


def run(
    engine: Engine, actor: str, principal: str, key: str | None, fingerprint: str,
    work: Callable[[Tx], Outcome], on_error: Callable[[DomainError], Outcome],
) -> Outcome:
    """Run ``work`` in one transaction, at most once in effect per idempotency key.

    The key is written last, with the answer, in the same transaction. If it
    is taken by then (a replay, or a concurrent twin that committed first,
    which on PostgreSQL the insert waits for), this transaction rolls back and
    the stored answer is returned. A domain error rolls the work back; its
    answer is then stored in a transaction of its own, so a replay returns
    the same error.
    """
    if key is None:
        try:
            with unit_of_work(engine, actor) as tx:
                return work(tx)
        except DomainError as exc:
            return on_error(exc)
    try:
        with unit_of_work(engine, actor) as tx:
            outcome = work(tx)
            if not _store(tx, principal, key, fingerprint, outcome):
                raise _Replayed
            return outcome
    except _Replayed:
        pass
    except DomainError as exc:
        outcome = on_error(exc)
        try:
            with unit_of_work(engine, actor) as tx:
                if not _store(tx, principal, key, fingerprint, outcome):
                    raise _Replayed
                return outcome
        except _Replayed:
            pass
    try:
        with unit_of_work(engine, actor, readonly=True) as tx:
            stored = _stored(tx, principal, key, fingerprint)
    except IdempotencyKeyReused as exc:
        return on_error(exc)
    assert stored is not None, "an idempotency key vanished"
    return stored
