"""After the demo and the worker, the demo's invoices and dunning letters are
``.eml`` files in the outbox folder that a mail client opens: checked with
Python's ``email`` parser (parts, attachments, encodings)."""
from __future__ import annotations

import email
import email.policy
import hashlib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from o2c.config import Config
from o2c.db import models as m
from o2c.demo import load_demo
from o2c.services.platform import outbox
from o2c.worker import Worker, load_job_modules

load_job_modules()
J = m.Job.__table__


def _parse(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[return-value]


@pytest.mark.slow
def test_the_demo_s_invoices_and_letters_land_in_the_outbox_as_valid_eml_files(
    engine: Engine, db_url: str, tmp_path: Path, capsys: Any,
) -> None:
    load_demo(engine, orders=24)
    config = Config(DATABASE_URL=db_url, ENV="testing", OUTBOX_DIR=str(tmp_path / "outbox"), MAIL_URL="")
    kinds = ("invoice.render_pdf", "credit_note.render_pdf", "dunning.render_letter", outbox.SEND)

    def done() -> bool:
        with engine.connect() as c:
            return not c.execute(select(J.c.id).where(J.c.kind.in_(kinds))).first()
    Worker(engine, config, lanes={"documents": 2, "mail": 1}, poll_interval=0.02, periodic=[]).run(
        until=done, timeout=240)
    assert done()

    with engine.connect() as c:
        rows = c.execute(select(m.Message.__table__)).all()
        files = {(r.kind, r.document_id): r.content for r in c.execute(select(m.DocumentFile.__table__))}
        auto = set(c.execute(select(m.Customer.__table__.c.id)
                             .where(m.Customer.__table__.c.send_invoices == "auto")).scalars())
        invoices = c.execute(select(m.Invoice.__table__.c.id).where(m.Invoice.__table__.c.customer_id.in_(auto))).all()
        letters = c.execute(select(m.DunningLetter.__table__.c.id)).all()
    kinds_sent = [r.kind for r in rows]
    assert kinds_sent.count("invoice") == len(invoices) > 0
    assert kinds_sent.count("dunning_letter") == len(letters) > 0
    assert {r.status for r in rows} == {"sent"}
    emls = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(emls) == len(rows)

    languages = set()
    for row in rows:
        mail = _parse(outbox.eml_path(config.OUTBOX_DIR, row))
        assert mail["Message-ID"] == row.message_id and mail["To"] == row.to
        assert mail["Subject"] == row.subject  # RFC 2047-encoded on the wire, decoded equal
        # Text and HTML, and the documents beside them where there are any.
        assert mail.get_content_type() == ("multipart/alternative" if row.kind == "follow_up" else "multipart/mixed")
        text, html = mail.get_body(("plain",)), mail.get_body(("html",))
        assert text.get_content_charset() == "utf-8" and text["Content-Transfer-Encoding"] == "quoted-printable"
        assert text.get_content().replace("\r\n", "\n").strip() == row.body_text.strip()
        assert html.get_content().replace("\r\n", "\n").strip() == row.body_html.strip()
        atts = list(mail.iter_attachments())
        languages.add(row.language)
        raw = outbox.eml_path(config.OUTBOX_DIR, row).read_bytes()
        assert all(len(line) <= 998 for line in raw.split(b"\r\n")) and max(raw) < 128  # 7-bit on the wire
        if row.kind == "quotation":  # the proposal is rendered for the mail, not stored as a document file
            assert [a.get_content_type() for a in atts] == ["application/pdf"]
            assert atts[0].get_content().startswith(b"%PDF")
            continue
        if row.kind == "follow_up":  # a question with links, nothing attached
            assert atts == [] and "/f/" in row.body_text
            continue
        pdf = atts[0]
        assert pdf.get_content_type() == "application/pdf" and pdf["Content-Transfer-Encoding"] == "base64"
        assert pdf.get_content() == files[(row.document_type, row.document_id)]
        if row.kind == "invoice":
            assert [a.get_content_type() for a in atts] == ["application/pdf", "application/xml"]
            assert atts[1].get_content().startswith(b"<?xml")
        assert hashlib.sha256(pdf.get_content()).hexdigest() == hashlib.sha256(
            files[(row.document_type, row.document_id)]).hexdigest()
    assert {"it", "pl", "ru", "en"} <= languages
    assert "e-mailed by the worker" in capsys.readouterr().err
