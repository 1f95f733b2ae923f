"""Invoices as documents: the PDF (Factur-X) and the UBL 2.1 e-invoice."""
from __future__ import annotations

import hashlib
from typing import Any

from flask_smorest import Blueprint

from o2c.api.common import engine, principal, requires, send_file
from o2c.schemas import api as s
from o2c.services.billing import documents
from o2c.services.platform.uow import unit_of_work

blp = Blueprint("documents", __name__, url_prefix="/api/v1", description="Invoice documents: PDF and e-invoice")

BINARY = {"type": "string", "format": "binary"}


@blp.route("/invoices/<id:invoice_id>/pdf", methods=["GET"])
@requires("invoices:read")
@blp.response(200, BINARY, content_type="application/pdf",
              description="The invoice as a Factur-X PDF (PDF/A-3 with its EN 16931 XML), the same bytes every time")
@blp.alt_response(404, schema=s.ErrorResponse, description="not_found")
def invoice_pdf(invoice_id: int) -> Any:
    """The invoice PDF in the customer's language."""
    def run() -> tuple[bytes, str, str, str]:
        f = documents.invoice_pdf(engine(), invoice_id, principal())
        return f.content, f.media_type, f.filename, f.sha256
    return send_file(run)


@blp.route("/invoices/<id:invoice_id>/ubl", methods=["GET"])
@requires("invoices:read")
@blp.response(200, BINARY, content_type="application/xml", description="The invoice as UBL 2.1 (EN 16931)")
@blp.alt_response(404, schema=s.ErrorResponse, description="not_found")
def invoice_ubl(invoice_id: int) -> Any:
    """The invoice as a UBL 2.1 e-invoice."""
    def run() -> tuple[bytes, str, str, str]:
        with unit_of_work(engine(), principal().actor, readonly=True) as tx:
            number, xml = documents.invoice_ubl(tx, invoice_id, principal())
        return xml, "application/xml", f"{number}.xml", hashlib.sha256(xml).hexdigest()
    return send_file(run)
