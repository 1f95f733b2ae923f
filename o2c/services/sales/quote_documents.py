"""A quotation as the customer gets it: the proposal PDF, and sending it
with the acceptance link."""
from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Engine, select

from o2c.db import models as m
from o2c.documents.context import company_seller, stored_address
from o2c.documents.i18n import document_language
from o2c.domain.access import Principal
from o2c.domain.tax import CATEGORIES
from o2c.services.platform import outbox
from o2c.services.platform.uow import Tx, unit_of_work
from o2c.services.sales import quotes

customers = m.Customer.__table__
MEDIA_TYPE = "application/pdf"


def acceptance_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/q/{token}"


def proposal_document(tx: Tx, quote: dict[str, Any], acceptance: str | None = None) -> dict[str, Any]:
    """What the proposal template shows for one revision of a quotation."""
    c = tx.conn.execute(select(customers).where(customers.c.id == quote["customer_id"])).one()
    return {
        **quote,
        "language": document_language(c.language),
        "issue_date": (quote["revision_sent_at"] or quote["revision_created_at"]).date(),
        "seller": company_seller(tx.conn),
        "buyer": {"name": c.name, "code": c.code, "tax_id": c.tax_id,
                  "address": stored_address(c.billing_address, c.country)},
        "acceptance_url": acceptance,
        # The treatment and the legal mention of every category offered
        # (optional lines too), as the invoice will state them.
        "tax": {"treatment": quote["tax_treatment"], "country": quote["tax_country"],
                "categories": sorted({l["vat_category"] for l in quote["lines"] + quote["optional_lines"]},
                                     key=CATEGORIES.index)},
    }


def render_proposal(tx: Tx, quote: dict[str, Any], acceptance: str | None = None) -> bytes:
    from o2c.documents.pdf import proposal_pdf
    return proposal_pdf(proposal_document(tx, quote, acceptance))


def proposal_pdf(engine: Engine, quote_id: int, principal: Principal,
                 revision: int | None = None) -> tuple[bytes, str, str, str]:
    """The proposal PDF of a quotation's revision (default: the latest):
    content, media type, file name, ETag."""
    with unit_of_work(engine, principal.actor, readonly=True) as tx:
        q = quotes.get_quote(tx, quote_id, principal, revision)
        content = render_proposal(tx, q)
    return content, MEDIA_TYPE, f"{q['label']}.pdf", hashlib.sha256(content).hexdigest()


def send(tx: Tx, quote_id: int, principal: Principal, base_url: str) -> dict[str, Any]:
    """Send the latest revision: status sent, a new acceptance link, and the
    proposal PDF by e-mail through the outbox, queued in this transaction.
    The answer carries the link (``acceptance_url``)."""
    q, token = quotes.send_quote(tx, quote_id, principal)
    url = acceptance_url(base_url, token)
    pdf = render_proposal(tx, q, url)
    outbox.queue_message(
        tx, kind="quotation", customer_id=q["customer_id"], template="quotation",
        context={"number": q["label"], "total": q["total"], "currency": q["currency"],
                 "valid_until": q["valid_until"], "acceptance_url": url},
        document=("quote", q["id"]),
        attachments=[outbox.Attachment(f"{q['label']}.pdf", MEDIA_TYPE, pdf)])
    return {**q, "acceptance_url": url}
