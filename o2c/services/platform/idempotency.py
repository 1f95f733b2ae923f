"""Idempotency keys (API.md, Idempotency).

A key is looked up first, in a read of its own: a replay answers from the
stored row without running the business transaction again (no lock taken, no
number used). A key not found yet is inserted in the same transaction as the
business event, with the response, so a replay returns exactly the first
answer. On PostgreSQL a concurrent twin (same key, both past the lookup)
blocks on the key's unique index until the first commits, then rolls back
and finds the stored answer; on SQLite the write lock orders them the same
way.

Keys are scoped to the caller (one API key, or one back-office user) and are
kept with their answer indefinitely: a key is never reused for another
request.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import Engine, select

from o2c.db import models as m
from o2c.domain.errors import DomainError, IdempotencyKeyReused
from o2c.services.platform.uow import Tx, insert_ignoring_conflicts, unit_of_work

keys = m.IdempotencyKey.__table__

Outcome = tuple[int, str]  # (status code, JSON body)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class _Number(str):
    """A JSON number as written (``1.50`` is not ``1.5`` to a strict field)."""


def _canonical(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _canonical(value[k])
                              for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    if isinstance(value, _Number):
        return str.__str__(value)
    return json.dumps(value, ensure_ascii=False)


def canonical_body(raw: bytes) -> bytes:
    """A JSON body in one spelling: keys sorted, no whitespace, strings and
    numbers as sent; so the same JSON with its keys in another order or
    other spacing is the same request. Anything that is not JSON stays as
    it is."""
    if not raw.strip():
        return b""
    try:
        data = json.loads(raw.decode("utf-8"), parse_float=_Number, parse_int=_Number,
                          parse_constant=_Number)
        return _canonical(data).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):
        return raw


class _Replayed(Exception):
    """The key was stored by an earlier request: roll this one back."""


def _stored(tx: Tx, principal: str, key: str, fingerprints: Collection[str]) -> Outcome | None:
    row = tx.conn.execute(
        select(keys.c.request_hash, keys.c.status_code, keys.c.response)
        .where(keys.c.principal == principal, keys.c.key == key)
    ).first()
    if row is None:
        return None
    if row.request_hash not in fingerprints:
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
    """:func:`run_keyed` without saying whether the answer was a replay."""
    status, body, _ = run_keyed(engine, actor, principal, key, fingerprint, work, on_error)
    return status, body


def run_keyed(
    engine: Engine, actor: str, principal: str, key: str | None, fingerprint: str,
    work: Callable[[Tx], Outcome], on_error: Callable[[DomainError], Outcome], also: str | None = None,
) -> tuple[int, str, bool]:
    """Run ``work`` in one transaction, at most once in effect per idempotency
    key; the answer and whether it is the stored answer of an earlier request.

    The key is looked up first, outside any write: a replay is answered from
    it. Otherwise the key is written last, with the answer, in the work's
    transaction. If it is taken by then (a concurrent twin that committed
    first, which on PostgreSQL the insert waits for), this transaction rolls
    back and the stored answer is returned. A domain error rolls the work
    back; its answer is then stored in a transaction of its own, so a replay
    returns the same error. ``also`` is another fingerprint the stored
    request may have (an older way of taking it).
    """
    if key is None:
        try:
            with unit_of_work(engine, actor) as tx:
                return (*work(tx), False)
        except DomainError as exc:
            return (*on_error(exc), False)
    accepted = (fingerprint,) if also is None else (fingerprint, also)
    try:
        with unit_of_work(engine, actor, readonly=True) as tx:
            stored = _stored(tx, principal, key, accepted)
    except IdempotencyKeyReused as exc:
        return (*on_error(exc), False)
    if stored is not None:
        return (*stored, True)
    try:
        with unit_of_work(engine, actor) as tx:
            outcome = work(tx)
            if not _store(tx, principal, key, fingerprint, outcome):
                raise _Replayed
            return (*outcome, False)
    except _Replayed:
        pass
    except DomainError as exc:
        outcome = on_error(exc)
        try:
            with unit_of_work(engine, actor) as tx:
                if not _store(tx, principal, key, fingerprint, outcome):
                    raise _Replayed
                return (*outcome, False)
        except _Replayed:
            pass
    try:
        with unit_of_work(engine, actor, readonly=True) as tx:
            stored = _stored(tx, principal, key, accepted)
    except IdempotencyKeyReused as exc:
        return (*on_error(exc), False)
    assert stored is not None, "an idempotency key vanished"
    return (*stored, True)
