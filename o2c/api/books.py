"""The general ledger and the reconciliation."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_smorest import Blueprint

from o2c.api.common import int_cursor, mutate, page, read, requires
from o2c.schemas import api as s
from o2c.services import ledger, reconciliation

blp = Blueprint("books", __name__, url_prefix="/api/v1", description="Ledger and reconciliation")

EntryPage = s.page_of(s.JournalEntryOut)


@blp.route("/ledger/entries", methods=["GET"])
@requires("ledger:read")
@blp.arguments(s.LedgerEntryArgs, location="query")
@blp.response(200, EntryPage)
def list_entries(args: dict[str, Any]) -> Any:
    return page(lambda tx: ledger.list_entries(
        tx, date_from=args.get("from_"), date_to=args.get("to"), account=args.get("account"),
        cursor=int_cursor(args), limit=args["limit"]), EntryPage())


@blp.route("/ledger/trial-balance", methods=["GET"])
@requires("ledger:read")
@blp.arguments(s.AsOfArgs, location="query")
@blp.response(200, s.TrialBalanceOut)
def trial_balance(args: dict[str, Any]) -> Any:
    return read(lambda tx: ledger.trial_balance(tx, args.get("as_of")), s.TrialBalanceOut())


@blp.route("/ledger/periods/<string:period>/close", methods=["POST"])
@requires("ledger:write")
@blp.response(200, s.PeriodOut)
def close_period(period: str) -> Any:
    return mutate(lambda tx: ledger.close_period(tx, period), s.PeriodOut())


def _as_text(v: Any) -> str:
    return f"{v:.2f}" if isinstance(v, Decimal) else str(v)


@blp.route("/reconciliation", methods=["GET"])
@requires("ledger:read")
@blp.arguments(s.AsOfArgs, location="query")
@blp.response(200, s.ReconciliationOut)
def get_reconciliation(args: dict[str, Any]) -> Any:
    def run(tx: Any) -> dict[str, Any]:
        report = reconciliation.reconcile(tx, args.get("as_of"))
        checks = []
        for ch in report["checks"]:
            base = {k: ch[k] for k in ("name", "description")}
            base.update({k: _as_text(ch[k]) for k in ("left", "right", "difference")})
            base["details"] = {k: v for k, v in ch.items() if k not in ("name", "description", "left", "right", "difference")}
            checks.append(base)
        return {**report, "checks": checks}
    return read(run, s.ReconciliationOut())
