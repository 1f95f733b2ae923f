"""Customers after the sale in the back office: cycle KPIs with their
documents, win-back list, follow-up tasks."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

from o2c.domain.downloads import content_disposition
from o2c.domain.errors import NotFound
from o2c.services.crm import feedback, kpis, winback
from o2c.web import charts, nav
from o2c.web.core import back_to, bp, date_arg, principal, read, requires, str_arg, submit

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


# -- public: the satisfaction page behind a message's links (no sign-in) ------------

public = Blueprint("feedback_public", __name__)


def _public_tx(work: Any, write: bool = False) -> Any:
    from o2c.services.platform.uow import unit_of_work
    from o2c.web.core import engine
    with unit_of_work(engine(), "customer:feedback", readonly=not write) as tx:
        return work(tx)


@public.route("/f/<token>", methods=["GET", "POST"])
def satisfaction(token: str) -> Any:
    """One click on a score records it (a second click changes it); the page
    then offers a comment box. Only the link's holder gets here."""
    if len(token) > 100:
        abort(404)
    score: int | None = None
    raw = request.values.get("score", "")
    if raw:
        if raw not in ("1", "2", "3", "4", "5"):
            abort(400)
        score = int(raw)
    comment = request.form.get("comment") if request.method == "POST" else None
    try:
        if score is not None or comment is not None:
            view = _public_tx(lambda tx: feedback.answer(tx, token, score, comment), write=True)
            saved = True
        else:
            view = _public_tx(lambda tx: feedback.page(tx, token))
            saved = False
    except NotFound:
        return render_template("web/crm/feedback_public.html", view=None, token=token), 404
    return render_template("web/crm/feedback_public.html", view=view, token=token, saved=saved,
                           thanked=request.method == "POST")


# -- win-back and follow-up tasks -----------------------------------------------------

nav.add("Customers", nav.Item("Win-back", "web.winback", "customers:read"))
nav.add("Customers", nav.Item("Follow-up tasks", "web.tasks", "customers:read"))


@bp.route("/customers/winback", endpoint="winback")
@requires("customers:read")
def winback_page() -> Any:
    cfg = current_app.config["O2C"]
    as_of = date_arg("as_of")
    items = read(lambda tx: winback.lapsed(tx, principal(), as_of or tx.today, cfg.WINBACK_FACTOR,
                                           cfg.WINBACK_ONE_TIME_DAYS))
    return render_template("web/crm/winback.html", items=items, as_of=as_of, factor=cfg.WINBACK_FACTOR,
                           one_time_days=cfg.WINBACK_ONE_TIME_DAYS)


@bp.route("/customers/<id:customer_id>/winback", methods=["POST"])
@requires("coupons:write")
def send_winback(customer_id: int) -> Any:
    raw = (request.form.get("percent_off") or "10").strip().replace(",", ".")
    try:
        percent = Decimal(raw)
    except InvalidOperation:
        percent = Decimal(-1)

    def work(tx: Any) -> tuple[str, str]:
        sent = winback.send_winback(tx, principal(), customer_id, {"percent_off": percent,
                                                                   "note": request.form.get("note", "")})
        return url_for("web.winback"), f"Win-back message queued with coupon {sent['coupon']['code']}."
    return back_to(url_for("web.winback"), submit(work))


@bp.route("/tasks", endpoint="tasks")
@requires("customers:read")
def tasks_page() -> Any:
    status = str_arg("status", ("open", "done"))
    items, _ = read(lambda tx: feedback.list_tasks(tx, status=status or None, limit=100))
    return render_template("web/crm/tasks.html", items=items, status=status)


@bp.route("/tasks/<id:task_id>", methods=["POST"])
@requires("tasks:write")
def update_task(task_id: int) -> Any:
    data: dict[str, Any] = {"owner": (request.form.get("owner") or "").strip()[:128] or None,
                            "note": (request.form.get("note") or "").strip()[:4000] or None}
    if request.form.get("status") in ("open", "done"):
        data["status"] = request.form["status"]

    def work(tx: Any) -> tuple[str, str]:
        t = feedback.update_task(tx, task_id, data)
        return url_for("web.tasks"), f"Task {t['id']} saved."
    return back_to(url_for("web.tasks"), submit(work))
