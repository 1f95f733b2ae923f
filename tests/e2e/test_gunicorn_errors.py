"""Through a real `o2c serve` (gunicorn): a request that is too long, has too
many or too long header fields or a control character in a header is
answered in the contract's JSON error shape, by the app below gunicorn's
limits and by gunicorn itself above them, never with an HTML page."""
from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_graceful_shutdown import _free_port, _serve

pytestmark = pytest.mark.slow


@pytest.fixture
def server(db_url: str) -> Iterator[int]:
    port = _free_port()
    proc = _serve(db_url, port)
    try:
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def exchange(port: int, target: str, headers: list[tuple[str, str]] | None = None) -> tuple[int, dict[str, str], Any]:
    """Send a GET exactly as written (no client-side checks); the answer."""
    head = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{n}: {v}\r\n" for n, v in headers or [])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode("latin-1") + b"\r\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    top, _, body = raw.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {n.lower(): v.strip() for n, _, v in (line.partition(":") for line in lines[1:])}
    assert fields.get("content-type", "").startswith("application/json"), (status, fields, body[:200])
    return status, fields, json.loads(body)


def assert_error(answer: tuple[int, dict[str, str], Any], status: int, code: str) -> dict[str, str]:
    got, fields, body = answer
    assert got == status and body["error"]["code"] == code, answer
    assert set(body["error"]) == {"code", "message", "details"}
    assert fields.get("x-request-id")
    return fields


def test_sizes_and_bad_headers_are_json_below_and_above_gunicorns_limits(server: int) -> None:
    port = server
    # the app's limits (below gunicorn's): answered by the app, with its headers
    fields = assert_error(exchange(port, "/api/v1/orders?q=" + "x" * 8100), 414, "uri_too_long")
    assert fields.get("x-content-type-options") == "nosniff" and "content-security-policy" in fields
    assert_error(exchange(port, "/api/v1/orders", [("X-Big", "y" * 9000)]), 431, "request_header_fields_too_large")
    assert_error(exchange(port, "/api/v1/orders", [(f"X-N{i}", "1") for i in range(150)]), 431,
                 "request_header_fields_too_large")
    assert_error(exchange(port, "/api/v1/orders"), 401, "unauthorized")
    # gunicorn's own refusals: the same shape
    assert_error(exchange(port, "/api/v1/orders?q=" + "x" * 9000), 414, "uri_too_long")
    assert_error(exchange(port, "/api/v1/orders", [("X-Big", "y" * 20000)]), 431, "request_header_fields_too_large")
    assert_error(exchange(port, "/api/v1/orders", [(f"X-N{i}", "1") for i in range(250)]), 431,
                 "request_header_fields_too_large")
    assert_error(exchange(port, "/api/v1/orders", [("Idempotency-Key", "k\x01y")]), 400, "bad_request")
    assert_error(exchange(port, "/api/v1/orders", [("X-Bad@Name", "1")]), 400, "bad_request")
