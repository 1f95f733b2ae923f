"""The outbox page: messages with status, attempts and the server's answer,
filters, a sandboxed preview, resend; the invoice, customer and dunning
pages list their messages; customers' addresses checked in the form."""
from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import Engine, select

from o2c.config import Config
from o2c.db import models as m
from o2c.services.billing import documents
from o2c.services.platform import outbox
from tests.web.conftest import Web, add_customer, add_order, add_product, flashes, pack_and_ship


def _auto_invoice(engine: Engine) -> tuple[int, int]:
    add_customer(engine, "C-AUTO", name="Bottega <b>Conti</b>", send_invoices="auto",
                 invoice_email="fatture@conti.example")
    add_product(engine, "RETRO-CLOCK", "40.00", on_hand=10, cost="15.00")
    inv = pack_and_ship(engine, add_order(engine, "C-AUTO", [("RETRO-CLOCK", 1)])["id"])["invoice_id"]
    documents.render_invoice_document(engine, inv)  # what the render job does: stores it, queues the mail
    with engine.connect() as c:
        [mid] = c.execute(select(m.Message.__table__.c.id)).scalars().all()
    return inv, mid


def test_the_outbox_lists_filters_previews_and_resends(engine: Engine, clerk_web: Web, tmp_path: Any) -> None:
    inv, mid = _auto_invoice(engine)
    outbox.deliver(engine, Config(DATABASE_URL="", OUTBOX_DIR=str(tmp_path)), mid)
    page = clerk_web.get("/outbox").text
    assert f"#{mid}" in page and "fatture@conti.example" in page and "badge-sent" in page
    assert "written to" in page  # the last answer
    assert f"#{mid}" not in clerk_web.get("/outbox?status=failed").text
    assert f"#{mid}" in clerk_web.get("/outbox?kind=invoice&status=sent").text
    assert "No e-mails match" in clerk_web.get("/outbox?kind=statement").text

    show = clerk_web.get(f"/outbox/{mid}").text
    assert f'src="/outbox/{mid}/preview"' in show and 'sandbox=""' in show
    assert re.search(r"INV-\d+-\d+\.pdf", show) and ".xml" in show
    preview = clerk_web.get(f"/outbox/{mid}/preview")
    assert preview.status_code == 200 and "sandbox" in preview.headers["Content-Security-Policy"]
    assert "script-src" not in preview.headers["Content-Security-Policy"]  # default-src 'none': no script
    assert "Bottega &lt;b&gt;Conti&lt;/b&gt;" in preview.text  # the customer's name escaped in the HTML part

    r = clerk_web.post(f"/outbox/{mid}/resend", {"form_token": clerk_web.form_token(f"/outbox/{mid}")})
    assert r.status_code == 303
    new = int(r.headers["Location"].rsplit("/", 1)[1])
    assert new != mid and "is kept as it was" in flashes(clerk_web.get(r.headers["Location"]).text)
    with engine.connect() as c:
        rows = {r_.id: r_ for r_ in c.execute(select(m.Message.__table__))}
    assert rows[mid].status == "sent" and rows[new].status == "queued" and rows[new].resent_from == mid
    assert rows[new].message_id != rows[mid].message_id

    for path in (f"/invoices/{inv}", f"/customers/{rows[mid].customer_id}"):
        body = clerk_web.get(path).text
        assert f'href="/outbox/{mid}"' in body and f'href="/outbox/{new}"' in body, path


def test_an_invoice_is_sent_from_its_page(engine: Engine, clerk_web: Web) -> None:
    add_customer(engine, "C-MAN")
    add_product(engine, "RETRO-CLOCK", "40.00", on_hand=10, cost="15.00")
    inv = pack_and_ship(engine, add_order(engine, "C-MAN", [("RETRO-CLOCK", 1)])["id"])["invoice_id"]
    r = clerk_web.post(f"/invoices/{inv}/send", {"form_token": clerk_web.form_token(f"/invoices/{inv}")})
    assert r.status_code == 303
    assert "Queued to ordini@rossi.example" in flashes(clerk_web.get(r.headers["Location"]).text)


def test_the_customer_form_refuses_a_malformed_invoice_address(engine: Engine, clerk_web: Web) -> None:
    c = add_customer(engine, "C-ROSSI")
    token = clerk_web.form_token(f"/customers/{c['id']}/edit")
    body = {"form_token": token, "code": "C-ROSSI", "name": "Rossi", "email": "ordini@rossi.example",
            "country": "IT", "language": "it", "payment_terms_days": "30", "currency": "EUR",
            "invoice_email": "fatture@rossi.example\nBcc: x@evil.example", "send_invoices": "auto",
            "billing_address.line1": "Via Roma 1", "billing_address.city": "Milano",
            "billing_address.postal_code": "20100", "billing_address.country": "IT"}
    r = clerk_web.post(f"/customers/{c['id']}/edit", body)
    assert r.status_code == 422 and "line breaks" in html.unescape(r.text)
    body.update(invoice_email="fatture@rossi.example, amministrazione@rossi.example")
    assert clerk_web.post(f"/customers/{c['id']}/edit", body).status_code == 303
    assert "amministrazione@rossi.example" in clerk_web.get(f"/customers/{c['id']}").text
