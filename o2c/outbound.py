"""Outbound HTTP: the only module that calls other servers (webhook
deliveries). Everything else gets an ``Outbound`` (or a stand-in in tests)
and a plain ``HttpResult`` back, never an exception.

Connections are kept alive per thread and per host; a request that fails on
a reused connection before any answer arrived (the receiver closed it while
idle) is sent once more on a fresh one. Redirects are not followed: a
webhook URL must answer 2xx itself.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

USER_AGENT = "o2c-webhooks/1"
_EXCERPT = 1000  # characters of the answer kept in the delivery log
_READ_LIMIT = 64 * 1024  # a longer answer is cut and the connection closed


@dataclass(frozen=True)
class HttpResult:
    status: int | None  # None: no HTTP answer (refused, timed out, blocked)
    error: str | None
    excerpt: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Outbound:
    def __init__(self, timeout_s: float = 10.0, allow_private: bool = False, user_agent: str = USER_AGENT):
        self.timeout_s = timeout_s
        self.allow_private = allow_private
        self.user_agent = user_agent
        self._local = threading.local()
        self._open: set[http.client.HTTPConnection] = set()
        self._open_lock = threading.Lock()
        self._verdicts: dict[tuple[str, int], tuple[float, str | None]] = {}

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpResult:
        started = time.monotonic()

        def result(status: int | None, error: str | None, excerpt: str | None = None) -> HttpResult:
            return HttpResult(status, error, excerpt, int((time.monotonic() - started) * 1000))

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return result(None, f"not an http(s) URL: {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return result(None, "invalid port in URL")
        if not self.allow_private:
            refused = self._refusal(parts.hostname, port)
            if refused:
                return result(None, refused)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent_headers = {"Content-Type": "application/json", "User-Agent": self.user_agent, **headers}
        for attempt in (1, 2):
            conn, reused = self._connection(parts.scheme, parts.hostname, port)
            try:
                conn.request("POST", path, body=body, headers=sent_headers)
                resp = conn.getresponse()
                data = resp.read(_READ_LIMIT + 1)
                if len(data) > _READ_LIMIT or resp.will_close:
                    self._drop(parts.scheme, parts.hostname, port)
                excerpt = data[:_EXCERPT * 4].decode("utf-8", "replace")[:_EXCERPT] or None
                return result(resp.status, None if 200 <= resp.status < 300 else f"HTTP {resp.status}", excerpt)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(parts.scheme, parts.hostname, port)
                if reused and attempt == 1:
                    continue  # the receiver closed an idle keep-alive connection
                return result(None, _describe(exc))
            except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
                self._drop(parts.scheme, parts.hostname, port)
                return result(None, _describe(exc))
        raise AssertionError("unreachable")

    def _refusal(self, host: str, port: int) -> str | None:
        """``_private_address``, remembered for a minute per host."""
        now = time.monotonic()
        cached = self._verdicts.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        verdict = _private_address(host, port)
        self._verdicts[(host, port)] = (now + 60.0, verdict)
        return verdict

    def close(self) -> None:
        """Close every kept-alive connection (of all threads)."""
        with self._open_lock:
            conns, self._open = self._open, set()
        for conn in conns:
            conn.close()

    def _connection(self, scheme: str, host: str, port: int) -> tuple[http.client.HTTPConnection, bool]:
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        key = (scheme, host, port)
        conn = conns.get(key)
        if conn is not None:
            return conn, True
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout_s,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout_s)
        conns[key] = conn
        with self._open_lock:
            self._open.add(conn)
        return conn, False

    def _drop(self, scheme: str, host: str, port: int) -> None:
        conn = getattr(self._local, "conns", {}).pop((scheme, host, port), None)
        if conn is not None:
            conn.close()
            with self._open_lock:
                self._open.discard(conn)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:500]


def _private_address(host: str, port: int) -> str | None:
    """Why delivering to ``host`` is refused (a private, loopback or
    link-local address, e.g. the cloud metadata service), or ``None``.
    The name is resolved again when connecting; a DNS server that answers
    differently the second time is not caught here — firewall the workers'
    egress as well where that matters."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot resolve {host}: {exc}"
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global:
            return f"refused: {host} resolves to non-public address {addr}"
    return None
