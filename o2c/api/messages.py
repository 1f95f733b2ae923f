"""Messages: the outbox of e-mails to customers, and sending documents."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from o2c.api.books import read_value
from o2c.api.common import engine, int_cursor, mutate, page, principal, read, requires
from o2c.documents import letters as docs
from o2c.domain.errors import NotFound
from o2c.schemas import api as s
from o2c.schemas import books as b
from o2c.schemas import messages as ms
from o2c.services.billing import documents, mailing
from o2c.services.books import reports

blp = Blueprint("messages", __name__, url_prefix="/api/v1", description="E-mails to customers (the outbox)")

MESSAGE = ms.MessageOut()


@blp.route("/messages", methods=["GET"])
@requires("messages:read")
@blp.arguments(ms.MessageListArgs, location="query")
@blp.response(200, ms.MessagePage)
def list_messages(args: dict[str, Any]) -> Any:
    """E-mails to customers, newest first; filter by status, kind and customer."""
    return page(lambda tx: mailing.list_messages(
        tx, principal(), status=args.get("status"), kind=args.get("kind"), customer_id=args.get("customer_id"),
        cursor=int_cursor(args), limit=args["limit"]), ms.MessagePage())


@blp.route("/messages/<id:message_id>", methods=["GET"])
@requires("messages:read")
@blp.response(200, ms.MessageOut)
@blp.alt_response(404, schema=s.ErrorResponse, description="not_found")
def get_message(message_id: int) -> Any:
    """One e-mail: status, attempts, the server's last answer, attachments."""
    return read(lambda tx: mailing.get_message(tx, principal(), message_id), MESSAGE)


@blp.route("/messages/<id:message_id>/resend", methods=["POST"])
@requires("messages:write")
@blp.response(202, ms.MessageOut)
@blp.alt_response(404, schema=s.ErrorResponse, description="not_found")
def resend(message_id: int) -> Any:
    """Send an e-mail again: a new message (new Message-ID) to the customer's current address; the old one is kept."""
    return mutate(lambda tx: mailing.resend(tx, principal(), message_id), MESSAGE, 202)


def _send(kind: str, document_id: int) -> Any:
    # Render (and store) the PDF before the transaction that queues the
    # message, so no lock is held while rendering; unknown ids fall through
    # to the service's 404.
    try:
        documents.render_document(engine(), kind, document_id, actor=principal().actor)
    except NotFound:
        pass  # answered by the service below, in the contract's shape
    return mutate(lambda tx: mailing.send_document(tx, principal(), kind, document_id), MESSAGE, 202)


@blp.route("/invoices/<id:invoice_id>/send", methods=["POST"])
@requires("messages:write")
@blp.response(202, ms.MessageOut)
@blp.alt_response(404, schema=s.ErrorResponse, description="not_found")
@blp.alt_response(422, schema=s.ErrorResponse, description="validation_error: the customer has no valid address")
def send_invoice(invoice_id: int) -> Any:
    """E-mail an invoice (its PDF, also Factur-X, and its UBL file) to the customer."""
    return _send("invoice", invoice_id)


@blp.route("/credit-notes/<id:credit_note_id>/send", methods=["POST"])
@requires("messages:write")
@blp.response(202, ms.MessageOut)
@blp.alt_response(404, schema=s.ErrorResponse, description="not_found")
@blp.alt_response(422, schema=s.ErrorResponse, description="validation_error: the customer has no valid address")
def send_credit_note(credit_note_id: int) -> Any:
    """E-mail a credit note (its PDF, also Factur-X, and its UBL file) to the customer."""
    return _send("credit_note", credit_note_id)


@blp.route("/customers/<id:customer_id>/statement/send", methods=["POST"])
@requires("messages:write")
@blp.arguments(b.RangeArgs, location="query")
@blp.response(202, ms.MessageOut)
@blp.alt_response(404, schema=s.ErrorResponse, description="not_found")
def send_statement(args: dict[str, Any], customer_id: int) -> Any:
    """E-mail the customer statement (PDF, in the customer's language) to the customer."""
    st, company, today = read_value(lambda tx: (
        reports.customer_statement(tx, customer_id, args.get("from_"), args.get("to")), reports.company(tx),
        tx.today))
    pdf = docs.statement_pdf(st, company, today)
    return mutate(lambda tx: mailing.send_statement(tx, principal(), customer_id, st, pdf), MESSAGE, 202)
