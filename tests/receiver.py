"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that records
what it gets (over TLS when given a server ``ssl.SSLContext``). ``stop()``
kills it (open keep-alive connections included) and
``start()`` brings it back on the same port."""
from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], receiver: "Receiver"):
        self.receiver = receiver
        self.open: set[socket.socket] = set()
        super().__init__(addr, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up, or the receiver being killed on purpose


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.open.add(self.connection)

    def finish(self) -> None:
        self.server.open.discard(self.connection)
        super().finish()

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if len(body) != length:  # cut off: the receiver is being killed
            self.close_connection = True
            return
        got = Received(self.path, {k: v for k, v in self.headers.items()}, body, time.monotonic())
        status = self.server.receiver.answer(got)
        with self.server.receiver.lock:
            self.server.receiver.requests.append((got, status))
        payload = b"ok" if status < 300 else b"not now"
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


class Receiver:
    def __init__(self, answer: Callable[[Received], int] | None = None, tls: ssl.SSLContext | None = None):
        self.answer: Callable[[Received], int] = answer or (lambda r: 200)
        self.tls = tls
        self.requests: list[tuple[Received, int]] = []
        self.lock = threading.Lock()
        self.port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/o2c"

    def start(self) -> "Receiver":
        self._server = _Server(("127.0.0.1", self.port), self)
        self.port = self._server.server_address[1]
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        for conn in list(server.open):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        assert self._thread is not None
        self._thread.join(5)

    def accepted(self) -> list[Received]:
        """Requests answered with 2xx, in arrival order."""
        with self.lock:
            return [r for r, status in self.requests if 200 <= status < 300]

    def all(self) -> list[tuple[Received, int]]:
        with self.lock:
            return list(self.requests)
