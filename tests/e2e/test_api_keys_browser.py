"""An administrator manages API keys in a real browser: creates one (shown
once), rotates it, and revokes it after confirming; a dismissed confirmation
revokes nothing."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from o2c.db import models as m
from tests.e2e.test_back_office import flash, sign_in
from tests.web.conftest import make_user

pytestmark = [pytest.mark.slow, pytest.mark.browser]
K = m.ApiKey.__table__


def states(engine: Engine) -> list[tuple[str, bool]]:
    with engine.connect() as c:
        return [(r.channel, r.revoked_at is not None) for r in c.execute(select(K).order_by(K.c.id))]


def test_an_admin_creates_rotates_and_revokes_a_key(engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "anna", "admin")
    pg, base = page, live_url
    sign_in(pg, base, "anna")

    pg.click("nav.nav >> text=API keys")
    assert "No API keys yet." in pg.inner_text("main")
    pg.fill("#f-name", "shop-a-app")
    pg.fill("#f-channel", "shop-a")
    pg.click("button:has-text('Create key')")
    key = pg.inner_text("#api-key-secret")
    assert key.startswith("o2c_") and len(key) > 40
    assert "API key shop-a-app created for channel shop-a." in flash(pg)
    shoot(pg, "30-api-key-created")
    pg.goto(f"{base}/keys")
    assert pg.locator("#api-key-secret").count() == 0  # shown once

    answers: list[bool] = [False]  # the first confirmation is dismissed
    pg.on("dialog", lambda d: d.accept() if answers.pop(0) else d.dismiss())
    pg.click("button:has-text('Revoke')")
    assert states(engine) == [("shop-a", False)]

    answers.append(True)
    pg.click("button:has-text('Rotate')")
    new_key = pg.inner_text("#api-key-secret")
    assert new_key.startswith("o2c_") and new_key != key
    assert states(engine) == [("shop-a", True), ("shop-a", False)]

    answers.append(True)
    pg.click("button:has-text('Revoke')")
    pg.wait_for_url(f"{base}/keys")
    assert "revoked: it is refused from now on" in flash(pg)
    assert states(engine) == [("shop-a", True), ("shop-a", True)]
    assert pg.locator("button:has-text('Revoke')").count() == 0
