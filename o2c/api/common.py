"""What every API view shares: the caller, the permission check, and running
a service call in its unit of work (with idempotency for POSTs)."""
from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, request
from marshmallow import Schema
from sqlalchemy import Engine

from o2c.api.errors import domain_outcome, error_response
from o2c.domain.access import Principal
from o2c.domain.errors import DomainError, ValidationFailed
from o2c.services import apikeys, idempotency
from o2c.services.uow import Tx, unit_of_work

_KEY_CACHE: dict[str, tuple[Principal, float]] = {}
_KEY_TTL = 30.0


def engine() -> Engine:
    return current_app.extensions["o2c.engine"]


def principal() -> Principal:
    return g.principal


def authenticate_request() -> Response | None:
    """``before_request`` for /api/v1: a Bearer key or 401."""
    if not request.path.startswith("/api/v1"):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return error_response(401, "unauthorized", "Send your API key as `Authorization: Bearer <key>`.")
    cached = _KEY_CACHE.get(key)
    now = time.monotonic()
    if cached and cached[1] > now:
        g.principal = cached[0]
        return None
    with unit_of_work(engine(), "auth", readonly=True) as tx:
        found = apikeys.authenticate(tx, key)
    if found is None:
        return error_response(401, "unauthorized", "This API key is not valid.")
    if len(_KEY_CACHE) > 1000:
        _KEY_CACHE.clear()
    _KEY_CACHE[key] = (found, now + _KEY_TTL)
    g.principal = found
    return None


def requires(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not principal().can(permission):
                return error_response(403, "forbidden",
                                      f"The {principal().role} role may not do this (needs {permission}).")
            return fn(*args, **kwargs)
        wrapper.required_permission = permission  # type: ignore[attr-defined]  # the OpenAPI document states it
        return wrapper
    return deco


def _json(status: int, body: str) -> Response:
    return Response(body, status=status, mimetype="application/json")


def mutate(
    work: Callable[[Tx], Any], schema: Schema, status: int = 200,
    reveal: Callable[[Tx, dict[str, Any]], dict[str, Any]] | None = None,
) -> Response:
    """Run ``work`` in one transaction and answer with its result through
    ``schema``; at most once in effect per Idempotency-Key.

    ``reveal`` adds to a successful answer what must not be stored with it
    for replays (a secret): it runs after the commit, on the first answer and
    on every replay."""
    p = principal()

    def run(tx: Tx) -> tuple[int, str]:
        return status, json.dumps(schema.dump(work(tx)))

    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 255 and key.isprintable() and key.isascii()):
        return error_response(422, "validation_error", "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                              {"fields": {"Idempotency-Key": ["1 to 255 printable ASCII characters."]}})
    fingerprint = idempotency.request_fingerprint(request.method, request.path, request.get_data())
    code, body = idempotency.run(engine(), p.actor, f"{p.kind}:{p.id}", key, fingerprint, run, domain_outcome)
    if reveal is not None and 200 <= code < 300:
        try:
            with unit_of_work(engine(), p.actor, readonly=True) as tx:
                body = json.dumps(reveal(tx, json.loads(body)))
        except DomainError as exc:
            return _json(*domain_outcome(exc))
    return _json(code, body)


def remove(work: Callable[[Tx], None]) -> Response:
    """Run a deletion in one transaction: 204 No Content."""
    try:
        with unit_of_work(engine(), principal().actor) as tx:
            work(tx)
    except DomainError as exc:
        return _json(*domain_outcome(exc))
    return Response(status=204)


def read(fn: Callable[[Tx], Any], schema: Schema) -> Response:
    try:
        with unit_of_work(engine(), principal().actor, readonly=True) as tx:
            return _json(200, json.dumps(schema.dump(fn(tx))))
    except DomainError as exc:
        return _json(*domain_outcome(exc))


def send_file(fn: Callable[[], tuple[bytes, str, str, str]]) -> Response:
    """A file: ``fn`` returns ``(content, media type, file name, ETag)``. The
    ETag makes a repeated download a 304 when the caller already has it."""
    try:
        content, media_type, filename, etag = fn()
    except DomainError as exc:
        return _json(*domain_outcome(exc))
    response = Response(content, mimetype=media_type)
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.set_etag(etag)
    return response.make_conditional(request)


def page(fn: Callable[[Tx], tuple[list[Any], Any]], schema: Schema) -> Response:
    """A list: ``{"items": [...], "next_cursor": … | null}``."""
    def run(tx: Tx) -> dict[str, Any]:
        items, cursor = fn(tx)
        return {"items": items, "next_cursor": None if cursor is None else str(cursor)}
    return read(run, schema)


def int_cursor(args: dict[str, Any]) -> int | None:
    raw = args.get("cursor")
    if raw in (None, ""):
        return None
    text = str(raw)
    # isdigit() alone admits '²' and other digits int() refuses: ASCII only.
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 2**63 - 1):
        raise ValidationFailed("Invalid cursor.", {"cursor": ["Use the next_cursor of the previous page."]})
    return int(raw)
