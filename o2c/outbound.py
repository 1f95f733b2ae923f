"""Outbound HTTP: the only module that calls other servers (webhook
deliveries, and :func:`fetch_document` for a configured exchange-rate
source). Everything else gets an ``Outbound`` (or a stand-in in tests)
and a plain ``HttpResult`` back, never an exception.

Each delivery resolves the host once (``resolve``), checks every address it
got (none may be loopback, private, link-local, the metadata service…:
``o2c.domain.netaddr``), and connects to one of exactly those addresses
(``open_socket``): there is no second lookup a rebinding DNS server could
answer differently, and no verdict kept from one delivery to the next. The
request still names the host: ``Host`` header, TLS SNI and certificate
verification are for the name in the URL, not the address.

Connections are kept alive per thread and per host while the host resolves
to the same addresses; a request that fails on a reused connection before
any answer arrived (the receiver closed it while idle) is sent once more on
a fresh one. Redirects are not followed: a webhook URL must answer 2xx itself.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from o2c.domain import netaddr

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


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` stands for, in the resolver's order: the one
    lookup of a delivery. An IP literal in any notation is read here, without
    asking DNS. Raises ``OSError`` when the name does not resolve."""
    try:
        literal = netaddr.ip_literal(host)
    except netaddr.NotAHost as exc:
        raise OSError(str(exc)) from None
    if literal is not None:
        return [str(literal)]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def open_socket(address: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to ``address`` (an IP address, never a name)."""
    return socket.create_connection((address, port), timeout)


def refusal(host: str, addresses: list[str]) -> str | None:
    """Why a delivery to ``host``, resolved to ``addresses``, is refused."""
    for a in addresses:
        why = netaddr.refusal(ipaddress.ip_address(a))
        if why:
            return f"refused: {host} resolves to non-public address {a} ({why})"
    return None


class _Pinned:
    """Connect to one of the checked ``addresses`` (in order), never to what
    the host name would resolve to now."""

    def __init__(self, addresses: tuple[str, ...], port: int):
        self.addresses = addresses
        self.port = port

    def __call__(self, _address: Any, timeout: Any = None, source_address: Any = None) -> socket.socket:
        last: OSError | None = None
        for a in self.addresses:
            try:
                return open_socket(a, self.port, timeout)
            except OSError as exc:
                last = exc
        assert last is not None
        raise last


class Outbound:
    def __init__(self, timeout_s: float = 10.0, allow_private: bool = False, user_agent: str = USER_AGENT,
                 ssl_context: ssl.SSLContext | None = None):
        self.timeout_s = timeout_s
        #: Development and tests only (Config.webhook_allow_private): deliver to
        #: loopback and private addresses too. The lookup is the same one.
        self.allow_private = allow_private
        self.user_agent = user_agent
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._local = threading.local()
        self._open: set[http.client.HTTPConnection] = set()
        self._open_lock = threading.Lock()

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
        host = parts.hostname
        try:
            addresses = tuple(resolve(host, port))
        except OSError as exc:
            return result(None, f"cannot resolve {host}: {exc}"[:500])
        if not addresses:
            return result(None, f"cannot resolve {host}: no address")
        if not self.allow_private:
            refused = refusal(host, list(addresses))
            if refused:
                return result(None, refused)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent_headers = {"Content-Type": "application/json", "User-Agent": self.user_agent, **headers}
        for attempt in (1, 2):
            conn, reused = self._connection(parts.scheme, host, port, addresses)
            try:
                conn.request("POST", path, body=body, headers=sent_headers)
                resp = conn.getresponse()
                data = resp.read(_READ_LIMIT + 1)
                if len(data) > _READ_LIMIT or resp.will_close:
                    self._drop(parts.scheme, host, port)
                excerpt = data[:_EXCERPT * 4].decode("utf-8", "replace")[:_EXCERPT] or None
                return result(resp.status, None if 200 <= resp.status < 300 else f"HTTP {resp.status}", excerpt)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(parts.scheme, host, port)
                if reused and attempt == 1:
                    continue  # the receiver closed an idle keep-alive connection
                return result(None, _describe(exc))
            except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
                self._drop(parts.scheme, host, port)
                return result(None, _describe(exc))
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close every kept-alive connection (of all threads)."""
        with self._open_lock:
            conns, self._open = self._open, set()
        for conn in conns:
            conn.close()

    def _connection(self, scheme: str, host: str, port: int,
                    addresses: tuple[str, ...]) -> tuple[http.client.HTTPConnection, bool]:
        """A kept-alive connection to ``host`` if it was made to the same
        checked addresses, else a new one pinned to ``addresses``."""
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        key = (scheme, host, port)
        conn = conns.get(key)
        if conn is not None:
            if set(conn._create_connection.addresses) == set(addresses):  # type: ignore[attr-defined]
                return conn, True
            self._drop(scheme, host, port)  # the name moved: connect again, to where it points now
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout_s, context=self.ssl_context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout_s)
        # http.client opens its socket through this attribute (then, for
        # HTTPS, wraps it with SNI and verification for ``host``).
        conn._create_connection = _Pinned(addresses, port)  # type: ignore[attr-defined]
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


def fetch_document(url: str, timeout: float = 30.0, limit: int = 32 * 1024 * 1024) -> bytes:
    """GET a document an administrator configured (the exchange-rate source,
    ``O2C_FX_PROVIDER_URL``): HTTPS or HTTP only, at most ``limit`` bytes.
    Raises ``OSError`` (or ``ValueError`` for another scheme or a too large
    answer); never called unless configured."""
    import urllib.request

    if urlsplit(url).scheme not in ("https", "http"):
        raise ValueError(f"“{url}” is not an http(s) URL.")
    request = urllib.request.Request(url, headers={"User-Agent": "o2c-rates/1"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # nosec B310 - scheme checked above: http(s) only
        data: bytes = answer.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"The answer of “{url}” is larger than {limit:,} bytes.")
    return data
