"""Webhook subscriptions and deliveries in the back office: admins only;
the secret shown once; switching off, on, deleting; the delivery log with
the receiver's answers; and failed deliveries sent again, one or all."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from o2c.db import models as m
from o2c.domain import signing
from o2c.services.platform import webhooks
from tests.web.conftest import Web

W = m.Webhook.__table__
D = m.WebhookDelivery.__table__
A = m.WebhookAttempt.__table__
E = m.Event.__table__
J = m.Job.__table__


def subscribe(web: Web, url: str = "https://shop.example/hooks", **extra: Any) -> Any:
    token = web.form_token("/webhooks")
    return web.post("/webhooks", {"url": url, "event_types": ["shipment.*", "invoice.issued"],
                                  "description": "shop", "form_token": token, **extra})


def hook_id(engine: Engine, url: str = "https://shop.example/hooks") -> int:
    with engine.connect() as c:
        return c.execute(select(W.c.id).where(W.c.url == url)).scalar_one()


def failed_delivery(engine: Engine, wid: int, order_id: int | None = None, code: int = 500) -> int:
    """An event and a delivery of it that failed for good, with one attempt logged."""
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as c:
        eid = c.execute(insert(E).returning(E.c.id), {
            "type": "shipment.shipped", "channel": "shop-a", "order_id": order_id, "data": {"x": 1},
            "created_at": now}).scalar_one()
        did = c.execute(insert(D).returning(D.c.id), {
            "webhook_id": wid, "event_id": eid, "event_type": "shipment.shipped", "order_id": order_id,
            "status": "failed", "attempts": 7, "next_attempt_at": now, "first_attempt_at": now,
            "last_attempt_at": now, "last_status_code": code, "last_error": f"HTTP {code}",
            "created_at": now}).scalar_one()
        c.execute(insert(A), {"delivery_id": did, "attempted_at": now, "status_code": code, "error": f"HTTP {code}",
                              "duration_ms": 12, "response_excerpt": "upstream broke"})
    return did


def status_of(engine: Engine, did: int) -> str:
    with engine.connect() as c:
        return c.execute(select(D.c.status).where(D.c.id == did)).scalar_one()


def test_an_admin_subscribes_and_sees_the_secret_once(admin_web: Web, engine: Engine, app: Any) -> None:
    empty = admin_web.get("/webhooks")
    assert empty.status_code == 200 and "No webhook subscriptions yet." in empty.text
    r = subscribe(admin_web, channel="shop-a")
    assert r.status_code == 303
    wid = hook_id(engine)
    assert r.headers["Location"] == f"/webhooks/{wid}"
    first = admin_web.get(r.headers["Location"])
    secret = re.search(r'<code class="secret" id="webhook-secret">([^<]+)</code>', first.text).group(1)
    with engine.connect() as c:
        row = c.execute(select(W).where(W.c.id == wid)).one()
    assert secret == signing.derive_secret(app.config["O2C"].webhook_key, row.secret_salt)
    assert (row.channel, list(row.event_types), row.description) == ("shop-a", ["shipment.*", "invoice.issued"], "shop")
    again = admin_web.get(f"/webhooks/{wid}")
    assert "webhook-secret" not in again.text and secret not in again.text  # once only
    listed = admin_web.get("/webhooks")
    assert "https://shop.example/hooks" in listed.text and "shipment.*, invoice.issued" in listed.text


def test_a_bad_subscription_is_refused_next_to_the_field_with_the_values_kept(admin_web: Web, engine: Engine) -> None:
    r = subscribe(admin_web, url="not a url")
    assert r.status_code == 422 and 'value="not a url"' in r.text and 'aria-invalid="true"' in r.text
    bad_type = admin_web.post("/webhooks", {"url": "https://shop.example/x", "event_types": ["order.nonsense"],
                                            "form_token": admin_web.form_token("/webhooks")})
    assert bad_type.status_code == 422 and "Unknown event type" in bad_type.text
    with engine.connect() as c:
        assert c.execute(select(W.c.id)).all() == []


def test_double_submit_subscribes_once(admin_web: Web, engine: Engine) -> None:
    token = admin_web.form_token("/webhooks")
    body = {"url": "https://shop.example/hooks", "event_types": ["*"], "form_token": token}
    assert admin_web.post("/webhooks", body).status_code == 303
    assert admin_web.post("/webhooks", body).status_code == 303
    with engine.connect() as c:
        assert len(c.execute(select(W.c.id)).all()) == 1


def test_disable_enable_rotate_and_delete(admin_web: Web, engine: Engine) -> None:
    subscribe(admin_web)
    wid = hook_id(engine)
    admin_web.get(f"/webhooks/{wid}")  # the one showing of the secret
    r = admin_web.post(f"/webhooks/{wid}/disable", {"form_token": "t" * 20})
    assert r.status_code == 303
    page = admin_web.get(f"/webhooks/{wid}")
    assert "switched off" in page.text and "badge-disabled" in page.text
    with engine.connect() as c:
        assert c.execute(select(W.c.active).where(W.c.id == wid)).scalar_one() is False
    admin_web.post(f"/webhooks/{wid}/enable", {"form_token": "u" * 20})
    with engine.connect() as c:
        salt = c.execute(select(W.c.active, W.c.secret_salt).where(W.c.id == wid)).one()
    assert salt.active is True

    rotated = admin_web.get(admin_web.post(f"/webhooks/{wid}/rotate-secret", {"form_token": "v" * 20}).headers["Location"])
    assert "webhook-secret" in rotated.text and "Previous secret" in rotated.text
    with engine.connect() as c:
        assert c.execute(select(W.c.previous_secret_salt).where(W.c.id == wid)).scalar_one() == salt.secret_salt

    gone = admin_web.post(f"/webhooks/{wid}/delete", {"form_token": "w" * 20})
    assert gone.status_code == 303 and gone.headers["Location"] == "/webhooks"
    with engine.connect() as c:
        assert c.execute(select(W.c.id)).all() == []
    assert admin_web.get(f"/webhooks/{wid}").status_code == 404


def test_delivery_log_shows_response_codes_and_attempts(admin_web: Web, engine: Engine) -> None:
    subscribe(admin_web)
    wid = hook_id(engine)
    did = failed_delivery(engine, wid, code=503)
    page = admin_web.get(f"/webhooks/{wid}")
    assert re.search(rf'>{did}</a>.*?badge-failed.*?<td class="num code">503</td>', page.text, re.S)
    only_delivered = admin_web.get(f"/webhooks/{wid}?status=delivered")
    assert "No deliveries with status delivered yet." in only_delivered.text
    detail = admin_web.get(f"/webhooks/{wid}/deliveries/{did}")
    assert detail.status_code == 200 and "upstream broke" in detail.text and ">503<" in detail.text
    assert admin_web.get(f"/webhooks/{wid}/deliveries/99999").status_code == 404


def test_failed_deliveries_are_redelivered_one_or_all(admin_web: Web, engine: Engine) -> None:
    empty = admin_web.get("/webhooks/failed")
    assert "No failed deliveries." in empty.text
    subscribe(admin_web)
    subscribe(admin_web, url="https://other.example/in")
    a, b = hook_id(engine), hook_id(engine, "https://other.example/in")
    d1, d2, d3 = failed_delivery(engine, a, 11), failed_delivery(engine, a, 12), failed_delivery(engine, b, 13)
    page = admin_web.get("/webhooks/failed")
    assert all(f'/deliveries/{d}/redeliver"' in page.text for d in (d1, d2, d3))

    one = admin_web.post(f"/webhooks/{a}/deliveries/{d1}/redeliver", {"form_token": "a" * 20,
                                                                      "back": "/webhooks/failed"})
    assert one.status_code == 303 and one.headers["Location"] == "/webhooks/failed"
    assert [status_of(engine, d) for d in (d1, d2, d3)] == ["pending", "failed", "failed"]
    with engine.connect() as c:
        assert c.execute(select(J.c.key).where(J.c.kind == webhooks.DELIVER)).scalars().all() == \
            [webhooks.lane_key(a, 11, 0)]

    everything = admin_web.post("/webhooks/failed/redeliver", {"form_token": "b" * 20})
    assert "2 failed deliveries of 2 webhooks queued to be sent again." in admin_web.get(everything.headers["Location"]).text
    assert [status_of(engine, d) for d in (d1, d2, d3)] == ["pending", "pending", "pending"]
    assert "No failed deliveries." in admin_web.get("/webhooks/failed").text


def test_redeliver_a_subscriptions_failed_from_its_page(admin_web: Web, engine: Engine) -> None:
    subscribe(admin_web)
    wid = hook_id(engine)
    d = failed_delivery(engine, wid, 21)
    assert "Redeliver 1 failed" in admin_web.get(f"/webhooks/{wid}").text
    r = admin_web.post(f"/webhooks/{wid}/redeliver-failed", {"form_token": "c" * 20, "back": f"/webhooks/{wid}"})
    assert r.headers["Location"] == f"/webhooks/{wid}" and status_of(engine, d) == "pending"
    # An outside address to go back to is not followed.
    r = admin_web.post(f"/webhooks/{wid}/redeliver-failed", {"form_token": "d" * 20, "back": "https://evil.example/"})
    assert r.headers["Location"] == "/webhooks/failed"


@pytest.mark.parametrize("who", ["clerk_web", "accountant_web"])
def test_only_admins_manage_webhooks(request: pytest.FixtureRequest, who: str, engine: Engine) -> None:
    web: Web = request.getfixturevalue(who)
    for path in ("/webhooks", "/webhooks/failed", "/webhooks/1", "/webhooks/1/deliveries/1"):
        assert web.get(path).status_code == 403, path
    for path in ("/webhooks", "/webhooks/1/disable", "/webhooks/1/enable", "/webhooks/1/delete",
                 "/webhooks/1/rotate-secret", "/webhooks/1/deliveries/1/redeliver", "/webhooks/1/redeliver-failed",
                 "/webhooks/failed/redeliver"):
        assert web.post(path, {"url": "https://x.example/", "form_token": "e" * 20}).status_code == 403, path
    assert 'href="/webhooks"' not in web.get("/").text
    with engine.connect() as c:
        assert c.execute(select(W.c.id)).all() == []


def test_webhook_forms_need_the_csrf_token(admin_web: Web, engine: Engine) -> None:
    r = admin_web.post("/webhooks", {"url": "https://shop.example/hooks", "event_types": ["*"]}, csrf=False)
    assert r.status_code == 400 and "The form has expired" in r.text
    subscribe(admin_web)
    wid = hook_id(engine)
    assert admin_web.post(f"/webhooks/{wid}/delete", {}, csrf=False).status_code == 400
    assert admin_web.post("/webhooks/failed/redeliver", {}, csrf=False).status_code == 400
    with engine.connect() as c:
        assert c.execute(select(W.c.id)).scalars().all() == [wid]


def test_the_admin_navigation_has_the_webhook_pages(admin_web: Web) -> None:
    page = admin_web.get("/webhooks").text
    assert 'href="/webhooks"' in page and 'href="/webhooks/failed"' in page
    assert 'href="/receivables/aging"' in page  # the Receivables section (its first page)
