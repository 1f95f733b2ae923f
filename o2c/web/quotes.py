"""Quotations in the back office: the list, a quotation's page (its
revisions and what changed between two, send, accept on the customer's
behalf, decline, cancel, the PDF) and the pipeline."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, render_template, request, url_for

from o2c.domain.downloads import content_disposition
from o2c.ratelimit import client_address
from o2c.services.sales import quote_documents, quotes
from o2c.web import nav
from o2c.web.core import (
    Problem,
    back_to,
    bp,
    date_arg,
    engine,
    int_arg,
    principal,
    read,
    requires,
    str_arg,
    submit,
)

PAGE = 25
nav.add("Orders", nav.Item("Quotations", "web.quotes", "quotes:read", ("web.quote",)), after="Orders")
nav.add("Orders", nav.Item("Pipeline", "web.quote_pipeline", "quotes:report"), after="Quotations")


def _cfg() -> Any:
    return current_app.config["O2C"]


@bp.route("/quotes", endpoint="quotes")
@requires("quotes:read")
def quotes_list() -> Any:
    status = str_arg("status", quotes.STATUSES)
    items, after = read(lambda tx: quotes.list_quotes(tx, principal(), status=status or None,
                                                      cursor=int_arg("next"), limit=PAGE))
    return render_template("web/quotes/list.html", items=items, after=after, status=status,
                           statuses=quotes.STATUSES)


@bp.route("/quotes/<id:quote_id>", endpoint="quote")
@requires("quotes:read")
def quote_page(quote_id: int) -> Any:
    def run(tx: Any) -> dict[str, Any]:
        q = quotes.get_quote(tx, quote_id, principal())
        a, b = int_arg("from"), int_arg("to")
        if q["latest_revision"] > 1 or (a and b):
            a = a if a and a <= q["latest_revision"] else max(q["latest_revision"] - 1, 1)
            b = b if b and b <= q["latest_revision"] else q["latest_revision"]
        diff = quotes.diff_revisions(tx, quote_id, principal(), a, b) if a and b and a != b else None
        shown = quotes.get_quote(tx, quote_id, principal(), int_arg("revision")) \
            if int_arg("revision") and int_arg("revision") != q["latest_revision"] else q
        return {"q": q, "shown": shown, "diff": diff}
    return render_template("web/quotes/show.html", reasons=_cfg().QUOTE_DECLINE_REASONS, **read(run))


@bp.route("/quotes/<id:quote_id>/pdf", endpoint="quote_pdf")
@requires("quotes:read")
def quote_pdf(quote_id: int) -> Any:
    content, media_type, filename, _ = quote_documents.proposal_pdf(engine(), quote_id, principal(),
                                                                    int_arg("revision"))
    response = Response(content, mimetype=media_type)
    response.headers["Content-Disposition"] = content_disposition(filename, "inline")
    return response


def _act(quote_id: int, work: Any, done: str) -> Any:
    here = url_for("web.quote", quote_id=quote_id)

    def run(tx: Any) -> tuple[str, str]:
        q = work(tx)
        return here, done.format(label=q["label"], order=q.get("order_id"))
    return back_to(here, submit(run))


@bp.route("/quotes/<id:quote_id>/send", methods=["POST"], endpoint="send_quote")
@requires("quotes:write")
def send_quote(quote_id: int) -> Any:
    base = (_cfg().PUBLIC_URL or request.host_url).rstrip("/")
    return _act(quote_id, lambda tx: quote_documents.send(tx, quote_id, principal(), base),
                "Quotation {label} sent by e-mail with its acceptance link.")


@bp.route("/quotes/<id:quote_id>/accept", methods=["POST"], endpoint="accept_quote")
@requires("quotes:write")
def accept_quote(quote_id: int) -> Any:
    data = {"accepted_by": request.form.get("accepted_by", "").strip()[:255],
            "purchase_order": request.form.get("purchase_order", "").strip()[:128] or None,
            "optional_skus": request.form.getlist("optional_skus")[:500]}
    if not data["accepted_by"]:
        return back_to(url_for("web.quote", quote_id=quote_id),
                       Problem("validation_error", "Type the name of who accepted.", {}, {}))
    ip = client_address()
    return _act(quote_id, lambda tx: quotes.accept_quote(tx, quote_id, principal(), data, ip=ip),
                "Quotation {label} accepted on the customer's behalf.")


@bp.route("/quotes/<id:quote_id>/decline", methods=["POST"], endpoint="decline_quote")
@requires("quotes:write")
def decline_quote(quote_id: int) -> Any:
    data = {"reason": request.form.get("reason", "")[:64],
            "comment": request.form.get("comment", "").strip()[:4000] or None}
    return _act(quote_id, lambda tx: quotes.decline_quote(tx, quote_id, principal(), data,
                                                          reasons=_cfg().QUOTE_DECLINE_REASONS),
                "Quotation {label} recorded as declined.")


@bp.route("/quotes/<id:quote_id>/cancel", methods=["POST"], endpoint="cancel_quote")
@requires("quotes:write")
def cancel_quote(quote_id: int) -> Any:
    return _act(quote_id, lambda tx: quotes.cancel_quote(tx, quote_id, principal()),
                "Quotation {label} cancelled.")


@bp.route("/quotes/pipeline", endpoint="quote_pipeline")
@requires("quotes:report")
def pipeline_page() -> Any:
    f = {"date_from": date_arg("from"), "date_to": date_arg("to"), "clerk": str_arg("clerk", max_len=255) or None}
    report = read(lambda tx: quotes.pipeline(tx, principal(), **f))
    return render_template("web/quotes/pipeline.html", r=report, f=f)


@bp.app_template_global()
def quotes_needing_attention() -> list[dict[str, Any]]:
    """Accepted quotations whose order stayed a draft (stock or credit), for the dashboard."""
    from o2c.web.core import can
    if not can("quotes:read"):
        return []
    return read(quotes.unconverted)  # type: ignore[no-any-return]
