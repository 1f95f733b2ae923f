"""An accountant chases overdue customers and exports the books; an admin
subscribes a webhook and sends failed deliveries again — in a real browser."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from o2c.db import models as m
from tests.api.books_helpers import on
from tests.e2e.test_back_office import flash, sign_in
from tests.web.conftest import add_customer, add_order, add_product, make_user, pack_and_ship

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_an_accountant_reads_aging_statement_ledger_runs_dunning_and_exports(
        engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "paolo", "accountant")
    add_customer(engine, "C-AURORA", name="Caffè Aurora S.r.l.")
    add_customer(engine, "C-BORGO", name="Borgo Antico", language="en", country="IT")
    add_product(engine, "MOKA-3", "29.90", on_hand=50, cost="12.40")
    for day, code, qty in (("2026-02-10", "C-AURORA", 3), ("2026-04-20", "C-AURORA", 1),
                           ("2026-05-02", "C-BORGO", 2), ("2026-06-20", "C-BORGO", 1)):
        with on(day):
            pack_and_ship(engine, add_order(engine, code, [("MOKA-3", qty)])["id"])
    pg, base = page, live_url
    pg.on("dialog", lambda d: d.accept())
    sign_in(pg, base, "paolo")

    # Aging: buckets per customer, money right-aligned, a link to each statement.
    pg.click("nav.nav >> text=Receivables")
    pg.fill("#as_of", "2026-06-30")
    pg.click("button:has-text('Show')")
    pg.wait_for_url(re.compile(r".*as_of=2026-06-30"))
    row = pg.locator("table.aging tbody tr", has_text="C-AURORA")
    assert row.locator("td").last.inner_text() == "Statement"
    assert pg.eval_on_selector("table.aging tbody td.num", "td => getComputedStyle(td).textAlign") == "right"
    shoot(pg, "10-aging")

    row.locator("text=Statement").click()
    pg.wait_for_url(re.compile(r".*/customers/\d+/statement\?to=2026-06-30"))
    assert "Caffè Aurora" in pg.inner_text("h1")
    shoot(pg, "11-statement")
    with pg.expect_download() as dl:
        pg.click("text=Download PDF")
    assert Path(dl.value.path()).read_bytes()[:4] == b"%PDF" and dl.value.suggested_filename.startswith("statement_C-AURORA")

    # Dunning as of 30 June: one letter per customer, at the level reached.
    pg.goto(f"{base}/dunning")
    assert "No reminder letters yet." in pg.inner_text("main")
    pg.fill("#f-as_of", "2026-06-30")
    pg.click("button:has-text('Run dunning')")
    pg.wait_for_url(f"{base}/dunning")
    assert "2 letters with 3 notices recorded as of 2026-06-30" in flash(pg)
    aurora = pg.locator("table.list tbody tr", has_text="C-AURORA")
    assert aurora.locator("td").nth(3).inner_text() == "final notice"
    shoot(pg, "12-dunning")
    aurora.locator("td").first.locator("a").click()
    pg.wait_for_url(re.compile(r".*/dunning/letters/\d+$"))
    shoot(pg, "13-dunning-letter")
    with pg.expect_download() as dl:
        pg.click("text=Download PDF")
    assert Path(dl.value.path()).read_bytes()[:4] == b"%PDF"

    # The general ledger of receivables with its running balance.
    pg.goto(f"{base}/books/accounts")
    shoot(pg, "14-accounts")
    pg.click("a:has-text('1100')")
    pg.fill("#from", "2026-01-01")
    pg.fill("#to", "2026-06-30")
    pg.click("button:has-text('Show')")
    pg.wait_for_url(re.compile(r".*/books/accounts/1100\?.*"))
    balances = pg.locator("table.list tbody tr td:last-child").all_inner_texts()
    assert balances[0] == "0.00" and balances[-1] == pg.locator(".tile-value").last.inner_text()
    shoot(pg, "15-account-ledger")

    # Export the second quarter as CSV.
    pg.click("nav.subnav >> text=Export")
    pg.fill("#from", "2026-04-01")
    pg.fill("#to", "2026-06-30")
    pg.select_option("#format", "csv")
    shoot(pg, "16-export")
    with pg.expect_download() as dl:
        pg.click("button:has-text('Download')")
    text = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    assert dl.value.suggested_filename == "journal_2026-04-01_2026-06-30.csv"
    assert text.splitlines()[0].startswith("entry_number,date,account") and "2026-02-10" not in text


def test_an_admin_subscribes_a_webhook_and_redelivers_what_failed(
        engine: Engine, live_url: str, page: Any, shoot: Any) -> None:
    make_user(engine, "anna", "admin")
    pg, base = page, live_url
    pg.on("dialog", lambda d: d.accept())
    sign_in(pg, base, "anna")

    pg.click("nav.nav >> text=Webhooks")
    assert "No webhook subscriptions yet." in pg.inner_text("main")
    pg.fill("#f-url", "https://shop.example/o2c-events")
    pg.fill("#f-channel", "shop-a")
    pg.check("input[name=event_types][value='shipment.*']")
    pg.check("input[name=event_types][value='invoice.paid']")
    shoot(pg, "20-webhooks-new")
    pg.click("button:has-text('Subscribe')")
    pg.wait_for_url(re.compile(r".*/webhooks/\d+$"))
    secret = pg.inner_text("#webhook-secret")
    assert len(secret) >= 32
    shoot(pg, "21-webhook-secret")
    pg.reload()
    assert pg.locator("#webhook-secret").count() == 0  # shown once

    # Two deliveries that gave up (the receiver kept answering 503).
    wid = int(pg.url.rsplit("/", 1)[1])
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as c:
        for oid in (101, 102):
            eid = c.execute(insert(m.Event.__table__).returning(m.Event.__table__.c.id), {
                "type": "shipment.shipped", "channel": "shop-a", "order_id": oid, "data": {}, "created_at": now,
            }).scalar_one()
            c.execute(insert(m.WebhookDelivery.__table__), {
                "webhook_id": wid, "event_id": eid, "event_type": "shipment.shipped", "order_id": oid,
                "status": "failed", "attempts": 9, "next_attempt_at": now, "last_attempt_at": now,
                "last_status_code": 503, "last_error": "HTTP 503", "created_at": now})
    pg.reload()
    assert "Redeliver 2 failed" in pg.inner_text(".actions")
    shoot(pg, "22-webhook-log")

    pg.click("nav.subnav >> text=Failed deliveries")
    assert pg.locator("table.list tbody tr").count() == 2
    shoot(pg, "23-failed-deliveries")
    pg.locator("table.list tbody tr").first.locator("button:has-text('Redeliver')").click()
    pg.wait_for_url(f"{base}/webhooks/failed")
    assert "queued to be sent again" in flash(pg)
    assert pg.locator("table.list tbody tr").count() == 1
    pg.click("button:has-text('Redeliver all')")
    pg.wait_for_url(f"{base}/webhooks/failed")
    assert "1 failed delivery of 1 webhook queued" in flash(pg)
    assert "No failed deliveries." in pg.inner_text("main")
    shoot(pg, "24-failed-empty")
    with engine.connect() as c:
        statuses = c.execute(select(m.WebhookDelivery.__table__.c.status)).scalars().all()
    assert statuses == ["pending", "pending"]

    pg.goto(f"{base}/webhooks/{wid}")
    pg.click("button:has-text('Disable')")
    assert "switched off" in flash(pg)
    pg.click("button:has-text('Delete')")
    pg.wait_for_url(f"{base}/webhooks")
    assert "deleted" in flash(pg) and "No webhook subscriptions yet." in pg.inner_text("main")
