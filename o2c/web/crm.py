"""Customers after the sale in the back office: cycle KPIs with their
documents, win-back list, follow-up tasks."""
from __future__ import annotations

from typing import Any

from flask import Response, abort, render_template

from o2c.domain.downloads import content_disposition
from o2c.services.crm import kpis
from o2c.web import charts, nav
from o2c.web.core import bp, date_arg, read, requires

nav.add("Reports", nav.Item("Cycle KPIs", "web.kpis", "kpis:read", ("web.kpi_figure",)))

LABELS = {
    "dso": "Days sales outstanding", "cei": "Collection effectiveness", "o2c_cycle_days": "Order-to-cash cycle",
    "perfect_order_rate": "Perfect orders", "on_time_shipment_rate": "On-time shipments",
    "repeat_purchase_rate": "Repeat purchases", "gross_margin": "Gross margin by customer",
}


def _period() -> tuple[Any, Any]:
    return date_arg("from"), date_arg("to")


@bp.route("/reports/kpis", endpoint="kpis")
@requires("kpis:read")
def kpis_page() -> Any:
    start, end = _period()
    k = read(lambda tx: kpis.kpis(tx, start, end))
    series = [(r["month"], r["margin"]) for r in k["gross_margin"]["by_month"]]
    chart = charts.bar_chart(series, title="Gross margin by month") if series else None
    return render_template("web/crm/kpis.html", k=k, chart=chart, labels=LABELS)


@bp.route("/reports/kpis/<figure>")
@requires("kpis:read")
def kpi_figure(figure: str) -> Any:
    if figure not in kpis.DRILL_COLUMNS:
        abort(404)
    start, end = kpis.period(read(lambda tx: tx.today), *_period())
    rows = read(lambda tx: kpis.drill(tx, figure, start, end))
    if _wants_csv():
        resp = Response(kpis.to_csv(figure, rows), mimetype="text/csv")
        resp.headers["Content-Disposition"] = content_disposition(f"kpi_{figure}_{start}_{end}.csv", "attachment")
        return resp
    return render_template("web/crm/kpi_figure.html", figure=figure, label=LABELS[figure], rows=rows,
                           columns=kpis.DRILL_COLUMNS[figure], start=start, end=end)


def _wants_csv() -> bool:
    from flask import request
    return request.args.get("format") == "csv"
