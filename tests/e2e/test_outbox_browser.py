"""A clerk finds an invoice's e-mail in the outbox, previews what the
customer sees and sends it again — in a real browser."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from o2c.config import Config
from o2c.db import models as m
from o2c.services.billing import documents
from o2c.services.platform import outbox
from tests.e2e.test_back_office import flash, sign_in
from tests.web.conftest import add_customer, add_order, add_product, make_user, pack_and_ship

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_clerk_previews_and_resends_an_invoice_mail(
        engine: Engine, live_url: str, page: Any, shoot: Any, tmp_path: Path) -> None:
    make_user(engine, "marta", "clerk")
    add_customer(engine, "C-AURORA", name="Caffè Aurora S.r.l.", send_invoices="auto",
                 invoice_email="fatture@caffeaurora.example")
    add_product(engine, "MOKA-3", "29.90", on_hand=10, cost="12.40")
    inv = pack_and_ship(engine, add_order(engine, "C-AURORA", [("MOKA-3", 2)])["id"])["invoice_id"]
    documents.render_invoice_document(engine, inv)  # the render job: stores the PDF, queues the mail
    with engine.connect() as c:
        [mid] = c.execute(select(m.Message.__table__.c.id)).scalars().all()
    outbox.deliver(engine, Config(DATABASE_URL="", OUTBOX_DIR=str(tmp_path)), mid)

    pg, base = page, live_url
    pg.on("dialog", lambda d: d.accept())
    sign_in(pg, base, "marta")
    pg.click("nav.nav >> text=Customers")
    pg.click("text=Outbox")
    pg.wait_for_url(f"{base}/outbox")
    row = pg.locator("table.list tbody tr", has_text="fatture@caffeaurora.example")
    assert "sent" in row.inner_text() and "Fattura" in row.inner_text()
    pg.select_option("#f-status", "failed")
    pg.click("button:has-text('Filter')")
    pg.wait_for_url(re.compile(r".*status=failed"))
    assert "No e-mails match" in pg.inner_text("main")
    pg.goto(f"{base}/outbox?kind=invoice")
    pg.click(f"text=#{mid}")
    pg.wait_for_url(f"{base}/outbox/{mid}")

    # The preview: the HTML part in a sandboxed frame, in the customer's language.
    frame = pg.frame_locator("iframe.mail-preview")
    assert "Gentile Caffè Aurora S.r.l.," in frame.locator("body").inner_text()
    assert pg.get_attribute("iframe.mail-preview", "sandbox") == ""
    attachments = pg.inner_text("main")
    assert re.search(r"INV-\d{4}-\d{6}\.pdf", attachments) and ".xml" in attachments
    shoot(pg, "40-outbox-message")

    pg.click("button:has-text('Resend')")
    pg.wait_for_url(re.compile(rf"{base}/outbox/(?!{mid}$)\d+$"))
    assert "is kept as it was" in flash(pg)
    assert "queued" in pg.inner_text("h1")
    new = int(pg.url.rsplit("/", 1)[1])
    pg.goto(f"{base}/invoices/{inv}")
    msgs = pg.locator("#messages").inner_text()
    assert f"#{mid}" in msgs and f"#{new}" in msgs
    with engine.connect() as c:
        rows = {r.id: r for r in c.execute(select(m.Message.__table__))}
    assert rows[mid].status == "sent" and rows[new].resent_from == mid and rows[new].status == "queued"
