"""Pure rules of event delivery: signatures, subscription patterns, retries."""
from __future__ import annotations

import datetime as dt

from o2c.domain import signing
from o2c.domain.events import matches, pattern_error
from o2c.domain.retry import RetryPolicy

BODY = b'{"id":7,"type":"shipment.shipped","data":{"tracking_number":"BRT0012345678"}}'


def test_a_receiver_verifies_the_signature_of_the_exact_body():
    secret = signing.derive_secret("server-key", "ab" * 32)
    header = signing.signature_header([secret], 1_700_000_000, BODY)
    assert header.startswith("t=1700000000,v1=")
    assert signing.verify(header, BODY, secret, now=1_700_000_010)
    assert not signing.verify(header, BODY.replace(b"7", b"8"), secret, now=1_700_000_010)
    assert not signing.verify(header, BODY, signing.derive_secret("server-key", "cd" * 32), now=1_700_000_010)


def test_an_old_signature_is_refused_so_a_captured_request_cannot_be_replayed():
    secret = signing.derive_secret("server-key", "ab" * 32)
    header = signing.signature_header([secret], 1_700_000_000, BODY)
    assert not signing.verify(header, BODY, secret, now=1_700_000_000 + 301)
    assert not signing.verify("v1=deadbeef", BODY, secret, now=1_700_000_000)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac
    expected = hmac.new(b"whsec_x", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signing.sign("whsec_x", 1_700_000_000, BODY) == expected


def test_during_a_rotation_either_secret_verifies():
    old, new = (signing.derive_secret("k", s * 32) for s in ("01", "02"))
    header = signing.signature_header([new, old], 1_700_000_000, BODY)
    assert header.count("v1=") == 2
    assert signing.verify(header, BODY, old, now=1_700_000_000)
    assert signing.verify(header, BODY, new, now=1_700_000_000)


def test_secrets_depend_on_the_server_key_and_the_salt():
    a = signing.derive_secret("k1", "00" * 32)
    assert a == signing.derive_secret("k1", "00" * 32)
    assert a.startswith("whsec_") and len(a) > 40
    assert a != signing.derive_secret("k2", "00" * 32)
    assert a != signing.derive_secret("k1", "01" * 32)


def test_patterns_select_types_families_or_everything():
    assert matches(["*"], "invoice.paid")
    assert matches(["shipment.*"], "shipment.shipped")
    assert not matches(["shipment.*"], "order.created")
    assert matches(["order.created", "invoice.paid"], "invoice.paid")
    assert not matches([], "invoice.paid")
    assert pattern_error("shipment.shipped") is None
    assert pattern_error("shipment.*") is None
    assert "Unknown event type" in (pattern_error("shipment.lost") or "")
    assert pattern_error("nothing.*") is not None


T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


def test_retries_back_off_exponentially_with_jitter_and_a_cap():
    p = RetryPolicy(base_s=10, max_delay_s=100, horizon_s=10_000)
    assert p.delay(1, 0.999999) < 10 and p.delay(1, 0.0) == 5
    assert p.delay(2, 0.0) == 10 and p.delay(3, 0.0) == 20
    assert p.delay(50, 0.999999) <= 100 and p.delay(50, 0.0) == 50


def test_after_the_horizon_a_delivery_gives_up_with_a_last_try_at_the_horizon():
    p = RetryPolicy(base_s=60, max_delay_s=3600, horizon_s=600)
    nxt = p.next_attempt(1, T0, T0, 0.5)
    assert nxt == T0 + dt.timedelta(seconds=45)
    late = T0 + dt.timedelta(seconds=590)
    assert p.next_attempt(5, T0, late, 0.5) == T0 + dt.timedelta(seconds=600)
    assert p.next_attempt(6, T0, T0 + dt.timedelta(seconds=600), 0.5) is None


def test_the_readme_verification_snippet_accepts_our_signatures_and_nothing_else():
    import re
    import time
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = re.search(r"<!-- verify-snippet -->\n```python\n(.*?)```", readme, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102
    verify_o2c = scope["verify_o2c"]
    secret = signing.derive_secret("server-key", "ab" * 32)
    now = int(time.time())
    header = signing.signature_header([secret], now, BODY)
    assert verify_o2c(header, BODY, secret)
    assert verify_o2c(signing.signature_header(["whsec_old", secret], now, BODY), BODY, secret)
    assert not verify_o2c(header, BODY + b" ", secret)
    assert not verify_o2c(header, BODY, "whsec_other")
    assert not verify_o2c(signing.signature_header([secret], now - 3600, BODY), BODY, secret)
    assert not verify_o2c("", BODY, secret)
