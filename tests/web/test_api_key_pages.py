"""API keys in the back office: administrators only; a new or rotated key
shown once on the page that answers the form; revocation asks first and
takes effect at once on the API."""
from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import Engine, select

from o2c.db import models as m
from tests.conftest import Client
from tests.web.conftest import Web

K = m.ApiKey.__table__
_SECRET = re.compile(r'id="api-key-secret">(o2c_[^<]+)</code>')


def create(web: Web, **fields: str) -> Any:
    token = web.form_token("/keys")
    return web.post("/keys", {"name": "shop-w", "role": "webshop", "channel": "", "expires": "",
                              "form_token": token, **fields})


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as c:
        return c.execute(select(K).order_by(K.c.id)).all()


def test_an_admin_creates_a_key_and_sees_it_once(admin_web: Web, engine: Engine, app: Any) -> None:
    r = create(admin_web, name="shop-w", channel="shop-w-eu", expires="2099-01-31")
    assert r.status_code == 201, r.text[:500]
    key = _SECRET.search(r.text).group(1)
    assert "copy it now; it will not be shown again" in r.text
    row = rows(engine)[-1]
    assert (row.name, row.channel, row.role, row.expires_at.date().isoformat()) == \
        ("shop-w", "shop-w-eu", "webshop", "2099-01-31")
    assert Client(app.test_client(), key).get("/api/v1/orders").status_code == 200
    listing = admin_web.get("/keys")
    assert listing.status_code == 200 and "shop-w-eu" in listing.text and f"o2c_{row.prefix}_" in listing.text
    assert key not in listing.text and _SECRET.search(listing.text) is None


def test_a_double_submit_creates_one_key(admin_web: Web, engine: Engine) -> None:
    token = admin_web.form_token("/keys")
    body = {"name": "shop-w", "role": "webshop", "channel": "", "expires": "", "form_token": token}
    first = admin_web.post("/keys", body)
    again = admin_web.post("/keys", body)
    assert first.status_code == 201 and again.status_code == 303
    assert [r.name for r in rows(engine)] == ["shop-w"]


def test_bad_input_is_shown_next_to_the_fields(admin_web: Web, engine: Engine) -> None:
    r = create(admin_web, name="  ")
    assert r.status_code == 422 and "has-error" in r.text
    r = create(admin_web, expires="2001-01-01")
    assert r.status_code == 422 and "The expiry must be in the future." in html.unescape(r.text)
    assert rows(engine) == []
    create(admin_web)
    r = create(admin_web)
    assert r.status_code == 409 and "exists already" in r.text


def test_revoke_asks_first_and_takes_effect_at_once(admin_web: Web, engine: Engine, app: Any) -> None:
    key = _SECRET.search(create(admin_web).text).group(1)
    kid = rows(engine)[-1].id
    page = admin_web.get("/keys").text
    form = re.search(rf'<form method="post" action="/keys/{kid}/revoke"[^>]*>', page).group(0)
    assert 'data-confirm="Revoke the API key shop-w' in html.unescape(form)
    token = re.search(rf'action="/keys/{kid}/revoke".*?name="form_token" value="([^"]+)"', page, re.S).group(1)
    r = admin_web.post(f"/keys/{kid}/revoke", {"form_token": token})
    assert r.status_code == 303
    assert rows(engine)[-1].revoked_at is not None
    assert Client(app.test_client(), key).get("/api/v1/orders").status_code == 401
    again = admin_web.post(f"/keys/{kid}/revoke", {"form_token": "another-token-1234"}, follow_redirects=True)
    assert "revoked already" in again.text


def test_rotate_shows_the_new_key_once_and_keeps_the_old_one_for_the_grace_period(
    admin_web: Web, engine: Engine, app: Any,
) -> None:
    old = _SECRET.search(create(admin_web, channel="shop-w-eu").text).group(1)
    kid = rows(engine)[-1].id
    r = admin_web.post(f"/keys/{kid}/rotate", {"grace_minutes": "15", "form_token": "rotate-token-1234"})
    assert r.status_code == 201
    new = _SECRET.search(r.text).group(1)
    assert new != old
    assert [(x.name, x.channel) for x in rows(engine)] == [("shop-w", "shop-w-eu")] * 2
    assert Client(app.test_client(), old).get("/api/v1/orders").status_code == 200
    assert Client(app.test_client(), new).get("/api/v1/orders").status_code == 200
    assert "expiring" in admin_web.get("/keys").text


def test_other_roles_may_not_open_the_page(clerk_web: Web, accountant_web: Web, engine: Engine) -> None:
    for web in (clerk_web, accountant_web):
        assert web.get("/keys").status_code == 403
        assert web.post("/keys", {"name": "x", "role": "admin"}).status_code == 403
        assert "API keys" not in web.get("/").text
    assert rows(engine) == []
