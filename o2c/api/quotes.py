"""Quotations: the offer before the order (API.md, "Quotations")."""
from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint

from o2c.api.common import engine, int_cursor, mutate, page, principal, read, requires, send_file
from o2c.ratelimit import client_address
from o2c.schemas import api as s
from o2c.schemas import quotes as qs
from o2c.services.sales import quote_documents, quotes

blp = Blueprint("quotes", __name__, url_prefix="/api/v1", description="Quotations: offer, revisions, acceptance")

QuotePage = s.page_of(qs.QuoteOut)
QUOTE = qs.QuoteOut()
BINARY = {"type": "string", "format": "binary"}


def _cfg() -> Any:
    return current_app.config["O2C"]


def public_base_url() -> str:
    """Where the public acceptance pages are reached: configured, else this request's host."""
    return (_cfg().PUBLIC_URL or request.host_url).rstrip("/")


@blp.route("/quotes", methods=["POST"])
@requires("quotes:write")
@blp.arguments(qs.QuoteIn)
@blp.response(201, qs.QuoteOut)
@blp.alt_response(422, schema=s.ErrorResponse,
                  description="validation_error (inactive product, validity past, unknown or disabled currency)")
@blp.alt_response(409, schema=s.ErrorResponse, description="rate_missing: no rate of the day for the currency")
def create_quote(data: dict[str, Any]) -> Any:
    """Create a draft quotation (revision 1) for a customer the caller may use."""
    return mutate(lambda tx: quotes.create_quote(tx, principal(), data, validity_days=_cfg().QUOTE_VALIDITY_DAYS),
                  QUOTE, 201)


@blp.route("/quotes", methods=["GET"])
@requires("quotes:read")
@blp.arguments(qs.QuoteListArgs, location="query")
@blp.response(200, QuotePage)
def list_quotes(args: dict[str, Any]) -> Any:
    """Quotations, newest first, each at its latest revision."""
    return page(lambda tx: quotes.list_quotes(
        tx, principal(), status=args.get("status"), customer_id=args.get("customer_id"),
        cursor=int_cursor(args), limit=args["limit"]), QuotePage())


@blp.route("/quotes/<id:quote_id>", methods=["GET"])
@requires("quotes:read")
@blp.response(200, qs.QuoteOut)
def get_quote(quote_id: int) -> Any:
    """One quotation at its latest revision."""
    return read(lambda tx: quotes.get_quote(tx, quote_id, principal()), QUOTE)


@blp.route("/quotes/<id:quote_id>/revisions/<int:revision>", methods=["GET"])
@requires("quotes:read")
@blp.response(200, qs.QuoteOut)
def get_revision(quote_id: int, revision: int) -> Any:
    """One revision of a quotation, as it was (an earlier one shows status ``superseded``)."""
    return read(lambda tx: quotes.get_quote(tx, quote_id, principal(), revision), QUOTE)


@blp.route("/quotes/<id:quote_id>", methods=["PATCH"])
@requires("quotes:write")
@blp.arguments(qs.QuotePatch)
@blp.response(200, qs.QuoteOut)
@blp.alt_response(409, schema=s.ErrorResponse,
                  description="invalid_transition (accepted, declined, …); rate_missing (no rate of the day)")
def update_quote(data: dict[str, Any], quote_id: int) -> Any:
    """Change a quotation: a draft in place; a sent one gets the next revision (a draft until sent)."""
    return mutate(lambda tx: quotes.update_quote(tx, quote_id, principal(), data), QUOTE)


@blp.route("/quotes/<id:quote_id>/send", methods=["POST"])
@requires("quotes:write")
@blp.response(200, qs.QuoteOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="invalid_transition")
def send_quote(quote_id: int) -> Any:
    """Send the latest revision: the PDF by e-mail with a signed acceptance link (``acceptance_url``)."""
    base = public_base_url()
    return mutate(lambda tx: quote_documents.send(tx, quote_id, principal(), base), QUOTE)


@blp.route("/quotes/<id:quote_id>/accept", methods=["POST"])
@requires("quotes:write")
@blp.arguments(qs.QuoteAcceptIn)
@blp.response(200, qs.QuoteOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="invalid_transition: not the latest sent, unexpired revision")
def accept_quote(data: dict[str, Any], quote_id: int) -> Any:
    """Accept on the customer's behalf: the quotation becomes an order (the same order when repeated)."""
    ip = client_address()
    return mutate(lambda tx: quotes.accept_quote(tx, quote_id, principal(), data, ip=ip), QUOTE)


@blp.route("/quotes/<id:quote_id>/decline", methods=["POST"])
@requires("quotes:write")
@blp.arguments(qs.QuoteDeclineIn)
@blp.response(200, qs.QuoteOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="invalid_transition")
def decline_quote(data: dict[str, Any], quote_id: int) -> Any:
    """Record that the customer declined, with a reason from the configured list."""
    reasons = _cfg().QUOTE_DECLINE_REASONS
    return mutate(lambda tx: quotes.decline_quote(tx, quote_id, principal(), data, reasons=reasons), QUOTE)


@blp.route("/quotes/<id:quote_id>/cancel", methods=["POST"])
@requires("quotes:write")
@blp.response(200, qs.QuoteOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="invalid_transition")
def cancel_quote(quote_id: int) -> Any:
    """Withdraw a draft or sent quotation."""
    return mutate(lambda tx: quotes.cancel_quote(tx, quote_id, principal()), QUOTE)


@blp.route("/quotes/<id:quote_id>/pdf", methods=["GET"])
@requires("quotes:read")
@blp.response(200, BINARY, content_type="application/pdf", description="The proposal PDF of the latest revision")
@blp.alt_response(404, schema=s.ErrorResponse, description="not_found")
def quote_pdf(quote_id: int) -> Any:
    """The proposal PDF in the customer's language."""
    def run() -> tuple[bytes, str, str, str]:
        return quote_documents.proposal_pdf(engine(), quote_id, principal())
    return send_file(run)


@blp.route("/reports/pipeline", methods=["GET"])
@requires("quotes:report")
@blp.arguments(qs.PipelineArgs, location="query")
@blp.response(200, qs.PipelineOut)
def pipeline(args: dict[str, Any]) -> Any:
    """Quotations created in a date range: by status and value, win rate, days to close, lost reasons, per clerk."""
    return read(lambda tx: quotes.pipeline(tx, principal(), date_from=args.get("date_from"),
                                           date_to=args.get("date_to"), clerk=args.get("clerk")), qs.PipelineOut())
