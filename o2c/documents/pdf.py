"""A document as the PDF the customer gets: its pages in the customer's
language (PDF/A-3) with the EN 16931 XML embedded, i.e. a Factur-X invoice
or credit note."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from o2c.documents.einvoice import facturx_pdf
from o2c.documents.html import STYLESHEET, document_html, proposal_html
from o2c.documents.i18n import LOCALE_OF, TEMPLATES
from o2c.documents.render import html_to_pdf

MEDIA_TYPE = "application/pdf"
PDF_VARIANT = "pdf/a-3b"


def pages_pdf(doc: Mapping[str, Any]) -> bytes:
    """The printed pages alone (PDF/A-3b), without the embedded XML."""
    return html_to_pdf(document_html(doc), base_url=str(TEMPLATES), stylesheet=STYLESHEET, pdf_variant=PDF_VARIANT)


def document_pdf(doc: Mapping[str, Any]) -> bytes:
    """The Factur-X PDF of a document."""
    return facturx_pdf(pages_pdf(doc), doc, LOCALE_OF[doc["language"]].replace("_", "-"))


def proposal_pdf(doc: Mapping[str, Any]) -> bytes:
    """A quotation's proposal as a PDF (no e-invoice inside: it is an offer)."""
    return html_to_pdf(proposal_html(doc), base_url=str(TEMPLATES), stylesheet=STYLESHEET)
