"""After-sales: returns, credit notes, refunds, customer credit applied."""
from __future__ import annotations

import hashlib
from typing import Any

from flask_smorest import Blueprint

from o2c.api.common import engine, int_cursor, mutate, page, principal, read, requires, send_file
from o2c.schemas import api as s
from o2c.services.billing import documents, invoicing
from o2c.services.fulfilment import returns
from o2c.services.platform.uow import unit_of_work

blp = Blueprint("returns", __name__, url_prefix="/api/v1",
                description="Returns, credit notes, refunds and customer credit")

ReturnPage = s.page_of(s.ReturnOut)
CreditNotePage = s.page_of(s.CreditNoteOut)
RETURN = s.ReturnOut()
CREDIT_NOTE = s.CreditNoteOut()
REFUND = s.RefundOut()
INVOICE = s.InvoiceOut()


@blp.route("/orders/<id:order_id>/returns", methods=["POST"])
@requires("returns:write")
@blp.arguments(s.ReturnIn)
@blp.response(201, s.ReturnOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="more than shipped and not yet returned, period_closed")
def create_return(data: dict[str, Any], order_id: int) -> Any:
    """Receive returned goods: restock or write off, credit note, credit or bank refund, optional exchange."""
    return mutate(lambda tx: returns.create_return(tx, order_id, principal(), data), RETURN, 201)


@blp.route("/returns", methods=["GET"])
@requires("orders:read")
@blp.arguments(s.ReturnListArgs, location="query")
@blp.response(200, ReturnPage)
def list_returns(args: dict[str, Any]) -> Any:
    """Returns, newest first."""
    return page(lambda tx: returns.list_returns(
        tx, principal(), order_id=args.get("order_id"), customer_id=args.get("customer_id"),
        cursor=int_cursor(args), limit=args["limit"]), ReturnPage())


@blp.route("/returns/<id:return_id>", methods=["GET"])
@requires("orders:read")
@blp.response(200, s.ReturnOut)
def get_return(return_id: int) -> Any:
    """One return with its lines and the credit notes it issued."""
    return read(lambda tx: returns.get_return(tx, return_id, principal()), RETURN)


@blp.route("/credit-notes", methods=["GET"])
@requires("invoices:read")
@blp.arguments(s.CreditNoteListArgs, location="query")
@blp.response(200, CreditNotePage)
def list_credit_notes(args: dict[str, Any]) -> Any:
    """Credit notes, newest first."""
    return page(lambda tx: returns.list_credit_notes(
        tx, principal(), customer_id=args.get("customer_id"), invoice_id=args.get("invoice_id"),
        order_id=args.get("order_id"), cursor=int_cursor(args), limit=args["limit"]), CreditNotePage())


@blp.route("/credit-notes/<id:credit_note_id>", methods=["GET"])
@requires("invoices:read")
@blp.response(200, s.CreditNoteOut)
def get_credit_note(credit_note_id: int) -> Any:
    """One credit note with its lines and VAT summary."""
    return read(lambda tx: returns.get_credit_note(tx, credit_note_id, principal()), CREDIT_NOTE)


@blp.route("/credit-notes/<id:credit_note_id>/pdf", methods=["GET"])
@requires("invoices:read")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf",
              description="The credit note as a Factur-X PDF (PDF/A-3 with its EN 16931 XML, type 381), "
                          "the same bytes every time")
@blp.alt_response(404, schema=s.ErrorResponse, description="not_found")
def credit_note_pdf(credit_note_id: int) -> Any:
    """The credit note PDF in the customer's language."""
    def run() -> tuple[bytes, str, str, str]:
        f = documents.credit_note_pdf(engine(), credit_note_id, principal())
        return f.content, f.media_type, f.filename, f.sha256
    return send_file(run)


@blp.route("/credit-notes/<id:credit_note_id>/ubl", methods=["GET"])
@requires("invoices:read")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/xml",
              description="The credit note as UBL 2.1 (EN 16931), naming the invoice it credits")
@blp.alt_response(404, schema=s.ErrorResponse, description="not_found")
def credit_note_ubl(credit_note_id: int) -> Any:
    """The credit note as a UBL 2.1 e-document."""
    def run() -> tuple[bytes, str, str, str]:
        with unit_of_work(engine(), principal().actor, readonly=True) as tx:
            number, xml = documents.credit_note_ubl(tx, credit_note_id, principal())
        return xml, "application/xml", f"{number}.xml", hashlib.sha256(xml).hexdigest()
    return send_file(run)


@blp.route("/refunds", methods=["POST"])
@requires("payments:write")
@blp.arguments(s.RefundIn)
@blp.response(201, s.RefundOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="more than the customer's unapplied credit")
def create_refund(data: dict[str, Any]) -> Any:
    """Pay the customer's unapplied credit back to the bank."""
    return mutate(lambda tx: returns.refund_credit(tx, data), REFUND, 201)


@blp.route("/refunds/<id:refund_id>", methods=["GET"])
@requires("payments:read")
@blp.response(200, s.RefundOut)
def get_refund(refund_id: int) -> Any:
    """One refund."""
    return read(lambda tx: returns.get_refund(tx, refund_id), REFUND)


@blp.route("/invoices/<id:invoice_id>/apply-credit", methods=["POST"])
@requires("payments:write")
@blp.arguments(s.ApplyCreditIn)
@blp.response(200, s.InvoiceOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="no credit or no open balance")
def apply_credit(data: dict[str, Any], invoice_id: int) -> Any:
    """Pay an open invoice from the customer's unapplied credit (all that fits, or ``amount``)."""
    return mutate(lambda tx: invoicing.get_invoice(
        tx, returns.apply_credit(tx, invoice_id, principal(), data.get("amount")), principal()), INVOICE)
