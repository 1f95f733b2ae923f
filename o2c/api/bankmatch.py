"""Cash application: statement lines matched to invoices, booked to an
account or ignored, and the rules that match them automatically."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from o2c.api.common import engine, mutate, principal, read, requires
from o2c.schemas import api as s
from o2c.schemas import bankmatch as b
from o2c.services.cash import bankmatch, payments
from o2c.services.platform.uow import Tx

blp = Blueprint("bankmatch", __name__, url_prefix="/api/v1", description="Cash application from bank statements")


def _match(tx: Tx, line_id: int, data: dict[str, Any]) -> dict[str, Any]:
    done = bankmatch.match_line(tx, line_id, data)
    made = [payments.get_payment(tx, p["id"]) for p in done["payments"]]
    return {**made[0], "line_id": line_id, "line_status": done["status"], "payments": made}


@blp.route("/bank/lines/<id:line_id>/match", methods=["POST"])
@requires("bank:write")
@blp.arguments(b.MatchIn)
@blp.response(201, b.MatchOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="line already decided, allocation over balance")
def match(data: dict[str, Any], line_id: int) -> Any:
    """Match a statement line to invoices of any customers (one payment per customer) or to a customer's account."""
    return mutate(lambda tx: _match(tx, line_id, data), b.MatchOut(), 201)


@blp.route("/bank/lines/<id:line_id>/book", methods=["POST"])
@requires("bank:write")
@blp.arguments(b.BookIn)
@blp.response(200, b.LineDecisionOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="line already decided")
def book(data: dict[str, Any], line_id: int) -> Any:
    """Book a line that is no customer's money (bank charges, interest) against an account: a journal entry."""
    return mutate(lambda tx: bankmatch.book_line(tx, line_id, data), b.LineDecisionOut())


@blp.route("/bank/lines/<id:line_id>/ignore", methods=["POST"])
@requires("bank:write")
@blp.arguments(b.IgnoreIn)
@blp.response(200, b.LineDecisionOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="line already decided")
def ignore(data: dict[str, Any], line_id: int) -> Any:
    """Take a line off the worklist without posting anything, saying why."""
    return mutate(lambda tx: bankmatch.ignore_line(tx, line_id, data), b.LineDecisionOut())


@blp.route("/bank/apply", methods=["POST"])
@requires("bank:write")
@blp.arguments(b.ApplyIn)
@blp.response(200, b.ApplyOut)
def apply(data: dict[str, Any]) -> Any:
    """Run the cash application rules again over the undecided lines (of one statement, or all)."""
    counts = bankmatch.apply_lines(engine(), principal().actor, statement_id=data.get("statement_id"))
    return {k: counts.get(k, 0) for k in ("matched", "suggested", "unmatched")}


@blp.route("/bank/rules", methods=["GET"])
@requires("ledger:admin")
@blp.response(200, b.RuleList)
def list_rules() -> Any:
    """The cash application rules in the order they are tried."""
    return read(lambda tx: {"items": bankmatch.list_rules(tx)}, b.RuleList())


@blp.route("/bank/rules/<string:name>", methods=["PATCH"])
@requires("ledger:admin")
@blp.arguments(b.RulePatch)
@blp.response(200, b.RuleOut)
def update_rule(data: dict[str, Any], name: str) -> Any:
    """Move a rule, switch it on or off, or change its parameters."""
    return mutate(lambda tx: bankmatch.update_rule(tx, name, data), b.RuleOut())
