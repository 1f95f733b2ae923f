"""Webhook signatures (pure): the secret a subscription signs with, and the
``O2C-Signature`` header a receiver verifies.

    O2C-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

During a secret rotation the header carries one ``v1`` per valid secret; a
receiver accepts the request when any of them matches its secret.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

HEADER = "O2C-Signature"
DEFAULT_TOLERANCE_S = 300
_CONTEXT = b"o2c webhook signing secret\x00"


def derive_secret(server_key: str, salt: str) -> str:
    """A subscription's secret, derived from the server's webhook key and the
    subscription's random salt: the database alone never reveals it."""
    digest = hmac.new(server_key.encode(), _CONTEXT + bytes.fromhex(salt), hashlib.sha256).digest()
    return "whsec_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={sign(s, timestamp, body)}" for s in secrets)])


def verify(header: str, body: bytes, secret: str, now: float, tolerance_s: int = DEFAULT_TOLERANCE_S) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp
    is within ``tolerance_s`` of ``now`` (which stops replays of old requests)."""
    timestamp, candidates = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)
