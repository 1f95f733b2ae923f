"""Rate limits, with Flask-Limiter: per API key, per address for API requests
without a valid key, and per user name and per address for sign-ins.

A refused API request is ``429`` in the contract's error shape, code
``rate_limited``, ``details.retry_after`` in seconds, with ``Retry-After``
and the ``X-RateLimit-Limit/Remaining/Reset`` headers; a refused sign-in is
the sign-in page again (429) saying how long to wait.

Windows are moving windows (exact: a burst is refused as soon as the last
second, or minute, holds the limit). Counters live in each process's memory
unless ``O2C_RATELIMIT_STORAGE_URL`` names a shared store (``redis://…``),
which every process then counts in.
"""
from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import ApplicationLimit, Limiter
from flask_limiter.errors import RateLimitExceeded
from limits import parse_many

from o2c.api.errors import error_response

EXTENSION = "o2c.limiter"


def client_address() -> str:
    """The caller's address as the server sees it (behind a proxy: configure
    it to pass the client's address, e.g. with Werkzeug's ProxyFix)."""
    return request.remote_addr or "unknown"


def _keyed() -> bool:
    p = g.get("principal")
    return p is not None and p.kind == "api_key"


def _key_id() -> str:
    return f"key:{g.principal.id}"


def _address_key() -> str:
    return f"addr:{client_address()}"


def init_app(app: Flask) -> None:
    """Register the limiter. Call it after the API's authentication (the
    per-key limit needs the key) and before the 401 is answered (requests
    without a valid key count against their address)."""
    cfg = app.config["O2C"]
    limiter = Limiter(
        key_func=_address_key,
        application_limits=[
            ApplicationLimit(cfg.RATELIMIT_API, key_function=_key_id, scope="api-key",
                             exempt_when=lambda: not _keyed(),
                             error_message="Too many requests with this API key"),
            ApplicationLimit(cfg.RATELIMIT_ANONYMOUS, key_function=_address_key, scope="anonymous",
                             exempt_when=_keyed,
                             error_message="Too many requests without a valid API key from this address"),
        ],
        storage_uri=cfg.RATELIMIT_STORAGE_URL,
        strategy="moving-window",
        headers_enabled=True,
        enabled=cfg.ratelimit_enabled,
        # Unknown paths under /api/v1 count too (Flask-Limiter skips requests without an endpoint).
        request_identifier=lambda: request.endpoint or "unrouted",
    )
    # Only the JSON API is limited per request; pages, documentation, health
    # checks and the benchmark's trivial endpoint are not (sign-ins are, below).
    limiter.request_filter(lambda: not request.path.startswith("/api/v1"))

    # Registered before the limiter's own after_request, so it runs after it:
    # the limiter rounds Retry-After down (to 0 in the last second of a window).
    @app.after_request
    def _retry_after_header(response: Response) -> Response:
        wait = g.get("retry_after")
        if wait is not None and response.status_code == 429:
            response.headers["Retry-After"] = str(wait)
        return response

    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many_requests)


def _seconds_until(reset_at: float) -> int:
    return max(1, math.ceil(reset_at - time.time()))


def _too_many_requests(exc: RateLimitExceeded) -> Any:
    limiter: Limiter = current_app.extensions[EXTENSION]
    current = limiter.current_limit
    wait = _seconds_until(current.reset_at) if current is not None else 1
    g.retry_after = wait
    limit = str(exc.limit.limit)
    response = error_response(429, "rate_limited", f"{exc.description}: at most {limit}. Retry in {wait} s.",
                              {"retry_after": wait, "limit": limit})
    response.headers["Retry-After"] = str(wait)
    return response


def sign_in_wait(username: str) -> int | None:
    """Count a sign-in attempt against the user name and the address; the
    seconds to wait when either is over its limit, else ``None``."""
    cfg = current_app.config["O2C"]
    limiter: Limiter | None = current_app.extensions.get(EXTENSION)
    if limiter is None or not cfg.ratelimit_enabled:
        return None
    strategy = limiter.limiter
    resets: list[float] = []
    for spec, ident in ((cfg.RATELIMIT_LOGIN, ("login-user", username.strip().casefold())),
                        (cfg.RATELIMIT_LOGIN_ADDRESS, ("login-address", client_address()))):
        for item in parse_many(spec):
            if not strategy.hit(item, *ident):
                resets.append(strategy.get_window_stats(item, *ident).reset_time)
    if not resets:
        return None
    wait = _seconds_until(max(resets))
    g.retry_after = wait
    return wait


def quote_link_wait() -> int | None:
    """Count a request to a public quotation link against the caller's
    address; the seconds to wait when it is over its limit, else ``None``.
    Guessing tokens is slowed down this way (they are 256-bit random)."""
    cfg = current_app.config["O2C"]
    limiter: Limiter | None = current_app.extensions.get(EXTENSION)
    if limiter is None or not cfg.ratelimit_enabled:
        return None
    strategy = limiter.limiter
    resets: list[float] = []
    for item in parse_many(cfg.RATELIMIT_QUOTE_LINKS):
        if not strategy.hit(item, "quote-link", client_address()):
            resets.append(strategy.get_window_stats(item, "quote-link", client_address()).reset_time)
    if not resets:
        return None
    wait = _seconds_until(max(resets))
    g.retry_after = wait
    return wait
