"""The VAT return's pages under Books: the VAT report of a period, the EC
sales list of a month and the One-Stop-Shop return of a quarter, each with
its CSV download."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, render_template, request

from o2c.domain.downloads import content_disposition
from o2c.domain.errors import ValidationFailed
from o2c.services.books import tax_reports
from o2c.services.platform import clock
from o2c.web.core import bp, read, requires
from o2c.web.nav import Item, add


def _page(kind: str, template: str, build: Any, name: str, **context: Any) -> Any:
    """The report as a page, or as CSV with ``?format=csv``; a bad period
    shows the form again with what is wrong (422)."""
    try:
        report = read(build)
    except ValidationFailed as exc:
        return render_template(template, report=None, errors=exc.details.get("fields", {}), **context), 422
    if request.args.get("format") == "csv":
        return Response(tax_reports.to_csv(kind, report).encode("utf-8"), mimetype="text/csv",
                        headers={"Content-Disposition": content_disposition(f"{name}.csv")})
    return render_template(template, report=report, errors={}, **context)


def _date(name: str, default: dt.date) -> tuple[dt.date | None, str]:
    raw = request.args.get(name, "").strip()[:10]
    if not raw:
        return default, default.isoformat()
    try:
        return dt.date.fromisoformat(raw), raw
    except ValueError:
        return None, raw


@bp.route("/books/vat-report")
@requires("ledger:read")
def vat_report() -> Any:
    today = clock.now().date()
    start, start_raw = _date("from", today.replace(day=1))
    end, end_raw = _date("to", today)

    def build(tx: Any) -> Any:
        bad = {k: ["Use a date, YYYY-MM-DD."] for k, v in (("from", start), ("to", end)) if v is None}
        if bad:
            raise ValidationFailed("Give the period as two dates.", bad)
        return tax_reports.vat_report(tx, start, end)
    return _page("vat", "web/books/vat_report.html", build, f"vat_{start_raw}_{end_raw}",
                 date_from=start_raw, date_to=end_raw)


@bp.route("/books/ec-sales-list")
@requires("ledger:read")
def ec_sales_list() -> Any:
    period = request.args.get("period", "").strip()[:16] or clock.now().date().strftime("%Y-%m")
    return _page("ec-sales-list", "web/books/ec_sales_list.html", lambda tx: tax_reports.ec_sales_list(tx, period),
                 f"ec_sales_list_{period}", period=period)


@bp.route("/books/oss-return")
@requires("ledger:read")
def oss_return() -> Any:
    today = clock.now().date()
    quarter = request.args.get("quarter", "").strip()[:16] or f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    return _page("oss", "web/books/oss_return.html", lambda tx: tax_reports.oss_return(tx, quarter),
                 f"oss_{quarter}", quarter=quarter)


add("Books", Item("VAT report", "web.vat_report", "ledger:read"), after="Reconciliation")
add("Books", Item("EC sales list", "web.ec_sales_list", "ledger:read"), after="VAT report")
add("Books", Item("OSS return", "web.oss_return", "ledger:read"), after="EC sales list")
