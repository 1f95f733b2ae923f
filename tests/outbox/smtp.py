"""A real SMTP server in the test process (aiosmtpd) whose answers a test
scripts: accept, answer 4xx or 5xx, or vanish in the middle of a message."""
from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Handler:
    #: What to answer to the next messages' DATA, in order; then "250 OK".
    #: "vanish" closes the connection without an answer.
    data_answers: list[str] = field(default_factory=list)
    #: Recipients answered with this at RCPT TO (e.g. "550 5.1.1 no such user").
    refuse: dict[str, str] = field(default_factory=dict)
    received: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            answer = self.data_answers.pop(0) if self.data_answers else "250 OK"
            if answer == "vanish":
                server.transport.abort()
                return "421 gone"
            if answer.startswith("250"):
                self.received.append(envelope.original_content or envelope.content)
        return answer

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [email.message_from_bytes(b, policy=email.policy.default) for b in self.received]  # type: ignore[misc]


class SmtpServer:
    def __init__(self) -> None:
        self.handler = Handler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()


def running() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server
