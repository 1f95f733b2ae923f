"""Documents sent by e-mail on request: an invoice, a credit note, a customer
statement (API.md, Messages). Each call queues one new message in its own
transaction; what is sent automatically is queued where the document is
stored (``o2c.services.billing.documents.mail_when_issued``, ``mail_letter``)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import Forbidden, NotFound
from o2c.services.billing import documents
from o2c.services.platform import outbox
from o2c.services.platform.uow import Tx

_TABLES = {"invoice": m.Invoice.__table__, "credit_note": m.CreditNote.__table__}
READ, WRITE = "messages:read", "messages:write"


def _may(principal: Principal, permission: str) -> None:
    if not principal.can(permission):
        raise Forbidden("Only clerks, accountants and administrators see and send the customers' e-mail.")


def send_document(tx: Tx, principal: Principal, kind: str, document_id: int) -> dict[str, Any]:
    """Queue the e-mail of an invoice or credit note (its stored PDF and UBL)
    to the customer's invoice address. The PDF is rendered and stored first
    if it is not yet (callers render it before opening ``tx`` when they can)."""
    _may(principal, WRITE)
    table = _TABLES[kind]
    customer_id = tx.conn.execute(select(table.c.customer_id).where(table.c.id == document_id)).scalar()
    label = "invoice" if kind == "invoice" else "credit note"
    if customer_id is None:
        raise NotFound(f"No {label} with id {document_id}.")
    stored = documents.render_document(tx, kind, document_id)
    doc = documents.LOADERS[kind](tx.conn, document_id)
    mid = documents.queue_document_mail(tx, stored, doc, customer_id)
    return outbox.get_message(tx, mid)


def send_statement(tx: Tx, principal: Principal, customer_id: int, statement: dict[str, Any],
                   pdf: bytes) -> dict[str, Any]:
    """Queue a customer statement (rendered by the caller) to the customer."""
    _may(principal, WRITE)
    st = statement
    # The balance in the customer's one currency; owing in several, its
    # functional value (the PDF sets out each currency).
    per = st.get("by_currency") or []
    balance, currency = ((per[0]["closing_balance"], per[0]["currency"]) if len(per) == 1
                         else (st["closing_balance"], st.get("functional_currency", "EUR")))
    mid = outbox.queue_message(
        tx, kind="statement", customer_id=customer_id, template="statement",
        context={"as_of": st["to"], "balance": balance, "currency": currency},
        attachments=[outbox.Attachment(f"statement_{st['customer']['code']}_{st['to']}.pdf", "application/pdf", pdf)])
    return outbox.get_message(tx, mid)


def list_messages(tx: Tx, principal: Principal, **filters: Any) -> tuple[list[dict[str, Any]], int | None]:
    _may(principal, READ)
    return outbox.list_messages(tx, **filters)


def get_message(tx: Tx, principal: Principal, message_id: int, *, bodies: bool = False) -> dict[str, Any]:
    _may(principal, READ)
    return outbox.get_message(tx, message_id, bodies=bodies)


def customer_names(tx: Tx, ids: list[int]) -> dict[int, str]:
    c = m.Customer.__table__
    if not ids:
        return {}
    return dict(tx.conn.execute(select(c.c.id, c.c.name).where(c.c.id.in_(sorted(set(ids))))).all())


def resend(tx: Tx, principal: Principal, message_id: int) -> dict[str, Any]:
    _may(principal, WRITE)
    return outbox.get_message(tx, outbox.resend(tx, message_id))
