"""Signing in: passwords, lockout, sessions, CSRF and cookie flags."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from o2c.config import Config
from o2c.db import models as m
from o2c.services.platform import clock, users
from o2c.services.platform.uow import unit_of_work
from tests.web.conftest import PASSWORD, Web, flashes, make_user


def test_anonymous_visitors_are_sent_to_sign_in(app: Any) -> None:
    r = app.test_client().get("/orders?status=draft")
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login?next=")


def test_a_clerk_signs_in_and_lands_where_they_wanted(app: Any, people: dict[str, str]) -> None:
    w = Web(app.test_client())
    w.c.get("/orders")
    r = w.login("clerk")
    assert r.status_code == 303
    page = w.get("/orders")
    assert page.status_code == 200
    assert "clerk" in page.text and "Sign out" in page.text


def test_sign_in_follows_only_same_site_paths(app: Any, people: dict[str, str]) -> None:
    w = Web(app.test_client())
    page = w.c.get("/login?next=https://evil.example/")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = w.c.post("/login?next=//evil.example/", data={"csrf_token": token, "username": "clerk",
                                                       "password": PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == "/"


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app: Any, people: dict[str, str]) -> None:
    w = Web(app.test_client())
    bad_password = w.login("clerk", "not the password")
    unknown_user = w.login("nobody", "not the password")
    assert bad_password.status_code == unknown_user.status_code == 401
    assert "Wrong user name or password." in bad_password.text
    assert "Wrong user name or password." in unknown_user.text
    assert 'value="clerk"' in bad_password.text  # the user name is kept
    assert w.get("/orders").status_code == 302


def test_five_failures_lock_the_account_for_a_while(app: Any, engine: Engine, people: dict[str, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    w = Web(app.test_client())
    for _ in range(users.MAX_FAILED_LOGINS):
        assert w.login("clerk", "guess").status_code == 401
    locked = w.login("clerk")  # the right password, too late
    assert locked.status_code == 401 and "locked" in locked.text
    with engine.connect() as c:
        assert c.execute(select(m.User.__table__.c.locked_until).where(
            m.User.__table__.c.username == "clerk")).scalar() is not None

    later = clock.now() + users.LOCKOUT + dt.timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert w.login("clerk").status_code == 303


def test_a_deactivated_user_is_signed_out_and_cannot_sign_in(app: Any, engine: Engine, clerk_web: Web) -> None:
    with engine.begin() as c:
        c.execute(m.User.__table__.update().values(active=False))
    assert clerk_web.get("/orders").status_code == 302
    assert Web(app.test_client()).login("clerk").status_code == 401


def test_changing_a_password_ends_the_sessions_signed_in_with_the_old_one(engine: Engine, clerk_web: Web) -> None:
    assert clerk_web.get("/").status_code == 200
    with unit_of_work(engine, "test") as tx:
        users.set_password(tx, "clerk", "a brand new password")
    assert clerk_web.get("/").status_code == 302


def test_signing_out_ends_the_session(clerk_web: Web) -> None:
    r = clerk_web.post("/logout")
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert clerk_web.get("/").status_code == 302


def test_forms_without_the_csrf_token_are_refused(app: Any, engine: Engine, clerk_web: Web) -> None:
    r = clerk_web.post("/customers/new", {"code": "C-NOCSRF", "name": "X", "country": "IT"}, csrf=False)
    assert r.status_code == 400
    assert "The form has expired" in r.text
    with engine.connect() as c:
        assert c.execute(select(m.Customer.__table__.c.id)).first() is None
    signed_out = Web(app.test_client())
    assert signed_out.c.post("/login", data={"username": "clerk", "password": PASSWORD}).status_code == 400


def test_the_json_api_needs_no_csrf_token(admin: Any) -> None:
    r = admin.post("/api/v1/products", {"sku": "API-ONLY", "name": "Api", "unit_price": "1.00", "vat_rate": "0.22"})
    assert r.status_code == 201


def test_the_session_cookie_is_http_only_and_same_site(app: Any, people: dict[str, str]) -> None:
    w = Web(app.test_client())
    page = w.c.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = w.c.post("/login", data={"csrf_token": token, "username": "clerk", "password": PASSWORD})
    cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie" and v.startswith("o2c_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie


def test_cookies_are_https_only_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("O2C_ENV", "production")
    assert Config().SESSION_COOKIE_SECURE is True
    monkeypatch.setenv("O2C_ENV", "development")
    assert Config().SESSION_COOKIE_SECURE is False
    monkeypatch.setenv("O2C_SESSION_COOKIE_SECURE", "1")
    assert Config().SESSION_COOKIE_SECURE is True


def test_a_session_expires_after_eight_hours(app: Any, clerk_web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from itsdangerous import TimestampSigner
    assert app.permanent_session_lifetime == dt.timedelta(hours=8)
    assert clerk_web.get("/").status_code == 200
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 8 * 3600 - 60)
    clerk_web.c.get("/")  # the cookie is re-signed with the old timestamp…
    monkeypatch.undo()
    assert clerk_web.get("/").status_code == 302  # …and is now too old


def test_passwords_are_stored_only_as_scrypt_hashes(engine: Engine, people: dict[str, str]) -> None:
    with engine.connect() as c:
        stored = c.execute(select(m.User.__table__.c.password_hash)).scalars().all()
    assert len(stored) == 3
    assert all(h.startswith("scrypt:") and PASSWORD not in h for h in stored)


def test_create_user_from_the_command_line(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from o2c.cli import main
    monkeypatch.setenv("O2C_DATABASE_URL", db_url)
    runner = CliRunner()
    r = runner.invoke(main, ["create-user", "--username", "marta", "--role", "clerk"],
                      input="s3cret-enough\ns3cret-enough\n")
    assert r.exit_code == 0, r.output
    assert "user 'marta' created with role clerk" in r.output
    again = runner.invoke(main, ["create-user", "--username", "marta", "--role", "clerk", "--password", "whatever1"])
    assert again.exit_code != 0 and "exists already" in again.output
    short = runner.invoke(main, ["create-user", "--username", "ugo", "--role", "admin", "--password", "short"])
    assert short.exit_code != 0 and "At least 8 characters" in short.output
    webshop = runner.invoke(main, ["create-user", "--username", "shop", "--role", "webshop", "--password", "x" * 10])
    assert webshop.exit_code != 0
    changed = runner.invoke(main, ["set-password", "--username", "marta", "--password", "another-secret"])
    assert changed.exit_code == 0 and "password of 'marta' changed" in changed.output
    nobody = runner.invoke(main, ["set-password", "--username", "nobody", "--password", "another-secret"])
    assert nobody.exit_code != 0 and "No user named" in nobody.output


def test_the_sign_in_page_says_why_when_fields_are_empty(app: Any) -> None:
    w = Web(app.test_client())
    page = w.c.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = w.c.post("/login", data={"csrf_token": token, "username": "", "password": ""})
    assert r.status_code == 401 and "Enter your user name and password." in flashes(r.text)


def test_make_user_refuses_a_duplicate(engine: Engine, people: dict[str, str]) -> None:
    from o2c.domain.errors import Conflict
    with pytest.raises(Conflict):
        make_user(engine, "clerk", "clerk")


def test_the_demo_creates_one_user_per_role_once(app: Any, engine: Engine) -> None:
    from o2c.demo import DEMO_PASSWORD, ensure_demo_users
    assert ensure_demo_users(engine) == ["clerk", "accountant", "admin"]
    assert ensure_demo_users(engine) == []
    w = Web(app.test_client())
    assert w.login("accountant", DEMO_PASSWORD).status_code == 303
    assert "accountant" in w.get("/").text
