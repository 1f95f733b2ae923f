"""Customers after the sale: coupons, recommendations, insights, KPIs,
win-back, feedback and follow-up tasks (API.md, Customers after the sale)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from o2c.api.common import int_cursor, mutate, page, principal, read, requires
from o2c.api.errors import domain_outcome, error_response
from o2c.domain.errors import DomainError, NotFound
from o2c.schemas import api as s
from o2c.schemas import crm as cs
from o2c.services.crm import associations, coupons, feedback, insights, kpis, winback
from o2c.services.crm import background as crm_jobs

blp = Blueprint("crm", __name__, url_prefix="/api/v1",
                description="Customers after the sale: coupons, recommendations, insights, KPIs, win-back, feedback")

COUPON = cs.CouponOut()


@blp.route("/coupons", methods=["POST"])
@requires("coupons:write")
@blp.arguments(cs.CouponIn)
@blp.response(201, cs.CouponOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="conflict: the code exists")
def create_coupon(data: dict[str, Any]) -> Any:
    """Create a coupon: percent or amount off, for one customer or anyone, used at most ``max_redemptions`` times."""
    return mutate(lambda tx: coupons.create_coupon(tx, principal(), data), COUPON, 201)


@blp.route("/coupons/<string:code>", methods=["GET"])
@requires("coupons:read")
@blp.response(200, cs.CouponOut)
def get_coupon(code: str) -> Any:
    """One coupon by its code, with the redemptions counted so far."""
    return read(lambda tx: coupons.get_coupon(tx, principal(), code), COUPON)


@blp.route("/products/<sku:sku>/recommendations", methods=["GET"])
@requires("catalog:read")
@blp.arguments(cs.RecommendationArgs, location="query")
@blp.response(200, cs.RecommendationsOut)
def product_recommendations(args: dict[str, Any], sku: str) -> Any:
    """Products often bought with this one (support, confidence, lift), active and in stock only."""
    return read(lambda tx: associations.for_product(tx, sku, args["limit"]), cs.RecommendationsOut())


@blp.route("/customers/<id:customer_id>/recommendations", methods=["GET"])
@requires("catalog:read")
@blp.arguments(cs.RecommendationArgs, location="query")
@blp.response(200, cs.RecommendationsOut)
def customer_recommendations(args: dict[str, Any], customer_id: int) -> Any:
    """What goes with the customer's history, leaving out what they already buy regularly.

    A webshop asks only about customers it may use."""
    return read(lambda tx: associations.for_customer(tx, principal(), customer_id, args["limit"]),
                cs.RecommendationsOut())


@blp.route("/recommendations/recompute", methods=["POST"])
@requires("catalog:write")
@blp.response(202, cs.RecomputeOut)
def recompute_recommendations() -> Any:
    """Ask the worker to mine the product associations again from the orders as they are now.

    It also does so on a schedule; ``GET …/recommendations`` tells when the answer was computed."""
    def work(tx: Any) -> dict[str, Any]:
        crm_jobs.recompute_soon(tx.conn, tx.now)
        return {"queued": True, "last": associations.last_run(tx)}
    return mutate(work, cs.RecomputeOut(), 202)


@blp.route("/customers/<id:customer_id>/insights", methods=["GET"])
@requires("insights:read")
@blp.arguments(cs.InsightsArgs, location="query")
@blp.response(200, cs.InsightsOut)
def customer_insights(args: dict[str, Any], customer_id: int) -> Any:
    """What the books say about one customer: orders, revenue and margin, payment habits, and the RFM segment."""
    return read(lambda tx: insights.insights(tx, principal(), customer_id, args.get("as_of")), cs.InsightsOut())


def _period(tx: Any, args: dict[str, Any]) -> tuple[Any, Any]:
    return kpis.period(tx.today, args.get("from_"), args.get("to"))


@blp.route("/reports/kpis", methods=["GET"])
@requires("kpis:read")
@blp.arguments(cs.KpiArgs, location="query")
@blp.response(200, cs.KpisOut)
def cycle_kpis(args: dict[str, Any]) -> Any:
    """How the order-to-cash cycle performs over a period: DSO, CEI, cycle time, perfect orders, margins."""
    return read(lambda tx: kpis.kpis(tx, *_period(tx, args)), cs.KpisOut())


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


@blp.route("/reports/kpis/<string:figure>", methods=["GET"])
@requires("kpis:read")
@blp.arguments(cs.KpiArgs, location="query")
@blp.response(200, cs.KpiDocumentsOut)
def kpi_documents(args: dict[str, Any], figure: str) -> Any:
    """The documents behind one KPI figure (invoices, orders or customers), for the same period."""
    def run(tx: Any) -> dict[str, Any]:
        if figure not in kpis.DRILL_COLUMNS:
            raise NotFound(f"No figure “{figure}”.")
        rows = kpis.drill(tx, figure, *_period(tx, args))
        cols = kpis.DRILL_COLUMNS[figure]
        return {"figure": figure, "columns": list(cols),
                "items": [{c: _jsonable(r.get(c)) for c in cols} for r in rows]}
    return read(run, cs.KpiDocumentsOut())


@blp.route("/reports/kpis/<string:figure>/export", methods=["GET"])
@requires("kpis:read")
@blp.arguments(cs.KpiArgs, location="query")
@blp.response(200, description="CSV")
def export_kpi_figure(args: dict[str, Any], figure: str) -> Any:
    """The documents behind one KPI figure as CSV."""
    from flask import Response

    from o2c.api.books import read_value
    from o2c.domain.downloads import content_disposition
    if figure not in kpis.DRILL_COLUMNS:
        return error_response(404, "not_found", f"No figure “{figure}”.")
    try:
        text, start, end = read_value(lambda tx: (lambda p: (kpis.to_csv(figure, kpis.drill(tx, figure, *p)), *p))(
            _period(tx, args)))
    except DomainError as exc:
        return Response(domain_outcome(exc)[1], status=domain_outcome(exc)[0], mimetype="application/json")
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = content_disposition(f"kpi_{figure}_{start}_{end}.csv", "attachment")
    return response


@blp.route("/customers/winback", methods=["GET"])
@requires("customers:read")
@blp.arguments(cs.WinbackArgs, location="query")
@blp.response(200, cs.WinbackOut)
def winback_list(args: dict[str, Any]) -> Any:
    """Customers who stopped buying: longer gone than their usual interval × a factor, with possible reasons."""
    cfg = current_app.config["O2C"]

    def run(tx: Any) -> dict[str, Any]:
        as_of = args.get("as_of") or tx.today
        return {"as_of": as_of, "items": winback.lapsed(
            tx, principal(), as_of, args.get("factor") or cfg.WINBACK_FACTOR,
            int(args.get("one_time_days") or cfg.WINBACK_ONE_TIME_DAYS))}
    return read(run, cs.WinbackOut())


@blp.route("/customers/<id:customer_id>/winback", methods=["POST"])
@requires("coupons:write")
@blp.arguments(cs.WinbackIn)
@blp.response(201, cs.WinbackSentOut)
def send_winback(data: dict[str, Any], customer_id: int) -> Any:
    """Send a customer a win-back message with a one-use coupon of their own (through the outbox)."""
    return mutate(lambda tx: winback.send_winback(tx, principal(), customer_id, data), cs.WinbackSentOut(), 201)


FeedbackPage = s.page_of(cs.FeedbackOut)
TaskPage = s.page_of(cs.TaskOut)


@blp.route("/feedback", methods=["GET"])
@requires("customers:read")
@blp.arguments(cs.FeedbackArgs, location="query")
@blp.response(200, FeedbackPage)
def list_feedback(args: dict[str, Any]) -> Any:
    """Satisfaction answers, newest first; ``max_score`` finds the unhappy ones."""
    return page(lambda tx: feedback.list_feedback(
        tx, max_score=args.get("max_score"), start=args.get("from_"), end=args.get("to"),
        cursor=int_cursor(args), limit=args["limit"]), FeedbackPage())


@blp.route("/tasks", methods=["GET"])
@requires("customers:read")
@blp.arguments(cs.TaskArgs, location="query")
@blp.response(200, TaskPage)
def list_tasks(args: dict[str, Any]) -> Any:
    """Follow-up tasks for the clerks, newest first."""
    return page(lambda tx: feedback.list_tasks(tx, status=args.get("status"), cursor=int_cursor(args),
                                               limit=args["limit"]), TaskPage())


@blp.route("/tasks/<id:task_id>", methods=["PATCH"])
@requires("tasks:write")
@blp.arguments(cs.TaskPatch)
@blp.response(200, cs.TaskOut)
def patch_task(data: dict[str, Any], task_id: int) -> Any:
    """Take a task (owner), note what was learned, mark it done."""
    return mutate(lambda tx: feedback.update_task(tx, task_id, data), cs.TaskOut())
