"""The acceptance link's public pages, without a sign-in: the proposal, accept
and decline with CSRF-protected forms; unknown or altered tokens are a plain
404; a superseded revision's link says so and leads to the latest; an expired
quotation says so; the pages are rate-limited per address."""
from __future__ import annotations

import datetime as dt
import re
import types
from typing import Any

import pytest
from sqlalchemy import Engine

from o2c import create_app
from o2c.config import Config
from tests.conftest import Client
from tests.quotes.helpers import count, events, sent_quote, shelf, token_of

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(page: Any) -> str:
    return _CSRF.search(page.get_data(as_text=True)).group(1)


def test_the_customer_accepts_through_the_link_with_an_option(app: Any, admin: Client, clerk: Client,
                                                             engine: Engine) -> None:
    shelf(admin)
    q = sent_quote(clerk)
    token = token_of(q)
    browser = app.test_client()
    page = browser.get(f"/q/{token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and q["number"] in text and "1,491.45" in text and "MAT" in text
    r = browser.post(f"/q/{token}/accept", data={"csrf_token": form_token(page), "revision": "1",
                                                 "accepted_by": "Giulia Rossi", "purchase_order": "PO-9",
                                                 "optional_skus": ["MAT"]},
                     environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert r.status_code == 200 and 'data-state="accepted"' in r.get_data(as_text=True)
    got = clerk.ok("get", f"/api/v1/quotes/{q['id']}")
    assert (got["status"], got["accepted_by"], got["purchase_order"]) == ("accepted", "Giulia Rossi", "PO-9")
    order = clerk.ok("get", f"/api/v1/orders/{got['order_id']}")
    assert [l["sku"] for l in order["lines"]] == ["DESK", "CHAIR", "MAT"] and order["status"] == "confirmed"
    with engine.connect() as c:
        from sqlalchemy import text as sql
        assert c.execute(sql("SELECT accepted_ip FROM quotes")).scalar_one() == "203.0.113.7"
    # A second submission (double click, another tab) changes nothing.
    again = browser.post(f"/q/{token}/accept", data={"csrf_token": form_token(page), "revision": "1",
                                                     "accepted_by": "Someone"})
    assert again.status_code == 200 and count(engine, "orders") == 1


def test_the_forms_need_their_csrf_token(app: Any, admin: Client, clerk: Client, engine: Engine) -> None:
    shelf(admin)
    token = token_of(sent_quote(clerk))
    r = app.test_client().post(f"/q/{token}/accept", data={"accepted_by": "X", "revision": "1"})
    assert r.status_code == 400 and count(engine, "orders") == 0


def test_decline_through_the_link(app: Any, admin: Client, clerk: Client, engine: Engine) -> None:
    shelf(admin)
    q = sent_quote(clerk)
    token = token_of(q)
    browser = app.test_client()
    page = browser.get(f"/q/{token}")
    r = browser.post(f"/q/{token}/decline", data={"csrf_token": form_token(page), "revision": "1",
                                                  "reason": "chose_competitor", "comment": "Cheaper elsewhere"})
    assert r.status_code == 200 and 'data-state="declined"' in r.get_data(as_text=True)
    assert clerk.ok("get", f"/api/v1/quotes/{q['id']}")["declined_reason"] == "chose_competitor"
    # Declined: accepting afterwards is refused on the page, nothing written.
    late = browser.post(f"/q/{token}/accept", data={"csrf_token": form_token(page), "revision": "1",
                                                    "accepted_by": "G"})
    assert late.status_code == 409 and count(engine, "orders") == 0


def test_unknown_and_altered_tokens_are_a_plain_not_found(app: Any, admin: Client, clerk: Client,
                                                          engine: Engine) -> None:
    shelf(admin)
    token = token_of(sent_quote(clerk))
    browser = app.test_client()
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    pages = [browser.get(f"/q/{t}") for t in (altered, "nothing", "x" * 300)]
    assert {p.status_code for p in pages} == {404}
    texts = {p.get_data(as_text=True) for p in pages}
    assert len(texts) == 1 and "QT-" not in texts.pop()
    page = browser.get(f"/q/{token}")
    r = browser.post(f"/q/{altered}/accept", data={"csrf_token": form_token(page), "accepted_by": "X"})
    assert r.status_code == 404 and count(engine, "orders") == 0


def test_a_superseded_link_says_so_and_leads_to_the_latest(app: Any, admin: Client, clerk: Client,
                                                           engine: Engine) -> None:
    shelf(admin)
    q = sent_quote(clerk)
    old = token_of(q)
    clerk.ok("patch", f"/api/v1/quotes/{q['id']}", {"payment_terms_days": 60})
    browser = app.test_client()
    revising = browser.get(f"/q/{old}").get_data(as_text=True)
    assert 'data-state="superseded"' in revising and 'data-state="revising"' in revising
    assert "accept-form" not in revising
    clerk.ok("post", f"/api/v1/quotes/{q['id']}/send")
    page = browser.get(f"/q/{old}")
    text = page.get_data(as_text=True)
    assert 'data-state="superseded"' in text and f"{q['number']}-R2" in text and "accept-form" in text
    # The old revision itself cannot be accepted: the form names the latest.
    stale = browser.post(f"/q/{old}/accept", data={"csrf_token": form_token(page), "revision": "1",
                                                   "accepted_by": "G"})
    assert stale.status_code == 409 and count(engine, "orders") == 0
    ok = browser.post(f"/q/{old}/accept", data={"csrf_token": form_token(page), "revision": "2",
                                                "accepted_by": "G"})
    assert ok.status_code == 200 and count(engine, "orders") == 1


def test_an_expired_quotation_has_a_clear_page(app: Any, admin: Client, clerk: Client, engine: Engine,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    shelf(admin)
    token = token_of(sent_quote(clerk, valid_days=1))
    browser = app.test_client()
    csrf = form_token(browser.get(f"/q/{token}"))  # the page was opened before the validity ended
    from o2c.services.platform import clock
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + dt.timedelta(days=2))
    page = browser.get(f"/q/{token}")
    assert page.status_code == 200 and 'data-state="expired"' in page.get_data(as_text=True)
    assert "accept-form" not in page.get_data(as_text=True)
    r = browser.post(f"/q/{token}/accept", data={"csrf_token": csrf, "accepted_by": "G"})
    assert r.status_code == 409 and count(engine, "orders") == 0


def test_the_link_pages_are_rate_limited_per_address(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import limits.storage.memory as memory
    now = [1_000_000.0]
    monkeypatch.setattr(memory, "time", types.SimpleNamespace(time=lambda: now[0]))
    app = create_app(Config(DATABASE_URL=db_url, ENV="testing", RATELIMIT_ENABLED=True,
                            RATELIMIT_QUOTE_LINKS="5/minute"))
    app.config["TESTING"] = True
    try:
        browser = app.test_client()
        answers = [browser.get(f"/q/guess{i}").status_code for i in range(8)]
        assert answers == [404] * 5 + [429] * 3
        other = app.test_client().get("/q/guess", environ_base={"REMOTE_ADDR": "198.51.100.9"})
        assert other.status_code == 404
        now[0] += 61
        assert browser.get("/q/guess").status_code == 404
    finally:
        app.extensions["o2c.engine"].dispose()
