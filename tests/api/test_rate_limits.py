"""Rate limits: per API key, per address without a valid key, per user name
and per address for sign-ins. Off in the testing configuration; these tests
switch them on."""
from __future__ import annotations

import re
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from o2c import create_app
from o2c.config import Config
from tests.api.test_access import assert_error, counts
from tests.conftest import Client, customer, make_key, product
from tests.web.conftest import PASSWORD, Web, make_user


def limited(db_url: str, **limits: Any) -> Any:
    app = create_app(Config(DATABASE_URL=db_url, ENV="testing", RATELIMIT_ENABLED=True, **limits))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def frozen_window(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The limiter's clock (and only its clock) stands still until moved:
    a burst is a burst however slowly this machine sends it."""
    import limits.storage.memory as memory
    now = [time.time()]
    monkeypatch.setattr(memory, "time", types.SimpleNamespace(time=lambda: now[0]))
    yield now


def burst(api: Client, n: int, path: str = "/api/v1/orders") -> list[Any]:
    return [api.get(path) for _ in range(n)]


def test_the_testing_configuration_has_them_off_and_everything_else_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("O2C_RATELIMIT_ENABLED", raising=False)
    assert Config(ENV="testing").ratelimit_enabled is False
    assert Config(ENV="production").ratelimit_enabled is True
    assert Config(ENV="development").ratelimit_enabled is True
    monkeypatch.setenv("O2C_RATELIMIT_ENABLED", "0")
    assert Config(ENV="production").ratelimit_enabled is False
    monkeypatch.setenv("O2C_RATELIMIT_ENABLED", "1")
    assert Config(ENV="testing").ratelimit_enabled is True


def test_a_burst_of_200_from_one_key_is_partly_refused_by_the_default_limits(
    db_url: str, frozen_window: list[float],
) -> None:
    app = limited(db_url)
    engine = app.extensions["o2c.engine"]
    try:
        shop = Client(app.test_client(), make_key(engine, "shop-a", "webshop"))
        answers = burst(shop, 200)
        ok = [r for r in answers if r.status_code == 200]
        refused = [r for r in answers if r.status_code == 429]
        assert len(ok) == 50 and len(refused) == 150  # 50 per second (the window stands still)
        assert ok[0].headers["X-RateLimit-Limit"] == "50" and ok[0].headers["X-RateLimit-Remaining"] == "49"
        for r in refused[:3] + refused[-3:]:
            assert_error(r, 429, "rate_limited")
            details = r.get_json()["error"]["details"]
            assert isinstance(details["retry_after"], int) and details["retry_after"] >= 1
            assert r.headers["Retry-After"] == str(details["retry_after"])
            assert details["limit"] == "50 per 1 second"
            assert "API key" in r.get_json()["error"]["message"]

        # A second later the key is served again.
        frozen_window[0] += 1.01
        assert shop.get("/api/v1/orders").status_code == 200
    finally:
        engine.dispose()


def test_another_key_is_unaffected_and_a_refused_post_writes_nothing(db_url: str) -> None:
    app = limited(db_url, RATELIMIT_API="20/minute")
    engine = app.extensions["o2c.engine"]
    try:
        admin = Client(app.test_client(), make_key(engine, "admin", "admin"))
        shop = Client(app.test_client(), make_key(engine, "shop-a", "webshop"))
        customer(admin, "C-ROSSI")
        product(admin, "MUG-01", "8.50", stock=10)
        assert [r.status_code for r in burst(shop, 25)].count(429) == 5
        before = counts(engine)
        r = shop.post("/api/v1/orders", {"customer": {"code": "C-ROSSI"}, "lines": [{"sku": "MUG-01", "quantity": 1}]})
        assert_error(r, 429, "rate_limited")
        assert counts(engine) == before

        r = admin.get("/api/v1/orders")
        assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == str(20 - 4)  # its own budget
        assert Client(app.test_client(), make_key(engine, "shop-a-2", "webshop")).get("/api/v1/orders").status_code \
            == 200  # even a key of the same channel: the limit is per key
    finally:
        engine.dispose()


def test_requests_without_a_valid_key_are_limited_per_address(db_url: str) -> None:
    app = limited(db_url, RATELIMIT_ANONYMOUS="5/minute")
    engine = app.extensions["o2c.engine"]
    try:
        key = make_key(engine, "clerk", "clerk")
        stranger = app.test_client()
        for i in range(5):
            assert_error(stranger.get("/api/v1/orders", headers={"Authorization": f"Bearer o2c_guess_{i}"}),
                         401, "unauthorized")
        r = stranger.get("/api/v1/no-such-route")
        assert_error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1
        # Another address is not affected, nor is a valid key from the same address.
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
        assert_error(other.get("/api/v1/orders"), 401, "unauthorized")
        assert Client(stranger, key).get("/api/v1/orders").status_code == 200
        # Pages, documentation and health checks are not limited per request.
        assert all(stranger.get("/healthz").status_code == 200 for _ in range(10))
    finally:
        engine.dispose()


# -- signing in --------------------------------------------------------------------------

def _attempt(app: Any, username: str, password: str, address: str = "127.0.0.1") -> Any:
    w = Web(app.test_client())
    w.c.environ_base["REMOTE_ADDR"] = address
    return w.login(username, password)


def test_sign_ins_are_limited_per_user_name_with_a_clear_page(db_url: str) -> None:
    app = limited(db_url, RATELIMIT_LOGIN="3/minute")
    engine = app.extensions["o2c.engine"]
    try:
        make_user(engine, "marta", "clerk")
        make_user(engine, "paolo", "accountant")
        for i in range(3):  # from three addresses: the user name's limit counts them all
            assert _attempt(app, "marta", "wrong", f"192.0.2.{i}").status_code == 401
        r = _attempt(app, "Marta", PASSWORD, "192.0.2.9")  # even the right password, any spelling of the name
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1
        assert r.mimetype == "text/html"
        page = re.sub(r"\s+", " ", r.text)
        assert "Too many sign-in attempts for this user name or from this address. Wait " in page
        assert "Traceback" not in page and "429 Too Many Requests" not in page
        assert 'name="username"' in page  # the form again, not an error dump
        assert "o2c_session" not in r.headers.get("Set-Cookie", "") or "Expires=Thu, 01 Jan 1970" in \
            r.headers.get("Set-Cookie", "")
        # Another user from the same address signs in.
        assert _attempt(app, "paolo", PASSWORD, "192.0.2.9").status_code == 303
    finally:
        engine.dispose()


def test_sign_ins_are_limited_per_address(db_url: str) -> None:
    app = limited(db_url, RATELIMIT_LOGIN_ADDRESS="4/minute")
    engine = app.extensions["o2c.engine"]
    try:
        make_user(engine, "marta", "clerk")
        for name in ("anna", "bruno", "carla", "dario"):
            assert _attempt(app, name, "guess", "198.51.100.1").status_code == 401
        assert _attempt(app, "marta", PASSWORD, "198.51.100.1").status_code == 429
        assert _attempt(app, "marta", PASSWORD, "198.51.100.2").status_code == 303
    finally:
        engine.dispose()
