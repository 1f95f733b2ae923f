"""Sending through a real SMTP server (aiosmtpd, in the test process): the
invoice an auto-send customer gets when it is issued, temporary and permanent
failures, the server vanishing mid-message, a worker dying after the server
accepted, and many invoices at once."""
from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from o2c.config import Config
from o2c.db import models as m
from o2c.services.billing import documents
from o2c.services.platform import jobs, outbox
from o2c.services.platform.uow import unit_of_work
from o2c.worker import Worker, load_job_modules
from tests.api.books_helpers import sell
from tests.conftest import Client, customer, product
from tests.outbox.smtp import SmtpServer, running
from tests.outbox.test_queue import CTX, make_customer

load_job_modules()
J = m.Job.__table__
MSG = m.Message.__table__
FILES = m.DocumentFile.__table__
EV = m.Event.__table__


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from running()


@pytest.fixture
def config(db_url: str, smtp: SmtpServer) -> Config:
    return Config(DATABASE_URL=db_url, ENV="testing", MAIL_URL=smtp.url, MAIL_RETRY_BASE_S=0.05,
                  MAIL_RETRY_MAX_DELAY_S=0.2)


def pending(engine: Engine, *kinds: str) -> int:
    with engine.connect() as c:
        return len(c.execute(select(J.c.id).where(J.c.kind.in_(kinds), J.c.status.in_(("queued", "running")))).all())


def work_off(engine: Engine, config: Config, timeout: float = 60, **lanes: int) -> None:
    kinds = ("invoice.render_pdf", "credit_note.render_pdf", "dunning.render_letter", outbox.SEND)
    w = Worker(engine, config, lanes=lanes or {"documents": 1, "mail": 1}, poll_interval=0.02, periodic=[],
               name="w-test")
    w.run(until=lambda: pending(engine, *kinds) == 0, timeout=timeout)
    assert pending(engine, *kinds) == 0, "the worker ran out of time"


def message_rows(engine: Engine) -> list[Any]:
    with engine.connect() as c:
        return c.execute(select(MSG).order_by(MSG.c.id)).all()


def events(engine: Engine, type_: str) -> list[dict[str, Any]]:
    with engine.connect() as c:
        return [r.data for r in c.execute(select(EV.c.data).where(EV.c.type == type_).order_by(EV.c.id))]


SUBJECT = {"en": "Invoice {n} from", "it": "Fattura {n} da", "pl": "Faktura {n} od", "ru": "Счёт {n} от"}
GREETING = {"en": "Dear ", "it": "Gentile ", "pl": "Szanowni Państwo", "ru": "Уважаемый клиент"}


@pytest.mark.parametrize("lang", ["en", "it", "pl", "ru"])
def test_an_issued_invoice_reaches_an_auto_send_customer_once_with_its_stored_pdf_and_ubl(
    engine: Engine, config: Config, admin: Client, smtp: SmtpServer, lang: str,
) -> None:
    customer(admin, "C-AUTO", language=lang, send_invoices="auto", invoice_email="fatture@rossi.example")
    customer(admin, "C-MANUAL", send_invoices="manual")
    product(admin, "MUG-01", "10.00", "0.22", stock=100, cost="3.00")
    inv = sell(admin, "C-AUTO", [("MUG-01", 2)])
    sell(admin, "C-MANUAL", [("MUG-01", 1)])
    assert message_rows(engine) == []  # queued when the PDF is stored, after the issue
    work_off(engine, config)

    [mail] = smtp.handler.messages()
    [row] = message_rows(engine)
    assert (row.status, row.attempts, row.kind, row.document_type, row.document_id, row.language) == (
        "sent", 1, "invoice", "invoice", inv["id"], lang)
    assert mail["Message-ID"] == row.message_id and mail["To"] == "fatture@rossi.example"
    assert mail["Subject"].startswith(SUBJECT[lang].format(n=inv["number"]))
    assert GREETING[lang] in mail.get_body(("plain",)).get_content()
    assert GREETING[lang] in mail.get_body(("html",)).get_content()
    pdf, xml = list(mail.iter_attachments())
    with engine.connect() as c:
        stored = c.execute(select(FILES.c.content).where(FILES.c.kind == "invoice",
                                                         FILES.c.document_id == inv["id"])).scalar_one()
    assert pdf.get_filename() == f"{inv['number']}.pdf" and pdf.get_content_type() == "application/pdf"
    assert pdf.get_content() == stored  # the stored bytes, byte for byte
    assert xml.get_filename() == f"{inv['number']}.xml"
    assert xml.get_content() == admin.get(f"/api/v1/invoices/{inv['id']}/ubl").data
    got = admin.ok("get", f"/api/v1/messages/{row.id}")
    assert [a["sha256"] for a in got["attachments"]] == [
        __import__("hashlib").sha256(pdf.get_content()).hexdigest(),
        __import__("hashlib").sha256(xml.get_content()).hexdigest()]
    assert [e["message_id"] for e in events(engine, "message.sent")] == [row.id]


def _queue(engine: Engine, to: str | None = None) -> int:
    cid = make_customer(engine)
    with unit_of_work(engine, "test") as tx:
        return outbox.queue_message(tx, kind="invoice", customer_id=cid, template="invoice", context=CTX, to=to,
                                    attachments=[outbox.Attachment("a.pdf", "application/pdf", b"%PDF-x")])


def test_a_temporary_failure_is_retried_with_backoff_then_sent(engine: Engine, config: Config,
                                                               smtp: SmtpServer) -> None:
    smtp.handler.data_answers = ["451 4.3.0 Mailbox busy, try again later"]
    mid = _queue(engine)
    at = outbox.deliver(engine, config, mid)
    [row] = message_rows(engine)
    assert at is not None and (row.status, row.attempts) == ("queued", 1)
    assert row.last_error.startswith("451 4.3.0 Mailbox busy") and row.next_attempt_at is not None
    assert smtp.handler.messages() == []
    work_off(engine, config)  # the job, rescheduled to the backoff, sends it
    [row] = message_rows(engine)
    assert (row.status, row.attempts) == ("sent", 2)
    assert [m_["Message-ID"] for m_ in smtp.handler.messages()] == [row.message_id]


def test_a_permanent_failure_stops_at_once_with_the_server_answer(engine: Engine, config: Config,
                                                                  smtp: SmtpServer) -> None:
    smtp.handler.refuse["gone@shop.example"] = "550 5.1.1 <gone@shop.example>: no such user"
    mid = _queue(engine, to="gone@shop.example")
    work_off(engine, config)
    [row] = message_rows(engine)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "550 5.1.1 <gone@shop.example>: no such user" in row.last_error
    assert [(e["message_id"], "550" in e["error"]) for e in events(engine, "message.failed")] == [(mid, True)]
    assert smtp.handler.messages() == []


def test_a_5xx_after_the_data_is_permanent(engine: Engine, config: Config, smtp: SmtpServer) -> None:
    smtp.handler.data_answers = ["554 5.7.1 Message rejected as spam"]
    _queue(engine)
    work_off(engine, config)
    [row] = message_rows(engine)
    assert (row.status, row.last_error) == ("failed", "554 5.7.1 Message rejected as spam")


def test_the_server_vanishing_mid_message_leaves_it_queued_with_the_attempt(
    engine: Engine, config: Config, smtp: SmtpServer,
) -> None:
    smtp.handler.data_answers = ["vanish"]
    mid = _queue(engine)
    assert outbox.deliver(engine, config, mid) is not None
    [row] = message_rows(engine)
    assert (row.status, row.attempts) == ("queued", 1) and "SMTPServerDisconnected" in row.last_error
    assert outbox.deliver(engine, config, mid) is None
    [row] = message_rows(engine)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(smtp.handler.messages()) == 1


def test_no_server_at_all_is_temporary(engine: Engine, db_url: str) -> None:
    from tests.outbox.smtp import free_port
    cfg = Config(DATABASE_URL=db_url, ENV="testing", MAIL_URL=f"smtp://127.0.0.1:{free_port()}?timeout=2")
    mid = _queue(engine)
    assert outbox.deliver(engine, cfg, mid) is not None
    [row] = message_rows(engine)
    assert row.status == "queued" and "ConnectionRefusedError" in row.last_error


def test_a_worker_dying_after_the_server_accepted_sends_once_more_with_the_same_message_id(
    engine: Engine, config: Config, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The honest guarantee: accepted but not recorded → one more copy, same Message-ID."""
    mid = _queue(engine)
    real = outbox._event

    def die(tx: Any, type_: str, msg: Any, **extra: Any) -> None:
        raise KeyboardInterrupt("worker killed")  # before the 'sent' transaction commits
    monkeypatch.setattr(outbox, "_event", die)
    with pytest.raises(KeyboardInterrupt):
        outbox.deliver(engine, config, mid)
    [row] = message_rows(engine)
    assert (row.status, row.attempts) == ("sending", 1)
    monkeypatch.setattr(outbox, "_event", real)
    # The job's lease runs out; a worker takes it again.
    with engine.begin() as c:
        c.execute(update(J).values(status="running", locked_by="dead", locked_until=dt.datetime(2000, 1, 1,
                                                                                                tzinfo=dt.UTC)))
    work_off(engine, config)
    [row] = message_rows(engine)
    assert (row.status, row.attempts) == ("sent", 2)
    assert [m_["Message-ID"] for m_ in smtp.handler.messages()] == [row.message_id, row.message_id]


def test_a_rolled_back_document_store_queues_no_message(engine: Engine, admin: Client) -> None:
    customer(admin, "C-AUTO", send_invoices="auto")
    product(admin, "MUG-01", "10.00", "0.22", stock=10, cost="3.00")
    inv = sell(admin, "C-AUTO", [("MUG-01", 1)])
    with pytest.raises(RuntimeError), unit_of_work(engine, "test") as tx:
        documents.render_document(tx, "invoice", inv["id"])
        assert len(tx.conn.execute(select(MSG.c.id)).all()) == 1  # queued with the file …
        raise RuntimeError("the transaction fails")
    assert message_rows(engine) == []  # … and gone with it
    with engine.connect() as c:
        assert c.execute(select(J.c.id).where(J.c.kind == outbox.SEND)).all() == []


@pytest.mark.slow
def test_fifty_invoices_shipped_concurrently_make_fifty_mails_with_distinct_message_ids(
    app: Any, engine: Engine, config: Config, admin: Client, smtp: SmtpServer,
) -> None:
    customer(admin, "C-AUTO", send_invoices="auto")
    product(admin, "MUG-01", "10.00", "0.22", stock=100, cost="3.00")
    shipments = []
    for _ in range(50):
        o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-AUTO"}, "currency": "EUR",
                                                 "lines": [{"sku": "MUG-01", "quantity": 1}], "confirm": True},
                     status=201)
        shipments.append(admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)["id"])
    errors: list[Any] = []

    def ship(ids: list[int]) -> None:
        c = Client(app.test_client(), admin.key)
        for sid in ids:
            r = c.post(f"/api/v1/shipments/{sid}/ship", {"carrier": "BRT", "tracking_number": f"T{sid}"})
            if r.status_code != 200:
                errors.append(r.get_json())
    threads = [threading.Thread(target=ship, args=(shipments[i::5],)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    work_off(engine, config, timeout=300, documents=2, mail=1)
    mails = smtp.handler.messages()
    rows = message_rows(engine)
    assert len(mails) == 50 and len(rows) == 50 and {r.status for r in rows} == {"sent"}
    assert len({m_["Message-ID"] for m_ in mails}) == 50
    assert {m_["Message-ID"] for m_ in mails} == {r.message_id for r in rows}
    assert len({r.document_id for r in rows}) == 50


def test_a_credit_note_reaches_an_auto_send_customer_with_its_pdf_and_ubl(
    engine: Engine, config: Config, admin: Client, smtp: SmtpServer,
) -> None:
    customer(admin, "C-AUTO", language="pl", send_invoices="auto")
    product(admin, "MUG-01", "10.00", "0.22", stock=10, cost="3.00")
    inv = sell(admin, "C-AUTO", [("MUG-01", 2)])
    rma = admin.ok("post", f"/api/v1/orders/{inv['order_id']}/returns",
                   {"lines": [{"sku": "MUG-01", "quantity": 1}], "restock": True, "refund": "credit"}, status=201)
    work_off(engine, config)
    cn_id = rma["credit_note_ids"][0]
    rows = message_rows(engine)
    assert sorted((r.kind, r.document_id, r.status) for r in rows) == [
        ("credit_note", cn_id, "sent"), ("invoice", inv["id"], "sent")]
    [mail] = [x for x in smtp.handler.messages() if x["Subject"].startswith("Faktura korygująca")]
    pdf, xml = list(mail.iter_attachments())
    with engine.connect() as c:
        stored = c.execute(select(FILES.c.content).where(FILES.c.kind == "credit_note",
                                                         FILES.c.document_id == cn_id)).scalar_one()
    assert pdf.get_content() == stored
    assert xml.get_content() == admin.get(f"/api/v1/credit-notes/{cn_id}/ubl").data
