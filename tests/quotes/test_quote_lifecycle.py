"""Quotations over time and under load: concurrent acceptances make one
order, the worker expires sent quotations after their validity and (when
configured) reminds before it, the e-mail carries the PDF and the link."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from o2c.config import Config
from o2c.services.platform import clock, outbox
from o2c.services.sales.quote_jobs import expire_and_remind
from tests.conftest import Client, reconciliation_ok
from tests.quotes.helpers import count, events, sent_quote, shelf
from tests.services.test_races import Answer, clients, race

N = 12


def test_concurrent_acceptances_create_one_order(app: Any, admin: Client, keys: dict[str, str],
                                                engine: Engine) -> None:
    shelf(admin)
    clerk = Client(app.test_client(), keys["clerk"])
    q = sent_quote(clerk)
    racers = clients(app, keys["clerk"], N)
    answers = race(N, lambda i: Answer(racers[i].post(f"/api/v1/quotes/{q['id']}/accept",
                                                      {"accepted_by": f"Signer {i}"})))
    assert Counter(a.status for a in answers) == {200: N}, answers
    assert len({a.body["order_id"] for a in answers}) == 1
    assert count(engine, "orders") == 1 and len(events(engine, "quote.accepted")) == 1
    assert admin.ok("get", "/api/v1/stock/DESK")["reserved"] == 3
    reconciliation_ok(admin)


def test_the_worker_expires_sent_quotations_after_their_validity(admin: Client, clerk: Client, engine: Engine,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    shelf(admin)
    short = sent_quote(clerk, valid_days=1)
    long = sent_quote(clerk, valid_days=10)
    assert expire_and_remind(engine, 0) == 0
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + dt.timedelta(days=2))
    assert expire_and_remind(engine, 0) == 1
    assert clerk.ok("get", f"/api/v1/quotes/{short['id']}")["status"] == "expired"
    assert clerk.ok("get", f"/api/v1/quotes/{long['id']}")["status"] == "sent"
    assert [e["quote_id"] for e in events(engine, "quote.expired")] == [short["id"]]
    assert expire_and_remind(engine, 0) == 0  # once


def test_a_reminder_goes_out_days_before_the_end_when_configured(admin: Client, clerk: Client,
                                                                 engine: Engine) -> None:
    shelf(admin)
    q = sent_quote(clerk, valid_days=3)
    sent_quote(clerk, valid_days=20)
    before = count(engine, "messages", "kind = 'quotation'")
    assert expire_and_remind(engine, 0) == 0  # off by default
    assert expire_and_remind(engine, 5) == 1
    assert expire_and_remind(engine, 5) == 0  # once per quotation
    assert count(engine, "messages", "kind = 'quotation'") == before + 1
    assert count(engine, "messages", "template = 'quotation_reminder' AND document_id = :q", q=q["id"]) == 1


def test_sending_mails_the_pdf_with_the_acceptance_link(admin: Client, clerk: Client, engine: Engine,
                                                        tmp_path: Path) -> None:
    shelf(admin)
    q = sent_quote(clerk)
    with engine.connect() as c:
        from sqlalchemy import text
        mid = c.execute(text("SELECT id FROM messages WHERE kind = 'quotation'")).scalar_one()
    config = Config(DATABASE_URL="", MAIL_URL="", OUTBOX_DIR=str(tmp_path))
    assert outbox.deliver(engine, config, mid) is None
    [path] = tmp_path.glob("*.eml")
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert q["number"] in parsed["Subject"]
    assert q["acceptance_url"] in parsed.get_body(("plain",)).get_content()
    [pdf] = [p for p in parsed.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == f"{q['number']}.pdf" and pdf.get_content().startswith(b"%PDF")


def test_the_proposal_pdf_in_the_customer_language(admin: Client, clerk: Client) -> None:
    shelf(admin)
    q = sent_quote(clerk)
    r = clerk.get(f"/api/v1/quotes/{q['id']}/pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    from pypdf import PdfReader  # noqa: PLC0415
    import io
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
    assert "Offerta" in text and q["number"] in text and "Valida fino al" in text
    assert "1.491,45" in text  # the total, Italian formatting


def test_the_demo_has_quotations_in_every_state_and_one_shipped(engine: Engine) -> None:
    from sqlalchemy import text

    from o2c.demo import load_demo
    load_demo(engine, 6)
    with engine.connect() as c:
        states = set(c.execute(text("SELECT status FROM quotes")).scalars())
        shipped = c.execute(text(
            "SELECT o.fulfillment_status FROM quotes q JOIN orders o ON o.id = q.order_id "
            "WHERE q.status = 'accepted'")).scalar_one()
        revised = c.execute(text("SELECT count(*) FROM quote_revisions WHERE revision = 2")).scalar_one()
    assert states == {"draft", "sent", "accepted", "declined", "expired", "cancelled"}
    assert shipped == "shipped" and revised == 2
