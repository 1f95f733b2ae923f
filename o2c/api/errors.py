"""The one place where domain errors and HTTP errors become the contract's
error shape: ``{"error": {"code", "message", "details"}}``."""
from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from o2c.domain.errors import DomainError

log = logging.getLogger(__name__)

STATUS_OF: dict[str, int] = {
    "validation_error": 422,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "invalid_transition": 409,
    "out_of_stock": 409,
    "credit_limit_exceeded": 409,
    "idempotency_key_reused": 422,
    "period_closed": 409,
    "coupon_unavailable": 409,
    "rate_missing": 409,
    "currency_mismatch": 422,
}

HTTP_CODES: dict[int, str] = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 414: "uri_too_long",
    415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
    431: "request_header_fields_too_large",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> str:
    return json.dumps({"error": {"code": code, "message": message, "details": details or {}}})


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    return Response(error_body(code, message, details), status=status, mimetype="application/json")


def domain_outcome(exc: DomainError) -> tuple[int, str]:
    return STATUS_OF.get(exc.code, 409), error_body(exc.code, exc.message, exc.details)


def _handle_domain(exc: DomainError) -> Response:
    status, body = domain_outcome(exc)
    return Response(body, status=status, mimetype="application/json")


def _handle_http(exc: HTTPException) -> Any:
    if not request.path.startswith("/api"):
        return exc
    status = exc.code or 500
    if status == 405 and not _path_exists(exc):
        status = 404  # only a rule of another method "matched", and with a segment its converter refuses
    code = HTTP_CODES.get(status, "error")
    details: dict[str, Any] = {}
    message = exc.description or exc.name
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if status == 422 and messages:
        # webargs: {"json": {...}} or {"query": {...}}
        fields: dict[str, Any] = {}
        for part in messages.values():
            if isinstance(part, dict):
                fields.update(part)
        details["fields"] = fields
        message = "The request has invalid fields: " + ", ".join(sorted(map(str, fields))) + "."
    elif status == 400 and messages:
        message = "The request body is not valid JSON."
    elif status == 413:
        message = "The request body is too large."
    response = error_response(status, code, message, details)
    valid_methods = getattr(exc, "valid_methods", None)
    if status == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response


def _path_exists(exc: HTTPException) -> bool:
    """Whether the path is served with some method: werkzeug answers 405 when
    another method's rule matches the path even if a converter (an id of 0, a
    SKU with a slash) would refuse the segment for that rule too."""
    methods = [m for m in (getattr(exc, "valid_methods", None) or []) if m not in ("HEAD", "OPTIONS")]
    if not methods:
        return True
    try:
        current_app.url_map.bind_to_environ(request.environ).match(method=methods[0])
    except HTTPException:
        return False
    return True


def _handle_unexpected(exc: Exception) -> Any:
    if isinstance(exc, HTTPException):
        return _handle_http(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    if not request.path.startswith("/api"):
        raise exc
    return error_response(500, "internal_error", "Something went wrong on our side; nothing was changed.")


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, _handle_domain)
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(Exception, _handle_unexpected)
