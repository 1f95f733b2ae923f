"""What every API view shares: the caller, the permission check, and running
a service call in its unit of work (with idempotency for POSTs)."""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, request
from marshmallow import Schema
from sqlalchemy import Engine

from o2c.api.errors import domain_outcome, error_response
from o2c.domain.access import Principal
from o2c.domain.downloads import content_disposition
from o2c.domain.errors import DomainError, ValidationFailed
from o2c.schemas.api import for_reader
from o2c.services.platform import apikeys, idempotency
from o2c.services.platform.uow import Tx, unit_of_work

#: Set on an answer that is the stored answer of an earlier request with the
#: same ``Idempotency-Key`` (nothing was done again).
REPLAYED_HEADER = "Idempotent-Replayed"


def engine() -> Engine:
    return current_app.extensions["o2c.engine"]


def principal() -> Principal:
    return g.principal


def shaped(schema: Schema) -> Schema:
    """The answer's schema for this caller: every JSON answer goes through
    here, so what a role may not read (costs) is left out in one place."""
    return for_reader(schema, principal().can("costs:read"))


def authenticate_request() -> None:
    """``before_request`` for /api/v1: the Bearer key's principal in
    ``g.principal``, or the 401 to answer in ``g.refusal`` (answered by
    :func:`refuse_unauthenticated`, after the rate limiter has counted the
    request against the caller's address).

    The key is read from the database on every request (one indexed
    statement): a revoked or expired key is refused at once in every process."""
    if not request.path.startswith("/api/v1"):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        g.refusal = error_response(401, "unauthorized", "Send your API key as `Authorization: Bearer <key>`.")
        return None
    found = apikeys.authenticate(engine(), key)
    if found is None:
        g.refusal = error_response(401, "unauthorized", "This API key is not valid.")
        return None
    g.principal = found
    return None


def refuse_unauthenticated() -> Response | None:
    """``before_request`` after the rate limiter: the 401 decided above."""
    return g.pop("refusal", None)


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
    status_of: Callable[[Any], int] | None = None,
) -> Response:
    """Run ``work`` in one transaction and answer with its result through
    ``schema``; at most once in effect per Idempotency-Key.

    ``reveal`` adds to a successful answer what must not be stored with it
    for replays (a secret): it runs after the commit, on the first answer and
    on every replay. ``status_of`` chooses the status from the result (201
    for something new, 200 for what existed already)."""
    p = principal()
    schema = shaped(schema)

    def run(tx: Tx) -> tuple[int, str]:
        result = work(tx)
        return (status if status_of is None else status_of(result)), json.dumps(schema.dump(result))

    key = request.headers.get("Idempotency-Key")  # its form was checked before the request (o2c.inputs)
    raw = request.get_data()
    # The same JSON in another key order or spacing is the same request; the
    # hash of the raw bytes is still accepted for keys stored before.
    fingerprint = idempotency.request_fingerprint(request.method, request.path, idempotency.canonical_body(raw))
    legacy = idempotency.request_fingerprint(request.method, request.path, raw)
    code, body, replayed = idempotency.run_keyed(
        engine(), p.actor, f"{p.kind}:{p.id}", key, fingerprint, run, domain_outcome, also=legacy)
    if reveal is not None and 200 <= code < 300:
        try:
            with unit_of_work(engine(), p.actor, readonly=True) as tx:
                body = json.dumps(reveal(tx, json.loads(body)))
        except DomainError as exc:
            return _json(*domain_outcome(exc))
    response = _json(code, body)
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


def remove(work: Callable[[Tx], None]) -> Response:
    """Run a deletion in one transaction: 204 No Content."""
    try:
        with unit_of_work(engine(), principal().actor) as tx:
            work(tx)
    except DomainError as exc:
        return _json(*domain_outcome(exc))
    return Response(status=204)


def read(fn: Callable[[Tx], Any], schema: Schema) -> Response:
    schema = shaped(schema)
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
    response.headers["Content-Disposition"] = content_disposition(filename, "inline")
    response.set_etag(etag)
    return response.make_conditional(request)


def page(fn: Callable[[Tx], tuple[Any, ...]], schema: Schema) -> Response:
    """A list: ``{"items": [...], "next_cursor": … | null, "has_more": bool}``.

    ``fn`` returns the items and the position after the last one when there
    are more (else ``None``); the position goes out as an opaque cursor bound
    to this list (:func:`encode_cursor`)."""
    def run(tx: Tx) -> dict[str, Any]:
        items, position = fn(tx)
        return {"items": items, "next_cursor": None if position is None else encode_cursor(position),
                "has_more": position is not None}
    return read(run, schema)


# -- cursors ---------------------------------------------------------------------------
#
# A cursor is base64url(MAC ‖ JSON position). The MAC (HMAC-SHA256 under a key
# derived from the app's secret key, truncated to 16 bytes) covers the list's
# path and the position, so a cursor works only on the list that issued it
# and cannot be forged or edited; anything else is a 422 on ``cursor``.

_MAC_BYTES = 16
_BAD_CURSOR = ["Not a cursor of this list: use the next_cursor of the previous page."]


def _cursor_mac(list_name: str, payload: bytes) -> bytes:
    key = hmac.new(current_app.config["SECRET_KEY"].encode(), b"o2c cursor v1", hashlib.sha256).digest()
    return hmac.new(key, list_name.encode() + b"\0" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def encode_cursor(position: Any, list_name: str | None = None) -> str:
    """The opaque cursor of ``position`` (JSON-able) on this request's list."""
    payload = json.dumps(position, separators=(",", ":")).encode()
    mac = _cursor_mac(list_name or request.path, payload)
    return base64.urlsafe_b64encode(mac + payload).rstrip(b"=").decode()


def decode_cursor(raw: Any, kind: type | tuple[type, ...] = int, list_name: str | None = None) -> Any:
    """The position in ``raw`` (a cursor issued for this request's list), or
    ``None`` when there is none; a 422 on ``cursor`` for anything else."""
    if raw in (None, ""):
        return None
    text = str(raw)
    try:
        blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) if text.isascii() else b""
    except (binascii.Error, ValueError):
        blob = b""
    mac, payload = blob[:_MAC_BYTES], blob[_MAC_BYTES:]
    if not payload or not hmac.compare_digest(mac, _cursor_mac(list_name or request.path, payload)):
        raise ValidationFailed("Invalid cursor.", {"cursor": _BAD_CURSOR})
    position = json.loads(payload)
    if not isinstance(position, kind) or isinstance(position, bool):
        raise ValidationFailed("Invalid cursor.", {"cursor": _BAD_CURSOR})
    return position


def int_cursor(args: dict[str, Any]) -> int | None:
    """The id position of the ``cursor`` query parameter."""
    return decode_cursor(args.get("cursor"), int)


def str_cursor(args: dict[str, Any]) -> str | None:
    """The text position (a SKU) of the ``cursor`` query parameter."""
    return decode_cursor(args.get("cursor"), str)
