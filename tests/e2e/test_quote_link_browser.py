"""A customer answers a quotation in a real browser, through the link the
e-mail carried: the link is taken from the ``.eml`` the outbox wrote, the
proposal page opens without a sign-in, and accepting (with an option and a
purchase order) or declining records the answer."""
from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from o2c.config import Config
from o2c.services.platform import outbox
from tests.conftest import Client
from tests.quotes.helpers import quote_body, shelf

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def link_from_the_mail(engine: Engine, quote_id: int, outbox_dir: Path) -> str:
    with engine.connect() as c:
        mid = c.execute(text("SELECT id FROM messages WHERE document_type = 'quote' AND document_id = :q "
                             "ORDER BY id DESC"), {"q": quote_id}).scalars().first()
    assert outbox.deliver(engine, Config(DATABASE_URL="", MAIL_URL="", OUTBOX_DIR=str(outbox_dir)), mid) is None
    [eml] = [p for p in outbox_dir.glob("*.eml") if p.name.startswith(f"{mid:08d}")]
    body = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default).get_body(("plain",)).get_content()
    return re.search(r"(http://\S+/q/\S+)", body).group(1)


@pytest.fixture
def sent(app: Any, admin: Client, clerk: Client, live_url: str) -> Any:
    shelf(admin)
    app.config["O2C"].PUBLIC_URL = live_url  # the address in the e-mail is the one the browser reaches

    def send() -> dict[str, Any]:
        q = clerk.ok("post", "/api/v1/quotes", quote_body(), status=201)
        return clerk.ok("post", f"/api/v1/quotes/{q['id']}/send")
    return send


def test_the_customer_accepts_in_the_browser_from_the_mailed_link(
        engine: Engine, clerk: Client, sent: Any, page: Any, shoot: Any, tmp_path: Path) -> None:
    q = sent()
    link = link_from_the_mail(engine, q["id"], tmp_path)
    assert link == q["acceptance_url"]
    page.goto(link)
    assert q["number"] in page.inner_text("h1")
    shoot(page, "quote-public-page")
    page.check("input[name=optional_skus][value=MAT]")
    page.fill("input[name=accepted_by]", "Giulia Rossi")
    page.fill("input[name=purchase_order]", "PO-4711")
    page.click("#accept-form button[type=submit]")
    page.wait_for_selector("[data-state=accepted]")
    assert "Giulia Rossi" in page.inner_text("[data-state=accepted]")
    got = clerk.ok("get", f"/api/v1/quotes/{q['id']}")
    assert (got["status"], got["purchase_order"]) == ("accepted", "PO-4711")
    order = clerk.ok("get", f"/api/v1/orders/{got['order_id']}")
    assert [l["sku"] for l in order["lines"]] == ["DESK", "CHAIR", "MAT"] and order["total"] == "1546.45"


def test_the_customer_declines_in_the_browser(engine: Engine, clerk: Client, sent: Any, page: Any,
                                              tmp_path: Path) -> None:
    q = sent()
    page.goto(link_from_the_mail(engine, q["id"], tmp_path))
    page.select_option("select[name=reason]", "delivery_time")
    page.fill("textarea[name=comment]", "We need it next week.")
    page.click("#decline-form button[type=submit]")
    page.wait_for_selector("[data-state=declined]")
    got = clerk.ok("get", f"/api/v1/quotes/{q['id']}")
    assert (got["status"], got["declined_reason"], got["declined_comment"]) == \
        ("declined", "delivery_time", "We need it next week.")
    assert "accept-form" not in page.content()
