"""The outbox in the back office (clerks, accountants): every e-mail to a
customer with its status, attempts and the server's last answer, a preview
of what the customer sees, and resend; the invoice, customer and dunning
pages list their own messages (``messages_for``)."""
from __future__ import annotations

from typing import Any

from flask import Response, render_template, url_for

from o2c.documents import letters
from o2c.domain.errors import NotFound
from o2c.services.billing import documents, mailing
from o2c.services.books import reports
from o2c.services.platform import outbox
from o2c.web.core import (
    args_without, back_to, bp, can, engine, int_arg, principal, read, requires, str_arg, submit,
)
from o2c.web.nav import Item, add

PAGE = 50
READ, WRITE = mailing.READ, mailing.WRITE


@bp.app_template_global()
def messages_for(document_type: str | None = None, document_id: int | None = None,
                 customer_id: int | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The latest messages of a document or a customer, for the pages that
    show them; nothing for a user who may not see the outbox."""
    if not can(READ):
        return []
    document = (document_type, document_id) if document_type and document_id is not None else None
    return read(lambda tx: mailing.list_messages(tx, principal(), document=document, customer_id=customer_id,
                                                 limit=limit)[0])


@bp.route("/outbox")
@requires(READ)
def outbox_list() -> Any:
    status = str_arg("status", outbox.STATUSES)
    kind = str_arg("kind", outbox.KINDS)
    customer_id = int_arg("customer")
    cursor = int_arg("after")

    def run(tx: Any) -> tuple[Any, Any, dict[int, str]]:
        items, next_cursor = mailing.list_messages(tx, principal(), status=status or None, kind=kind or None,
                                                   customer_id=customer_id, cursor=cursor, limit=PAGE)
        return items, next_cursor, mailing.customer_names(tx, [m["customer_id"] for m in items])
    items, next_cursor, names = read(run)
    return render_template("web/outbox/list.html", messages=items, next_cursor=next_cursor, names=names,
                           statuses=outbox.STATUSES, kinds=outbox.KINDS, status=status, kind=kind,
                           customer_id=customer_id, base_args=args_without("after"))


@bp.route("/outbox/<id:message_id>")
@requires(READ)
def outbox_message(message_id: int) -> Any:
    def run(tx: Any) -> tuple[dict[str, Any], dict[int, str]]:
        msg = mailing.get_message(tx, principal(), message_id, bodies=True)
        return msg, mailing.customer_names(tx, [msg["customer_id"]])
    msg, names = read(run)
    return render_template("web/outbox/show.html", msg=msg, names=names)


#: The HTML part as its own document, framed by the message page only: no
#: script, no network, no forms (``sandbox``), its inline styles allowed.
PREVIEW_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; "
                                "frame-ancestors 'self'"),
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "private, no-store",
}


@bp.route("/outbox/<id:message_id>/preview")
@requires(READ)
def outbox_preview(message_id: int) -> Any:
    msg = read(lambda tx: mailing.get_message(tx, principal(), message_id, bodies=True))
    return Response(msg["body_html"], mimetype="text/html", headers=PREVIEW_HEADERS)


@bp.route("/outbox/<id:message_id>/resend", methods=["POST"])
@requires(WRITE)
def outbox_resend(message_id: int) -> Any:
    def work(tx: Any) -> tuple[str, str]:
        new = mailing.resend(tx, principal(), message_id)
        return (url_for("web.outbox_message", message_id=new["id"]),
                f"Queued again as message {new['id']} to {new['to']}; message {message_id} is kept as it was.")
    return back_to(url_for("web.outbox_message", message_id=message_id), submit(work))


add("Customers", Item("Outbox", "web.outbox_list", READ, ("web.outbox_message",)))


@bp.route("/invoices/<id:invoice_id>/send", methods=["POST"])
@requires(WRITE)
def send_invoice_mail(invoice_id: int) -> Any:
    back = url_for("web.invoice", invoice_id=invoice_id)
    try:  # rendered (and stored) before the transaction that queues the message
        documents.render_document(engine(), "invoice", invoice_id, actor=principal().actor)
    except NotFound:
        pass

    def work(tx: Any) -> tuple[str, str]:
        msg = mailing.send_document(tx, principal(), "invoice", invoice_id)
        return back + "#messages", f"Queued to {msg['to']} as message {msg['id']}."
    return back_to(back, submit(work))


@bp.route("/customers/<id:customer_id>/statement/send", methods=["POST"])
@requires(WRITE, "ledger:read")
def send_statement_mail(customer_id: int) -> Any:
    back = url_for("web.customer", customer_id=customer_id)
    st, company, today = read(lambda tx: (reports.customer_statement(tx, customer_id), reports.company(tx), tx.today))
    pdf = letters.statement_pdf(st, company, today)

    def work(tx: Any) -> tuple[str, str]:
        msg = mailing.send_statement(tx, principal(), customer_id, st, pdf)
        return back + "#messages", f"Statement queued to {msg['to']} as message {msg['id']}."
    return back_to(back, submit(work))
