"""Running in production: health and readiness, request ids with one
structured log line per request, security headers, and configuration checks."""
from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, jsonify, request
from sqlalchemy import text

from o2c.config import DEV_SECRET, Config

log = logging.getLogger("o2c.request")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
}


class InsecureConfiguration(RuntimeError):
    pass


#: The shortest secret key accepted outside development (anyone who guesses
#: the key can sign a session cookie for any user).
MIN_SECRET_KEY_LENGTH = 16


def check_config(config: Config) -> None:
    """Refuse to run outside development with the development secret key, or
    with an empty or short one, or with webhooks allowed to private addresses."""
    if config.ENV in ("development", "testing"):
        return
    if config.WEBHOOK_ALLOW_PRIVATE:
        raise InsecureConfiguration(
            f"O2C_WEBHOOK_ALLOW_PRIVATE is set: webhooks to loopback, private and link-local addresses are "
            f"allowed in development and testing only, not when O2C_ENV is {config.ENV!r}. Unset it.")
    if config.SECRET_KEY == DEV_SECRET:
        raise InsecureConfiguration(
            "O2C_SECRET_KEY is not set: the development key is refused when O2C_ENV is "
            f"{config.ENV!r}. Set O2C_SECRET_KEY to a long random value.")
    if len(config.SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
        raise InsecureConfiguration(
            f"O2C_SECRET_KEY is too short: at least {MIN_SECRET_KEY_LENGTH} characters are needed when "
            f"O2C_ENV is {config.ENV!r}. Set it to a long random value.")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {"time": self.formatTime(record), "level": record.levelname,
                                   "logger": record.name, "message": record.getMessage()}
        payload.update(getattr(record, "fields", {}))
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def _setup_logging(app: Flask) -> None:
    if app.config["O2C"].ENV == "testing" or log.handlers:
        return
    errors = logging.StreamHandler(sys.stderr)
    target = app.config["O2C"].REQUEST_LOG
    requests_ = logging.FileHandler(target, encoding="utf-8") if target else errors
    for handler in {errors, requests_}:
        handler.setFormatter(_JsonFormatter())
    for name, handler in (("o2c.request", requests_), ("o2c.api.errors", errors)):
        lg = logging.getLogger(name)
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
        lg.propagate = False


def init_app(app: Flask) -> None:
    check_config(app.config["O2C"])
    _setup_logging(app)

    @app.before_request
    def _request_id() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if 0 < len(incoming) <= 64 and incoming.isascii() and incoming.isprintable() \
            else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        rid = g.get("request_id")
        if rid:
            response.headers["X-Request-Id"] = rid
            principal = g.get("principal")
            log.info("request", extra={"fields": {
                "request_id": rid, "method": request.method, "path": request.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - g.request_started) * 1000, 2),
                "actor": principal.actor if principal else None,
            }})
        return response

    @app.get("/healthz")
    def healthz() -> Any:
        """The process answers."""
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Any:
        """The database answers and its schema is at the latest migration."""
        from o2c.db.migrate import schema_at_head
        engine = app.extensions["o2c.engine"]
        try:
            with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
                conn.execute(text("SELECT 1"))
                current = schema_at_head(conn)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return jsonify(status="unavailable", reason=type(exc).__name__), 503
        if not current:
            return jsonify(status="unavailable", reason="migrations pending: run `o2c db upgrade`"), 503
        return jsonify(status="ok")
