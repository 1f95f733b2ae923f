"""Customers after the sale: coupons, recommendations, insights, KPIs,
win-back, feedback and follow-up tasks (API.md, Customers after the sale)."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from o2c.api.common import mutate, principal, read, requires
from o2c.schemas import api as s
from o2c.schemas import crm as cs
from o2c.services.crm import associations, coupons, insights
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
