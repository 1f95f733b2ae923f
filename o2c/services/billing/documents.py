"""Issued documents as files.

An invoice's PDF (a Factur-X PDF/A-3 with its EN 16931 XML) is rendered the
first time it is asked for — by a download, a background worker or a batch
export — never inside the transaction that issues the invoice, and never
while a transaction is open: rendering holds no lock. It is then stored with
its SHA-256, and every later request gets exactly those bytes. Two first
requests at once both render, one insert wins (``ON CONFLICT DO NOTHING``),
and both return the stored copy.

Credit notes take the same path: a context builder for the kind in
``LOADERS`` is all they need.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, and_, bindparam, select

from o2c.db import models as m
from o2c.documents import context
from o2c.domain.access import Principal
from o2c.domain.errors import Conflict, NotFound
from o2c.services.platform import outbox
from o2c.services.platform.uow import Tx, insert_ignoring_conflicts, unit_of_work

files = m.DocumentFile.__table__
invoices = m.Invoice.__table__
credit_notes = m.CreditNote.__table__
orders = m.Order.__table__
customers = m.Customer.__table__

ACTOR = "system:documents"
DUNNING_LETTER = "dunning_letter"

#: Context builders per document kind: ``(connection, id) -> document``.
LOADERS: dict[str, Callable[[Connection, int], dict[str, Any]]] = {
    "invoice": context.invoice_document,
    "credit_note": context.credit_note_document,
}


class StoredFile(NamedTuple):
    kind: str
    document_id: int
    number: str
    media_type: str
    content: bytes
    sha256: str
    created_at: dt.datetime

    @property
    def filename(self) -> str:
        return f"{self.number}.pdf"


_FILE_COLS = (files.c.kind, files.c.document_id, files.c.number, files.c.media_type, files.c.content,
              files.c.sha256, files.c.created_at)
_select_file = select(*_FILE_COLS).where(files.c.kind == bindparam("kind"), files.c.document_id == bindparam("did"))


def stored_file(tx: Tx, kind: str, document_id: int) -> StoredFile | None:
    row = tx.conn.execute(_select_file, {"kind": kind, "did": document_id}).first()
    return StoredFile(*row) if row is not None else None


def render_file(doc: dict[str, Any]) -> tuple[str, bytes]:
    """A document's file, freshly rendered: ``(media type, bytes)``."""
    from o2c.documents.pdf import MEDIA_TYPE, document_pdf
    return MEDIA_TYPE, document_pdf(doc)


def _store(tx: Tx, kind: str, document_id: int, number: str, media_type: str, content: bytes,
           on_stored: Callable[[Tx, StoredFile], None] | None = None) -> StoredFile:
    sha256 = hashlib.sha256(content).hexdigest()
    row = {"kind": kind, "document_id": document_id, "number": number, "media_type": media_type,
           "content": content, "sha256": sha256, "created_at": tx.now}
    inserted = tx.conn.execute(insert_ignoring_conflicts(tx.conn, files, ("document_id",)), row).first()
    if inserted is None:  # a concurrent first request stored its copy first: that one is the document
        found = stored_file(tx, kind, document_id)
        if found is None:
            raise Conflict(f"The file of {kind} {number} was stored and is gone; files are never deleted.",
                           {"kind": kind, "document_id": document_id})
        return found
    tx.audit(f"{kind}.file_stored", kind, document_id, None,
             {"number": number, "media_type": media_type, "sha256": sha256, "bytes": len(content)})
    stored = StoredFile(kind, document_id, number, media_type, content, sha256, tx.now)
    if on_stored is not None:  # only the transaction that stored the file: once per document
        on_stored(tx, stored)
    return stored


def render_document(target: Engine | Tx, kind: str, document_id: int, *, actor: str = ACTOR) -> StoredFile:
    """The stored file of a document, rendering and storing it first if needed.

    With an engine, the document is read in one short transaction, rendered
    with none open, and stored in another. With a ``Tx``, everything happens
    in that transaction (for a caller that already has one open)."""
    loader = LOADERS.get(kind)
    if loader is None:
        raise NotFound(f"No documents of kind “{kind}”.")
    if isinstance(target, Tx):
        found = stored_file(target, kind, document_id)
        if found is not None:
            return found
        doc = loader(target.conn, document_id)
        return _store(target, kind, document_id, doc["number"], *render_file(doc),
                      on_stored=lambda t, f: mail_when_issued(t, f, doc))
    with unit_of_work(target, actor, readonly=True) as tx:
        found = stored_file(tx, kind, document_id)
        if found is not None:
            return found
        doc = loader(tx.conn, document_id)
    media_type, content = render_file(doc)
    with unit_of_work(target, actor) as tx:
        return _store(tx, kind, document_id, doc["number"], media_type, content,
                      on_stored=lambda t, f: mail_when_issued(t, f, doc))


# -- e-mail ---------------------------------------------------------------------------------
#
# An invoice's or credit note's PDF is rendered after the transaction that
# issues it (by the ``invoice.render_pdf`` / ``credit_note.render_pdf`` job, or
# the first download). The message to a customer whose ``send_invoices`` is
# ``auto`` is queued in the transaction that stores that PDF — the one
# transaction that happens exactly once per document — so the mail carries
# the stored bytes, and exists exactly when the stored file does. A dunning
# letter is queued the same way when the run's render job stores its PDF.

_DOC_TABLES = {"invoice": invoices, "credit_note": credit_notes}


def ubl_attachment(doc: dict[str, Any]) -> outbox.Attachment:
    from o2c.documents.einvoice import check_ubl, ubl_xml
    xml = ubl_xml(doc)
    check_ubl(xml)
    return outbox.Attachment(f"{doc['number']}.xml", "application/xml", xml)


def queue_document_mail(tx: Tx, stored: StoredFile, doc: dict[str, Any], customer_id: int,
                        to: str | None = None) -> int:
    """Queue the e-mail of an invoice or credit note: its stored PDF (also
    Factur-X) and its UBL file attached."""
    return outbox.queue_message(
        tx, kind=stored.kind, customer_id=customer_id, template=stored.kind,
        context={"number": doc["number"], "total": doc["total"], "currency": doc["currency"],
                 "due_date": doc.get("due_date") or doc["issue_date"], "issue_date": doc["issue_date"]},
        document=(stored.kind, stored.document_id), to=to,
        attachments=[outbox.stored_attachment(stored.kind, stored.document_id, stored.filename,
                                              stored.media_type, stored.content), ubl_attachment(doc)])


def mail_when_issued(tx: Tx, stored: StoredFile, doc: dict[str, Any]) -> int | None:
    """The invoice or credit note just stored, queued for a customer who gets
    them automatically and has an address; ``None`` otherwise."""
    table = _DOC_TABLES.get(stored.kind)
    if table is None:
        return None
    row = tx.conn.execute(
        select(customers.c.id, customers.c.send_invoices, customers.c.email, customers.c.invoice_email)
        .join(table, table.c.customer_id == customers.c.id).where(table.c.id == stored.document_id)).first()
    if row is None or row.send_invoices != "auto" or not (row.invoice_email or row.email):
        return None
    return queue_document_mail(tx, stored, doc, row.id)


def mail_letter(tx: Tx, stored: StoredFile, letter: dict[str, Any]) -> int | None:
    """A dunning letter just stored, queued to the customer if it has an address."""
    row = tx.conn.execute(select(customers.c.email, customers.c.invoice_email)
                          .where(customers.c.id == letter["customer_id"])).first()
    if row is None or not (row.invoice_email or row.email):
        return None
    return outbox.queue_message(
        tx, kind="dunning_letter", customer_id=letter["customer_id"], template="dunning_letter",
        context={"number": letter["number"], "total": letter["total"], "currency": letter["currency"],
                 "level": letter["level"], "as_of": letter["as_of"]},
        document=(DUNNING_LETTER, stored.document_id),
        attachments=[outbox.stored_attachment(DUNNING_LETTER, stored.document_id, stored.filename,
                                              stored.media_type, stored.content)])


def render_invoice_document(engine_or_tx: Engine | Tx, invoice_id: int) -> StoredFile:
    """The invoice's Factur-X PDF as stored, rendered and stored on first use.
    For background workers and batch exports; raises ``NotFound`` for an
    unknown invoice."""
    return render_document(engine_or_tx, "invoice", invoice_id)


def render_dunning_letter(engine: Engine, letter_id: int, *, actor: str = ACTOR) -> StoredFile:
    """A dunning letter's PDF as stored, rendered from what the run recorded
    and stored on first use (by the render job, or by the first download if
    that comes sooner). Raises ``NotFound`` for an unknown letter."""
    from o2c.documents.letters import dunning_pdf
    from o2c.documents.pdf import MEDIA_TYPE
    from o2c.services.books import reports
    from o2c.services.cash import dunning
    from o2c.services.customers import records
    with unit_of_work(engine, actor, readonly=True) as tx:
        found = stored_file(tx, DUNNING_LETTER, letter_id)
        if found is not None:
            return found
        letter = dunning.get_letter(tx, letter_id)
        customer, company = records.get_customer(tx, letter["customer_id"]), reports.company(tx)
    content = dunning_pdf(letter, customer, company)
    with unit_of_work(engine, actor) as tx:
        return _store(tx, DUNNING_LETTER, letter_id, letter["number"], MEDIA_TYPE, content,
                      on_stored=lambda t, f: mail_letter(t, f, letter))


# -- what the API serves ----------------------------------------------------------------

def _visible_invoice(principal: Principal, q: Any) -> Any:
    """Another channel's invoice is not found for a webshop key (API.md)."""
    scope = principal.channel_scope
    if scope is not None:
        q = q.join(orders, orders.c.id == invoices.c.order_id).where(orders.c.channel == scope)
    return q


def invoice_pdf(engine: Engine, invoice_id: int, principal: Principal) -> StoredFile:
    """The invoice's PDF for this caller: the stored one, or rendered now."""
    q = (select(invoices.c.id, *_FILE_COLS)
         .select_from(invoices.outerjoin(files, and_(files.c.kind == "invoice", files.c.document_id == invoices.c.id)))
         .where(invoices.c.id == invoice_id))
    with unit_of_work(engine, principal.actor, readonly=True) as tx:
        row = tx.conn.execute(_visible_invoice(principal, q)).first()
    if row is None:
        raise NotFound(f"No invoice with id {invoice_id}.")
    if row.sha256 is not None:
        return StoredFile(*row[1:])
    return render_document(engine, "invoice", invoice_id, actor=principal.actor)


def _visible_credit_note(principal: Principal, q: Any) -> Any:
    """Another channel's credit note is not found for a webshop key (API.md)."""
    scope = principal.channel_scope
    if scope is not None:
        q = q.join(orders, orders.c.id == credit_notes.c.order_id).where(orders.c.channel == scope)
    return q


def credit_note_pdf(engine: Engine, credit_note_id: int, principal: Principal) -> StoredFile:
    """The credit note's PDF for this caller: the stored one, or rendered now."""
    q = (select(credit_notes.c.id, *_FILE_COLS)
         .select_from(credit_notes.outerjoin(files, and_(files.c.kind == "credit_note",
                                                         files.c.document_id == credit_notes.c.id)))
         .where(credit_notes.c.id == credit_note_id))
    with unit_of_work(engine, principal.actor, readonly=True) as tx:
        row = tx.conn.execute(_visible_credit_note(principal, q)).first()
    if row is None:
        raise NotFound(f"No credit note with id {credit_note_id}.")
    if row.sha256 is not None:
        return StoredFile(*row[1:])
    return render_document(engine, "credit_note", credit_note_id, actor=principal.actor)


def invoice_ubl(tx: Tx, invoice_id: int, principal: Principal) -> tuple[str, bytes]:
    """The invoice as UBL 2.1 XML (checked against the schema): ``(number, xml)``."""
    from o2c.documents.einvoice import check_ubl, ubl_xml
    if tx.conn.execute(_visible_invoice(principal, select(invoices.c.id).where(invoices.c.id == invoice_id))).first() is None:
        raise NotFound(f"No invoice with id {invoice_id}.")
    doc = context.invoice_document(tx.conn, invoice_id)
    xml = ubl_xml(doc)
    check_ubl(xml)
    return doc["number"], xml


def credit_note_ubl(tx: Tx, credit_note_id: int, principal: Principal) -> tuple[str, bytes]:
    """The credit note as a UBL 2.1 ``CreditNote`` (checked against the schema)
    referring to the invoice it credits: ``(number, xml)``."""
    from o2c.documents.einvoice import check_ubl, ubl_xml
    q = select(credit_notes.c.id).where(credit_notes.c.id == credit_note_id)
    if tx.conn.execute(_visible_credit_note(principal, q)).first() is None:
        raise NotFound(f"No credit note with id {credit_note_id}.")
    doc = context.credit_note_document(tx.conn, credit_note_id)
    xml = ubl_xml(doc)
    check_ubl(xml)
    return doc["number"], xml


# -- batches and workers ------------------------------------------------------------------

def invoices_issued(tx: Tx, start: dt.date, end: dt.date) -> list[tuple[int, str]]:
    """``(id, number)`` of the invoices issued from ``start`` to ``end`` inclusive, in number order."""
    rows = tx.conn.execute(
        select(invoices.c.id, invoices.c.number)
        .where(invoices.c.issue_date >= start, invoices.c.issue_date <= end)
        .order_by(invoices.c.series, invoices.c.year, invoices.c.seq)
    )
    return [(r.id, r.number) for r in rows]


def invoices_without_file(tx: Tx, limit: int = 100) -> list[int]:
    """Invoices whose PDF is not stored yet, oldest first: work for a renderer."""
    rows = tx.conn.execute(
        select(invoices.c.id)
        .select_from(invoices.outerjoin(files, and_(files.c.kind == "invoice", files.c.document_id == invoices.c.id)))
        .where(files.c.document_id.is_(None)).order_by(invoices.c.id).limit(limit)
    )
    return [r.id for r in rows]
