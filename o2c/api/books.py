"""The general ledger: entries, chart of accounts, hash chain, periods,
reports, exports, and the reconciliation."""
from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from flask import Response
from flask_smorest import Blueprint

from o2c.api.common import decode_cursor, encode_cursor, engine, int_cursor, mutate, page, read, requires
from o2c.domain.downloads import content_disposition
from o2c.schemas import api as s
from o2c.schemas import books as b
from o2c.services.books import chain, chart, exports, ledger, reconciliation, reports, tax_reports

blp = Blueprint("books", __name__, url_prefix="/api/v1", description="Ledger and reconciliation")

EntryPage = s.page_of(s.JournalEntryOut)


@blp.route("/ledger/entries", methods=["GET"])
@requires("ledger:read")
@blp.arguments(s.LedgerEntryArgs, location="query")
@blp.response(200, EntryPage)
def list_entries(args: dict[str, Any]) -> Any:
    """Journal entries, newest first, with their lines; filter by dates and account."""
    return page(lambda tx: ledger.list_entries(
        tx, date_from=args.get("from_"), date_to=args.get("to"), account=args.get("account"),
        cursor=int_cursor(args), limit=args["limit"], source_type=args.get("source_type"),
        source_id=args.get("source_id")), EntryPage())


@blp.route("/ledger/trial-balance", methods=["GET"])
@requires("ledger:read")
@blp.arguments(s.AsOfArgs, location="query")
@blp.response(200, s.TrialBalanceOut)
def trial_balance(args: dict[str, Any]) -> Any:
    """The trial balance as of a date (default today): debit and credit per account."""
    return read(lambda tx: ledger.trial_balance(tx, args.get("as_of")), s.TrialBalanceOut())


@blp.route("/ledger/periods", methods=["GET"])
@requires("ledger:read")
@blp.response(200, b.PeriodList)
def list_periods() -> Any:
    """Months with postings or ever closed, newest first."""
    return read(lambda tx: {"items": ledger.list_periods(tx)}, b.PeriodList())


@blp.route("/ledger/periods/<string:period>/close", methods=["POST"])
@requires("ledger:write")
@blp.response(200, b.PeriodOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="already closed, or the month has not ended")
def close_period(period: str) -> Any:
    """Close a month that has ended; records the chain head as the period's anchor."""
    chain.seal_journal(engine())  # the bulk outside the close's lock; the close seals the rest
    return mutate(lambda tx: ledger.close_period(tx, period), b.PeriodOut())


@blp.route("/ledger/periods/<string:period>/reopen", methods=["POST"])
@requires("ledger:admin")
@blp.arguments(b.ReopenIn)
@blp.response(200, b.PeriodOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="the period is not closed")
def reopen_period(data: dict[str, Any], period: str) -> Any:
    """Reopen a closed month (administrators; the reason is audited)."""
    return mutate(lambda tx: ledger.reopen_period(tx, period, data["reason"]), b.PeriodOut())


# -- chart of accounts -------------------------------------------------------------

@blp.route("/ledger/accounts", methods=["GET"])
@requires("ledger:read")
@blp.response(200, b.AccountList)
def list_accounts() -> Any:
    """The chart of accounts with the posting roles each account holds."""
    return read(lambda tx: {"items": chart.list_accounts(tx)}, b.AccountList())


@blp.route("/ledger/accounts", methods=["POST"])
@requires("ledger:admin")
@blp.arguments(b.AccountIn)
@blp.response(201, b.AccountOut)
def create_account(data: dict[str, Any]) -> Any:
    """Add an account; with ``role``, post that role to it from now on."""
    return mutate(lambda tx: chart.create_account(tx, data), b.AccountOut(), 201)


@blp.route("/ledger/accounts/<string:code>", methods=["PATCH"])
@requires("ledger:admin")
@blp.arguments(b.AccountPatch)
@blp.response(200, b.AccountOut)
def update_account(data: dict[str, Any], code: str) -> Any:
    """Rename or retype an account, or move a posting role to it."""
    return mutate(lambda tx: chart.update_account(tx, code, data), b.AccountOut())


@blp.route("/ledger/accounts/<string:code>/ledger", methods=["GET"])
@requires("ledger:read")
@blp.arguments(b.AccountLedgerArgs, location="query")
@blp.response(200, b.AccountLedgerOut)
def account_ledger(args: dict[str, Any], code: str) -> Any:
    """The general ledger of one account: its lines in date order with the running balance."""
    position = decode_cursor(args.get("cursor"), str)

    def run(tx: Any) -> dict[str, Any]:
        gl = reports.account_ledger(tx, code, args.get("from_"), args.get("to"), position, args["limit"])
        nxt = gl["next_cursor"]
        return {**gl, "next_cursor": None if nxt is None else encode_cursor(nxt), "has_more": nxt is not None}
    return read(run, b.AccountLedgerOut())


# -- hash chain --------------------------------------------------------------------

@blp.route("/ledger/verify", methods=["GET"])
@requires("ledger:read")
@blp.response(200, b.VerifyOut)
def verify_chain() -> Any:
    """Seal what is committed, then recompute the whole chain and report the first broken link."""
    chain.seal_journal(engine())
    return read(chain.verify, b.VerifyOut())


@blp.route("/ledger/seal", methods=["POST"])
@requires("ledger:write")
@blp.response(200, b.SealOut)
def seal_chain() -> Any:
    """Seal committed entries now (a worker normally does this)."""
    result = chain.seal_journal(engine())
    return Response(b.SealOut().dumps({"sealed": result.sealed, "head": result.head._asdict()}),
                    mimetype="application/json")


# -- exports -------------------------------------------------------------------------

def _download(chunks: Iterator[bytes], fmt: str, name: str) -> Response:
    return Response(chunks, mimetype=exports.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": content_disposition(name)})


@blp.route("/ledger/export", methods=["GET"])
@requires("ledger:read")
@blp.arguments(b.ExportArgs, location="query")
@blp.response(200, description="CSV (RFC 4180, UTF-8), XLSX or SAF-T XML, streamed")
def export_journal(args: dict[str, Any]) -> Any:
    """Journal lines dated from..to, one row per line, streamed."""
    fmt, start, end = args["format"], args.get("from_"), args.get("to")
    chain.seal_journal(engine())
    return _download(exports.export_journal(engine(), fmt, start, end), fmt,
                     exports.filename("journal", fmt, start, end))


@blp.route("/ledger/trial-balance/export", methods=["GET"])
@requires("ledger:read")
@blp.arguments(b.TrialBalanceExportArgs, location="query")
@blp.response(200, description="CSV or XLSX")
def export_trial_balance(args: dict[str, Any]) -> Any:
    """The trial balance as CSV or XLSX."""
    fmt = args["format"]
    report = read_value(lambda tx: ledger.trial_balance(tx, args.get("as_of")))
    return _download(exports.export_trial_balance(report, fmt), fmt,
                     exports.filename("trial_balance", fmt, None, args.get("as_of")))


def read_value(fn: Any) -> Any:
    """The result of ``fn(tx)`` in a read-only transaction (for non-JSON answers)."""
    from o2c.api.common import principal
    from o2c.services.platform.uow import unit_of_work
    with unit_of_work(engine(), principal().actor, readonly=True) as tx:
        return fn(tx)


def _as_text(v: Any) -> str:
    return f"{v:.2f}" if isinstance(v, Decimal) else str(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return f"{v:.2f}"
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


@blp.route("/reconciliation", methods=["GET"])
@requires("ledger:read")
@blp.arguments(s.AsOfArgs, location="query")
@blp.response(200, s.ReconciliationOut)
def get_reconciliation(args: dict[str, Any]) -> Any:
    """Check that the books agree with the documents: receivables, inventory and the journal."""
    def run(tx: Any) -> dict[str, Any]:
        report = reconciliation.reconcile(tx, args.get("as_of"))
        checks = []
        for ch in report["checks"]:
            top = ("name", "description", "left_label", "right_label")
            base = {k: ch[k] for k in top}
            base.update({k: _as_text(ch[k]) for k in ("left", "right", "difference")})
            base["details"] = {k: _jsonable(v) for k, v in ch.items()
                               if k not in (*top, "left", "right", "difference")}
            checks.append(base)
        return {**report, "checks": checks}
    return read(run, s.ReconciliationOut())


# -- tax reports ---------------------------------------------------------------------------

def _tax_report(kind: str, fmt: str, build: Any, schema: Any, name: str) -> Any:
    if fmt == "csv":
        report = read_value(build)
        return Response(tax_reports.to_csv(kind, report).encode("utf-8"), mimetype="text/csv",
                        headers={"Content-Disposition": content_disposition(f"{name}.csv")})
    return read(build, schema)


@blp.route("/reports/vat", methods=["GET"])
@requires("ledger:read")
@blp.arguments(b.VatReportArgs, location="query")
@blp.response(200, b.VatReportOut)
def vat_report(args: dict[str, Any]) -> Any:
    """Net and VAT per tax treatment, country, category and rate of the documents issued from..to (JSON or CSV)."""
    start, end = args["from_"], args["to"]
    return _tax_report("vat", args["format"], lambda tx: tax_reports.vat_report(tx, start, end), b.VatReportOut(),
                       f"vat_{start}_{end}")


@blp.route("/reports/ec-sales-list", methods=["GET"])
@requires("ledger:read")
@blp.arguments(b.EcSalesListArgs, location="query")
@blp.response(200, b.EcSalesListOut)
def ec_sales_list(args: dict[str, Any]) -> Any:
    """Intra-EU supplies to businesses in a month: net per customer VAT id, credit notes netted (JSON or CSV)."""
    period = args["period"]
    return _tax_report("ec-sales-list", args["format"], lambda tx: tax_reports.ec_sales_list(tx, period),
                       b.EcSalesListOut(), f"ec_sales_list_{period}")


@blp.route("/reports/oss", methods=["GET"])
@requires("ledger:read")
@blp.arguments(b.OssArgs, location="query")
@blp.response(200, b.OssReturnOut)
def oss_return(args: dict[str, Any]) -> Any:
    """The One-Stop-Shop return of a quarter: distance sales' net and VAT per member state and rate (JSON or CSV)."""
    q = args["quarter"]
    return _tax_report("oss", args["format"], lambda tx: tax_reports.oss_return(tx, q), b.OssReturnOut(),
                       f"oss_{q}")
