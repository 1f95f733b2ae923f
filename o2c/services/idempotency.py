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
from o2c.services.uow import Tx, dialect_insert, unit_of_work

keys = m.IdempotencyKey.__table__

Outcome = tuple[int, str]  # (status code, JSON body)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def _claim(tx: Tx, principal: str, key: str, fingerprint: str) -> Outcome | None:
    """Insert the key; if it exists already, return its stored outcome."""
    inserted = tx.conn.execute(
        dialect_insert(tx.conn)(keys).values(
            principal=principal, key=key, request_hash=fingerprint, status_code=0, response="",
            created_at=tx.now,
        ).on_conflict_do_nothing().returning(keys.c.key)
    ).scalar()
    if inserted is not None:
        return None
    row = tx.conn.execute(
        select(keys.c.request_hash, keys.c.status_code, keys.c.response)
        .where(keys.c.principal == principal, keys.c.key == key)
    ).one()
    if row.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was used with a different request; use a new key for a new request.",
            {"idempotency_key": key},
        )
    return row.status_code, row.response


def _store(tx: Tx, principal: str, key: str, outcome: Outcome) -> None:
    tx.conn.execute(
        keys.update().where(keys.c.principal == principal, keys.c.key == key)
        .values(status_code=outcome[0], response=outcome[1])
    )


def run(
    engine: Engine, actor: str, principal: str, key: str | None, fingerprint: str,
    work: Callable[[Tx], Outcome], on_error: Callable[[DomainError], Outcome],
) -> Outcome:
    """Run ``work`` in one transaction, at most once per idempotency key.

    A domain error rolls the work back; its error answer is then stored under
    the key in a transaction of its own, so a replay returns the same error.
    """
    if key is None:
        try:
            with unit_of_work(engine, actor) as tx:
                return work(tx)
        except DomainError as exc:
            return on_error(exc)
    try:
        with unit_of_work(engine, actor) as tx:
            stored = _claim(tx, principal, key, fingerprint)
            if stored is not None:
                return stored
            outcome = work(tx)
            _store(tx, principal, key, outcome)
            return outcome
    except IdempotencyKeyReused as exc:
        return on_error(exc)
    except DomainError as exc:
        outcome = on_error(exc)
    with unit_of_work(engine, actor) as tx:
        stored = _claim(tx, principal, key, fingerprint)
        if stored is not None:
            return stored
        _store(tx, principal, key, outcome)
    return outcome
