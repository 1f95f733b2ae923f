"""Receivables: aging, customer statements and dunning."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask_smorest import Blueprint

from o2c.api.books import read_value
from o2c.api.common import engine, int_cursor, mutate, page, principal, read, requires
from o2c.documents import letters as docs
from o2c.domain.downloads import content_disposition
from o2c.schemas import api as s
from o2c.schemas import books as b
from o2c.services.billing.documents import render_dunning_letter
from o2c.services.books import reports
from o2c.services.cash import dunning

blp = Blueprint("receivables", __name__, url_prefix="/api/v1", description="Receivables: aging, statements, dunning")


def _pdf(data: bytes, name: str) -> Response:
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": content_disposition(name, "inline")})


@blp.route("/receivables/aging", methods=["GET"])
@requires("ledger:read")
@blp.arguments(b.AgingArgs, location="query")
@blp.response(200, b.AgingOut)
def aging(args: dict[str, Any]) -> Any:
    """Open invoice balances per customer in buckets: current, 1–30, 31–60, 61–90, over 90 days past due."""
    return read(lambda tx: reports.aging(tx, args.get("as_of"), args.get("customer_id")), b.AgingOut())


@blp.route("/customers/<id:customer_id>/statement", methods=["GET"])
@requires("ledger:read")
@blp.arguments(b.RangeArgs, location="query")
@blp.response(200, b.StatementOut)
def statement(args: dict[str, Any], customer_id: int) -> Any:
    """Every document that moved what the customer owes, with the balance after each, and the open invoices."""
    return read(lambda tx: reports.customer_statement(tx, customer_id, args.get("from_"), args.get("to")),
                b.StatementOut())


@blp.route("/customers/<id:customer_id>/statement/pdf", methods=["GET"])
@requires("ledger:read")
@blp.arguments(b.RangeArgs, location="query")
@blp.response(200, description="The statement as PDF, in the customer's language")
def statement_pdf(args: dict[str, Any], customer_id: int) -> Any:
    """The customer statement as a PDF in the customer's language."""
    st, company, today = read_value(lambda tx: (
        reports.customer_statement(tx, customer_id, args.get("from_"), args.get("to")), reports.company(tx),
        tx.today))
    return _pdf(docs.statement_pdf(st, company, today), f"statement_{st['customer']['code']}_{st['to']}.pdf")


@blp.route("/dunning/runs", methods=["POST"])
@requires("dunning:write")
@blp.arguments(b.DunningRunIn)
@blp.response(200, b.DunningRunOut)
def run_dunning(data: dict[str, Any]) -> Any:
    """Chase overdue invoices as of a date (default today): one letter per customer, never a level twice."""
    thresholds = data.get("thresholds") or current_app.config["O2C"].DUNNING_DAYS
    return mutate(lambda tx: dunning.run(tx, data.get("as_of") or tx.today, thresholds), b.DunningRunOut())


@blp.route("/dunning/letters", methods=["GET"])
@requires("ledger:read")
@blp.arguments(b.DunningListArgs, location="query")
@blp.response(200, b.DunningLetterPage)
def list_letters(args: dict[str, Any]) -> Any:
    """Dunning letters, newest first; filter by customer."""
    return page(lambda tx: dunning.list_letters(tx, args.get("customer_id"), int_cursor(args), args["limit"]),
                b.DunningLetterPage())


@blp.route("/dunning/letters/<id:letter_id>", methods=["GET"])
@requires("ledger:read")
@blp.response(200, b.DunningLetterOut)
def get_letter(letter_id: int) -> Any:
    """One dunning letter with the invoices it chases."""
    return read(lambda tx: dunning.get_letter(tx, letter_id), b.DunningLetterOut())


@blp.route("/dunning/letters/<id:letter_id>/pdf", methods=["GET"])
@requires("ledger:read")
@blp.response(200, description="The reminder letter as PDF, in the customer's language")
@blp.alt_response(404, schema=s.ErrorResponse)
def letter_pdf(letter_id: int) -> Any:
    """As stored by the render job, or rendered (and stored) now if it has not run yet."""
    f = render_dunning_letter(engine(), letter_id, actor=principal().actor)
    return _pdf(f.content, f.filename)
