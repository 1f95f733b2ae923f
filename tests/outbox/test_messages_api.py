"""The messages API (API.md, Messages): send an invoice, a credit note, a
statement (202 with the Message), list and filter, read, resend; customers'
addresses refused when saved."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from o2c.config import Config
from o2c.db import models as m
from o2c.services.platform import outbox
from tests.api.books_helpers import sell
from tests.conftest import Client, customer, product


@pytest.fixture
def accountant(app: Any, keys: dict[str, str]) -> Client:
    return Client(app.test_client(), keys["accountant"])


@pytest.fixture
def clerk(app: Any, keys: dict[str, str]) -> Client:
    return Client(app.test_client(), keys["clerk"])


def test_documents_are_sent_listed_read_and_resent(
    engine: Engine, admin: Client, clerk: Client, accountant: Client, tmp_path: Any,
) -> None:
    c = customer(admin, "C-ROSSI", invoice_email="fatture@rossi.example")
    assert (c["invoice_email"], c["send_invoices"]) == ("fatture@rossi.example", "manual")
    product(admin, "MUG-01", "10.00", "0.22", stock=10, cost="3.00")
    inv = sell(admin, "C-ROSSI", [("MUG-01", 2)])
    assert admin.ok("get", "/api/v1/messages")["items"] == []  # manual: nothing by itself

    r = clerk.post(f"/api/v1/invoices/{inv['id']}/send", headers={"Idempotency-Key": "send-1"})
    assert r.status_code == 202, r.get_json()
    msg = r.get_json()
    assert (msg["kind"], msg["status"], msg["to"], msg["document"]) == (
        "invoice", "queued", "fatture@rossi.example", {"type": "invoice", "id": inv["id"]})
    assert [a["filename"] for a in msg["attachments"]] == [f"{inv['number']}.pdf", f"{inv['number']}.xml"]
    assert msg["subject"].startswith(f"Fattura {inv['number']}") and msg["language"] == "it"
    again = clerk.post(f"/api/v1/invoices/{inv['id']}/send", headers={"Idempotency-Key": "send-1"})
    assert again.status_code == 202 and again.get_json()["id"] == msg["id"]  # replayed, not queued twice

    rma = admin.ok("post", f"/api/v1/orders/{inv['order_id']}/returns",
                   {"lines": [{"sku": "MUG-01", "quantity": 1}], "restock": True, "refund": "credit"}, status=201)
    cn = accountant.post(f"/api/v1/credit-notes/{rma['credit_note_ids'][0]}/send")
    assert cn.status_code == 202 and cn.get_json()["kind"] == "credit_note"
    st = accountant.post(f"/api/v1/customers/{c['id']}/statement/send")
    assert st.status_code == 202, st.get_json()
    assert st.get_json()["kind"] == "statement" and st.get_json()["attachments"][0]["content_type"] == "application/pdf"

    page = clerk.ok("get", "/api/v1/messages")
    assert [i["kind"] for i in page["items"]] == ["statement", "credit_note", "invoice"] and not page["has_more"]
    assert [i["id"] for i in clerk.ok("get", "/api/v1/messages?kind=invoice")["items"]] == [msg["id"]]
    assert clerk.ok("get", "/api/v1/messages?status=sent")["items"] == []
    assert len(clerk.ok("get", f"/api/v1/messages?customer_id={c['id']}&status=queued")["items"]) == 3
    two = clerk.ok("get", "/api/v1/messages?limit=2")
    assert two["has_more"] and len(clerk.ok("get", f"/api/v1/messages?limit=2&cursor={two['next_cursor']}")["items"]) == 1
    assert clerk.get("/api/v1/messages?status=lost").status_code == 422
    assert clerk.get("/api/v1/messages?colour=red").status_code == 422

    outbox.deliver(engine, Config(DATABASE_URL="", OUTBOX_DIR=str(tmp_path)), msg["id"])
    sent = clerk.ok("get", f"/api/v1/messages/{msg['id']}")
    assert sent["status"] == "sent" and sent["attempts"] == 1 and sent["sent_at"]
    re_ = clerk.post(f"/api/v1/messages/{msg['id']}/resend")
    assert re_.status_code == 202
    new = re_.get_json()
    assert new["id"] != msg["id"] and new["resent_from"] == msg["id"] and new["status"] == "queued"
    assert new["message_id"] != msg["message_id"] and new["attachments"] == sent["attachments"]
    assert clerk.ok("get", f"/api/v1/messages/{msg['id']}")["status"] == "sent"  # the old one kept
    assert clerk.get("/api/v1/messages/999999").status_code == 404
    assert clerk.post("/api/v1/invoices/999999/send").status_code == 404


def test_a_customer_without_an_address_cannot_be_sent_to(admin: Client, engine: Engine) -> None:
    customer(admin, "C-NOMAIL", email="")
    product(admin, "MUG-01", "10.00", "0.22", stock=10, cost="3.00")
    inv = sell(admin, "C-NOMAIL", [("MUG-01", 1)])
    r = admin.post(f"/api/v1/invoices/{inv['id']}/send")
    assert r.status_code == 422 and "no e-mail address" in r.get_json()["error"]["message"]
    with engine.connect() as c:
        assert c.execute(select(m.Message.__table__.c.id)).all() == []


@pytest.mark.parametrize(("field", "value"), [
    ("email", "not-an-address"), ("email", "a@b"), ("email", "x@y.example\r\nBcc: z@evil.example"),
    ("email", "one@a.example, two@b.example"), ("invoice_email", "ok@a.example, broken@"),
    ("invoice_email", "ok@a.example\nBcc: z@evil.example"), ("invoice_email", "x@printer.local"),
    ("send_invoices", "sometimes"),
])
def test_malformed_addresses_are_refused_when_the_customer_is_saved(admin: Client, field: str, value: str) -> None:
    r = admin.post("/api/v1/customers", {"code": "C-BAD", "name": "Bad", "country": "IT", field: value,
                                         "billing_address": {"line1": "Via Roma 1", "city": "Milano",
                                                             "postal_code": "20100", "country": "IT"}})
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["details"]["fields"]
    c = customer(admin, "C-OK")
    assert admin.patch(f"/api/v1/customers/{c['id']}", {field: value}).status_code == 422
