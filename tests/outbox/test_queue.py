"""The outbox's seam: a message queued in a business transaction, its
rendering, its guards, and the embedded default sender writing ``.eml`` files."""
from __future__ import annotations

import email
import email.policy
import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from o2c.config import Config
from o2c.db import models as m
from o2c.domain.errors import NotFound, ValidationFailed
from o2c.services.platform import clock, outbox
from o2c.services.platform.uow import unit_of_work


def make_customer(engine: Engine, *, code: str = "C-1", language: str = "en", email_: str = "buyer@shop.example",
                  name: str = "Buyer Ltd", **extra: Any) -> int:
    with unit_of_work(engine, "test") as tx:
        return int(tx.conn.execute(insert(m.Customer.__table__).returning(m.Customer.__table__.c.id), {
            "code": code, "name": name, "email": email_, "country": "IT", "language": language, "tax_id": "",
            "payment_terms_days": 30, "credit_limit": None, "currency": "EUR",
            "billing_address": {"line1": "Via Roma 1", "city": "Milano", "postal_code": "20100", "country": "IT"},
            "shipping_address": None, "created_at": clock.now(), **extra}).scalar_one())


CTX = {"number": "INV-2026-000001", "total": __import__("decimal").Decimal("122.00"), "currency": "EUR",
       "due_date": __import__("datetime").date(2026, 4, 30)}


def test_a_message_queued_in_a_transaction_is_written_as_an_eml_file(engine: Engine, tmp_path: Path) -> None:
    cid = make_customer(engine, name="Evil\r\nBcc: all@x.example")
    pdf = b"%PDF-1.7 fake"
    with unit_of_work(engine, "test") as tx:
        mid = outbox.queue_message(tx, kind="invoice", customer_id=cid, template="invoice", context=CTX,
                                   document=("invoice", 1),
                                   attachments=[outbox.Attachment("INV-1.pdf", "application/pdf", pdf)])
    with unit_of_work(engine, "test") as tx:
        msg = outbox.get_message(tx, mid)
        jobs_ = tx.conn.execute(select(func.count()).select_from(m.Job.__table__)
                                .where(m.Job.__table__.c.kind == outbox.SEND)).scalar()
    assert msg["status"] == "queued" and msg["message_id"].startswith("<") and jobs_ == 1
    assert msg["attachments"] == [{"filename": "INV-1.pdf", "content_type": "application/pdf", "size": len(pdf),
                                   "sha256": hashlib.sha256(pdf).hexdigest()}]
    config = Config(DATABASE_URL="", MAIL_URL="", OUTBOX_DIR=str(tmp_path))
    assert outbox.deliver(engine, config, mid) is None
    with unit_of_work(engine, "test") as tx:
        msg = outbox.get_message(tx, mid)
    assert msg["status"] == "sent" and msg["attempts"] == 1 and msg["sent_at"] is not None
    [path] = tmp_path.glob("*.eml")
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == msg["message_id"]
    assert "Bcc" not in parsed and "\n" not in parsed["Subject"]
    assert parsed["Subject"] == "Invoice INV-2026-000001 from " + parsed["From"].addresses[0].display_name
    body = parsed.get_body(("plain",)).get_content()
    assert "Evil Bcc: all@x.example" in body and "INV-2026-000001" in body
    [att] = list(parsed.iter_attachments())
    assert att.get_filename() == "INV-1.pdf" and att.get_content() == pdf
    assert outbox.deliver(engine, config, mid) is None  # sent: nothing more
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_rollback_leaves_no_message(engine: Engine) -> None:
    cid = make_customer(engine)
    with pytest.raises(RuntimeError), unit_of_work(engine, "test") as tx:
        outbox.queue_message(tx, kind="invoice", customer_id=cid, template="invoice", context=CTX)
        raise RuntimeError("the business event failed")
    with unit_of_work(engine, "test") as tx:
        assert tx.conn.execute(select(func.count()).select_from(m.Message.__table__)).scalar() == 0
        assert tx.conn.execute(select(func.count()).select_from(m.Job.__table__)).scalar() == 0


def test_attachments_over_the_limit_are_refused_when_queued(engine: Engine, monkeypatch: Any) -> None:
    cid = make_customer(engine)
    monkeypatch.setenv("O2C_MAIL_MAX_ATTACHMENT_BYTES", "1000")
    with pytest.raises(ValidationFailed, match="at most 0.0 MB \\(1000 bytes\\)"), unit_of_work(engine, "t") as tx:
        outbox.queue_message(tx, kind="invoice", customer_id=cid, template="invoice", context=CTX,
                             attachments=[outbox.Attachment("big.pdf", "application/pdf", b"x" * 1001)])


@pytest.mark.parametrize("to", ["not-an-address", "a@b", "x@host.invalid", "a@b.example\r\nBcc: x@y.example", ""])
def test_bad_or_missing_addresses_are_refused(engine: Engine, to: str) -> None:
    cid = make_customer(engine, email_="")
    with pytest.raises(ValidationFailed), unit_of_work(engine, "t") as tx:
        outbox.queue_message(tx, kind="invoice", customer_id=cid, template="invoice", context=CTX, to=to)


def test_unknown_kind_template_or_customer(engine: Engine) -> None:
    cid = make_customer(engine)
    with pytest.raises(ValidationFailed), unit_of_work(engine, "t") as tx:
        outbox.queue_message(tx, kind="spam", customer_id=cid, template="invoice", context=CTX)
    with pytest.raises(ValidationFailed), unit_of_work(engine, "t") as tx:
        outbox.queue_message(tx, kind="invoice", customer_id=cid, template="nope", context=CTX)
    with pytest.raises(NotFound), unit_of_work(engine, "t") as tx:
        outbox.queue_message(tx, kind="invoice", customer_id=cid + 99, template="invoice", context=CTX)
